// The batcher against a scripted fake platform: triggers, retries, drops, counters.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client, parseRetryAfter } from '../src/index.js';
import { FakePlatform, freePort } from './support/fake-platform.js';

const FOREVER = 60_000; // an interval no test waits for
const silent = { warn() {} };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const names = (req) => req.traces.map((t) => t.name);
const trace = (name, extra = {}) => ({ name, external_id: `ext-${name}`, user_input: `q ${name}`, response: `a ${name}`, ...extra });

let platform;
let clients;

function client(options = {}) {
  const c = new Client({
    endpoint: platform.url,
    apiKey: 'ep_test',
    flushIntervalMs: FOREVER,
    backoffBaseMs: 50,
    logger: silent,
    registerExitHandlers: false,
    ...options,
  });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  platform = await FakePlatform.start();
  clients = [];
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.shutdown(1000)));
  await platform.close();
});

describe('triggers', () => {
  test('size trigger sends a full batch without waiting', async () => {
    const c = client({ batchSize: 3 });
    for (let i = 0; i < 5; i++) c.send(trace(`t${i}`));
    const [batch] = await platform.waitFor(1);
    assert.deepEqual(names(batch), ['t0', 't1', 't2']);
    assert.equal(batch.headers.authorization, 'Bearer ep_test');
    await sleep(300);
    assert.equal(platform.requests.length, 1, 'the two left wait for the next trigger');
    assert.equal(c.stats.pending, 2);
  });

  test('time trigger sends a partial batch after the interval', async () => {
    const c = client({ batchSize: 100, flushIntervalMs: 300 });
    const started = performance.now();
    c.send(trace('only'));
    const [batch] = await platform.waitFor(1);
    assert.ok(batch.at - started >= 250, `sent after ${batch.at - started} ms`);
    assert.ok(batch.at - started < 2000);
    assert.deepEqual(names(batch), ['only']);
    assert.equal(await c.flush(2000), true);
    assert.equal(c.stats.sent, 1);
  });

  test('shutdown flushes what is buffered; later traces are counted, not thrown', async () => {
    const c = client({ batchSize: 100 });
    c.send(trace('a'));
    c.send(trace('b'));
    assert.equal(await c.shutdown(5000), true);
    assert.deepEqual(names(platform.batches()[0]), ['a', 'b']);
    const { sent, pending, dropped, failed } = c.stats;
    assert.deepEqual({ sent, pending, dropped, failed }, { sent: 2, pending: 0, dropped: 0, failed: 0 });
    c.send(trace('late'));
    assert.equal(c.stats.failed, 1);
  });

  test('bounded buffer drops the oldest and counts', async () => {
    const c = client({ batchSize: 100, maxQueueSize: 3 });
    for (let i = 0; i < 5; i++) c.send(trace(`t${i}`));
    assert.equal(c.stats.droppedOverflow, 2);
    assert.equal(c.stats.dropped, 2);
    assert.equal(c.stats.pending, 3);
    assert.equal(await c.flush(5000), true);
    assert.deepEqual(names(platform.batches()[0]), ['t2', 't3', 't4']);
  });

  test('batches respect the byte limit', async () => {
    const c = client({ batchSize: 100, maxBatchBytes: 600 });
    for (let i = 0; i < 4; i++) c.send(trace(`t${i}`, { metadata: { pad: 'x'.repeat(200) } }));
    assert.equal(await c.flush(5000), true);
    const sizes = platform.batches().map((b) => b.traces.length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 4);
    assert.ok(sizes.length > 1);
  });
});

