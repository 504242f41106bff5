using EvalPlatform.Web.Reviews;

namespace EvalPlatform.Tests.Unit.Reviews;

public sealed class ShortcutRelayTests
{
    [Fact]
    public async Task KeysSentBeforeSubscribing_AreDeliveredOnSubscribe_InOrder_ThenLiveOnes()
    {
        var relay = new ShortcutRelay();
        var got = new List<string>();
        await relay.SendAsync("r");
        await relay.SendAsync("1");

        await relay.SubscribeAsync(k => { got.Add(k); return Task.CompletedTask; });
        await relay.SendAsync("2");
        relay.Unsubscribe();
        await relay.SendAsync("3");

        Assert.Equal(["r", "1", "2"], got);
    }
}
