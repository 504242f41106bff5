using System.Globalization;
using System.Text.Json;

namespace EvalPlatform.Bench;

/// <summary>
/// Realistic ~1 KB traces in the simple shape: a support bot's system prompt, a customer question,
/// an answer, model/provider/usage/latency, tags, metadata, a unique external id and two tool calls.
/// Deterministic for a given seed, serialised up front so that the client does little work while timed.
/// </summary>
internal static class Payloads
{
    private static readonly string[] SystemPrompts =
    [
        "You are Ada, the customer support assistant for Northwind Outfitters. Answer politely and concisely. Use the order tools before answering questions about an order. Never invent tracking numbers. If the customer is angry, apologise once and offer a human agent.",
        "You are a helpful assistant for Contoso Bank's card services. Only answer questions about cards, statements and payments. Verify the customer's identity with the lookup tool first. Do not give investment advice. Keep answers under 120 words and in plain language.",
        "You are the travel desk assistant of Fabrikam Air. Help customers change or cancel bookings, explain fare rules and baggage allowances. Always check the booking with the tools before quoting a fee. Be friendly, factual and brief; never promise refunds.",
    ];

    private static readonly string[] UserInputs =
    [
        "Hi, I ordered a pair of hiking boots last week (order {0}) and the tracking page still says label created. Can you tell me when it will actually ship?",
        "My card ending in {0} was declined at a petrol station this morning even though I have money in the account. What happened and can you fix it?",
        "I need to move my flight {0} from Friday to Sunday evening, same route. How much would the change cost me and are there seats left?",
        "Can I return a jacket from order {0} if I already removed the tags? It does not fit and I bought it three weeks ago.",
    ];

    private static readonly string[] Responses =
    [
        "Thanks for your patience! I checked order {0}: the boots left our warehouse yesterday afternoon and the carrier scanned the parcel at 21:14. The tracking page can lag up to 24 hours behind the carrier, so it should update by tomorrow morning. Estimated delivery is Thursday. If it has not arrived by Friday, reply here and I will open a claim with the carrier for you.",
        "I am sorry about the trouble at the pump. The payment on card {0} was declined by our fraud check because it was the first fuel purchase abroad on this card. I have confirmed the transaction with you now, so the block is lifted and you can retry. Nothing was charged for the declined attempt. You can turn travel notifications on in the app to avoid this next time.",
        "Good news: there are seats on Sunday's 18:40 departure for booking {0}. Your fare allows changes for a fee of 45 EUR plus the fare difference, which is 22 EUR today, so 67 EUR in total. Your seat selection and bags carry over. Shall I make the change for you? The price is held for 20 minutes while you decide.",
        "You can still return items from order {0} within 30 days, so you are in time. Items without tags are accepted if they are unworn and in their original packaging; our warehouse will check the condition. I have created a return label and sent it to your email address. Refunds reach your card 3 to 5 days after the parcel arrives.",
    ];

    private static readonly (string Name, string Parameters, string Result)[] ToolCalls =
    [
        ("lookup_order", "{{\"order_id\":\"{0}\",\"include_items\":true}}", "{{\"status\":\"shipped\",\"carrier\":\"DHL\",\"items\":2,\"warehouse\":\"AMS-2\"}}"),
        ("get_tracking", "{{\"order_id\":\"{0}\"}}", "{{\"last_scan\":\"sorting centre\",\"eta\":\"thursday\",\"events\":3}}"),
        ("verify_customer", "{{\"customer_ref\":\"{0}\",\"method\":\"session\"}}", "{{\"verified\":true,\"risk\":\"low\"}}"),
        ("search_flights", "{{\"booking\":\"{0}\",\"date\":\"sunday\",\"same_route\":true}}", "{{\"options\":2,\"cheapest_fee_eur\":67}}"),
        ("create_return_label", "{{\"order_id\":\"{0}\",\"reason\":\"size\"}}", "{{\"label_id\":\"RL-{0}\",\"emailed\":true}}"),
    ];

    private static readonly (string Model, string Provider)[] Models =
    [
        ("gpt-4o-mini", "openai"), ("gpt-4.1-mini", "openai"), ("claude-3-5-haiku", "anthropic"), ("gemini-2.0-flash", "google"),
    ];

    private static readonly string[] Tags = ["support", "prod", "tools", "eu-west", "beta-prompt", "escalation", "mobile", "web"];

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
        w.WriteString("name", "support-chat");
        w.WriteString("session_id", "sess-" + rng.Next(1, 50_000).ToString(CultureInfo.InvariantCulture));
        w.WriteString("user_id", "user-" + rng.Next(1, 20_000).ToString(CultureInfo.InvariantCulture));
        w.WriteString("environment", "production");
        w.WriteString("model", model);
        w.WriteString("provider", provider);
        w.WriteString("system_prompt", SystemPrompts[rng.Next(SystemPrompts.Length)]);
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
            var (name, parameters, result) = ToolCalls[(topic + i) % ToolCalls.Length];
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
        using (var w = new Utf8JsonWriter(buffer))
        {
            WriteTrace(w, externalId, rng);
        }

        return buffer.ToArray();
    }

    /// <summary>A batch body <c>{"traces":[...]}</c> whose traces are <c>{prefix}-{batch}-{i}</c>.</summary>
    public static byte[] Batch(string prefix, int batch, int size, Random rng)
    {
        using var buffer = new MemoryStream(size * 1_400);
        using (var w = new Utf8JsonWriter(buffer))
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
