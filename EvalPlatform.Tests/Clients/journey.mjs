// Drives the official LangSmith and OpenTelemetry JS clients against a running EvalPlatform, as a user's
// application would, and prints what it sent as JSON on stdout for EvalPlatform.Tests/Integration/Clients
// to read back through the API.
//
//   node journey.mjs <app url> <api key> <journey[,journey…]|all> <run id> [repeat]
//
// Every journey runs `repeat` times (default 1), one after the other, in this one process. The output:
//   { "traces": [ { journey, iteration, trace_id, spans: [ { id, parent_id, name } ] } ],
//     "exchanges": [ { door, method, path, status, body } ],   every HTTP answer the clients got
//     "warnings": [ "…" ] }                                      what the SDKs logged as a problem
// The clients themselves never fail on a refused batch (they log it and drop the runs), so the test
// asserts on "exchanges" and "warnings" as well as on what the app stored.

import { Client, RunTree } from "langsmith";
import { traceable } from "langsmith/traceable";
import { context, diag, DiagLogLevel, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";

const [appUrl, apiKey, journeyArg, runId, repeatArg] = process.argv.slice(2);
if (!appUrl || !apiKey || !journeyArg || !runId) {
  console.error("usage: node journey.mjs <app url> <api key> <journey[,journey…]|all> <run id> [repeat]");
  process.exit(2);
}

const base = appUrl.replace(/\/+$/, "");
const output = { traces: [], exchanges: [], warnings: [] };

// What the SDKs report as a problem (a refused batch, a failed export) is a finding, not noise.
for (const level of ["warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    output.warnings.push(`console.${level}: ${args.map(a => (a instanceof Error ? a.stack : typeof a === "string" ? a : JSON.stringify(a))).join(" ")}`);
    original(...args);
  };
}

diag.setLogger({
  error: (...a) => output.warnings.push(`otel error: ${a.map(String).join(" ")}`),
  warn: (...a) => output.warnings.push(`otel warn: ${a.map(String).join(" ")}`),
  info: () => {},
  debug: () => {},
  verbose: () => {},
}, DiagLogLevel.WARN);

// ---------------------------------------------------------------------------------------------------
// LangSmith

// The documented set-up: the endpoint and key from the environment, tracing switched on there too.
process.env.LANGSMITH_TRACING = "true";
process.env.LANGSMITH_ENDPOINT = `${base}/api/langsmith`;
process.env.LANGSMITH_API_KEY = apiKey;
process.env.LANGSMITH_PROJECT = "real-clients";

/** The global fetch, with every answer recorded (the SDK itself only logs a refusal). */
async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const body = await response.clone().text();
  output.exchanges.push({ door: "langsmith", method: init?.method ?? "GET", path: url.pathname, status: response.status, body: body.slice(0, 4000) });
  return response;
}

const batched = new Client({ fetchImplementation: recordingFetch });
const unbatched = new Client({ fetchImplementation: recordingFetch, autoBatchTracing: false });

const systemPrompt = "You are a support agent. Be brief.";
const question = n => `Where is order ${n}?`;

function toolCallOutput(n) {
  return {
    choices: [{
      index: 0,
      finish_reason: "tool_calls",
      message: {
        role: "assistant",
        content: null,
        tool_calls: [{ id: `call_${n}`, type: "function", function: { name: "lookup_order", arguments: JSON.stringify({ order_id: n }) } }],
      },
    }],
    usage_metadata: { input_tokens: 31, output_tokens: 12, total_tokens: 43 },
  };
}

function spansOf(...runs) {
  return runs.map(r => ({ id: r.id, parent_id: r.parent_run?.id ?? r.parent_run_id ?? null, name: r.name }));
}

/** Notes a trace as sent: its id, its spans with their parents, and the order number its content names. */
function record(journey, iteration, order, traceId, spans) {
  const sent = { journey, iteration, order, trace_id: traceId, spans, ms: 0 };
  output.traces.push(sent);
  return sent;
}

/**
 * RunTree as its README shows it: a chain with an llm child and a tool child, each ended right after
 * it started (the same millisecond: the SDK's end_time, in ms, lands a few µs before its start_time,
 * which carries the execution order in its µs), posted and patched through the background batcher.
 */
async function langsmithRunTree(iteration) {
  const n = 100 + iteration;
  const { root, llm, tool } = await chainWithLlmAndTool(batched, n, {
    tags: ["real-client", `run:${runId}`], metadata: { thread_id: `thread-${runId}`, user_id: "user-7" },
  });
  await batched.awaitPendingTraceBatches();
  return record("langsmith-runtree", iteration, n, root.trace_id, spansOf(root, llm, tool));
}

