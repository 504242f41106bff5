using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// A reviewer with the list open while an OpenTelemetry exporter and the LangSmith SDK send, as they
/// do, span by span: the traces appear live and open with Chat, Functions and Metadata filled in.
/// </summary>
public sealed class ForeignFormatsJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    private static string OtlpExport(string traceId, string spanJson) => """
        {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"support-bot"}}]},
         "scopeSpans":[{"scope":{"name":"Microsoft.Extensions.AI"},"spans":[SPAN]}]}]}
        """.Replace("SPAN", spanJson.Replace("TRACE", traceId, StringComparison.Ordinal), StringComparison.Ordinal);

    private const string ToolSpan = """
        {"traceId":"TRACE","spanId":"1111111111111111","parentSpanId":"00f067aa0ba902b7","name":"execute_tool lookup_order","kind":1,
         "startTimeUnixNano":"1755684000300000000","endTimeUnixNano":"1755684000420000000",
         "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},
          {"key":"gen_ai.tool.name","value":{"stringValue":"lookup_order"}},
          {"key":"gen_ai.tool.call.id","value":{"stringValue":"call_1"}},
          {"key":"gen_ai.tool.call.arguments","value":{"stringValue":"{\"order_id\":\"A-1042\"}"}},
          {"key":"gen_ai.tool.call.result","value":{"stringValue":"{\"status\":\"shipped\",\"carrier\":\"DHL\"}"}}]}
        """;

    private const string ChatSpan = """
        {"traceId":"TRACE","spanId":"00f067aa0ba902b7","name":"chat gpt-4o","kind":3,
         "startTimeUnixNano":"1755684000000000000","endTimeUnixNano":"1755684001200000000",
         "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
          {"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},
          {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
          {"key":"gen_ai.usage.input_tokens","value":{"intValue":"812"}},
          {"key":"gen_ai.usage.output_tokens","value":{"intValue":"64"}},
          {"key":"gen_ai.conversation.id","value":{"stringValue":"s-9"}},
          {"key":"gen_ai.system_instructions","value":{"stringValue":"[{\"type\":\"text\",\"content\":\"You are the support bot of Northwind. Check orders with the tool.\"}]"}},
          {"key":"gen_ai.input.messages","value":{"stringValue":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Where is my order A-1042?\"}]}]"}},
          {"key":"gen_ai.output.messages","value":{"stringValue":"[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Order A-1042 shipped with DHL yesterday.\"}],\"finish_reason\":\"stop\"}]"}}]}
        """;

    [Fact]
    public async Task OtlpSpansAndLangSmithRuns_AppearLive_AndOpenWithChatFunctionsAndMetadata()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Add("x-api-key", key.Key);

        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);
        var table = page.Locator("[data-testid=traces-table]");

        // The exporter sends the tool span first (it ended first), then the chat span: one trace, live, no reload.
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        await PostAsync(http, "/v1/traces", OtlpExport(traceId, ToolSpan), "application/json");
        await PostAsync(http, "/v1/traces", OtlpExport(traceId, ChatSpan), "application/json");
        await table.GetByText("Where is my order A-1042?").WaitForAsync(new() { Timeout = 5000 });

        // The LangSmith SDK's multipart batch: a chain, an llm and a tool run.
        using (var multipart = LangSmithWire.ForTraces(1, TimeProvider.System.GetUtcNow()).ToContent())
        {
            var sent = await http.PostAsync("/api/langsmith/runs/multipart", multipart);
            Assert.True(sent.IsSuccessStatusCode, $"{(int)sent.StatusCode}: {await sent.Content.ReadAsStringAsync()}");
        }

        await table.GetByText("Where is order 0?").First.WaitForAsync(new() { Timeout = 5000 });
        await page.ScreenshotAsync("60-list-otlp-and-langsmith-light-1440");

        await table.GetByText("Where is my order A-1042?").ClickAsync();
        await page.WaitUntilInteractiveAsync();
        var chat = page.Locator("[data-testid=chat]");
        await chat.GetByText("You are the support bot of Northwind.").WaitForAsync();
        await chat.GetByText("Order A-1042 shipped with DHL yesterday.").WaitForAsync();
        await page.ScreenshotAsync("61-otlp-trace-chat-light-1440");

        await page.GetByRole(AriaRole.Tab, new() { Name = "Functions" }).ClickAsync();
        var functions = page.Locator("[data-testid=functions]");
        await functions.GetByText("lookup_order").WaitForAsync();
        await functions.GetByText("A-1042").First.WaitForAsync();
        await page.ScreenshotAsync("62-otlp-trace-functions-light-1440");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=functions]").GetByText("lookup_order").WaitForAsync();
        await page.ScreenshotAsync("65-otlp-trace-functions-dark-1440");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();

        await page.GetByRole(AriaRole.Tab, new() { Name = "Metadata" }).ClickAsync();
        var metadata = page.Locator("[data-testid=metadata]");
        await metadata.GetByText("gpt-4o").First.WaitForAsync();
        await metadata.GetByText("openai").First.WaitForAsync();
        await metadata.GetByText("876").WaitForAsync();
        await metadata.GetByText("s-9").WaitForAsync();
        await page.ScreenshotAsync("63-otlp-trace-metadata-light-1440");

        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();
        await table.GetByText("Where is order 0?").First.ClickAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=chat]").GetByText("You are a support agent for an online shop.").WaitForAsync();
        await page.ScreenshotAsync("64-langsmith-trace-chat-light-1440");
    }

    private static async Task PostAsync(HttpClient http, string path, string body, string contentType)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        var sent = await http.PostAsync(path, content);
        Assert.True(sent.IsSuccessStatusCode, $"{(int)sent.StatusCode}: {await sent.Content.ReadAsStringAsync()}");
    }
}
