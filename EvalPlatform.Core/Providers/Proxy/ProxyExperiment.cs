using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>
/// Applies an experiment variant's config to a request body before it goes upstream: <c>model</c>, <c>system_prompt</c>
/// (the system message of a chat, Anthropic's <c>system</c>, the Responses API's <c>instructions</c>), the entries of a
/// <c>parameters</c> object, and the common sampling parameters given at the top level. Other keys of the config are the
/// application's own and are not sent upstream.
/// </summary>
public static class ProxyExperiment
{
    /// <summary>Top-level config keys sent upstream as request parameters.</summary>
    public static readonly IReadOnlySet<string> TopLevelParameters = new HashSet<string>(StringComparer.Ordinal)
    {
        "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "max_output_tokens", "frequency_penalty",
        "presence_penalty", "stop", "stop_sequences", "seed", "reasoning_effort",
    };

    public static void Apply(ProxyProtocol protocol, JsonObject body, string configJson)
    {
        if (JsonNode.Parse(configJson) is not JsonObject config)
        {
            return;
        }

        foreach (var (key, value) in config)
        {
            switch (key)
            {
                case "model" when value?.GetValueKind() == JsonValueKind.String:
                    body["model"] = value.DeepClone();
                    break;
                case "system_prompt" when value?.GetValueKind() == JsonValueKind.String:
                    SetSystem(protocol, body, value.GetValue<string>());
                    break;
                case "parameters" when value is JsonObject parameters:
                    foreach (var (name, parameter) in parameters)
                    {
                        body[name] = parameter?.DeepClone();
                    }

                    break;
                default:
                    if (TopLevelParameters.Contains(key))
                    {
                        body[key] = value?.DeepClone();
                    }

                    break;
            }
        }
    }

    private static void SetSystem(ProxyProtocol protocol, JsonObject body, string system)
    {
        switch (protocol)
        {
            case ProxyProtocol.AnthropicMessages:
                body["system"] = system;
                break;
            case ProxyProtocol.OpenAiResponses:
                body["instructions"] = system;
                break;
            default:
                if (body["messages"] is not JsonArray messages)
                {
                    messages = [];
                    body["messages"] = messages;
                }

                var first = messages.OfType<JsonObject>().FirstOrDefault(m => m["role"]?.GetValueKind() == JsonValueKind.String
                    && m["role"]!.GetValue<string>() is "system" or "developer");
                if (first is not null)
                {
                    first["content"] = system;
                }
                else
                {
                    messages.Insert(0, new JsonObject { ["role"] = "system", ["content"] = system });
                }

                break;
        }
    }
}
