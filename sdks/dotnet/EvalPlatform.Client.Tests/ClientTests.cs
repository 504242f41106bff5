using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Client.Tests;

public sealed class ClientTests : IDisposable
{
    private readonly FakePlatform _platform = new();
    private readonly EvalPlatformClient _client;

    public ClientTests() =>
        _client = new EvalPlatformClient(new HttpClient(_platform), new EvalPlatformOptions { Endpoint = new Uri("http://platform.test/"), ApiKey = "ep_key" });

    public void Dispose() => _platform.Dispose();

    [Fact]
    public async Task PostScores_SendsThemToTheTrace_AndReadsWhatWasStored()
    {
        var traceId = Guid.NewGuid();
        _platform.Then(HttpStatusCode.Created, $$"""
            [{"id":"{{Guid.NewGuid()}}","span_id":null,"name":"helpfulness","data_type":"numeric","numeric_value":0.9,"string_value":null,
              "source":"api","author":"api-key:1","comment":"good","created_at":"2026-11-27T10:00:00+00:00"}]
            """);

        var stored = await _client.PostScoresAsync(traceId, [EvalScore.Numeric("helpfulness", 0.9, "good"), EvalScore.Categorical("tone", "friendly"), EvalScore.Boolean("resolved", true)]);

        var request = Assert.Single(_platform.Requests);
        Assert.Equal($"http://platform.test/api/v1/traces/{traceId}/scores", request.Uri.ToString());
        Assert.Equal("Bearer ep_key", request.Authorization);
        var scores = request.Body.GetProperty("scores");
        Assert.Equal(("helpfulness", 0.9, "numeric", "good"),
            (scores[0].GetProperty("name").GetString(), scores[0].GetProperty("value").GetDouble(), scores[0].GetProperty("data_type").GetString(), scores[0].GetProperty("comment").GetString()));
        Assert.Equal("friendly", scores[1].GetProperty("value").GetString());
        Assert.True(scores[2].GetProperty("value").GetBoolean());
        Assert.False(scores[1].TryGetProperty("span_id", out _));
        Assert.Equal(("helpfulness", 0.9, "api"), (stored[0].Name, stored[0].NumericValue, stored[0].Source));
    }

    [Fact]
    public async Task GetReview_ReadsTheReviewOfTheTrace()
    {
        var traceId = Guid.NewGuid();
        _platform.Then(HttpStatusCode.OK, $$$"""
            {"id":"{{{traceId}}}","review_status":"rejected","review":{"trace_id":"{{{traceId}}}","status":"rejected","reason":"hallucination",
             "reason_label":"Hallucination","detail":"Invents a tracking number.","score":0,"score_label":"bad","note":"Check the tool.",
             "reviewed_by":"api-key:1","reviewed_by_name":"API key 'ci'","reviewed_at":"2026-11-27T10:00:00+00:00","version":1,"can_undo":true,
             "history":[{"version":1,"action":"reject","actor_id":"api-key:1","actor":"API key 'ci'","at":"2026-11-27T10:00:00+00:00","undone_version":null,
               "from":{"status":"pending","reason":null,"detail":null,"score":null,"note":null},
               "to":{"status":"rejected","reason":"hallucination","detail":"Invents a tracking number.","score":0,"note":"Check the tool."}}]}}
            """);

        var review = await _client.GetReviewAsync(traceId);

        Assert.Equal($"http://platform.test/api/v1/traces/{traceId}", _platform.Requests.Single().Uri.ToString());
        Assert.Equal((traceId, "rejected", "hallucination", 0.0, "bad"), (review.TraceId, review.Status, review.Reason, review.Score!.Value, review.ScoreLabel));
        Assert.Equal(("Invents a tracking number.", "Check the tool.", "API key 'ci'"), (review.Detail, review.Note, review.ReviewedByName));
        var change = Assert.Single(review.History);
        Assert.Equal(("reject", "pending", "rejected"), (change.Action, change.From.Status, change.To.Status));
    }

