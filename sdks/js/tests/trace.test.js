// trace(name, fn), withTrace, startTrace and the Trace object, sent to a fake platform.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Trace } from '../src/index.js';
import { FakePlatform } from './support/fake-platform.js';

const silent = { warn() {} };
let platform;
let c;

beforeEach(async () => {
  platform = await FakePlatform.start();
  c = new Client({ endpoint: platform.url, apiKey: 'ep_test', flushIntervalMs: 60_000, logger: silent, registerExitHandlers: false });
});

afterEach(async () => {
  await c.shutdown(1000);
  await platform.close();
});

async function sent() {
  assert.equal(await c.flush(5000), true);
  return platform.batches().flatMap((b) => b.traces);
}

class Boom extends Error {
  constructor(message) {
    super(message);
    this.name = 'Boom';
  }
}

test('wrapper records arguments, result, latency and what onResult sets', async () => {
  const answer = c.trace('answer', (question, style) => ({ text: `42 (${style})`, model: 'gpt-4o-mini', tokens: [12, 3] }), {
    tags: ['unit'],
    environment: 'test',
    onResult: (t, result) => {
      t.update({ model: result.model, provider: 'openai' });
      t.setUsage(...result.tokens);
      t.addFunctionCall({ name: 'lookup', parameters: { q: 1 }, result: { hits: 1 }, execution_time_ms: 4.5 });
    },
  });
  assert.deepEqual(answer('meaning of life?', 'long').text, '42 (long)');
  const [t] = await sent();
  assert.equal(t.name, 'answer');
  assert.deepEqual(JSON.parse(t.user_input), ['meaning of life?', 'long']);
  assert.equal(JSON.parse(t.response).text, '42 (long)');
  assert.equal(t.model, 'gpt-4o-mini');
  assert.deepEqual(t.usage, { prompt_tokens: 12, completion_tokens: 3 });
  assert.deepEqual(t.function_calls, [{ name: 'lookup', parameters: { q: 1 }, result: { hits: 1 }, execution_time_ms: 4.5 }]);
  assert.deepEqual(t.tags, ['unit']);
  assert.equal(t.environment, 'test');
  assert.ok(t.latency_ms >= 0);
  assert.ok(t.end_time >= t.start_time);
  assert.match(t.external_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(t.error, undefined);
});

test('a lone string argument is the input as it is; this is kept for methods', async () => {
  const bot = { greeting: 'hi', reply: null };
  bot.reply = c.trace('bot.reply', function reply(message) {
    return `${this.greeting} ${message}`;
  });
  assert.equal(bot.reply('ada'), 'hi ada');
  const [t] = await sent();
  assert.deepEqual([t.name, t.user_input, t.response], ['bot.reply', 'ada', 'hi ada']);
});

test('wrapper records a thrown error and rethrows it unchanged', async () => {
  const error = new Boom('model timed out');
  const failing = c.trace('failing', () => {
    throw error;
  });
  assert.throws(() => failing(1), (e) => e === error);
  const [t] = await sent();
  assert.equal(t.error, 'Boom: model timed out');
  assert.equal(t.response, undefined);
});

test('async functions: the result is awaited, a rejection recorded and passed on', async () => {
  const answer = c.trace(async function answer(q) {
    await new Promise((r) => setTimeout(r, 15));
    return q.toUpperCase();
  });
  const error = new Boom('async');
  const failing = c.trace('failing', async () => {
    await null;
    throw error;
  });
  assert.deepEqual(await Promise.all([answer('a'), answer('b')]), ['A', 'B']);
  await assert.rejects(failing(), (e) => e === error);
  const traces = await sent();
  const ok = traces.filter((t) => t.name === 'answer').map((t) => [t.user_input, t.response]).sort();
  assert.deepEqual(ok, [['a', 'A'], ['b', 'B']]);
  assert.ok(Math.min(...traces.filter((t) => t.name === 'answer').map((t) => t.latency_ms)) >= 10);
  assert.deepEqual(traces.filter((t) => t.error).map((t) => t.error), ['Boom: async']);
});

test('withTrace hands the trace to the code, sync and async, and passes errors on', async () => {
  const value = c.withTrace('block', (t) => {
    t.user_input = 'hello';
    t.response = 'world';
    t.metadata.route = 'a';
    return 7;
  }, { session_id: 's1' });
  assert.equal(value, 7);
  assert.throws(() => c.withTrace('failing block', () => {
    throw new Boom('inside');
  }), Boom);
  await c.withTrace('async block', async (t) => {
    await null;
    t.response = 'done';
  });
  const byName = Object.fromEntries((await sent()).map((t) => [t.name, t]));
  assert.deepEqual(['user_input', 'response', 'session_id', 'metadata'].map((k) => byName.block[k]), ['hello', 'world', 's1', { route: 'a' }]);
  assert.equal(byName['failing block'].error, 'Boom: inside');
  assert.equal(byName['async block'].response, 'done');
});

test('unknown fields are ignored with a warning', async () => {
  const warnings = [];
  c.logger = { warn: (m) => warnings.push(m) };
  c.withTrace('x', (t) => t.update({ flavour: 'mint', model: 'm' }), { colour: 'blue' });
  const [t] = await sent();
  assert.equal(t.flavour, undefined);
  assert.equal(t.colour, undefined);
  assert.equal(t.model, 'm');
  assert.equal(warnings.length, 2);
});

test('the full shape wins over captured inputs', async () => {
  const chat = c.trace('chat', (q) => 'ok', {
    onResult: (t) => {
      t.messages = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok' }];
    },
  });
  chat('hi');
  const [t] = await sent();
  assert.equal(t.user_input, undefined);
  assert.equal(t.response, undefined);
  assert.equal(t.messages.length, 2);
});

test('a trace gets its platform id; score and getReview use it', async () => {
  const t = c.startTrace('scored', { response: 'r' });
  t.end();
  const stored = await c.score(t, 'helpfulness', 0.9, { comment: 'good', dataType: 'numeric' }); // flushes to learn the id
  assert.ok(t.id);
  assert.equal(stored[0].name, 'helpfulness');
  const score = platform.requests.find((r) => r.path.endsWith('/scores'));
  assert.equal(score.path, `/api/v1/traces/${t.id}/scores`);
  assert.deepEqual(score.json, { name: 'helpfulness', value: 0.9, data_type: 'numeric', comment: 'good' });
  assert.equal((await c.getReview(t)).status, 'pending');
  assert.equal((await c.getReview(t.id)).trace_id, t.id);
});

test('a Trace ended by hand is sent once', async () => {
  const t = new Trace(c, 'manual', { model: 'm', user_input: 'u' });
  t.end({ response: 'r' });
  t.end({ response: 'ignored' });
  const [s] = await sent();
  assert.deepEqual([s.name, s.model, s.user_input, s.response], ['manual', 'm', 'u', 'r']);
});
