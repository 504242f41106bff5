using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Ingestion;

namespace EvalPlatform.Tests.Unit.Ingestion;

public sealed class TimestampsTests
{
    private static readonly DateTimeOffset At = new DateTimeOffset(2026, 8, 20, 10, 0, 33, TimeSpan.Zero).AddTicks(8_730_030);

    [Theory]
    [InlineData("2026-08-20T10:00:33.873003Z")]                 // the LangSmith JS SDK's start_time (microseconds)
    [InlineData("2026-08-20T10:00:33.873003+00:00")]            // Python's isoformat() with an offset
    [InlineData("2026-08-20T10:00:33.873003")]                  // Python's naive isoformat(): UTC
    [InlineData("2026-08-20T10:00:33.873003000Z")]              // nanoseconds (OTel, Go): digits past 100 ns dropped
    [InlineData("2026-08-20T10:00:33.87300300049Z")]
    [InlineData("2026-08-20T12:00:33.873003+02:00")]
    [InlineData("1787220033873003")]                            // microseconds since 1970, as a string
    [InlineData("1787220033873003000")]                         // nanoseconds since 1970, as a string
    public void Parse_ReadsEveryFormAlike(string text)
    {
        Assert.Equal(At, Timestamps.Parse(text));
        Assert.Equal(At, Timestamps.Parse(JsonValue.Create(text)));
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(text));
        Assert.Equal(At, Timestamps.Parse(doc.RootElement));
    }

    [Fact]
    public void Parse_Numbers_AreSecondsMillisecondsMicrosecondsOrNanoseconds_ByMagnitude()
    {
        var ms = At.ToUnixTimeMilliseconds();
        Assert.Equal(At.AddTicks(-30), Timestamps.Parse(JsonValue.Create(ms)));                       // the JS SDK's end_time
        Assert.Equal(At.AddTicks(-8_730_030), Timestamps.Parse(JsonValue.Create(At.ToUnixTimeSeconds())));
        Assert.Equal(At, Timestamps.Parse(JsonValue.Create(1787220033873003L)));
        Assert.Equal(At, Timestamps.Parse(JsonValue.Create(1787220033873003000L)));
        Assert.Equal(At.AddTicks(-30), Timestamps.Parse(JsonValue.Create(ms + 0.0)));
        using var doc = JsonDocument.Parse($"[{ms}, 1787220033.873003, 1787220033873003000]");
        Assert.Equal(At.AddTicks(-30), Timestamps.Parse(doc.RootElement[0]));
        Assert.Equal(At, Timestamps.Parse(doc.RootElement[1])!.Value, TimeSpan.FromMicroseconds(1));
        Assert.Equal(At, Timestamps.Parse(doc.RootElement[2]));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("")]
    [InlineData("-5")]
    [InlineData("2026-13-40T10:00:00Z")]
    public void Parse_RefusesWhatIsNotATime(string text) => Assert.Null(Timestamps.Parse(text));

    [Fact]
    public void Parse_RefusesNonTimeJson()
    {
        Assert.Null(Timestamps.Parse(JsonValue.Create(true)));
        Assert.Null(Timestamps.Parse(JsonValue.Create(-1)));
        Assert.Null(Timestamps.Parse(JsonValue.Create(double.MaxValue)));
        Assert.Null(Timestamps.Parse((JsonNode?)null));
        using var doc = JsonDocument.Parse("""{"a":1}""");
        Assert.Null(Timestamps.Parse(doc.RootElement));
    }
}
