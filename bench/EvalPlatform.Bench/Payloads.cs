using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace EvalPlatform.Bench;

/// <summary>
/// Realistic ~1 KB traces in the simple shape: a support bot's system prompt, a customer question,
/// an answer, model/provider/usage/latency, tags, metadata, a unique external id and two tool calls.
/// Deterministic for a given seed, serialised up front so that the client does little work while timed.
/// </summary>
internal static class Payloads
{
    // As SDKs send it: quotes and apostrophes are not \u-escaped.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly string[] SystemPrompts =
    [
        "You are Ada, the support assistant of Northwind Outfitters. Answer politely and briefly. Use the order tools before answering about an order and never invent tracking numbers.",
        "You are the card services assistant of Contoso Bank. Verify the customer with the lookup tool first. Only discuss cards, statements and payments; give no investment advice.",
        "You are the travel desk assistant of Fabrikam Air. Check the booking with the tools before quoting any fee. Be friendly and factual, and never promise a refund.",
    ];

    private static readonly string[] UserInputs =
    [
        "Hi, my order {0} still says label created after a week. When will it actually ship?",
        "My card ending {0} was declined at a petrol station today but I have money. Why?",
        "Can I move flight {0} from Friday to Sunday evening? How much would that cost?",
        "Can I return a jacket from order {0} if I already removed the tags? It doesn't fit.",
    ];

    private static readonly string[] Responses =
    [
        "Thanks for waiting! Order {0} left our warehouse yesterday and the carrier scanned it last night. Tracking can lag a day behind, so it should update by tomorrow; delivery is expected Thursday.",
        "Sorry about that. The payment on card {0} was stopped by our fraud check as a first fuel purchase abroad. I have confirmed it with you, so the block is lifted and you can retry now.",
        "There are seats on Sunday's 18:40 flight for booking {0}. The change costs 45 EUR plus a 22 EUR fare difference, 67 EUR in total, and your seat and bags carry over. Shall I book it?",
        "Yes, order {0} is within the 30-day window. Items without tags are accepted if unworn; I have emailed you a return label, and the refund follows 3 to 5 days after it arrives.",
    ];

    // Two tool calls per topic (same order as UserInputs); {0} is the order/card/booking reference.
    private static readonly (string Name, string Parameters, string Result)[][] ToolCalls =
    [
        [
            ("lookup_order", "{{\"order_id\":\"{0}\"}}", "{{\"status\":\"shipped\",\"carrier\":\"DHL\",\"items\":2}}"),
            ("get_tracking", "{{\"order_id\":\"{0}\"}}", "{{\"last_scan\":\"sorting centre\",\"eta\":\"thursday\"}}"),
        ],
        [
            ("verify_customer", "{{\"card_last4\":\"{0}\",\"method\":\"session\"}}", "{{\"verified\":true,\"risk\":\"low\"}}"),
            ("get_declines", "{{\"card_last4\":\"{0}\",\"days\":1}}", "{{\"declines\":1,\"reason\":\"fraud_rule_fuel_abroad\"}}"),
        ],
        [
            ("get_booking", "{{\"booking\":\"{0}\"}}", "{{\"fare\":\"standard\",\"change_fee_eur\":45}}"),
            ("search_flights", "{{\"booking\":\"{0}\",\"date\":\"sunday\"}}", "{{\"options\":2,\"fare_difference_eur\":22}}"),
        ],
        [
            ("lookup_order", "{{\"order_id\":\"{0}\"}}", "{{\"status\":\"delivered\",\"days_since\":21}}"),
            ("create_return_label", "{{\"order_id\":\"{0}\",\"reason\":\"size\"}}", "{{\"label_id\":\"RL-{0}\",\"emailed\":true}}"),
        ],
    ];

    private static readonly (string Model, string Provider)[] Models =
    [
        ("gpt-4o-mini", "openai"), ("gpt-4.1-mini", "openai"), ("claude-3-5-haiku", "anthropic"), ("gemini-2.0-flash", "google"),
    ];

    private static readonly string[] Tags = ["support", "prod", "tools", "eu-west", "beta-prompt", "escalation", "mobile", "web"];

