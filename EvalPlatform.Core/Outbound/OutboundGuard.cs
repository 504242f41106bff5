using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using EvalPlatform.Core.Common;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Outbound;

/// <summary>The <c>Outbound</c> section: where the server may send requests it makes for users (notifications, later providers).</summary>
public sealed class OutboundOptions
{
    public const string SectionName = "Outbound";

    /// <summary>
    /// Allow targets that resolve to loopback, private, link-local and other non-public addresses. Off by default: a
    /// team's webhook URL must not reach the server's own network (SSRF). Turn it on for a receiver on the same network.
    /// </summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>How long one outbound send may take, connect to last byte.</summary>
    [Range(1, 300)]
    public int TimeoutSeconds { get; set; } = 10;
}

/// <summary>
/// The SSRF guard for every URL the server calls on a user's behalf. Checked twice: when the URL is saved (a 400 naming
/// the field) and when each connection is made (<see cref="ConnectAsync"/> as a <see cref="SocketsHttpHandler.ConnectCallback"/>),
/// so a name that resolved to a public address at save time and to a private one later (DNS rebinding) is still refused.
/// The connection goes to the address that was checked, never to a second resolution.
/// </summary>
public sealed class OutboundGuard(IOptionsMonitor<OutboundOptions> options)
{
    public bool AllowPrivateTargets => options.CurrentValue.AllowPrivateTargets;

    /// <summary>
    /// Throws <see cref="DomainValidationException"/> for <paramref name="field"/> unless <paramref name="url"/> is an
    /// absolute http(s) URL whose host resolves only to public addresses (or private targets are allowed).
    /// </summary>
    public async Task RequireAllowedAsync(string? url, string field, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new DomainValidationException(field, "Must be an absolute http:// or https:// URL.");
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw new DomainValidationException(field, "Must not carry a user name or password; put credentials in the channel's secret.");
        }

        if (AllowPrivateTargets)
        {
            return;
        }

        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(uri.IdnHost, ct);
        }
        catch (SocketException)
        {
            throw new DomainValidationException(field, $"The host '{uri.Host}' cannot be resolved.");
        }

        if (addresses.FirstOrDefault(a => !IsPublic(a)) is { } blocked)
        {
            throw new DomainValidationException(field,
                $"The host '{uri.Host}' resolves to {blocked}, a loopback, private or link-local address, which outbound requests may not reach. " +
                "An operator can allow such targets with Outbound:AllowPrivateTargets=true.");
        }
    }

    /// <summary>
    /// The connect step of an outbound <see cref="SocketsHttpHandler"/>: resolves the host, refuses it when any of its
    /// addresses is not public (unless allowed), and connects to a checked address.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = await ResolveAsync(host, ct);
        if (!AllowPrivateTargets && addresses.FirstOrDefault(a => !IsPublic(a)) is { } blocked)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError,
                $"Refused to connect to '{host}': it resolves to {blocked}, a loopback, private or link-local address (Outbound:AllowPrivateTargets is off).");
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }

        throw new HttpRequestException(HttpRequestError.ConnectionError, $"Could not connect to '{host}': {last?.Message ?? "no address"}", last);
    }

    /// <summary>A handler whose every connection goes through the guard.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        ConnectCallback = ConnectAsync,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AllowAutoRedirect = false,
    };

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(bare, out var literal))
        {
            return [literal];
        }

        var addresses = await Dns.GetHostAddressesAsync(bare, ct);
        return addresses.Length == 0 ? throw new SocketException((int)SocketError.HostNotFound) : addresses;
    }

    /// <summary>True for a globally routable unicast address; false for loopback, private, link-local, CGNAT, documentation, multicast and reserved ranges.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0 // "this" network
                || b[0] == 10
                || b[0] == 127
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) // CGNAT
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2))
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113)
                || b[0] >= 224); // multicast, reserved, broadcast
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6Loopback)
                || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal)
            {
                return false;
            }

            var b = address.GetAddressBytes();
            if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
            {
                return false; // documentation
            }

            if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
            {
                return IsPublic(new IPAddress(b.AsSpan(12, 4))); // NAT64: judge the IPv4 address inside
            }

            return (b[0] & 0xe0) == 0x20; // global unicast 2000::/3
        }

        return false;
    }
}
