// Type declarations for the evalplatform SDK (written by hand; the code is plain ESM JavaScript).

export declare const ENDPOINT_ENV: 'EVALPLATFORM_ENDPOINT';
export declare const API_KEY_ENV: 'EVALPLATFORM_API_KEY';
export declare const MAX_BATCH_TRACES: 1000;
export declare const MAX_BATCH_BYTES: number;
export declare const TRACE_FIELDS: readonly (keyof TraceFields)[];

export interface Logger {
  warn(message: string): void;
}

export interface ClientOptions {
  /** Base URL, e.g. http://localhost:5080. Default: process.env.EVALPLATFORM_ENDPOINT (in Node). */
  endpoint?: string;
  /** An API key with the ingest scope (read for getTrace/getReview). Default: process.env.EVALPLATFORM_API_KEY. */
  apiKey?: string;
  /** Send when this many traces wait. Default 100, at most 1,000. */
  batchSize?: number;
  /** Send when the oldest trace has waited this long. Default 1000. */
  flushIntervalMs?: number;
  /** Buffer bound; when full the oldest trace is dropped and counted. Default 10,000. */
  maxQueueSize?: number;
  /** Retries of a batch on network errors, 408, 429, 5xx. Default 5. */
  maxRetries?: number;
  /** First backoff step, doubling per retry, with jitter. Default 500. */
  backoffBaseMs?: number;
  /** Largest backoff step. Default 30,000. */
  backoffMaxMs?: number;
  /** Cap on a Retry-After wait. Default 60,000. */
  maxRetryAfterMs?: number;
  /** Per-request timeout. Default 10,000. */
  timeoutMs?: number;
  /** Bytes per batch request (the platform takes 10 MB). Default 9.5 MB. */
  maxBatchBytes?: number;
  /** Default timeout of flush() and shutdown(). Default 5,000. */
  shutdownTimeoutMs?: number;
  /** Flush on Node's beforeExit, or on visibilitychange/pagehide in a browser. Default true. */
  registerExitHandlers?: boolean;
  /** Where warnings go; null silences them. Default console. */
  logger?: Logger | null;
  /** A fetch implementation. Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface FunctionCall {
  name: string;
  parameters?: unknown;
  result?: unknown;
  execution_time_ms?: number;
  error?: string;
}

/** The API's trace fields (docs/api.md); the simple shape, or the full shape with messages and spans. */
export interface TraceFields {
  external_id?: string;
  name?: string;
  session_id?: string;
  user_id?: string;
  environment?: string;
  release?: string;
  tags?: string[];
  model?: string;
  provider?: string;
  usage?: Usage;
  cost?: number;
  latency_ms?: number;
  time_to_first_token_ms?: number;
  error?: string;
  experiment?: string;
  variant?: string;
  metadata?: Record<string, unknown>;
  start_time?: string;
  end_time?: string;
  system_prompt?: string;
  user_input?: string;
  response?: string;
  function_calls?: FunctionCall[];
  messages?: Array<Record<string, unknown>>;
  spans?: Array<Record<string, unknown>>;
}

/** A field the platform named, with what it said about it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** One trace's fate in a batch's answer. */
export interface TraceOutcome {
  index: number;
  /** The stored trace's id; null when not stored. */
  id: string | null;
  external_id: string | null;
  /** created or existing: stored; skipped (invalid or refused by the database) or conflict: not stored, never resent. */
  status: 'created' | 'existing' | 'skipped' | 'conflict';
  /** Why it was not stored. */
  errors?: FieldProblem[];
  /** Values stored other than as sent (an end up to a second before its start is stored with zero length). */
  adjustments?: FieldProblem[];
}

export interface Stats {
  /** Committed by the platform. */
  sent: number;
  /** Of those, stored with a value changed (e.g. an end a moment before its start). */
  adjusted: number;
  /** droppedOverflow + droppedInvalid + droppedConflict. */
  dropped: number;
  /** The buffer was full: the oldest went. */
  droppedOverflow: number;
  /** Skipped by the platform as invalid (or larger than a batch may be). */
  droppedInvalid: number;
  /** Refused as a conflict: that external_id is stored with other content. */
  droppedConflict: number;
  /** Retries exhausted, a non-retryable answer (401, 403), or still buffered at shutdown. */
  failed: number;
  /** Buffered or being sent. */
  pending: number;
}

export interface TraceOptions<R> extends TraceFields {
  /** Record the arguments as user_input. Default true. */
  captureInput?: boolean;
  /** Record the result as response. Default true. */
  captureOutput?: boolean;
  /** Called with the trace and the (awaited) result before it is sent: set model, usage, ... */
  onResult?: (trace: Trace, result: Awaited<R>) => void;
}

export interface ScoreOptions {
  dataType?: 'numeric' | 'categorical' | 'boolean';
  comment?: string;
  spanId?: string;
}

export interface Score {
  id: string;
  span_id: string | null;
  name: string;
  data_type: string;
  numeric_value: number | null;
  string_value: string | null;
  source: string;
  author: string | null;
  comment: string | null;
  created_at: string;
}

export interface ReviewState {
  status: string;
  reason: string | null;
  detail: string | null;
  score: number | null;
  note: string | null;
}

export interface Review {
  trace_id: string;
  status: 'pending' | 'accepted' | 'rejected' | 'needs_review';
  reason: string | null;
  reason_label: string | null;
  detail: string | null;
  score: number | null;
  score_label: string | null;
  note: string | null;
  reviewed_by: string | null;
  reviewed_by_name: string | null;
  reviewed_at: string | null;
  version: number;
  can_undo: boolean;
  history: Array<{
    version: number;
    action: string;
    actor_id: string;
    actor: string;
    at: string;
    undone_version: number | null;
    from: ReviewState;
    to: ReviewState;
  }>;
}

/** The stored trace as GET /api/v1/traces/{id} answers it. */
export interface StoredTrace {
  id: string;
  external_id: string | null;
  name: string | null;
  model: string | null;
  provider: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  spans: Array<Record<string, unknown>>;
  scores: Score[];
  review: Review | null;
  [field: string]: unknown;
}

/** A trace being recorded: the API's fields as properties; end() queues it once. */
export declare class Trace implements TraceFields {
  constructor(client: Client | null, name?: string, fields?: TraceFields);
  /** The platform's id, once the batch holding the trace is committed. */
  id: string | null;
  /** The platform's answer for this trace, once its batch was answered; null before. */
  outcome: TraceOutcome | null;
  /** Generated (a UUID) so a retried send is never stored twice. */
  external_id: string;
  name?: string;
  session_id?: string;
  user_id?: string;
  environment?: string;
  release?: string;
  tags: string[];
  model?: string;
  provider?: string;
  usage?: Usage;
  cost?: number;
  latency_ms?: number;
  time_to_first_token_ms?: number;
  error?: string;
  experiment?: string;
  variant?: string;
  metadata: Record<string, unknown>;
  start_time: string;
  end_time?: string;
  system_prompt?: string;
  user_input?: string;
  response?: string;
  function_calls: FunctionCall[];
  messages?: Array<Record<string, unknown>>;
  spans?: Array<Record<string, unknown>>;
  update(fields: TraceFields): this;
  /** Carries an assignment's experiment and variant; a unit not in the experiment leaves the trace out of it. */
  useAssignment(assignment: Assignment | null | undefined): this;
  setUsage(promptTokens?: number, completionTokens?: number, totalTokens?: number): this;
  addFunctionCall(call: FunctionCall): this;
  toJSON(): TraceFields;
  end(outcome?: { response?: unknown; error?: unknown }): void;
}

export declare class Client {
  constructor(options?: ClientOptions);
  readonly endpoint: string;
  /** False without an endpoint, a key or fetch: everything is a no-op. */
  readonly enabled: boolean;
  readonly stats: Stats;
  /** A traced version of fn (sync or async): arguments, result, latency; an error is recorded and rethrown. */
  trace<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: TraceOptions<R>): (...args: A) => R;
  trace<A extends unknown[], R>(fn: (...args: A) => R, options?: TraceOptions<R>): (...args: A) => R;
  /** Runs fn(trace) now; returns what fn returns (a promise stays a promise). */
  withTrace<R>(name: string, fn: (trace: Trace) => R, fields?: TraceFields): R;
  /** A trace to fill in and end() yourself. */
  startTrace(name?: string, fields?: TraceFields): Trace;
  /** Queues a Trace or an object in the API's trace shape. Never throws. */
  send(trace: Trace | TraceFields): void;
  /** Sends what is buffered; true when nothing is left pending. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Flushes and stops; true when everything was sent. */
  shutdown(timeoutMs?: number): Promise<boolean>;
  /** Attaches a score; a Trace whose id is not known yet is flushed first. null when not stored. */
  score(trace: Trace | string, name: string, value: number | string | boolean, options?: ScoreOptions): Promise<Score[] | null>;
  getTrace(trace: Trace | string): Promise<StoredTrace | null>;
  getReview(trace: Trace | string): Promise<Review | null>;
  /**
   * The unit's variant by local evaluation (GrowthBook v2 hashing) from the cached definitions
   * (GET /api/v1/experiments/definitions, max-age and ETag honoured). Follows the current weights; the
   * server's POST /api/v1/experiments/{key}/assign is the sticky one. Never rejects: without definitions
   * the unit is not in the experiment (warned once).
   */
  assign(experiment: string, unitId: string, attributes?: Record<string, unknown>): Promise<Assignment>;
}

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date); null when absent or unreadable. */
export declare function parseRetryAfter(value: string | null | undefined, nowMs?: number): number | null;

