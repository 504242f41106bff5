using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Providers;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The recording proxy (ADR 30): an OpenAI-compatible base URL (<c>/proxy/openai/v1</c>) and an Anthropic-compatible one
/// (<c>/proxy/anthropic</c>), authenticated with one of our API keys (scope <c>ingest</c>) in the header each SDK already
/// sends (<c>Authorization: Bearer</c>, <c>x-api-key</c>). Each model call goes to the team's connection and becomes a trace.
/// </summary>
public static class ProxyEndpoints
{
    public const string OpenAiBase = "/proxy/openai/v1";
    public const string AnthropicBase = "/proxy/anthropic";

    public static void MapProxyEndpoints(this IEndpointRouteBuilder app)
    {
        var openAi = app.MapGroup(OpenAiBase).WithTags("Proxy").RequirePermission(Permission.IngestTraces);
        openAi.MapPost("/chat/completions", ChatCompletionsAsync)
            .WithName("ProxyOpenAiChatCompletions").WithSummary("OpenAI chat completions through the team's connection, recorded as a trace");
        openAi.MapPost("/responses", ResponsesAsync)
            .WithName("ProxyOpenAiResponses").WithSummary("OpenAI's Responses API, passed through where the upstream has it, recorded as a trace");
        openAi.MapGet("/models", OpenAiModelsAsync)
            .WithName("ProxyOpenAiModels").WithSummary("The connection's models, as the upstream lists them");

        var anthropic = app.MapGroup(AnthropicBase).WithTags("Proxy").RequirePermission(Permission.IngestTraces);
        anthropic.MapPost("/v1/messages", MessagesAsync)
            .WithName("ProxyAnthropicMessages").WithSummary("Anthropic messages through the team's connection, recorded as a trace");
        anthropic.MapGet("/v1/models", AnthropicModelsAsync)
            .WithName("ProxyAnthropicModels").WithSummary("The connection's models, as the upstream lists them");
    }

    private static Task ChatCompletionsAsync(HttpContext context, ProxyForwarder proxy) =>
        proxy.ForwardCallAsync(context, ProxyProtocol.OpenAiChat, "chat/completions");

    private static Task ResponsesAsync(HttpContext context, ProxyForwarder proxy) =>
        proxy.ForwardCallAsync(context, ProxyProtocol.OpenAiResponses, "responses");

    private static Task OpenAiModelsAsync(HttpContext context, ProxyForwarder proxy) =>
        proxy.ForwardListAsync(context, ProxyProtocol.OpenAiChat, "models");

    private static Task MessagesAsync(HttpContext context, ProxyForwarder proxy) =>
        proxy.ForwardCallAsync(context, ProxyProtocol.AnthropicMessages, "v1/messages");

    private static Task AnthropicModelsAsync(HttpContext context, ProxyForwarder proxy) =>
        proxy.ForwardListAsync(context, ProxyProtocol.AnthropicMessages, "v1/models");
}