/**
 * A chain with an llm child and a tool child, each posted, ended right after it started and patched,
 * through `client`; `rootFields` adds to the chain (tags, metadata).
 */
async function chainWithLlmAndTool(client, n, rootFields) {
  const root = new RunTree({ name: "support-agent", run_type: "chain", inputs: { question: question(n) }, client, ...rootFields });
  await root.postRun();

  const llm = root.createChild({
    name: "ChatOpenAI", run_type: "llm",
    inputs: { messages: [{ role: "system", content: systemPrompt }, { role: "user", content: question(n) }] },
    metadata: { ls_provider: "openai", ls_model_name: "gpt-4o-mini" },
  });
  await llm.postRun();
  await llm.end(toolCallOutput(n));
  await llm.patchRun();

  const tool = root.createChild({ name: "lookup_order", run_type: "tool", inputs: { order_id: n } });
  await tool.postRun();
  await tool.end({ output: { order_id: n, status: "shipped" } });
  await tool.patchRun();

  await root.end({ answer: `Order ${n} has shipped.` });
  await root.patchRun();
  return { root, llm, tool };
}

/** Nested traceable functions: an agent that calls a model, the tool it asked for, and the model again. */
async function langsmithTraceable(iteration) {
  const n = 200 + iteration;
  const seen = [];
  const chat = traceable(async ({ messages }) => {
    const last = messages[messages.length - 1];
    const answer = last.role === "tool"
      ? { role: "assistant", content: `Order ${n} has shipped.` }
      : { role: "assistant", content: null, tool_calls: [{ id: `call_${n}`, type: "function", function: { name: "lookup_order", arguments: JSON.stringify({ order_id: n }) } }] };
    return {
      id: `chatcmpl-${n}`, object: "chat.completion", model: "gpt-4o-mini-2024-07-18",
      choices: [{ index: 0, message: answer, finish_reason: last.role === "tool" ? "stop" : "tool_calls" }],
      usage: { prompt_tokens: 20 + messages.length, completion_tokens: 10, total_tokens: 30 + messages.length },
    };
  }, { name: "ChatOpenAI", run_type: "llm", client: batched, metadata: { ls_provider: "openai", ls_model_name: "gpt-4o-mini" },
    on_end: run => seen.push(run) });

  const lookupOrder = traceable(async ({ order_id }) => ({ order_id, status: "shipped" }),
    { name: "lookup_order", run_type: "tool", client: batched, on_end: run => seen.push(run) });

  const agent = traceable(async ({ question: q }) => {
    const messages = [{ role: "system", content: systemPrompt }, { role: "user", content: q }];
    // Copies: the SDK serialises a run's inputs when it sends the batch, not when the call starts.
    const first = await chat({ messages: [...messages] });
    const call = first.choices[0].message.tool_calls[0];
    const result = await lookupOrder(JSON.parse(call.function.arguments));
    messages.push(first.choices[0].message, { role: "tool", tool_call_id: call.id, content: JSON.stringify(result) });
    const second = await chat({ messages: [...messages] });
    return { answer: second.choices[0].message.content };
  }, { name: "support-agent", run_type: "chain", client: batched, tags: ["real-client", `run:${runId}`],
    metadata: { thread_id: `thread-${runId}` }, on_end: run => seen.push(run) });

  const answer = await agent({ question: question(n) });
  if (answer.answer !== `Order ${n} has shipped.`) {
    throw new Error(`the traced agent answered ${JSON.stringify(answer)}`);
  }

  await batched.awaitPendingTraceBatches();
  const root = seen.find(r => r.name === "support-agent");
  // Order of the spans as they ran: agent, chat, tool, chat.
  const children = seen.filter(r => r !== root).sort((a, b) => a.dotted_order.localeCompare(b.dotted_order));
  return record("langsmith-traceable", iteration, n, root.trace_id, spansOf(root, ...children));
}

/**
 * A root, its child and its grandchild, all started and ended within one millisecond and sent as one
 * tree: every end_time is a few µs before its start_time, and the parent ends in the child's millisecond.
 */
async function langsmithSameMillisecond(iteration) {
  const n = 300 + iteration;
  const root = new RunTree({ name: "pipeline", run_type: "chain", inputs: { order_id: n }, client: batched, tags: [`run:${runId}`] });
  const step = root.createChild({ name: "normalise", run_type: "chain", inputs: { order_id: n } });
  const tool = step.createChild({ name: "lookup_order", run_type: "tool", inputs: { order_id: n } });
  // One instant for the three ends, taken after the three starts: never before them by a whole millisecond.
  const end = Date.now();
  await tool.end({ output: { order_id: n, status: "shipped" } }, undefined, end);
  await step.end({ order_id: n }, undefined, end);
  await root.end({ status: "shipped" }, undefined, end);
  // Posted after the fact: each create already carries its end.
  await root.postRun();
  await step.postRun();
  await tool.postRun();
  await batched.awaitPendingTraceBatches();
  return record("langsmith-same-ms", iteration, n, root.trace_id, spansOf(root, step, tool));
}