/** An assignment, as the platform's assign endpoint answers it. */
export interface Assignment {
  experiment: string;
  /** null when the unit is not in the experiment. */
  variant: string | null;
  /** The variant's JSON config (model, system prompt, parameters), or null. */
  config: Record<string, unknown> | null;
  in_experiment: boolean;
}

/** One running experiment as GET /api/v1/experiments/definitions lists it. */
export interface ExperimentDefinition {
  key: string;
  seed?: string;
  hash_version?: number;
  unit?: 'user_id' | 'session_id' | 'trace';
  coverage?: number;
  status?: string;
  variants: { key: string; weight: number; config?: Record<string, unknown> | null }[];
  filters?: Record<string, unknown>;
}

/** GrowthBook's hash in [0, 1) (version 2 by default, 1 the legacy one); null for an unknown version. */
export declare function hashUnit(seed: string, value: string, version?: number): number | null;
/** Each variant's [start, end) from the count, coverage and weights, as GrowthBook computes them. */
export declare function bucketRanges(variants: number, coverage?: number, weights?: number[]): [number, number][];
/** The index of the range holding n, or -1 when it falls outside every range. */
export declare function chooseVariant(n: number, ranges: [number, number][]): number;
/** The client's cached copy of the definitions (exported for tests that control its clock). */
export declare class ExperimentDefinitions {
  constructor(client: Client, options?: { clock?: () => number; retryIntervalMs?: number });
  get(): Promise<Map<string, ExperimentDefinition>>;
}