    /// <summary>One conversation's texts and tool calls with a fresh reference filled in (for the other formats' payloads).</summary>
    public static (string System, string User, string Response, (string Name, string Parameters, string Result)[] Tools) Topic(Random rng)
    {
        var reference = rng.Next(100_000, 999_999).ToString(CultureInfo.InvariantCulture);
        var topic = rng.Next(UserInputs.Length);
        string Fill(string format) => string.Format(CultureInfo.InvariantCulture, format, reference);
        return (SystemPrompts[topic == 3 ? 0 : topic], Fill(UserInputs[topic]), Fill(Responses[topic]),
            ToolCalls[topic].Select(t => (t.Name, Fill(t.Parameters), Fill(t.Result))).ToArray());
    }

    /// <summary>One trace object as JSON.</summary>
    public static void WriteTrace(Utf8JsonWriter w, string externalId, Random rng)
    {
        var reference = rng.Next(100_000, 999_999).ToString(CultureInfo.InvariantCulture);
        var topic = rng.Next(UserInputs.Length);
        var (model, provider) = Models[rng.Next(Models.Length)];
        var prompt = rng.Next(180, 420);
        var completion = rng.Next(60, 220);

        w.WriteStartObject();
        w.WriteString("external_id", externalId);
        w.WriteString("model", model);
        w.WriteString("provider", provider);
        w.WriteString("system_prompt", SystemPrompts[topic == 3 ? 0 : topic]);
        w.WriteString("user_input", string.Format(CultureInfo.InvariantCulture, UserInputs[topic], reference));
        w.WriteString("response", string.Format(CultureInfo.InvariantCulture, Responses[topic], reference));
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
        w.WriteNumber("latency_ms", Math.Round(300 + rng.NextDouble() * 2_500, 1));
        w.WriteStartArray("tags");
        w.WriteStringValue(Tags[rng.Next(2)]);
        w.WriteStringValue(Tags[2 + rng.Next(Tags.Length - 2)]);
        w.WriteEndArray();
        w.WriteStartObject("metadata");
        w.WriteString("app_version", "3.14." + rng.Next(0, 9).ToString(CultureInfo.InvariantCulture));
        w.WriteString("prompt_version", "support-v" + rng.Next(7, 9).ToString(CultureInfo.InvariantCulture));
        w.WriteString("channel", rng.Next(2) == 0 ? "web" : "ios");
        w.WriteEndObject();
        w.WriteStartArray("function_calls");
        for (var i = 0; i < 2; i++)
        {
            var (name, parameters, result) = ToolCalls[topic][i];
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WritePropertyName("parameters");
            w.WriteRawValue(string.Format(CultureInfo.InvariantCulture, parameters, reference));
            w.WritePropertyName("result");
            w.WriteRawValue(string.Format(CultureInfo.InvariantCulture, result, reference));
            w.WriteNumber("execution_time_ms", Math.Round(5 + rng.NextDouble() * 180, 1));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A single-trace body for <c>POST /api/v1/traces</c>.</summary>
    public static byte[] Single(string externalId, Random rng)
    {
        using var buffer = new MemoryStream(1_400);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteTrace(w, externalId, rng);
        }

        return buffer.ToArray();
    }

    /// <summary>A batch body <c>{"traces":[...]}</c> whose traces are <c>{prefix}-{batch}-{i}</c>.</summary>
    public static byte[] Batch(string prefix, int batch, int size, Random rng)
    {
        using var buffer = new MemoryStream(size * 1_400);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteStartArray("traces");
            for (var i = 0; i < size; i++)
            {
                WriteTrace(w, string.Create(CultureInfo.InvariantCulture, $"{prefix}-{batch:D5}-{i:D4}"), rng);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary><paramref name="count"/> batches of <paramref name="size"/> traces.</summary>
    public static List<byte[]> Batches(string prefix, int count, int size, int seed)
    {
        var rng = new Random(seed);
        var list = new List<byte[]>(count);
        for (var b = 0; b < count; b++)
        {
            list.Add(Batch(prefix, b, size, rng));
        }

        return list;
    }
}
