// Assignment by local evaluation: GrowthBook's v2 hash and ranges, the cached definitions, traces.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client, ExperimentDefinitions, Trace, bucketRanges, chooseVariant, hashUnit } from '../src/index.js';
import { fnv1a32 } from '../src/experiments.js';
import { FakePlatform, freePort } from './support/fake-platform.js';

// Computed with @growthbook/growthbook 1.8.0 (the shared reference's table).
const VECTORS = [
  ['checkout-test', 'user-1', 0.6947],
  ['checkout-test', 'user-2', 0.472],
  ['checkout-test', '42', 0.8101],
  ['prompt-v2', 'session-abc', 0.687],
  ['prompt-v2', 'usér-é', 0.2465],
  ['prompt-v2', 'id-😀', 0.1595],
];

const CHECKOUT = {
  key: 'checkout-test', seed: 'checkout-test', hash_version: 2, unit: 'user_id', coverage: 0.9, status: 'running',
  filters: { environment: 'production' },
  variants: [
    { key: 'control', weight: 0.5, config: { model: 'gpt-4o-mini' } },
    { key: 'b', weight: 0.3, config: { model: 'gpt-4o' } },
    { key: 'c', weight: 0.2, config: { model: 'claude' } },
  ],
};
const OUT = { experiment: 'checkout-test', variant: null, config: null, in_experiment: false };

