using System.Net;

namespace EvalPlatform.Client;

/// <summary>
/// The platform refused an explicit call (<see cref="IEvalPlatformClient"/>), with its problem
/// details (RFC 7807). The batcher never throws this: telemetry failures are counted and logged.
/// </summary>
public sealed class EvalPlatformException : Exception
{
    public EvalPlatformException()
    {
        Errors = new Dictionary<string, IReadOnlyList<string>>();
    }

    public EvalPlatformException(string message) : base(message)
    {
        Errors = new Dictionary<string, IReadOnlyList<string>>();
    }

    public EvalPlatformException(string message, Exception innerException) : base(message, innerException)
    {
        Errors = new Dictionary<string, IReadOnlyList<string>>();
    }

    public EvalPlatformException(HttpStatusCode statusCode, string? title, string? detail, IReadOnlyDictionary<string, IReadOnlyList<string>> errors)
        : base($"EvalPlatform answered {(int)statusCode} {title ?? statusCode.ToString()}{(detail is null ? "" : ": " + detail)}")
    {
        StatusCode = statusCode;
        Title = title;
        Detail = detail;
        Errors = errors;
    }

    /// <summary>The HTTP status, when the platform answered.</summary>
    public HttpStatusCode? StatusCode { get; }

    public string? Title { get; }

    public string? Detail { get; }

    /// <summary>Validation errors keyed by field path (<c>scores[0].value</c>), empty when there are none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; }
}