/**
 * Posts and patches in separate batches and out of order: the grandchild whole before anyone else, the
 * child's patch before its post, the root's post after its children, and the root's patch last.
 */
async function langsmithOutOfOrder(iteration) {
  const n = 400 + iteration;
  const root = new RunTree({ name: "support-agent", run_type: "chain", inputs: { question: question(n) }, client: batched, tags: [`run:${runId}`] });
  const llm = root.createChild({
    name: "ChatOpenAI", run_type: "llm",
    inputs: { messages: [{ role: "system", content: systemPrompt }, { role: "user", content: question(n) }] },
    metadata: { ls_provider: "openai", ls_model_name: "gpt-4o-mini" },
  });
  const tool = llm.createChild({ name: "lookup_order", run_type: "tool", inputs: { order_id: n } });
  await tool.end({ output: { order_id: n, status: "shipped" } });
  await llm.end(toolCallOutput(n));
  await root.end({ answer: `Order ${n} has shipped.` });

  await tool.postRun();
  await tool.patchRun();
  await batched.awaitPendingTraceBatches(); // 1: the grandchild, whole, before its parent exists
  await llm.patchRun();
  await batched.awaitPendingTraceBatches(); // 2: the child's patch before its post
  await root.postRun();
  await batched.awaitPendingTraceBatches(); // 3: the root's post
  await llm.postRun();
  await batched.awaitPendingTraceBatches(); // 4: the child's post, after its own patch
  await root.patchRun();
  await batched.awaitPendingTraceBatches(); // 5: the root's patch
  return record("langsmith-out-of-order", iteration, n, root.trace_id, spansOf(root, llm, tool));
}

/** Without the batcher: one POST /runs and one PATCH /runs/{id} per run, each ended in the ms it started. */
async function langsmithUnbatched(iteration) {
  const n = 500 + iteration;
  const { root, llm, tool } = await chainWithLlmAndTool(unbatched, n, { tags: [`run:${runId}`] });
  return record("langsmith-unbatched", iteration, n, root.trace_id, spansOf(root, llm, tool));
}

// ---------------------------------------------------------------------------------------------------
// OpenTelemetry

/** Wraps an exporter so that every export's result is recorded (the SDK only logs a failure). */
function recordingExporter(door, exporter) {
  return {
    export(spans, done) {
      exporter.export(spans, result => {
        output.exchanges.push({
          door, method: "POST", path: "/v1/traces", status: result.code === 0 ? 200 : 0,
          body: result.error ? String(result.error?.message ?? result.error) : `${spans.length} span(s)`,
        });
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

const otlpHeaders = { Authorization: `Bearer ${apiKey}` };
const resource = resourceFromAttributes({
  "service.name": "support-bot", "service.version": "1.4.2", "deployment.environment.name": "staging",
});

// Protobuf, one export per span as each ends (SimpleSpanProcessor): children arrive before their parent.
const protoProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new SimpleSpanProcessor(recordingExporter("otlp-proto", new ProtoExporter({ url: `${base}/v1/traces`, headers: otlpHeaders })))],
});
// JSON, batched (BatchSpanProcessor): the whole trace in one export on flush.
const jsonProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(recordingExporter("otlp-json", new JsonExporter({ url: `${base}/v1/traces`, headers: otlpHeaders })), { scheduledDelayMillis: 60_000 })],
});

function hex(span) {
  const c = span.spanContext();
  return { trace_id: c.traceId, id: c.spanId };
}

/**
 * An agent span, a chat span and a tool span under the GenAI semantic conventions. `style` chooses how
 * the conversation is carried: "attributes" (gen_ai.prompt.{i}.* / gen_ai.completion.{i}.*, as
 * OpenLLMetry's JS instrumentations write it), "events" (gen_ai.system.message, gen_ai.user.message and
 * gen_ai.choice events, conventions up to v1.36) or "messages" (gen_ai.input.messages /
 * gen_ai.output.messages as JSON, gen_ai.provider.name: the newest conventions).
 */
