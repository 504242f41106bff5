using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EvalPlatform.Core.Common;

/// <summary>
/// Every id the platform makes: a UUID version 7 (RFC 9562), 48 bits of Unix milliseconds and then
/// 74 random bits, so ids sort by creation time and index inserts append. The layout is that of
/// <see cref="Uuid7.Create(DateTimeOffset)"/>; the random bits come from a per-thread buffer
/// that the cryptographic generator fills 256 ids at a time, where the runtime's own makes a system
/// call per id (four per ingested trace: the trace and its spans).
/// </summary>
public static class Uuid7
{
    private const int RandomBytesPerId = 10;
    private const int IdsPerFill = 256;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_used;

    public static Guid Create(DateTimeOffset timestamp)
    {
        var milliseconds = timestamp.ToUnixTimeMilliseconds();
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds, nameof(timestamp));

        var random = t_random;
        if (random is null || t_used == IdsPerFill)
        {
            random = t_random ??= new byte[RandomBytesPerId * IdsPerFill];
            RandomNumberGenerator.Fill(random);
            t_used = 0;
        }

        var r = random.AsSpan(t_used++ * RandomBytesPerId, RandomBytesPerId);
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, milliseconds << 16);
        bytes[6] = (byte)(0x70 | (r[0] & 0x0F));
        bytes[7] = r[1];
        bytes[8] = (byte)(0x80 | (r[2] & 0x3F));
        r[3..].CopyTo(bytes[9..]);
        return new Guid(bytes, bigEndian: true);
    }
}
