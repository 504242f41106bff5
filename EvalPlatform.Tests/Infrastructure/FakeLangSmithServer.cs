using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using Microsoft.AspNetCore.Http;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>A LangSmith project ("session") the fake serves.</summary>
public sealed record FakeLangSmithProject(Guid Id, string Name, DateTimeOffset StartTime);

/// <summary>
/// LangSmith's read API on a loopback port, with the shapes of langsmith-sdk's <c>client.py</c> and <c>schemas.py</c>;
/// every route is served with and without the <c>/api/v1</c> prefix (the SDK's base URL is either):
/// <list type="bullet">
/// <item><c>GET /info</c>: <c>{"version", "batch_ingest_config", "instance_flags"}</c>.</item>
/// <item><c>GET /sessions?limit&amp;offset&amp;name</c>: a JSON list of projects with <c>run_count</c> and <c>last_run_start_time</c>.</item>
/// <item><c>POST /runs/query</c> <c>{"session": [ids], "start_time", "cursor", "limit"}</c>: <c>{"runs": [...], "cursors": {"next", "prev"}}</c>,
/// newest first (LangSmith's default order), at most <see cref="PageSizeLimit"/> runs a page (a larger <c>limit</c> is a 422).</item>
/// <item><c>GET /feedback?run=…&amp;session=…&amp;min_created_at=…&amp;limit&amp;offset</c>, <c>POST /feedback</c>, <c>PATCH /feedback/{id}</c>.</item>
/// <item>401 <c>{"detail"}</c> for a wrong <c>x-api-key</c>; scripted replies (<see cref="FakeUpstreamServer.Next"/>: 429 with
/// <c>Retry-After</c>, 5xx) answer the next runs or feedback request; <see cref="FailQueryOnce"/> fails one page once;
/// <see cref="Down"/> answers 503 to everything.</item>
/// </list>
/// </summary>
public sealed class FakeLangSmithServer : FakeUpstreamServer
{
    public const string Key = "lsv2_pt_fake0000000000000000000000_0000000001";

    private readonly ConcurrentDictionary<string, JsonObject> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, JsonObject> _feedback = new();
    private readonly List<FakeLangSmithProject> _projects = [];
    private int _queries;

    private FakeLangSmithServer()
    {
        ApiKey = Key;
    }

    /// <summary>The base URL a connection takes, as LangSmith's public one (<c>https://api.smith.langchain.com</c>).</summary>
    public string ApiUrl => Address.ToString().TrimEnd('/');

    /// <summary>The most runs one <c>/runs/query</c> page returns (LangSmith's is 100).</summary>
    public int PageSizeLimit { get; set; } = 100;

    /// <summary>The 1-based number of the <c>/runs/query</c> request that fails with a 500 (the page asked again is served).</summary>
    public int? FailQueryOnce { get; set; }

    /// <summary>Called with each <c>/runs/query</c> request's number as it arrives (a test kills the importer in the middle).</summary>
    public Action<int>? QueryReceived { get; set; }

    /// <summary>Every request answers 503 (an outage).</summary>
    public bool Down { get; set; }

    /// <summary>When set, requests must carry it as <c>X-Tenant-Id</c> (a workspace), else 403.</summary>
    public string? RequiredWorkspace { get; set; }

    public IReadOnlyList<FakeLangSmithProject> Projects
    {
        get
        {
            lock (_projects)
            {
                return _projects.ToList();
            }
        }
    }

    public int RunCount => _runs.Count;

    public IReadOnlyCollection<JsonObject> Feedback => _feedback.Values.ToList();

    /// <summary>How many <c>/runs/query</c> requests arrived (answered or not).</summary>
    public int QueryCount => Volatile.Read(ref _queries);

    public static async Task<FakeLangSmithServer> StartNewAsync()
    {
        var server = new FakeLangSmithServer();
        await server.StartAsync();
        return server;
    }

    public FakeLangSmithProject AddProject(string name, DateTimeOffset startTime)
    {
        var project = new FakeLangSmithProject(Uuid7.Create(startTime), name, startTime);
        lock (_projects)
        {
            _projects.Add(project);
        }

        return project;
    }

