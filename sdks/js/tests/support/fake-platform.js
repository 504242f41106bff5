// A scripted stand-in for EvalPlatform's API on a loopback port, for the unit tests.
import http from 'node:http';
import net from 'node:net';
import { createHash, randomUUID } from 'node:crypto';

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Answers each request with the next scripted answer, then with success: a batch gets 201 with
 * an id per trace, scores 201, GET /traces/{id} a trace with a pending review.
 */
export class FakePlatform {
  static async start(port = 0) {
    const platform = new FakePlatform();
    await new Promise((resolve, reject) => {
      platform.server.once('error', reject);
      platform.server.listen(port, '127.0.0.1', resolve);
    });
    platform.url = `http://127.0.0.1:${platform.server.address().port}`;
    return platform;
  }

  constructor() {
    this.requests = [];
    this.answers = [];
    this.waiters = [];
    this.definitions = { experiments: [] }; // what GET /api/v1/experiments/definitions lists
    this.maxAge = 30;
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const recorded = { at: performance.now(), method: req.method, path: req.url, headers: req.headers, raw, json: raw ? JSON.parse(raw) : null };
        recorded.traces = recorded.json?.traces ?? [];
        const [status, headers, body] = this.answers.length ? this.answers.shift() : this.defaultAnswer(recorded);
        // recorded before answering, so a client that saw the answer finds it here
        this.requests.push(recorded);
        this.waiters = this.waiters.filter((w) => !w());
        const data = body === undefined ? '' : JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
        res.end(data);
      });
    });
  }

  answer(status, headers = {}, body = undefined) {
    this.answers.push([status, headers, body]);
    return this;
  }

  defaultAnswer(req) {
    if (req.method === 'GET' && req.path === '/api/v1/experiments/definitions') {
      // As the platform answers: a strong ETag of the content, max-age, and 304 for a match.
      const etag = `"${createHash('sha256').update(JSON.stringify(this.definitions)).digest('hex').slice(0, 16)}"`;
      const headers = { etag, 'cache-control': `private, max-age=${this.maxAge}` };
      if (req.headers['if-none-match'] === etag) return [304, headers, undefined];
      return [200, headers, this.definitions];
    }
    if (req.path === '/api/v1/traces/batch') {
      return [201, {}, { items: req.traces.map((t, index) => ({ index, id: randomUUID(), external_id: t.external_id ?? null, status: 'created' })) }];
    }
    if (req.path.endsWith('/scores')) return [201, {}, [{ id: randomUUID(), name: req.json.name }]];
    if (req.method === 'GET' && req.path.startsWith('/api/v1/traces/')) {
      const id = req.path.split('/').pop();
      return [200, {}, { id, review: { trace_id: id, status: 'pending', history: [] } }];
    }
    return [404, {}, { status: 404, title: 'Not found' }];
  }

  batches() {
    return this.requests.filter((r) => r.path === '/api/v1/traces/batch');
  }

  /** Resolves the requests once at least count were answered; rejects after timeoutMs. */
  waitFor(count, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.requests.length < count) return false;
        clearTimeout(timer);
        resolve([...this.requests]);
        return true;
      };
      const timer = setTimeout(() => reject(new Error(`expected ${count} request(s), got ${this.requests.length}`)), timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }

  close() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(resolve));
  }
}
