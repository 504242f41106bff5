// The client: a bounded buffer of traces sent in batches to POST /api/v1/traces/batch.
// Runs on Node 18+ and in browsers: global fetch, setTimeout, crypto.randomUUID; no Node modules.

import { Trace, wrapTraced, runTraced } from './trace.js';
import { parseRetryAfter } from './retry-after.js';
import { toJson } from './json.js';
import { ExperimentDefinitions, evaluate, notInExperiment } from './experiments.js';

export const ENDPOINT_ENV = 'EVALPLATFORM_ENDPOINT';
export const API_KEY_ENV = 'EVALPLATFORM_API_KEY';

// The server's batch limits (docs/api.md): 1,000 traces and 10 MB per request.
export const MAX_BATCH_TRACES = 1000;
export const MAX_BATCH_BYTES = 10 * 1024 * 1024;
// fetch(..., {keepalive: true}) carries at most 64 KB in flight per page.
const KEEPALIVE_BYTES = 60 * 1024;

const ITEM_PATH = /^traces\[(\d+)\]/;
const encoder = new TextEncoder();

const env = (name) => globalThis.process?.env?.[name];
const now = () => Date.now();

function retryable(status) {
  return status === 408 || status === 429 || status >= 500;
}

function summariseItems(entries) {
  const parts = entries.slice(0, 5).map((e) => {
    const reasons = (Array.isArray(e?.errors) ? e.errors : []).map((p) => `${p.field}: ${p.message}`).join('; ');
    return `${e?.status ?? '?'} ${e?.external_id ?? `#${e?.index}`} (${reasons || 'no reason given'})`;
  });
  return parts.join(', ') + (entries.length > 5 ? ` (and ${entries.length - 5} more)` : '');
}

async function describe(response) {
  let detail = '';
  try {
    const body = await response.clone().json();
    if (body && body.detail) detail = `: ${body.detail}`;
  } catch {
    // the body is a courtesy; the status is what counts
  }
  return `HTTP ${response.status}${detail}`;
}