    public void DeleteProject(Guid id)
    {
        lock (_projects)
        {
            _projects.RemoveAll(p => p.Id == id);
        }
    }

    /// <summary>Stores runs as LangSmith would return them (with <c>session_id</c> and <c>status</c>), replacing any with the same id.</summary>
    public void AddRuns(FakeLangSmithProject project, IEnumerable<JsonObject> runs)
    {
        foreach (var run in runs)
        {
            var copy = run.DeepClone().AsObject();
            copy.Remove("session_name");
            copy["session_id"] = project.Id.ToString();
            copy["status"] = copy["error"] is JsonValue ? "error" : copy["end_time"] is JsonValue ? "success" : "pending";
            _runs[copy["id"]!.GetValue<string>()] = copy;
        }
    }

    /// <summary>Stores a feedback as the LangSmith UI or SDK made it (with its own id, author and time).</summary>
    public void AddFeedback(JsonObject feedback) => _feedback[Guid.Parse(feedback["id"]!.GetValue<string>())] = feedback.DeepClone().AsObject();

    /// <summary>
    /// Three runs of one trace (a chain root, an llm child and a tool child), as the SDK's <c>RunTree</c> makes them, with
    /// the llm's messages in the given <paramref name="style"/> (<c>openai</c>, <c>anthropic</c> or <c>langchain</c>); all
    /// finished unless <paramref name="finished"/> is false (the root still pending).
    /// </summary>
    public static List<JsonObject> Trace(DateTimeOffset t0, int n, string style = "openai", bool finished = true)
    {
        var rootId = Uuid7.Create(t0).ToString();
        var root = LangSmithWire.Run(rootId, "support-agent", "chain", t0, null, new JsonObject { ["question"] = $"Where is order {n}?" },
            metadata: new JsonObject { ["thread_id"] = $"thread-{n % 50}" });
        var rootRef = (rootId, root["dotted_order"]!.GetValue<string>(), rootId);
        var llmId = Uuid7.Create(t0.AddMilliseconds(1)).ToString();
        var (inputs, outputs, provider, model) = Messages(style, n);
        var llm = LangSmithWire.Run(llmId, "chat-model", "llm", t0.AddMilliseconds(1), rootRef, inputs,
            metadata: new JsonObject { ["ls_provider"] = provider, ["ls_model_name"] = model });
        llm["end_time"] = LangSmithWire.IsoTime(t0.AddMilliseconds(700));
        llm["outputs"] = outputs;
        var toolId = Uuid7.Create(t0.AddMilliseconds(701)).ToString();
        var tool = LangSmithWire.Run(toolId, "lookup_order", "tool", t0.AddMilliseconds(701), rootRef, new JsonObject { ["order_id"] = n });
        tool["end_time"] = LangSmithWire.IsoTime(t0.AddMilliseconds(750));
        tool["outputs"] = new JsonObject { ["output"] = new JsonObject { ["status"] = "shipped" } };
        if (finished)
        {
            root["end_time"] = LangSmithWire.IsoTime(t0.AddMilliseconds(800));
            root["outputs"] = new JsonObject { ["answer"] = $"Order {n} shipped." };
        }

        return [root, llm, tool];
    }

    /// <summary>Marks a stored pending run finished (a late-finishing run), with its outputs.</summary>
    public void Finish(string runId, DateTimeOffset end, JsonObject outputs)
    {
        var run = _runs[runId];
        run["end_time"] = LangSmithWire.IsoTime(end);
        run["outputs"] = outputs;
        run["status"] = "success";
    }

