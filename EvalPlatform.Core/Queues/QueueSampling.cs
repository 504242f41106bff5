using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EvalPlatform.Core.Queues;

/// <summary>
/// The sample queue's decision: a trace is in a queue's N% sample when a hash of (queue id, trace
/// id) falls in the first N% of its range. Deterministic (the same answer on every node, at every
/// call, so nothing needs storing until the trace is handed out) and independent between queues.
/// </summary>
public static class QueueSampling
{
    private const int Buckets = 10_000;

    public static bool InSample(Guid queueId, Guid traceId, int percent)
    {
        if (percent >= 100)
        {
            return true;
        }

        Span<byte> input = stackalloc byte[32];
        queueId.TryWriteBytes(input[..16]);
        traceId.TryWriteBytes(input[16..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        var bucket = BinaryPrimitives.ReadUInt64BigEndian(hash) % Buckets;
        return bucket < (ulong)(percent * (Buckets / 100));
    }
}