describe('hashing', () => {
  test('v2 hash matches the GrowthBook vectors', () => {
    for (const [seed, id, expected] of VECTORS) assert.equal(hashUnit(seed, id), expected, `${seed}/${id}`);
  });

  test('FNV-1a runs over UTF-16 code units', () => {
    // FNV-1a's published test vector: "a" -> 0xe40c292c; an emoji is a surrogate pair, two units.
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32(''), 0x811c9dc5);
    let h = 0x811c9dc5;
    for (const unit of [0xd83d, 0xde00]) h = Math.imul(h ^ unit, 16777619) >>> 0;
    assert.equal(fnv1a32('😀'), h);
  });

  test('ranges and choices match the reference', () => {
    const ranges = bucketRanges(3, 0.9, [0.5, 0.3, 0.2]);
    [[0, 0.45], [0.5, 0.77], [0.8, 0.98]].forEach(([s, e], i) => {
      assert.ok(Math.abs(ranges[i][0] - s) < 1e-12 && Math.abs(ranges[i][1] - e) < 1e-12, JSON.stringify(ranges));
    });
    const chosen = Object.fromEntries(['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'usér-é'].map((u) => [u, chooseVariant(hashUnit('checkout-test', u), ranges)]));
    assert.deepEqual(chosen, { 'user-1': 1, 'user-2': -1, 'user-3': 1, 'user-4': 2, 'user-5': -1, 'usér-é': 1 });
  });

  test('weights that do not add up become equal; coverage is clamped', () => {
    assert.deepEqual(bucketRanges(2, 1, [0.7, 0.7]), [[0, 0.5], [0.5, 1]]);
    assert.deepEqual(bucketRanges(2, 1, [1]), [[0, 0.5], [0.5, 1]]);
    assert.deepEqual(bucketRanges(2, 7), [[0, 0.5], [0.5, 1]]);
    assert.deepEqual(bucketRanges(2, -1), [[0, 0], [0.5, 0.5]]);
    assert.equal(chooseVariant(0.3, bucketRanges(2, 0)), -1);
  });

  test('100,000 units split by the weights', () => {
    // Each share within 4 standard errors of coverage × weight; the rest (10 %) is out.
    const ranges = bucketRanges(3, 0.9, [0.5, 0.3, 0.2]);
    const counts = new Map();
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const v = chooseVariant(hashUnit('checkout-test', `user-${i}`), ranges);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    for (const [index, p] of [[0, 0.45], [1, 0.27], [2, 0.18], [-1, 0.1]]) {
      assert.ok(Math.abs(counts.get(index) / n - p) < 4 * Math.sqrt((p * (1 - p)) / n), `${index}: ${counts.get(index)}`);
    }
  });
});

describe('assign', () => {
  let platform;
  let clients;
  let warnings;

  beforeEach(async () => {
    platform = await FakePlatform.start();
    platform.definitions = { experiments: [CHECKOUT] };
    clients = [];
    warnings = [];
  });

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.shutdown(1000)));
    await platform.close();
  });

  function client({ endpoint = platform.url, clock } = {}) {
    const c = new Client({ endpoint, apiKey: 'ep_test', flushIntervalMs: 60_000, logger: { warn: (m) => warnings.push(m) }, registerExitHandlers: false, timeoutMs: 2000 });
    if (clock) c._definitions = new ExperimentDefinitions(c, { clock });
    clients.push(c);
    return c;
  }

  const definitionRequests = () => platform.requests.filter((r) => r.path === '/api/v1/experiments/definitions');

  test('evaluates locally from one fetch', async () => {
    const c = client();
    assert.deepEqual(await c.assign('checkout-test', 'user-1'), { experiment: 'checkout-test', variant: 'b', config: { model: 'gpt-4o' }, in_experiment: true });
    assert.deepEqual(await c.assign('checkout-test', 'user-2'), OUT);
    assert.equal((await c.assign('checkout-test', 'user-4')).variant, 'c');
    assert.equal((await c.assign('checkout-test', 'usér-é')).variant, 'b');
    const all = await Promise.all([1, 2, 3].map((i) => c.assign('checkout-test', `user-${i}`)));
    assert.deepEqual(all.map((a) => a.variant), ['b', null, 'b']);
    assert.equal(definitionRequests().length, 1);
    assert.equal(definitionRequests()[0].headers.authorization, 'Bearer ep_test');
  });

  test('concurrent first calls share one request', async () => {
    const c = client();
    await Promise.all([c.assign('checkout-test', 'user-1'), c.assign('checkout-test', 'user-3')]);
    assert.equal(definitionRequests().length, 1);
  });

  test('unknown or not running experiments and empty ids are out', async () => {
    platform.definitions = { experiments: [CHECKOUT, { ...CHECKOUT, key: 'paused', status: 'paused' }] };
    const c = client();
    assert.equal((await c.assign('nope', 'user-1')).in_experiment, false);
    assert.equal((await c.assign('paused', 'user-1')).in_experiment, false);
    assert.equal((await c.assign('checkout-test', '')).in_experiment, false);
    assert.equal((await c.assign('checkout-test', null)).in_experiment, false);
  });

  test('filters are checked against attributes when given', async () => {
    const c = client();
    assert.equal((await c.assign('checkout-test', 'user-1', { environment: 'production' })).in_experiment, true);
    assert.equal((await c.assign('checkout-test', 'user-1', { environment: 'staging' })).in_experiment, false);
    assert.equal((await c.assign('checkout-test', 'user-1', {})).in_experiment, false);
  });

  test('the copy is revalidated with its ETag after max-age', async () => {
    let now = 1_000_000;
    const c = client({ clock: () => now });
    await c.assign('checkout-test', 'user-1');
    now += 29_000;
    await c.assign('checkout-test', 'user-1');
    assert.equal(definitionRequests().length, 1, 'fresh for max-age');

    now += 2_000;
    assert.equal((await c.assign('checkout-test', 'user-1')).variant, 'b');
    assert.equal(definitionRequests()[0].headers['if-none-match'], undefined);
    assert.ok(definitionRequests()[1].headers['if-none-match'], 'revalidated with the ETag');

    // New weights: a new ETag, a full answer, and local evaluation follows them.
    platform.definitions = { experiments: [{ ...CHECKOUT, variants: CHECKOUT.variants.map((v, i) => ({ ...v, weight: i === 0 ? 1 : 0 })) }] };
    now += 31_000;
    assert.equal((await c.assign('checkout-test', 'user-1')).variant, 'control');
    assert.equal(definitionRequests().length, 3);
  });

  test('an unreachable platform gives out of experiment and one warning', async () => {
    let now = 1_000_000;
    const c = client({ endpoint: `http://127.0.0.1:${await freePort()}`, clock: () => now });
    for (let i = 0; i < 3; i++) assert.deepEqual(await c.assign('checkout-test', 'user-1'), OUT);
    now += 31_000;
    assert.deepEqual(await c.assign('checkout-test', 'user-1'), OUT);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /experiment definitions/);
  });

  test('a refusing platform keeps the last copy', async () => {
    let now = 1_000_000;
    const c = client({ clock: () => now });
    assert.equal((await c.assign('checkout-test', 'user-1')).variant, 'b');
    platform.answer(503, { 'retry-after': '5' }, { status: 503, title: 'Unavailable' });
    now += 31_000;
    assert.equal((await c.assign('checkout-test', 'user-1')).variant, 'b');
    assert.equal((await c.assign('checkout-test', 'user-1')).variant, 'b');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /503/);
    assert.equal(definitionRequests().length, 2, 'no retry before the retry interval');
  });

  test('a 401 without a copy is out and warned once', async () => {
    platform.answer(401, {}, { status: 401, title: 'Unauthorized' });
    const c = client({ clock: () => 5 });
    assert.equal((await c.assign('checkout-test', 'user-1')).in_experiment, false);
    assert.equal((await c.assign('checkout-test', 'user-3')).in_experiment, false);
    assert.equal(warnings.length, 1);
    assert.equal(definitionRequests().length, 1);
  });

  test('a client without endpoint is out', async () => {
    const c = new Client({ endpoint: '', apiKey: '', logger: { warn() {} }, registerExitHandlers: false });
    assert.deepEqual(await c.assign('checkout-test', 'user-1'), OUT);
  });

  test('traces carry the assignment', async () => {
    const c = client();
    const inside = c.startTrace('checkout').useAssignment(await c.assign('checkout-test', 'user-1'));
    inside.end({ response: 'ok' });
    c.startTrace('outside').useAssignment(await c.assign('checkout-test', 'user-2')).end();
    await c.flush(5000);
    const sent = platform.batches().flatMap((b) => b.traces);
    assert.deepEqual([sent[0].experiment, sent[0].variant], ['checkout-test', 'b']);
    assert.equal('experiment' in sent[1], false);
    assert.equal('variant' in sent[1], false);
    assert.equal(new Trace(null, 'x').useAssignment({ experiment: 'e', variant: 'v', in_experiment: true }).variant, 'v');
  });
});