describe('retries', () => {
  test('Retry-After seconds is honoured on 503', async () => {
    platform.answer(503, { 'retry-after': '1' }, { status: 503, title: 'Busy' });
    const c = client();
    c.send(trace('a'));
    assert.equal(await c.flush(5000), true);
    const [first, second] = await platform.waitFor(2);
    assert.ok(second.at - first.at >= 950, `retried after ${second.at - first.at} ms`);
    assert.equal(first.raw, second.raw, 'a retry sends the same content (same external_id)');
    assert.equal(c.stats.sent, 1);
  });

  test('Retry-After HTTP date is honoured on 429', async () => {
    const when = new Date(Date.now() + 2000).toUTCString(); // whole seconds: waits 1 to 2 s
    platform.answer(429, { 'retry-after': when }, { status: 429, title: 'Too many requests' });
    const c = client();
    c.send(trace('a'));
    assert.equal(await c.flush(5000), true);
    const [first, second] = await platform.waitFor(2);
    assert.ok(second.at - first.at >= 900, `retried after ${second.at - first.at} ms`);
    assert.equal(c.stats.sent, 1);
  });

  test('backoff grows on 500', async () => {
    platform.answer(500).answer(500).answer(502);
    const c = client({ backoffBaseMs: 200 });
    c.send(trace('a'));
    assert.equal(await c.flush(5000), true);
    const r = await platform.waitFor(4);
    const gaps = [1, 2, 3].map((i) => r[i].at - r[i - 1].at);
    // steps 200, 400, 800 ms with equal jitter: each wait is at least half its step
    assert.ok(gaps[0] >= 95 && gaps[1] >= 195 && gaps[2] >= 395, `gaps ${gaps}`);
    assert.equal(c.stats.sent, 1);
  });

  test('gives up after maxRetries and counts failed', async () => {
    platform.answer(500).answer(500).answer(500);
    const c = client({ maxRetries: 2 });
    c.send(trace('a'));
    assert.equal(await c.flush(5000), true);
    assert.equal(platform.requests.length, 3);
    assert.equal(c.stats.failed, 1);
    assert.equal(c.stats.sent, 0);
  });

  test('connection refused is retried until the platform answers', async () => {
    const port = await freePort();
    const c = client({ endpoint: `http://127.0.0.1:${port}`, backoffBaseMs: 100, backoffMaxMs: 200, maxRetries: 50 });
    c.send(trace('a'));
    assert.equal(await c.flush(500), false, 'nothing listens yet: still pending');
    const late = await FakePlatform.start(port);
    try {
      assert.equal(await c.flush(5000), true);
      assert.deepEqual(names(late.batches()[0]), ['a']);
      assert.equal(c.stats.sent, 1);
    } finally {
      await late.close();
    }
  });

  test('400 drops only the named traces and resends the rest', async () => {
    platform.answer(400, {}, { status: 400, title: 'Invalid trace', errors: { 'traces[1].model': ['Must be a string.'] } });
    const c = client();
    for (let i = 0; i < 3; i++) c.send(trace(`t${i}`));
    assert.equal(await c.flush(5000), true);
    const [first, second] = await platform.waitFor(2);
    assert.equal(first.traces.length, 3);
    assert.deepEqual(names(second), ['t0', 't2']);
    assert.equal(c.stats.droppedInvalid, 1);
    assert.equal(c.stats.sent, 2);
    assert.equal(platform.requests.length, 2, 'no retry of the refused trace');
  });

  test('409 drops the conflicting trace and resends the rest', async () => {
    platform.answer(409, {}, { status: 409, title: 'Conflict', errors: { 'traces[0].external_id': ['A different trace ...'] } });
    const c = client();
    c.send(trace('t0'));
    c.send(trace('t1'));
    assert.equal(await c.flush(5000), true);
    assert.deepEqual(names((await platform.waitFor(2))[1]), ['t1']);
    assert.equal(c.stats.droppedConflict, 1);
    assert.equal(c.stats.sent, 1);
  });

  test('400 without item paths drops the batch', async () => {
    platform.answer(400, {}, { status: 400, title: 'Bad' });
    const c = client();
    c.send(trace('a'));
    c.send(trace('b'));
    assert.equal(await c.flush(5000), true);
    assert.equal(platform.requests.length, 1);
    assert.equal(c.stats.droppedInvalid, 2);
  });

  test('401 is not retried', async () => {
    platform.answer(401, {}, { status: 401, detail: 'Unknown API key.' });
    const c = client();
    c.send(trace('a'));
    assert.equal(await c.flush(5000), true);
    await sleep(200);
    assert.equal(platform.requests.length, 1);
    assert.equal(c.stats.failed, 1);
  });

  test('413 splits the batch', async () => {
    platform.answer(413);
    const c = client();
    c.send(trace('a'));
    c.send(trace('b'));
    assert.equal(await c.flush(5000), true);
    assert.deepEqual(platform.batches().map((b) => b.traces.length), [2, 1, 1]);
    assert.equal(c.stats.sent, 2);
  });

  test('shutdown stops waiting between retries and counts the batch failed', async () => {
    platform.answer(503, { 'retry-after': '30' });
    const c = client();
    c.send(trace('a'));
    const started = performance.now();
    assert.equal(await c.shutdown(300), false);
    assert.ok(performance.now() - started < 2000);
    assert.equal(c.stats.failed, 1);
    assert.equal(c.stats.pending, 0);
  });
});

