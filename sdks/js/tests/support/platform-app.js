// Starts the real, built EvalPlatform app for the integration tests: a throw-away SQLite data
// directory, a free loopback port, a team and an API key made with the admin commands.
//
// The app is the Release build scripts/test.sh makes before the SDK tests
// (EvalPlatform.Web/bin/Release/net10.0/EvalPlatform.Web.dll; EVALPLATFORM_APP_DLL overrides).
// A missing build is a failure, never a skip: CI builds it first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './fake-platform.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const DEFAULT_DLL = path.join(REPO_ROOT, 'EvalPlatform.Web', 'bin', 'Release', 'net10.0', 'EvalPlatform.Web.dll');
const PASSWORD = 'correct horse battery staple';

function run(args, options, stdin) {
  return new Promise((resolve, reject) => {
    const child = spawn('dotnet', args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${args.slice(1, 3).join(' ')} failed (${code}): ${stderr}`))));
    child.stdin.end(stdin ? `${stdin}\n` : '');
  });
}

export class PlatformApp {
  static async start() {
    const dll = process.env.EVALPLATFORM_APP_DLL || DEFAULT_DLL;
    if (!existsSync(dll)) {
      throw new Error(
        `The EvalPlatform app is not built: ${dll} is missing. Build it first with ` +
          '`dotnet build EvalPlatform.sln -c Release` (scripts/test.sh does), or set EVALPLATFORM_APP_DLL.',
      );
    }
    const app = new PlatformApp(dll, mkdtempSync(path.join(tmpdir(), 'evalplatform-sdk-js-')), await freePort());
    try {
      await app.waitReady(120_000);
      await app.admin(['create-team', '--name', 'SDK', '--owner', 'sdk@example.com', '--password-stdin'], PASSWORD);
      app.apiKey = (await app.admin(['create-api-key', '--team', 'SDK', '--name', 'sdk', '--scopes', 'ingest,read,review'])).trim();
      return app;
    } catch (e) {
      await app.stop();
      throw e;
    }
  }

  constructor(dll, dataDir, port) {
    this.dll = dll;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.env = {
      ...process.env,
      ConnectionStrings__Postgres: '',
      ConnectionStrings__Redis: '',
      ConnectionStrings__Sqlite: `Data Source=${path.join(dataDir, 'evalplatform.db')}`,
      ASPNETCORE_URLS: this.url,
      ASPNETCORE_ENVIRONMENT: 'Production',
      DOTNET_NOLOGO: '1',
    };
    this.logFile = path.join(dataDir, 'app.log');
    const log = openSync(this.logFile, 'w');
    this.process = spawn('dotnet', [dll], { cwd: dataDir, env: this.env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => resolve(code ?? -1)));
  }

  output() {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  /** Polls /health/ready (database answers, migrations applied) instead of sleeping a fixed time. */
  async waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let exitCode = null;
    this.exited.then((code) => (exitCode = code));
    while (Date.now() < deadline) {
      if (exitCode !== null) throw new Error(`The app exited with ${exitCode}:\n${this.output()}`);
      try {
        const response = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`The app did not become ready in ${timeoutMs} ms:\n${this.output()}`);
  }

  admin(args, stdin) {
    return run([this.dll, 'admin', ...args], { cwd: this.dataDir, env: this.env }, stdin);
  }

  /** A raw API call with the test key: {status, body}. */
  async request(method, urlPath, body) {
    const response = await fetch(this.url + urlPath, {
      method,
      headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
