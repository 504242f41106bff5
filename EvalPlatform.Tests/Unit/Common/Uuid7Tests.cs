using EvalPlatform.Core.Common;

namespace EvalPlatform.Tests.Unit.Common;

public sealed class Uuid7Tests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 12, 0, 0, 123, TimeSpan.Zero);

    [Fact]
    public void Has_the_version_the_variant_and_the_milliseconds_of_RFC_9562()
    {
        var bytes = Uuid7.Create(T0).ToByteArray(bigEndian: true);

        Assert.Equal(7, bytes[6] >> 4);
        Assert.Equal(0b10, bytes[8] >> 6);
        var milliseconds = 0L;
        for (var i = 0; i < 6; i++)
        {
            milliseconds = (milliseconds << 8) | bytes[i];
        }

        Assert.Equal(T0.ToUnixTimeMilliseconds(), milliseconds);
    }

    [Fact]
    public void Lays_out_the_time_as_the_runtime_does()
    {
#pragma warning disable RS0030 // the runtime's own, to compare with
        var runtime = Guid.CreateVersion7(T0);
#pragma warning restore RS0030
        var ours = Uuid7.Create(T0);

        Assert.Equal(runtime.ToString()[..14], ours.ToString()[..14]); // 48-bit time and the version digit
        Assert.Equal(runtime.Version, ours.Version);
        Assert.Equal(runtime.Variant >> 2, ours.Variant >> 2); // 0b10xx: the variant is two bits, the rest random
    }

    [Fact]
    public void Ids_are_unique_across_many_buffer_refills_and_threads()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 3_000; i++)
            {
                ids.Add(Uuid7.Create(T0));
            }
        });

        Assert.Equal(12_000, ids.Distinct().Count());
        // 74 random bits per id: no two of the same millisecond share their random part either.
        Assert.Equal(12_000, ids.Select(g => g.ToString()[15..]).Distinct().Count());
    }

    [Fact]
    public void Later_milliseconds_sort_later_as_text_and_as_uuid()
    {
        var ids = Enumerable.Range(0, 50).Select(i => Uuid7.Create(T0.AddMilliseconds(i * 7))).ToList();

        Assert.Equal(ids, ids.OrderBy(g => g.ToString(), StringComparer.Ordinal));
        Assert.Equal(ids, ids.OrderBy(g => g.ToByteArray(bigEndian: true), Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))));
    }

    [Fact]
    public void Refuses_a_time_before_1970()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Uuid7.Create(DateTimeOffset.UnixEpoch.AddMilliseconds(-1)));
    }
}