describe('per-item answers', () => {
  // The platform stores every valid trace of a batch and lists each one's fate (ADR 13).
  const partial = () => ({
    stored: 2,
    skipped: 2,
    adjusted: 1,
    items: [
      { index: 0, id: 'id-0', external_id: 'ext-t0', status: 'created' },
      { index: 1, id: null, external_id: 'ext-t1', status: 'skipped', errors: [{ field: 'traces[1].usage.prompt_tokens', message: 'Must not be negative.' }] },
      { index: 2, id: null, external_id: 'ext-t2', status: 'conflict', errors: [{ field: 'traces[2].external_id', message: 'A different trace ...' }] },
      { index: 3, id: 'id-3', external_id: 'ext-t3', status: 'created', adjustments: [{ field: 'traces[3].end_time', message: 'end_time was 500 µs before start_time ...' }] },
    ],
  });

  test('a partial answer counts each fate, warns with the reasons and resends nothing', async () => {
    platform.answer(200, {}, partial());
    const warnings = [];
    const c = client({ logger: { warn: (m) => warnings.push(m) } });
    for (let i = 0; i < 4; i++) c.send(trace(`t${i}`));
    assert.equal(await c.flush(5000), true);
    await sleep(200);
    assert.equal(platform.requests.length, 1, 'neither the stored nor the skipped traces are sent again');
    const s = c.stats;
    assert.deepEqual([s.sent, s.adjusted, s.droppedInvalid, s.droppedConflict, s.failed], [2, 1, 1, 1, 0]);
    assert.ok(warnings.some((w) => w.includes('traces[1].usage.prompt_tokens: Must not be negative.')), warnings.join('\n'));
  });

  test('each trace gets its own outcome', async () => {
    platform.answer(200, {}, partial());
    const c = client();
    const traces = [0, 1, 2, 3].map((i) => c.startTrace(`t${i}`));
    traces.forEach((t) => t.end());
    assert.equal(await c.flush(5000), true);
    assert.deepEqual(traces.map((t) => t.outcome.status), ['created', 'skipped', 'conflict', 'created']);
    assert.deepEqual(traces.map((t) => t.id), ['id-0', null, null, 'id-3']);
    assert.equal(traces[1].outcome.errors[0].field, 'traces[1].usage.prompt_tokens');
    assert.equal(traces[3].outcome.adjustments[0].field, 'traces[3].end_time');
  });

  test('nothing stored drops every listed trace once', async () => {
    platform.answer(400, {}, {
      status: 400,
      title: 'No trace could be stored',
      errors: { 'traces[0].model': ['Must be a string.'], 'traces[1].external_id': ['A different trace ...'] },
      items: [
        { index: 0, id: null, status: 'skipped', errors: [{ field: 'traces[0].model', message: 'Must be a string.' }] },
        { index: 1, id: null, status: 'conflict', errors: [{ field: 'traces[1].external_id', message: 'A different trace ...' }] },
      ],
    });
    const c = client();
    c.send(trace('a'));
    c.send(trace('b'));
    assert.equal(await c.flush(5000), true);
    await sleep(200);
    assert.equal(platform.requests.length, 1);
    assert.deepEqual([c.stats.sent, c.stats.droppedInvalid, c.stats.droppedConflict], [0, 1, 1]);
  });
});

describe('never throws', () => {
  test('nothing throws when the platform is down', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const c = client({ endpoint: down, maxRetries: 1, backoffBaseMs: 10 });
    const answer = c.trace('answer', (q) => `fine ${q}`);
    assert.equal(answer('hi'), 'fine hi');
    c.send({ name: 'manual' });
    c.send(42); // not even a trace: warned, not thrown
    assert.equal(await c.score('0193a6d4-0000-7000-8000-000000000000', 'quality', 1), null);
    assert.equal(await c.getReview('0193a6d4-0000-7000-8000-000000000000'), null);
    assert.equal(await c.flush(5000), true);
    assert.equal(c.stats.failed, 2);
    assert.equal(await c.shutdown(2000), true);
  });

  test('an unconfigured client drops quietly', async () => {
    const saved = { ...process.env };
    delete process.env.EVALPLATFORM_ENDPOINT;
    delete process.env.EVALPLATFORM_API_KEY;
    try {
      const c = new Client({ logger: silent });
      assert.equal(c.enabled, false);
      c.send({ name: 'x' });
      assert.equal(await c.flush(100), true);
      assert.equal(await c.getReview('x'), null);
      assert.equal(await c.shutdown(), true);
    } finally {
      Object.assign(process.env, saved);
    }
  });
});

describe('configuration', () => {
  test('endpoint and key come from the environment', async () => {
    process.env.EVALPLATFORM_ENDPOINT = `${platform.url}/`;
    process.env.EVALPLATFORM_API_KEY = 'ep_from_env';
    try {
      const c = new Client({ logger: silent, registerExitHandlers: false, flushIntervalMs: FOREVER });
      clients.push(c);
      c.send(trace('a'));
      assert.equal(await c.flush(5000), true);
      assert.equal(platform.requests[0].headers.authorization, 'Bearer ep_from_env');
    } finally {
      delete process.env.EVALPLATFORM_ENDPOINT;
      delete process.env.EVALPLATFORM_API_KEY;
    }
  });

  test('parseRetryAfter reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('-1'), 0);
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter('soon'), null);
    const date = new Date(1_000_010_000).toUTCString();
    assert.equal(parseRetryAfter(date, 1_000_000_000), 10_000);
    assert.equal(parseRetryAfter(date, 2_000_000_000), 0);
  });
});
