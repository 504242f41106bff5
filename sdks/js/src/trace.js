// Traces from code: the Trace object, the trace(name, fn) wrapper and withTrace(name, fn).

import { toJson } from './json.js';

// The trace fields the platform accepts (EvalPlatform.Core/Ingestion/TraceParser.cs); anything
// else is refused with a 400 there, so update() refuses it here (with a warning).
export const TRACE_FIELDS = Object.freeze([
  'external_id', 'name', 'session_id', 'user_id', 'environment', 'release', 'tags', 'model', 'provider',
  'usage', 'cost', 'latency_ms', 'time_to_first_token_ms', 'error', 'experiment', 'variant', 'metadata',
  'start_time', 'end_time', 'system_prompt', 'user_input', 'response', 'function_calls', 'messages', 'spans',
]);
const FIELD_SET = new Set(TRACE_FIELDS);
const SIMPLE_FIELDS = new Set(['system_prompt', 'user_input', 'response', 'function_calls']);

const MAX_TEXT = 1_000_000; // prompts and responses
const MAX_ERROR = 10_000;

const clock = () => (typeof performance !== 'undefined' && performance.now ? performance.now() : Date.now());
const isThenable = (v) => v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';

/** A value as the platform's text: strings as they are, anything else as JSON. */
export function asText(value, limit = MAX_TEXT) {
  let text;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = toJson(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length <= limit ? text : text.slice(0, limit);
}

export function describeError(error) {
  const text = error instanceof Error ? (error.message ? `${error.name}: ${error.message}` : error.name) : `Thrown: ${asText(error)}`;
  return text.slice(0, MAX_ERROR);
}

function uuid() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  // Older runtimes without randomUUID: RFC 4122 version 4 from getRandomValues (or Math.random).
  const b = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * One trace being recorded. Fields are properties with the API's names (t.model, t.user_input,
 * t.usage, ...); end() queues it once. external_id is generated (a UUID) so a retried send is
 * never stored twice; id is the platform's id once the batch holding it is committed, and outcome
 * the platform's answer for it ({index, id, external_id, status: 'created' | 'existing' | 'skipped'
 * | 'conflict', errors?, adjustments?}).
 */
export class Trace {
  constructor(client, name, fields = {}) {
    this.client = client;
    this.id = null;
    this.outcome = null;
    this.external_id = uuid();
    this.name = name ?? null;
    this.start_time = new Date().toISOString();
    this.tags = [];
    this.metadata = {};
    this.function_calls = [];
    this._started = clock();
    this._ended = false;
    this.update(fields);
  }

  /** Sets fields by their API names; an unknown name is warned about and ignored. */
  update(fields = {}) {
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (FIELD_SET.has(key)) this[key] = value;
      else this.client?._warn?.(`'${key}' is not a trace field (put custom data in metadata); ignored`);
    }
    return this;
  }

  /** Carries an assignment's experiment and variant (client.assign or the server's); a unit not in the experiment leaves the trace out of it. */
  useAssignment(assignment) {
    if (assignment?.in_experiment && assignment.variant != null) {
      this.experiment = assignment.experiment;
      this.variant = assignment.variant;
    }
    return this;
  }

  setUsage(promptTokens, completionTokens, totalTokens) {
    const usage = {};
    if (promptTokens != null) usage.prompt_tokens = promptTokens;
    if (completionTokens != null) usage.completion_tokens = completionTokens;
    if (totalTokens != null) usage.total_tokens = totalTokens;
    this.usage = usage;
    return this;
  }

  /** Records a tool call: {name, parameters, result, execution_time_ms, error}. */
  addFunctionCall(call) {
    const entry = {};
    for (const key of ['name', 'parameters', 'result', 'execution_time_ms', 'error']) {
      if (call?.[key] !== undefined && call[key] !== null) entry[key] = call[key];
    }
    this.function_calls.push(entry);
    return this;
  }

  /** The trace in the API's shape; empty fields are left out, and the simple-shape fields when messages or spans are set. */
  toJSON() {
    const full = this.messages != null || this.spans != null;
    const out = {};
    for (const key of TRACE_FIELDS) {
      if (full && SIMPLE_FIELDS.has(key)) continue; // the platform takes one shape or the other
      const value = this[key];
      if (value === undefined || value === null) continue;
      if (Array.isArray(value) ? value.length === 0 : typeof value === 'object' && Object.keys(value).length === 0) continue;
      out[key] = value;
    }
    return out;
  }

  /** Ends the trace (end time, latency; response and error unless already set) and queues it. Only the first call counts. */
  end({ response, error } = {}) {
    if (this._ended) return;
    this._ended = true;
    try {
      if (this.latency_ms == null) this.latency_ms = Math.round((clock() - this._started) * 1000) / 1000;
      if (this.end_time == null) this.end_time = new Date().toISOString();
      if (response !== undefined && this.response == null && this.messages == null) this.response = asText(response);
      if (error !== undefined && this.error == null) this.error = describeError(error);
      this.client?.send(this);
    } catch (e) {
      this.client?._warn?.(`could not finish trace '${this.name}': ${e}`);
    }
  }
}

function inputOf(args) {
  if (args.length === 1 && typeof args[0] === 'string') return asText(args[0]);
  return asText(args.length === 1 ? args[0] : args);
}

/**
 * Runs body(trace) and ends the trace with its result or error; the error is rethrown as it
 * is, and a promise keeps its outcome. The trace's own code never throws into the caller.
 */
function around(trace, body, onResult, captureOutput) {
  const finish = (result, error) => {
    try {
      if (error === undefined && onResult) onResult(trace, result);
    } catch (e) {
      trace.client?._warn?.(`onResult of trace '${trace.name}' threw: ${e}`);
    }
    trace.end(error === undefined ? { response: captureOutput ? result : undefined } : { error });
  };
  let result;
  try {
    result = body(trace);
  } catch (error) {
    finish(undefined, error);
    throw error;
  }
  if (isThenable(result)) {
    return result.then(
      (value) => {
        finish(value, undefined);
        return value;
      },
      (error) => {
        finish(undefined, error ?? new Error('rejected'));
        throw error;
      },
    );
  }
  finish(result, undefined);
  return result;
}

export function wrapTraced(client, name, fn, options = {}) {
  if (typeof name === 'function') {
    options = fn ?? {};
    fn = name;
    name = fn.name || 'function';
  }
  const { captureInput = true, captureOutput = true, onResult, ...fields } = options;
  return function traced(...args) {
    let trace = null;
    try {
      trace = new Trace(client, name, fields);
      if (captureInput) trace.user_input = inputOf(args);
    } catch (e) {
      client?._warn?.(`could not start trace '${name}': ${e}`);
    }
    if (!trace) return fn.apply(this, args);
    return around(trace, () => fn.apply(this, args), onResult, captureOutput);
  };
}

export function runTraced(client, name, fn, fields = {}) {
  const trace = new Trace(client, name, fields);
  return around(trace, fn, undefined, false);
}
