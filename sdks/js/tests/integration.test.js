// The SDK against the real app (the Release build, on SQLite, as its own process).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Client } from '../src/index.js';
import { PlatformApp } from './support/platform-app.js';

const silent = { warn() {} };
let app;
let session;
let client;

before(async () => {
  app = await PlatformApp.start();
});

after(async () => {
  await app?.stop();
});

beforeEach(() => {
  session = `js-${randomUUID()}`;
  client = new Client({ endpoint: app.url, apiKey: app.apiKey, batchSize: 10, flushIntervalMs: 200, backoffBaseMs: 50, registerExitHandlers: false, logger: silent });
});

afterEach(async () => {
  await client.shutdown(5000);
});

async function countInSession() {
  const { status, body } = await app.request('GET', `/api/v1/traces?limit=200&session_id=${session}`);
  assert.equal(status, 200);
  return body.items.length;
}

/**
 * Forwards to the app, but answers the first batch with 502 after the app committed it, as a
 * proxy that lost the answer would: the SDK must retry, and the retry must not double.
 */
async function losesFirstAnswerProxy(target) {
  const forwarded = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const upstream = await fetch(target + req.url, {
      method: 'POST',
      headers: { authorization: req.headers.authorization, 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
    });
    let text = await upstream.text();
    let status = upstream.status;
    forwarded.push({ status, body: JSON.parse(text) });
    if (forwarded.length === 1) [status, text] = [502, '{"status":502,"title":"Bad gateway"}'];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    forwarded,
    close: () => {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

test('traces sent through the batcher read back with their fields', async () => {
  const answer = client.trace('answer', async (question) => ({ text: 'It shipped.', promptTokens: 21, completionTokens: 5 }), {
    session_id: session,
    environment: 'sdk-test',
    tags: ['js'],
    captureOutput: false,
    onResult: (t, result) => {
      t.update({ model: 'gpt-4o-mini', provider: 'openai', system_prompt: 'Be brief.', metadata: { route: 'faq' }, response: result.text });
      t.setUsage(result.promptTokens, result.completionTokens);
      t.addFunctionCall({ name: 'lookup_order', parameters: { id: 1234 }, result: { status: 'shipped' }, execution_time_ms: 42 });
    },
  });
  const manual = client.startTrace('manual', { session_id: session, user_input: 'hi', response: 'hello', model: 'm-1' });
  manual.end();
  assert.equal((await answer('Where is my order?')).text, 'It shipped.');
  assert.equal(await client.flush(10_000), true);
  const { sent, dropped, failed, pending } = client.stats;
  assert.deepEqual({ sent, dropped, failed, pending }, { sent: 2, dropped: 0, failed: 0, pending: 0 });
  assert.equal(await countInSession(), 2);

  const { body: page } = await app.request('GET', `/api/v1/traces?session_id=${session}&model=gpt-4o-mini`);
  const stored = await client.getTrace(page.items[0].id);
  assert.equal(stored.name, 'answer');
  assert.deepEqual(
    ['model', 'provider', 'prompt_tokens', 'completion_tokens', 'total_tokens'].map((k) => stored[k]),
    ['gpt-4o-mini', 'openai', 21, 5, 26],
  );
  assert.deepEqual([stored.session_id, stored.environment, stored.tags, stored.metadata], [session, 'sdk-test', ['js'], { route: 'faq' }]);
  assert.match(stored.external_id, /^[0-9a-f-]{36}$/);
  assert.notEqual(stored.latency_ms, null);
  const llm = stored.spans.find((s) => s.kind === 'llm');
  assert.deepEqual(llm.input.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Where is my order?' }]);
  assert.equal(llm.output.content, 'It shipped.');
  const tool = stored.spans.find((s) => s.kind === 'tool');
  assert.deepEqual([tool.name, tool.input, tool.output, tool.duration_ms], ['lookup_order', { id: 1234 }, { status: 'shipped' }, 42]);

  assert.ok(manual.id, 'the batch answer gives each trace its platform id');
  const readBack = await client.getTrace(manual);
  assert.deepEqual([readBack.name, readBack.model, readBack.external_id], ['manual', 'm-1', manual.external_id]);
});

test('a retried batch is not stored twice', async () => {
  const proxy = await losesFirstAnswerProxy(app.url);
  const c = new Client({ endpoint: proxy.url, apiKey: app.apiKey, batchSize: 3, flushIntervalMs: 60_000, backoffBaseMs: 50, registerExitHandlers: false, logger: silent });
  try {
    const handles = [0, 1, 2].map((i) => c.startTrace(`retried-${i}`, { session_id: session, user_input: `q${i}` }));
    handles.forEach((t) => t.end());
    assert.equal(await c.flush(10_000), true);
    assert.equal(proxy.forwarded.length, 2);
    const [first, second] = proxy.forwarded;
    assert.deepEqual([first.status, second.status], [201, 200]);
    assert.deepEqual(first.body.items.map((i) => i.status), ['created', 'created', 'created']);
    assert.deepEqual(second.body.items.map((i) => i.status), ['existing', 'existing', 'existing']);
    assert.deepEqual(handles.map((t) => t.id), first.body.items.map((i) => i.id));
    assert.equal(c.stats.sent, 3);
    assert.equal(await countInSession(), 3);
  } finally {
    await c.shutdown(2000);
    await proxy.close();
  }
});

test('refused and conflicting traces are dropped and the rest stored', async () => {
  const taken = `js-taken-${randomUUID()}`;
  client.send({ external_id: taken, session_id: session, user_input: 'first' });
  assert.equal(await client.flush(10_000), true);
  client.send({ name: 'good-1', session_id: session });
  client.send({ name: 'bad', session_id: session, usage: { prompt_tokens: -1 } });
  client.send({ external_id: taken, session_id: session, user_input: 'different' });
  client.send({ name: 'good-2', session_id: session });
  assert.equal(await client.flush(10_000), true);
  const s = client.stats;
  assert.deepEqual([s.sent, s.droppedInvalid, s.droppedConflict, s.failed], [3, 1, 1, 0]);
  assert.equal(await countInSession(), 3);
});

test('a skipped trace gets its reasons and an adjusted one is stored', async () => {
  const fine = client.startTrace('fine', { session_id: session, response: 'ok' });
  const bad = client.startTrace('bad', { session_id: session, usage: { prompt_tokens: -1 } });
  // An end half a millisecond before the start: stored with zero length, the original kept.
  const skewed = client.startTrace('skewed', { session_id: session, start_time: '2026-11-01T10:00:00.0005Z', end_time: '2026-11-01T10:00:00Z' });
  const before = client.stats;
  [fine, bad, skewed].forEach((t) => t.end());
  assert.equal(await client.flush(10_000), true);
  assert.deepEqual([fine.outcome.status, bad.outcome.status, skewed.outcome.status], ['created', 'skipped', 'created']);
  assert.equal(bad.id, null);
  assert.ok(bad.outcome.errors.some((e) => e.field.endsWith('usage.prompt_tokens')), JSON.stringify(bad.outcome));
  assert.ok(skewed.outcome.adjustments[0].field.endsWith('].end_time'), JSON.stringify(skewed.outcome));
  const s = client.stats;
  assert.deepEqual([s.sent - before.sent, s.adjusted - before.adjusted, s.droppedInvalid - before.droppedInvalid], [2, 1, 1]);
  assert.equal(await countInSession(), 2);
});

test('a score is stored and visible', async () => {
  const t = client.startTrace('to score', { session_id: session, response: 'r' });
  t.end();
  const stored = await client.score(t, 'helpfulness', 0.75, { comment: 'clear' });
  assert.equal(stored[0].name, 'helpfulness');
  await client.score(t.id, 'on_topic', true);
  const scores = Object.fromEntries((await client.getTrace(t)).scores.map((s) => [s.name, s]));
  assert.deepEqual([scores.helpfulness.numeric_value, scores.helpfulness.comment, scores.helpfulness.source], [0.75, 'clear', 'api']);
  assert.equal(scores.on_topic.data_type, 'boolean');
});

test('a review made through the API is read back', async () => {
  const t = client.startTrace('to review', { session_id: session, user_input: 'q', response: 'made up' });
  t.end();
  assert.equal((await client.getReview(t)).status, 'pending');
  const { status, body } = await app.request('POST', `/api/v1/traces/${t.id}/review`, { action: 'reject', reason: 'hallucination', note: 'Invents a number.' });
  assert.equal(status, 200, JSON.stringify(body));
  const review = await client.getReview(t);
  assert.deepEqual([review.status, review.reason, review.note], ['rejected', 'hallucination', 'Invents a number.']);
  assert.deepEqual(review.history.map((h) => h.action), ['reject']);
});