async function otlpJourney(journey, provider, style, iteration, n) {
  const tracer = provider.getTracer("support-bot", "1.4.2");
  const agent = tracer.startSpan("invoke_agent support-agent", {
    kind: SpanKind.INTERNAL,
    attributes: {
      "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support-agent",
      "gen_ai.conversation.id": `thread-${runId}`, "user.id": "user-7", "tag.tags": ["real-client", `run:${runId}`],
    },
  });
  // No context manager is registered (a BasicTracerProvider alone), so each child names its parent's context.
  const inAgent = trace.setSpan(context.active(), agent);

  const chat = tracer.startSpan("chat gpt-4o-mini", {
    kind: SpanKind.CLIENT,
    attributes: {
      "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.temperature": 0.2,
      "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.response.id": `chatcmpl-${n}`,
      "gen_ai.response.finish_reasons": ["tool_calls"], "gen_ai.usage.input_tokens": 31, "gen_ai.usage.output_tokens": 12,
    },
  }, inAgent);
  const call = { id: `call_${n}`, type: "function", function: { name: "lookup_order", arguments: JSON.stringify({ order_id: n }) } };
  switch (style) {
    case "attributes":
      chat.setAttributes({
        "gen_ai.system": "openai",
        "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": systemPrompt,
        "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": question(n),
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.id": call.id, "gen_ai.completion.0.tool_calls.0.name": call.function.name,
        "gen_ai.completion.0.tool_calls.0.arguments": call.function.arguments,
      });
      break;
    case "events":
      chat.setAttribute("gen_ai.system", "openai");
      chat.addEvent("gen_ai.system.message", { "gen_ai.system": "openai", content: systemPrompt });
      chat.addEvent("gen_ai.user.message", { "gen_ai.system": "openai", content: question(n) });
      chat.addEvent("gen_ai.choice", {
        "gen_ai.system": "openai", index: 0, finish_reason: "tool_calls",
        "message.role": "assistant", "message.tool_calls": JSON.stringify([call]),
      });
      break;
    default:
      chat.setAttributes({
        "gen_ai.provider.name": "openai",
        "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: systemPrompt }]),
        "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: question(n) }] }]),
        "gen_ai.output.messages": JSON.stringify([{
          role: "assistant", finish_reason: "tool_call",
          parts: [{ type: "tool_call", id: call.id, name: call.function.name, arguments: { order_id: n } }],
        }]),
      });
      break;
  }
  chat.end();

  const tool = tracer.startSpan("execute_tool lookup_order", {
    kind: SpanKind.INTERNAL,
    attributes: {
      "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order", "gen_ai.tool.call.id": call.id,
      "gen_ai.tool.call.arguments": call.function.arguments,
      "gen_ai.tool.call.result": JSON.stringify({ order_id: n, status: "shipped" }),
    },
  }, inAgent);
  tool.end();
  agent.setStatus({ code: SpanStatusCode.OK });
  agent.end();
  await provider.forceFlush();

  const agentIds = hex(agent);
  return record(journey, iteration, n, agentIds.trace_id, [
    { id: agentIds.id, parent_id: null, name: "invoke_agent support-agent" },
    { id: hex(chat).id, parent_id: agentIds.id, name: "chat gpt-4o-mini" },
    { id: hex(tool).id, parent_id: agentIds.id, name: "lookup_order" },
  ]);
}

const journeys = {
  "langsmith-runtree": langsmithRunTree,
  "langsmith-traceable": langsmithTraceable,
  "langsmith-same-ms": langsmithSameMillisecond,
  "langsmith-out-of-order": langsmithOutOfOrder,
  "langsmith-unbatched": langsmithUnbatched,
  "otlp-proto": i => otlpJourney("otlp-proto", protoProvider, "attributes", i, 600 + i),
  "otlp-json": i => otlpJourney("otlp-json", jsonProvider, "events", i, 700 + i),
  "otlp-proto-messages": i => otlpJourney("otlp-proto-messages", protoProvider, "messages", i, 800 + i),
};

const names = journeyArg === "all" ? Object.keys(journeys) : journeyArg.split(",");
for (const name of names) {
  if (!journeys[name]) {
    console.error(`unknown journey '${name}'; known: ${Object.keys(journeys).join(", ")}`);
    process.exit(2);
  }
}

// Each journey runs `repeat` times in a row; different journeys run side by side, as the parts of one
// busy application would (the LangSmith ones share one client, so their runs share batches).
const repeat = Number.parseInt(repeatArg ?? "1", 10);
await Promise.all(names.map(async name => {
  for (let i = 0; i < repeat; i++) {
    const began = performance.now();
    const sent = await journeys[name](i);
    sent.ms = Math.round(performance.now() - began);
  }
}));

await Promise.all([protoProvider.shutdown(), jsonProvider.shutdown()]);
process.stdout.write(JSON.stringify(output) + "\n");