export class Client {
  /** @param {import('../index.js').ClientOptions} [options] */
  constructor(options = {}) {
    this.endpoint = String(options.endpoint ?? env(ENDPOINT_ENV) ?? '').replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? env(API_KEY_ENV) ?? '';
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 100, MAX_BATCH_TRACES));
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxQueueSize = Math.max(1, options.maxQueueSize ?? 10000);
    this.maxRetries = Math.max(0, options.maxRetries ?? 5);
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60000;
    this.timeoutMs = options.timeoutMs ?? 10000;
    this.maxBatchBytes = Math.min(options.maxBatchBytes ?? MAX_BATCH_BYTES - 512 * 1024, MAX_BATCH_BYTES);
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
    this.logger = options.logger === undefined ? console : options.logger;
    this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.enabled = Boolean(this.endpoint && this.apiKey && this._fetch);
    if (!this.enabled) {
      this._warn(`no endpoint or API key (pass them or set ${ENDPOINT_ENV} and ${API_KEY_ENV}); traces will be dropped`);
    }

    this._queue = []; // {json, size, at, trace}
    this._inFlight = 0;
    this._flushRequests = 0;
    this._timer = null;
    this._draining = null;
    this._closed = false;
    this._aborted = false; // shutdown gave up waiting: stop retrying
    this._wakeSleepers = new Set();
    this._definitions = null;
    this._counts = { sent: 0, adjusted: 0, droppedOverflow: 0, droppedInvalid: 0, droppedConflict: 0, failed: 0 };
    this._unhook = this.enabled && options.registerExitHandlers !== false ? this._hookExit() : () => {};
  }

  /**
   * sent (committed), adjusted (of those, stored with a value changed), dropped (= droppedOverflow +
   * droppedInvalid + droppedConflict), failed (retries exhausted or a non-retryable answer), pending
   * (buffered or being sent).
   */
  get stats() {
    const c = this._counts;
    return {
      ...c,
      dropped: c.droppedOverflow + c.droppedInvalid + c.droppedConflict,
      pending: this._queue.length + this._inFlight,
    };
  }

  /** A traced version of fn (sync or async): arguments, result, latency, error (rethrown). */
  trace(name, fn, options = {}) {
    return wrapTraced(this, name, fn, options);
  }

  /** Runs fn(trace) now inside a trace it can fill in; returns what fn returns. */
  withTrace(name, fn, fields = {}) {
    return runTraced(this, name, fn, fields);
  }

  /** A trace to fill in and end() yourself. */
  startTrace(name, fields = {}) {
    return new Trace(this, name, fields);
  }

  /** Queues one trace: a Trace, or an object in the API's trace shape. Never throws. */
  send(trace) {
    try {
      if (!this.enabled) return;
      const isTrace = trace instanceof Trace;
      const payload = isTrace ? trace.toJSON() : trace;
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        throw new TypeError('a trace must be an object');
      }
      // Serialised once, so every retry sends the same content: the platform answers a resend
      // of the same external_id with the same content 200, with other content 409.
      const json = toJson(payload);
      this._enqueue({ json, size: encoder.encode(json).length, at: now(), trace: isTrace ? trace : null });
    } catch (e) {
      this._warn(`could not queue a trace: ${e}`);
    }
  }

  /** Sends what is buffered now; resolves true when nothing is left pending (within timeoutMs). */
  async flush(timeoutMs = this.shutdownTimeoutMs) {
    if (!this.enabled) return true;
    this._flushRequests++;
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    try {
      // In-flight keepalive sends of a hidden page are not waited for: only the send loop is.
      while (this._queue.length > 0 || this._draining) {
        const drained = this._drain();
        if (await Promise.race([drained.then(() => false), timedOut])) break;
      }
      return this.stats.pending === 0;
    } finally {
      clearTimeout(timer);
      this._flushRequests--;
    }
  }

  /** Flushes (at most timeoutMs) and stops; later traces are dropped and counted as failed. */
  async shutdown(timeoutMs = this.shutdownTimeoutMs) {
    if (!this.enabled) return true;
    const done = await this.flush(timeoutMs);
    this._closed = true;
    this._unhook();
    clearTimeout(this._timer);
    this._timer = null;
    if (!done) {
      this._aborted = true; // the batch being retried gives up and counts as failed
      for (const wake of this._wakeSleepers) wake();
      if (this._draining) await this._draining;
      const left = this._queue.length;
      if (left) {
        this._counts.failed += left;
        this._queue = [];
        this._warn(`${left} trace(s) not sent before shutdown`);
      }
    }
    return done;
  }

  /** Attaches a score (POST /api/v1/traces/{id}/scores); resolves the stored scores or null. */
  async score(trace, name, value, options = {}) {
    try {
      const id = await this._traceId(trace);
      if (!id) return null;
      const body = { name, value };
      if (options.dataType != null) body.data_type = options.dataType;
      if (options.comment != null) body.comment = options.comment;
      if (options.spanId != null) body.span_id = options.spanId;
      const response = await this._call('POST', `/api/v1/traces/${encodeURIComponent(id)}/scores`, toJson(body));
      if (response?.status === 201) return await response.json();
      if (response) this._warn(`score '${name}' on trace ${id} not stored: ${await describe(response)}`);
    } catch (e) {
      this._warn(`score '${name}' not stored: ${e}`);
    }
    return null;
  }

  /** The stored trace (GET /api/v1/traces/{id}, scope read), or null. */
  async getTrace(trace) {
    try {
      const id = await this._traceId(trace);
      if (!id) return null;
      const response = await this._call('GET', `/api/v1/traces/${encodeURIComponent(id)}`);
      if (response?.status === 200) return await response.json();
      if (response) this._warn(`could not read trace ${id}: ${await describe(response)}`);
    } catch (e) {
      this._warn(`could not read a trace: ${e}`);
    }
    return null;
  }

  /**
   * The unit's variant by local evaluation (GrowthBook v2 hashing) from the cached definitions
   * (GET /api/v1/experiments/definitions): {experiment, variant, config, in_experiment}. Follows the
   * current weights; the server's POST /api/v1/experiments/{key}/assign is the sticky one. Never
   * rejects: without definitions (platform unreachable, no key) the unit is not in the experiment.
   */
  async assign(experiment, unitId, attributes = undefined) {
    try {
      if (!this.enabled) return notInExperiment(experiment);
      this._definitions ??= new ExperimentDefinitions(this);
      const definition = (await this._definitions.get()).get(experiment);
      return definition ? evaluate(definition, unitId, attributes) : notInExperiment(experiment);
    } catch (e) {
      this._warn(`could not assign ${unitId} in '${experiment}': ${e}`);
      return notInExperiment(experiment);
    }
  }

  /** The trace's review (status, reason, score, note, history), or null. */
  async getReview(trace) {
    const stored = await this.getTrace(trace);
    return stored?.review ?? null;
  }

  // ---------------------------------------------------------------- buffer

  _enqueue(item) {
    if (this._closed) {
      this._counts.failed++;
      this._warn('trace sent after shutdown() was dropped');
      return;
    }
    if (this._queue.length >= this.maxQueueSize) {
      this._queue.shift();
      const n = ++this._counts.droppedOverflow;
      if (n === 1 || n % 1000 === 0) this._warn(`buffer full (${this.maxQueueSize}); dropped the oldest trace (${n} so far)`);
    }
    this._queue.push(item);
    if (this._queue.length >= this.batchSize) this._drain();
    else this._schedule();
  }

  /** A timer for the oldest trace's deadline; unref'd so it never keeps Node alive by itself. */
  _schedule() {
    if (this._timer || this._draining || this._queue.length === 0 || this._closed) return;
    const wait = Math.max(0, this._queue[0].at + this.flushIntervalMs - now());
    this._timer = setTimeout(() => {
      this._timer = null;
      this._drain();
    }, wait);
    this._timer?.unref?.();
  }

  _due() {
    const q = this._queue;
    return q.length > 0 && (q.length >= this.batchSize || this._flushRequests > 0 || now() - q[0].at >= this.flushIntervalMs);
  }

  /** The one send loop: batches go one at a time while one is due. */
  _drain() {
    if (this._draining) return this._draining;
    if (!this._due()) {
      this._schedule();
      return Promise.resolve();
    }
    clearTimeout(this._timer);
    this._timer = null;
    this._draining = (async () => {
      await null; // so that the finally below runs after this._draining is assigned
      try {
        while (this._due()) {
          const batch = this._take();
          this._inFlight = batch.length;
          try {
            await this._send(batch);
          } catch (e) {
            // a bug here must not stop telemetry for good
            this._counts.failed += batch.length;
            this._warn(`could not send ${batch.length} trace(s): ${e}`);
          } finally {
            this._inFlight = 0;
          }
        }
      } finally {
        this._draining = null;
        this._schedule();
      }
    })();
    return this._draining;
  }

  _take() {
    const batch = [];
    let size = 16;
    while (this._queue.length && batch.length < this.batchSize) {
      const item = this._queue[0];
      if (item.size + 16 > this.maxBatchBytes) {
        this._queue.shift();
        this._counts.droppedInvalid++;
        this._warn(`dropped a trace of ${item.size} bytes (over the batch limit)`);
        continue;
      }
      if (batch.length && size + item.size > this.maxBatchBytes) break;
      batch.push(this._queue.shift());
      size += item.size + 1;
    }
    return batch;
  }

  // ---------------------------------------------------------------- sending

  async _send(items) {
    let attempt = 0;
    while (items.length) {
      const body = `{"traces":[${items.map((i) => i.json).join(',')}]}`;
      let response = null;
      let problem = '';
      try {
        response = await this._request('POST', '/api/v1/traces/batch', body);
      } catch (e) {
        problem = String(e?.cause ?? e);
      }
      if (response && response.status >= 200 && response.status < 300) {
        await this._accepted(items, response);
        return;
      }
      if (response && (response.status === 400 || response.status === 409)) {
        items = await this._dropNamed(items, response);
        continue;
      }
      if (response && response.status === 413 && items.length > 1) {
        const half = Math.floor(items.length / 2);
        await this._send(items.slice(0, half));
        await this._send(items.slice(half));
        return;
      }
      if (response && !retryable(response.status)) {
        this._giveUp(items, await describe(response));
        return;
      }
      attempt++;
      const why = response ? await describe(response) : problem;
      if (attempt > this.maxRetries) {
        this._giveUp(items, `${why} after ${attempt} attempts`);
        return;
      }
      if (this._aborted || (await this._sleep(this._delay(attempt, response)))) {
        this._giveUp(items, 'shutting down');
        return;
      }
    }
  }

  _delay(attempt, response) {
    const retryAfter = parseRetryAfter(response?.headers?.get('retry-after'));
    if (retryAfter !== null) return Math.min(retryAfter, this.maxRetryAfterMs);
    // Exponential backoff with "equal jitter": half fixed, half random, so clients that failed
    // together do not retry together, yet each waits at least half the step.
    const step = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    return step / 2 + Math.random() * (step / 2);
  }

  /** Waits ms; resolves true when woken early by shutdown. */
  _sleep(ms) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this._wakeSleepers.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this._wakeSleepers.delete(wake);
        resolve(false);
      }, ms);
      this._wakeSleepers.add(wake);
    });
  }

  /**
   * A 2xx: every trace the answer does not list as skipped or conflict is committed (an older
   * platform lists no status at all). The ones not stored are counted and warned about with their
   * reasons; none is resent, stored or not: a resend would be refused the same way.
   */
  async _accepted(items, response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // committed all the same; ids and fates stay unknown
    }
    const outcome = this._settle(items, Array.isArray(body?.items) ? body.items : []);
    this._counts.sent += outcome.stored;
    this._counts.adjusted += outcome.adjusted.length;
    this._counts.droppedInvalid += outcome.skipped.length;
    this._counts.droppedConflict += outcome.conflict.length;
    const notStored = [...outcome.skipped, ...outcome.conflict];
    if (notStored.length) {
      this._warn(`the platform stored ${outcome.stored} of ${items.length} trace(s) and skipped ${notStored.length}: ${summariseItems(notStored)}`);
    }
  }

  /** Hands each listed fate to its Trace (outcome, and id when stored) and sorts the items by it. */
  _settle(items, listed) {
    const byIndex = new Map(listed.filter((e) => e && Number.isInteger(e.index)).map((e) => [e.index, e]));
    const outcome = { stored: 0, adjusted: [], skipped: [], conflict: [] };
    items.forEach((item, i) => {
      const entry = byIndex.get(i);
      const status = entry?.status;
      if (item.trace && entry) {
        item.trace.outcome = entry;
        if (status !== 'skipped' && status !== 'conflict') item.trace.id = entry.id ?? null;
      }
      if (status === 'skipped') outcome.skipped.push(entry);
      else if (status === 'conflict') outcome.conflict.push(entry);
      else {
        outcome.stored++;
        if (entry?.adjustments?.length) outcome.adjusted.push(entry);
      }
    });
    return outcome;
  }

  /**
   * 400/409: nothing was stored. The platform lists each trace's fate in items: drop them all. An
   * older, all-or-none platform names the bad traces in errors only (traces[3].model): drop those
   * and return the rest to resend. Errors naming no trace drop them all.
   */
  async _dropNamed(items, response) {
    let problem = null;
    try {
      problem = await response.clone().json();
    } catch {
      // no problem details: nothing is named
    }
    const errors = problem?.errors ?? null;
    if (Array.isArray(problem?.items) && problem.items.length) {
      const outcome = this._settle(items, problem.items);
      this._counts.droppedInvalid += outcome.skipped.length + outcome.stored;
      this._counts.droppedConflict += outcome.conflict.length;
      this._warn(`the platform refused all ${items.length} trace(s) (${await describe(response)}): ${summariseItems([...outcome.skipped, ...outcome.conflict])}`);
      return [];
    }
    const kind = response.status === 409 ? 'droppedConflict' : 'droppedInvalid';
    const bad = new Set();
    if (errors && typeof errors === 'object') {
      for (const key of Object.keys(errors)) {
        const m = ITEM_PATH.exec(key);
        if (m && Number(m[1]) < items.length) bad.add(Number(m[1]));
        else if (items.length === 1) bad.add(0); // a one-trace batch may be answered with the trace's own field names
      }
    }
    if (bad.size === 0) items.forEach((_, i) => bad.add(i));
    this._counts[kind] += bad.size;
    const named = errors ? Object.entries(errors).slice(0, 5).map(([k, v]) => `${k}: ${[].concat(v).join('; ')}`).join(', ') : 'no field errors';
    this._warn(`the platform refused ${bad.size} of ${items.length} trace(s) (${await describe(response)}); ${named}`);
    return items.filter((_, i) => !bad.has(i));
  }

  _giveUp(items, why) {
    this._counts.failed += items.length;
    this._warn(`gave up on ${items.length} trace(s): ${why}`);
  }

  _request(method, path, body, extra = {}) {
    const headers = { authorization: `Bearer ${this.apiKey}`, accept: 'application/json', ...extra.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let signal;
    let timer;
    if (typeof AbortController === 'function' && !extra.keepalive) {
      const controller = new AbortController();
      timer = setTimeout(() => controller.abort(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      signal = controller.signal;
    }
    return this._fetch(this.endpoint + path, { method, body, signal, ...extra, headers }).finally(() => clearTimeout(timer));
  }

  /** One call outside the batcher, retried only when certainly not processed (429, 503, refused): a score has no idempotency key. */
  async _call(method, path, body) {
    for (let attempt = 1; ; attempt++) {
      let response = null;
      let problem;
      try {
        response = await this._request(method, path, body);
        if (response.status !== 429 && response.status !== 503) return response;
        problem = await describe(response);
      } catch (e) {
        problem = String(e?.cause ?? e);
        if (!/ECONNREFUSED/.test(String(e?.cause?.code ?? e?.cause ?? ''))) {
          this._warn(`${method} ${path} failed: ${problem}`);
          return null;
        }
      }
      if (attempt > this.maxRetries) {
        this._warn(`${method} ${path} failed: ${problem}`);
        return null;
      }
      await this._sleep(this._delay(attempt, response));
    }
  }

  async _traceId(trace) {
    if (!this.enabled) return null;
    if (typeof trace === 'string') return trace;
    if (trace && trace.id == null && trace.external_id) await this.flush(); // the id comes with the batch's answer
    if (trace?.id) return trace.id;
    this._warn('the trace has no platform id yet (not sent, or refused)');
    return null;
  }

  // ---------------------------------------------------------------- page and process exit

  _hookExit() {
    // The page first: bundlers give browsers a `process` shim whose on() does nothing.
    const doc = globalThis.document;
    if (doc && typeof doc.addEventListener === 'function' && typeof globalThis.addEventListener === 'function') {
      const onHide = () => this._sendOnHide();
      const onVisibility = () => {
        if (doc.visibilityState === 'hidden') onHide();
      };
      doc.addEventListener('visibilitychange', onVisibility);
      globalThis.addEventListener('pagehide', onHide);
      return () => {
        doc.removeEventListener('visibilitychange', onVisibility);
        globalThis.removeEventListener('pagehide', onHide);
      };
    }
    const proc = globalThis.process;
    if (typeof proc?.on === 'function' && typeof proc?.off === 'function') {
      // beforeExit: the app has nothing left to do, so nothing else will send what is buffered.
      // shutdown(), not flush(): with the platform down, the process waits shutdownTimeoutMs, not
      // every retry.
      const onBeforeExit = () => {
        if (this.stats.pending > 0 && !this._closed) this.shutdown().catch(() => {});
      };
      proc.on('beforeExit', onBeforeExit);
      return () => proc.off('beforeExit', onBeforeExit);
    }
    return () => {};
  }

  /**
   * The page may be gone in a moment: send everything buffered at once with keepalive fetches
   * (the browser finishes them after unload; at most 64 KB in flight), no retries.
   */
  _sendOnHide() {
    while (this._queue.length) {
      const items = [];
      let size = 16;
      while (this._queue.length && items.length < this.batchSize && (items.length === 0 || size + this._queue[0].size < KEEPALIVE_BYTES)) {
        const item = this._queue.shift();
        items.push(item);
        size += item.size + 1;
      }
      const body = `{"traces":[${items.map((i) => i.json).join(',')}]}`;
      this._inFlight += items.length;
      this._request('POST', '/api/v1/traces/batch', body, { keepalive: size < KEEPALIVE_BYTES })
        .then((response) => (response.ok ? this._accepted(items, response) : this._giveUp(items, `HTTP ${response.status} while the page was hidden`)))
        .catch((e) => this._giveUp(items, String(e)))
        .finally(() => {
          this._inFlight -= items.length;
        });
    }
  }

  _warn(message) {
    try {
      this.logger?.warn?.(`evalplatform: ${message}`);
    } catch {
      // a broken logger must not break the host either
    }
  }
}