    [Fact]
    public async Task ARefusedCall_ThrowsEvalPlatformException_WithTheProblemDetails()
    {
        _platform.Then(HttpStatusCode.BadRequest, FakePlatform.Problem(400, ("scores[0].value", "Must be a number, a string or a boolean.")));

        var e = await Assert.ThrowsAsync<EvalPlatformException>(() => _client.PostScoreAsync(Guid.NewGuid(), EvalScore.Numeric("x", 1)));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Equal("Invalid trace", e.Title);
        Assert.Equal(["Must be a number, a string or a boolean."], e.Errors["scores[0].value"]);
        Assert.Contains("400", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NotFound_ThrowsEvalPlatformException()
    {
        _platform.Then(HttpStatusCode.NotFound, """{"status":404,"title":"Not found","detail":"No trace in this team."}""");

        var e = await Assert.ThrowsAsync<EvalPlatformException>(() => _client.GetReviewAsync(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        Assert.Equal("No trace in this team.", e.Detail);
    }

    [Fact]
    public async Task SendTrace_PostsOneTrace_AndAnswersItsId()
    {
        var id = Guid.NewGuid();
        _platform.Then(HttpStatusCode.Created, $$"""{"index":0,"id":"{{id}}","external_id":"req-1","status":"created"}""");

        var receipt = await _client.SendTraceAsync(new TraceBuilder().WithExternalId("req-1").WithUserInput("hi").Build());

        Assert.Equal("http://platform.test/api/v1/traces", _platform.Requests.Single().Uri.ToString());
        Assert.Equal((id, "req-1", "created"), (receipt.Id, receipt.ExternalId, receipt.Status));
    }
}

public sealed class ServiceCollectionTests
{
    private static (ServiceProvider Provider, FakePlatform Platform) Build(Dictionary<string, string?> settings, Action<EvalPlatformOptions>? configure = null)
    {
        var platform = new FakePlatform();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddEvalPlatform(configure);
        services.AddHttpClient(EvalPlatformServiceCollectionExtensions.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => platform);
        return (services.BuildServiceProvider(), platform);
    }

    [Fact]
    public void AddEvalPlatform_BindsTheEvalPlatformSection_ThenTheCode()
    {
        var (provider, _) = Build(new()
        {
            ["EvalPlatform:Endpoint"] = "http://from-config.test",
            ["EvalPlatform:ApiKey"] = "ep_config",
            ["EvalPlatform:MaxBatchSize"] = "50",
            ["EvalPlatform:FlushInterval"] = "00:00:02",
        }, o => o.ApiKey = "ep_code");
        using var _ = provider;

        var options = provider.GetRequiredService<IOptions<EvalPlatformOptions>>().Value;

        Assert.Equal(new Uri("http://from-config.test"), options.Endpoint);
        Assert.Equal("ep_code", options.ApiKey);
        Assert.Equal(50, options.MaxBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(2), options.FlushInterval);
        Assert.Same(provider.GetRequiredService<IEvalPlatformBatcher>(), provider.GetRequiredService<EvalPlatformBatcher>());
        Assert.IsType<EvalPlatformClient>(provider.GetRequiredService<IEvalPlatformClient>());
    }

    [Fact]
    public void InvalidOptions_AreReported_NamingTheSetting()
    {
        var (provider, _) = Build(new() { ["EvalPlatform:Endpoint"] = "http://platform.test" });
        using var _ = provider;

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<EvalPlatformOptions>>().Value);

        Assert.Contains("EvalPlatform:ApiKey", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposingTheContainer_FlushesTheBatcher()
    {
        var (provider, platform) = Build(new() { ["EvalPlatform:Endpoint"] = "http://platform.test", ["EvalPlatform:ApiKey"] = "ep_key" });
        var batcher = provider.GetRequiredService<IEvalPlatformBatcher>();
        batcher.Enqueue(new TraceBuilder().WithExternalId("at-shutdown").WithUserInput("hi").Build());

        await provider.DisposeAsync();

        Assert.Equal(["at-shutdown"], platform.Requests.Single().ExternalIds);
        Assert.Equal("Bearer ep_key", platform.Requests.Single().Authorization);
        Assert.Equal(1, batcher.Counters.Sent);
    }
}
