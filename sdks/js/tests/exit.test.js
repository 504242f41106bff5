// What is buffered when the process ends by itself is sent (beforeExit), and a platform that is
// down delays the exit by shutdownTimeoutMs at most. Browsers: the pagehide path, driven by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Client } from '../src/index.js';
import { FakePlatform, freePort } from './support/fake-platform.js';

const index = new URL('../src/index.js', import.meta.url).href;

function runScript(endpoint) {
  const script = `
    import { Client } from ${JSON.stringify(index)};
    const c = new Client({ flushIntervalMs: 60000, shutdownTimeoutMs: 500, backoffBaseMs: 100, logger: null });
    c.send({ name: 'at-exit' });
  `;
  const env = { ...process.env, EVALPLATFORM_ENDPOINT: endpoint, EVALPLATFORM_API_KEY: 'ep_exit' };
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: 'inherit' });
    child.on('exit', (code) => resolve({ code, ms: performance.now() - started }));
  });
}

test('a Node process that ends by itself sends what is buffered (beforeExit)', async () => {
  const platform = await FakePlatform.start();
  try {
    const { code } = await runScript(platform.url);
    assert.equal(code, 0);
    assert.deepEqual(platform.batches().flatMap((b) => b.traces.map((t) => t.name)), ['at-exit']);
  } finally {
    await platform.close();
  }
});

test('with the platform down, the process still exits after shutdownTimeoutMs', async () => {
  const { code, ms } = await runScript(`http://127.0.0.1:${await freePort()}`);
  assert.equal(code, 0);
  assert.ok(ms < 5000, `exited after ${ms} ms`);
});

/** A page, as far as the client looks: document (visibilitychange) and window (pagehide) events. */
function fakePage() {
  const win = new EventTarget();
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  globalThis.document = doc;
  globalThis.addEventListener = win.addEventListener.bind(win);
  globalThis.removeEventListener = win.removeEventListener.bind(win);
  return {
    hide() {
      doc.visibilityState = 'hidden';
      doc.dispatchEvent(new Event('visibilitychange'));
    },
    leave: () => win.dispatchEvent(new Event('pagehide')),
    restore() {
      delete globalThis.document;
      delete globalThis.addEventListener;
      delete globalThis.removeEventListener;
    },
  };
}

test('a hidden page sends everything at once in keepalive-sized requests', async () => {
  const platform = await FakePlatform.start();
  const page = fakePage();
  const c = new Client({ endpoint: platform.url, apiKey: 'ep_test', flushIntervalMs: 60_000, logger: null });
  try {
    for (let i = 0; i < 5; i++) c.send({ name: `t${i}`, metadata: { pad: 'x'.repeat(20_000) } });
    page.hide();
    assert.equal(c.stats.pending, 5, 'in flight');
    await platform.waitFor(2);
    await new Promise((r) => setTimeout(r, 100));
    const batches = platform.batches();
    assert.ok(batches.length >= 2 && batches.every((b) => b.raw.length < 64 * 1024));
    assert.deepEqual(batches.flatMap((b) => b.traces.map((t) => t.name)).sort(), ['t0', 't1', 't2', 't3', 't4']);
    assert.equal(c.stats.sent, 5);
    assert.equal(c.stats.pending, 0);

    c.send({ name: 'last' });
    page.leave();
    await platform.waitFor(batches.length + 1);
    assert.deepEqual(platform.batches().at(-1).traces.map((t) => t.name), ['last']);
  } finally {
    await c.shutdown(1000);
    page.restore();
    await platform.close();
  }
});
