using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Providers.Proxy;

namespace EvalPlatform.Web.Providers;

/// <summary>The <c>X-EvalPlatform-*</c> headers a caller of the proxy may send (docs/api.md lists them).</summary>
public static class ProxyHeaders
{
    public const string TraceName = "X-EvalPlatform-Trace-Name";
    public const string Session = "X-EvalPlatform-Session";
    public const string User = "X-EvalPlatform-User";
    public const string Tags = "X-EvalPlatform-Tags";
    public const string ExternalId = "X-EvalPlatform-External-Id";
    public const string Environment = "X-EvalPlatform-Environment";

    /// <summary>The connection to use, by name; without it the team's first of the protocol's kind.</summary>
    public const string Provider = "X-EvalPlatform-Provider";

    /// <summary>An experiment key: the unit (user, else session) is assigned a variant whose config is applied.</summary>
    public const string Experiment = "X-EvalPlatform-Experiment";

    /// <summary><c>record</c> or <c>replay</c>: the cassettes of deterministic tests.</summary>
    public const string Replay = "X-EvalPlatform-Replay";

    /// <summary>The caller's headers, each checked against the trace field's limits; a bad one is an error naming the header.</summary>
    public static ProxyCaller Read(HttpRequest request, List<FieldError> errors)
    {
        var tags = new List<string>();
        if (Text(request, Tags, int.MaxValue, errors) is { } tagList)
        {
            foreach (var tag in tagList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (tag.Length > IngestionLimits.MaxTagLength)
                {
                    errors.Add(new FieldError(Tags, $"Each tag is at most {IngestionLimits.MaxTagLength} characters ('{tag[..20]}…' is longer)."));
                }
                else if (!tags.Contains(tag, StringComparer.Ordinal))
                {
                    tags.Add(tag);
                }
            }

            if (tags.Count > IngestionLimits.MaxTags)
            {
                errors.Add(new FieldError(Tags, $"At most {IngestionLimits.MaxTags} tags."));
            }
        }

        return new ProxyCaller(
            Text(request, TraceName, IngestionLimits.MaxName, errors),
            Text(request, Session, IngestionLimits.MaxShortText, errors),
            Text(request, User, IngestionLimits.MaxShortText, errors),
            tags,
            Text(request, ExternalId, IngestionLimits.MaxShortText, errors),
            Text(request, Environment, IngestionLimits.MaxShortText, errors));
    }

    /// <summary>A header's value (trimmed; absent or blank is null); one longer than <paramref name="max"/> is an error.</summary>
    public static string? Text(HttpRequest request, string header, int max, List<FieldError> errors)
    {
        var values = request.Headers[header];
        if (values.Count > 1)
        {
            errors.Add(new FieldError(header, "Send this header once."));
            return null;
        }

        var value = values.ToString().Trim();
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Length > max)
        {
            errors.Add(new FieldError(header, $"At most {max} characters."));
            return null;
        }

        return value;
    }
}