    private static (JsonObject Inputs, JsonObject Outputs, string Provider, string Model) Messages(string style, int n) => style switch
    {
        "anthropic" => (
            new JsonObject
            {
                ["system"] = "You are a support agent.",
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = $"Where is order {n}?" }) }),
                ["model"] = "claude-sonnet-4-5",
            },
            new JsonObject
            {
                ["id"] = $"msg_{n}", ["type"] = "message", ["role"] = "assistant", ["model"] = "claude-sonnet-4-5",
                ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = $"Order {n} shipped." }),
                ["usage"] = new JsonObject { ["input_tokens"] = 20, ["output_tokens"] = 5 },
                ["usage_metadata"] = new JsonObject { ["input_tokens"] = 20, ["output_tokens"] = 5, ["total_tokens"] = 25 },
            },
            "anthropic", "claude-sonnet-4-5"),
        "langchain" => (
            new JsonObject
            {
                ["messages"] = new JsonArray(new JsonArray(
                    new JsonObject { ["type"] = "system", ["content"] = "You are a support agent." },
                    new JsonObject { ["type"] = "human", ["content"] = $"Where is order {n}?" })),
            },
            new JsonObject
            {
                ["generations"] = new JsonArray(new JsonArray(new JsonObject
                {
                    ["text"] = $"Order {n} shipped.",
                    ["message"] = new JsonObject { ["type"] = "ai", ["content"] = $"Order {n} shipped." },
                })),
                ["usage_metadata"] = new JsonObject { ["input_tokens"] = 15, ["output_tokens"] = 4, ["total_tokens"] = 19 },
            },
            "openai", "gpt-4o"),
        _ => (
            new JsonObject
            {
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "system", ["content"] = "You are a support agent." },
                    new JsonObject { ["role"] = "user", ["content"] = $"Where is order {n}?" }),
                ["model"] = "gpt-4o-mini",
            },
            new JsonObject
            {
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["finish_reason"] = "stop",
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = $"Order {n} shipped." },
                }),
                ["usage_metadata"] = new JsonObject { ["input_tokens"] = 12, ["output_tokens"] = 4, ["total_tokens"] = 16 },
            },
            "openai", "gpt-4o-mini"),
    };

    protected override async Task HandleAsync(HttpContext context, string body)
    {
        var path = context.Request.Path.Value ?? "";
        if (path.StartsWith("/api/v1/", StringComparison.Ordinal))
        {
            path = path["/api/v1".Length..];
        }

        var method = context.Request.Method;
        if (Down)
        {
            await DetailAsync(context, 503, "Service Unavailable");
            return;
        }

        if (context.Request.Headers["x-api-key"].ToString() != ApiKey)
        {
            await DetailAsync(context, 401, "Invalid token");
            return;
        }

        if (RequiredWorkspace is not null && context.Request.Headers["X-Tenant-Id"].ToString() != RequiredWorkspace)
        {
            await DetailAsync(context, 403, "Forbidden: the key has no access to this workspace");
            return;
        }

        switch (method, path)
        {
            case ("GET", "/info"):
                await WriteJsonAsync(context, 200, new
                {
                    version = "0.11.4",
                    license_expiration_time = (string?)null,
                    batch_ingest_config = new { use_multipart_endpoint = true, scale_up_qsize_trigger = 1000, scale_up_nthreads_limit = 16, scale_down_nempty_trigger = 4, size_limit = 100, size_limit_bytes = 20_971_520 },
                    instance_flags = new { dataset_examples_multipart_enabled = true, zstd_compression_enabled = true },
                });
                return;
            case ("GET", "/sessions"):
                await SessionsAsync(context);
                return;
            case ("POST", "/runs/query"):
                await QueryAsync(context, body);
                return;
            case ("GET", "/feedback"):
                await ListFeedbackAsync(context);
                return;
            case ("POST", "/feedback"):
                await CreateFeedbackAsync(context, body);
                return;
        }

        if (method == "PATCH" && path.StartsWith("/feedback/", StringComparison.Ordinal))
        {
            await UpdateFeedbackAsync(context, path["/feedback/".Length..], body);
            return;
        }

        await DetailAsync(context, 404, "Not Found");
    }

    private async Task SessionsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var limit = int.TryParse(query["limit"], CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 100) : 100;
        var offset = int.TryParse(query["offset"], CultureInfo.InvariantCulture, out var o) ? Math.Max(0, o) : 0;
        var name = query["name"].ToString();
        var runs = _runs.Values.ToList();
        var page = Projects.Where(p => name.Length == 0 || p.Name == name).OrderBy(p => p.Name, StringComparer.Ordinal).Skip(offset).Take(limit).Select(p =>
        {
            var own = runs.Where(r => r["session_id"]!.GetValue<string>() == p.Id.ToString()).ToList();
            return new Dictionary<string, object?>
            {
                ["id"] = p.Id.ToString(),
                ["name"] = p.Name,
                ["start_time"] = LangSmithWire.IsoTime(p.StartTime),
                ["end_time"] = null,
                ["description"] = null,
                ["tenant_id"] = "00000000-0000-0000-0000-00000000a11c",
                ["reference_dataset_id"] = null,
                ["run_count"] = own.Count,
                ["last_run_start_time"] = own.Count == 0 ? null : own.Max(r => StartOf(r)).ToString("O", CultureInfo.InvariantCulture),
            };
        }).ToList();
        await WriteJsonAsync(context, 200, page);
    }

    private async Task QueryAsync(HttpContext context, string body)
    {
        var number = Interlocked.Increment(ref _queries);
        QueryReceived?.Invoke(number);
        var request = ParseOrDefault(body);
        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            await DetailAsync(context, reply.Status, reply.ErrorMessage ?? (reply.Status == 429 ? "Too many requests" : "Internal Server Error"));
            return;
        }

        var limit = request.TryGetProperty("limit", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetInt32() : 100;
        if (limit < 1 || limit > PageSizeLimit)
        {
            await WriteJsonAsync(context, 422, new { detail = new[] { new { loc = new[] { "body", "limit" }, msg = $"Input should be less than or equal to {PageSizeLimit}", type = "less_than_equal" } } });
            return;
        }

        var cursor = request.TryGetProperty("cursor", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
        if (FailQueryOnce == number)
        {
            await DetailAsync(context, 500, "Internal Server Error");
            return;
        }

        var sessions = request.TryGetProperty("session", out var s) && s.ValueKind == JsonValueKind.Array
            ? s.EnumerateArray().Select(e => e.GetString()).ToHashSet(StringComparer.Ordinal)
            : [];
        var known = Projects.Select(p => p.Id.ToString()).ToHashSet(StringComparer.Ordinal);
        if (sessions.Any(id => !known.Contains(id!)))
        {
            await DetailAsync(context, 404, "Session not found");
            return;
        }

        DateTimeOffset? from = request.TryGetProperty("start_time", out var st) && st.ValueKind == JsonValueKind.String
            ? DateTimeOffset.Parse(st.GetString()!, CultureInfo.InvariantCulture)
            : null;

        // Newest first, ties by id; the cursor is the (start, id) of the page's last run, so runs added meanwhile never shift a page.
        var after = cursor.Length == 0 ? null : Encoding.UTF8.GetString(Convert.FromBase64String(cursor)).Split('|');
        var matching = _runs.Values
            .Where(r => sessions.Contains(r["session_id"]!.GetValue<string>()))
            .Where(r => from is null || StartOf(r) >= from)
            .Select(r => (Run: r, Start: StartOf(r), Id: r["id"]!.GetValue<string>()))
            .OrderByDescending(r => r.Start).ThenByDescending(r => r.Id, StringComparer.Ordinal)
            .Where(r => after is null || r.Start.UtcTicks < long.Parse(after[0], CultureInfo.InvariantCulture)
                || (r.Start.UtcTicks == long.Parse(after[0], CultureInfo.InvariantCulture) && string.CompareOrdinal(r.Id, after[1]) < 0))
            .Take(limit + 1)
            .ToList();
        var page = matching.Take(limit).ToList();
        var next = matching.Count > limit
            ? Convert.ToBase64String(Encoding.UTF8.GetBytes($"{page[^1].Start.UtcTicks.ToString(CultureInfo.InvariantCulture)}|{page[^1].Id}"))
            : null;
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        var result = new JsonObject
        {
            ["runs"] = new JsonArray(page.Select(r => (JsonNode)r.Run.DeepClone()).ToArray()),
            ["cursors"] = new JsonObject { ["next"] = next, ["prev"] = cursor.Length == 0 ? null : cursor },
        };
        await context.Response.WriteAsync(result.ToJsonString(), context.RequestAborted);
    }

    private async Task ListFeedbackAsync(HttpContext context)
    {
        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            await DetailAsync(context, reply.Status, reply.ErrorMessage ?? "Internal Server Error");
            return;
        }

        var query = context.Request.Query;
        var runs = query["run"].Select(r => r!).ToHashSet(StringComparer.Ordinal);
        var limit = int.TryParse(query["limit"], CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 100) : 100;
        var offset = int.TryParse(query["offset"], CultureInfo.InvariantCulture, out var o) ? Math.Max(0, o) : 0;
        // session: feedback on the project's runs; min_created_at: created at or after (how late feedback is found).
        var sessions = query["session"].Select(s => s!).ToHashSet(StringComparer.Ordinal);
        DateTimeOffset? since = query["min_created_at"].ToString() is { Length: > 0 } m ? DateTimeOffset.Parse(m, CultureInfo.InvariantCulture) : null;
        var page = _feedback.Values
            .Where(f => runs.Count == 0 || runs.Contains(f["run_id"]?.GetValue<string>() ?? ""))
            .Where(f => sessions.Count == 0 || (_runs.TryGetValue(f["run_id"]?.GetValue<string>() ?? "", out var run) && sessions.Contains(run["session_id"]!.GetValue<string>())))
            .Where(f => since is null || (f["created_at"]?.GetValue<string>() is { } at && DateTimeOffset.Parse(at, CultureInfo.InvariantCulture) >= since))
            .OrderBy(f => f["id"]!.GetValue<string>(), StringComparer.Ordinal)
            .Skip(offset).Take(limit)
            .Select(f => (JsonNode)f.DeepClone()).ToArray();
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonArray(page).ToJsonString(), context.RequestAborted);
    }

    private async Task CreateFeedbackAsync(HttpContext context, string body)
    {
        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            await DetailAsync(context, reply.Status, reply.ErrorMessage ?? "Internal Server Error");
            return;
        }

        if (JsonNode.Parse(body) is not JsonObject feedback || feedback["key"] is null || feedback["run_id"] is null)
        {
            await WriteJsonAsync(context, 422, new { detail = "key and run_id are required" });
            return;
        }

        var id = feedback["id"]?.GetValue<string>() is { } given ? Guid.Parse(given) : Guid.NewGuid();
        feedback["id"] = id.ToString();
        feedback["created_at"] ??= LangSmithWire.IsoTime(DateTimeOffset.UnixEpoch);
        if (!_feedback.TryAdd(id, feedback))
        {
            await DetailAsync(context, 409, "Feedback already exists");
            return;
        }

        await WriteJsonAsync(context, 200, JsonSerializer.Deserialize<JsonElement>(feedback.ToJsonString()));
    }

    private async Task UpdateFeedbackAsync(HttpContext context, string id, string body)
    {
        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            await DetailAsync(context, reply.Status, reply.ErrorMessage ?? "Internal Server Error");
            return;
        }

        if (!Guid.TryParse(id, out var key) || !_feedback.TryGetValue(key, out var feedback))
        {
            await DetailAsync(context, 404, "Feedback not found");
            return;
        }

        foreach (var (name, value) in JsonNode.Parse(body)!.AsObject())
        {
            feedback[name] = value?.DeepClone();
        }

        await WriteJsonAsync(context, 200, JsonSerializer.Deserialize<JsonElement>(feedback.ToJsonString()));
    }

    private static DateTimeOffset StartOf(JsonObject run) => DateTimeOffset.Parse(run["start_time"]!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static Task DetailAsync(HttpContext context, int status, string detail) => WriteJsonAsync(context, status, new { detail });
}
