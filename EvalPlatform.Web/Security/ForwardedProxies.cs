using System.Net;

namespace EvalPlatform.Web.Security;

/// <summary>
/// <c>ForwardedHeaders:KnownProxies</c> (addresses) and <c>ForwardedHeaders:KnownNetworks</c> (CIDR ranges): the only peers
/// whose <c>X-Forwarded-Proto</c>/<c>X-Forwarded-For</c> the app believes. With neither set, only loopback (a proxy on the
/// same machine), as ASP.NET Core's default. A value that does not parse stops the start with the setting's name.
/// </summary>
public static class ForwardedProxies
{
    public const string SectionName = "ForwardedHeaders";

    public static void Configure(ForwardedHeadersOptions options, IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        foreach (var (value, i) in (section.GetSection("KnownProxies").Get<string[]>() ?? []).Select((v, i) => (v, i)))
        {
            options.KnownProxies.Add(IPAddress.TryParse(value.Trim(), out var address)
                ? address
                : throw new InvalidOperationException($"{SectionName}:KnownProxies:{i} ('{value}') is not an IP address."));
        }

        foreach (var (value, i) in (section.GetSection("KnownNetworks").Get<string[]>() ?? []).Select((v, i) => (v, i)))
        {
            options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(value.Trim(), out var network)
                ? network
                : throw new InvalidOperationException($"{SectionName}:KnownNetworks:{i} ('{value}') is not a CIDR range such as 10.0.0.0/8."));
        }
    }
}
