// Owns the server under test: spawns `switchboard serve` on a fresh data dir and free port, parses the first-start block, stops it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const resultsDir = join(here, 'test-results');

const START_TIMEOUT_MS = 90_000;
const HEALTH_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** The switchboard binary under test: SWITCHBOARD_BIN, else the cargo target folder's debug build. */
export function serverBinary() {
  if (process.env.SWITCHBOARD_BIN) return resolve(process.env.SWITCHBOARD_BIN);
  if (process.env.CARGO_TARGET_DIR) return resolve(process.env.CARGO_TARGET_DIR, 'debug', 'switchboard');
  return resolve(here, '../../target/debug/switchboard');
}

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

// The first-start block, label by label; every field must be present before the server counts as started.
const FIELDS = {
  loginUrl: /Log in at:\s+(\S+)/,
  email: /Email:\s+(\S+)/,
  password: /Password:\s+(\S+)/,
  workspaceId: /Workspace:\s+.*\(([0-9a-f]{24})\)/,
  masterKey: /Master key:\s+([0-9A-Fa-f]{64})\b/,
  writeKey: /Write key:\s+([0-9A-Fa-f]{64})\b/,
  readKey: /Read key:\s+([0-9A-Fa-f]{64})\b/,
};

function parseFirstStart(text) {
  const found = {};
  for (const [name, re] of Object.entries(FIELDS)) {
    const m = re.exec(text);
    if (!m) return null;
    found[name] = m[1];
  }
  return found;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function waitHealthy(baseUrl, child) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('server exited while waiting for /healthz');
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(200);
  }
  throw new Error(`GET ${baseUrl}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS} ms (last: ${last})`);
}

/** Starts a server on an empty data dir. `name` labels its log file in test-results/. */
export async function startServer(name = 'server') {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: run \`cargo build -p switchboard\` or set SWITCHBOARD_BIN`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-test-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;

  // Only our flags configure the server: drop SWITCHBOARD_* settings inherited from the caller (the log filter may stay).
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_') || k === 'SWITCHBOARD_LOG'),
  );
  env.NO_COLOR = '1'; // plain logs in test-results/*.log
  const args = ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`];
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  // Keep draining both pipes for the server's whole life so it never blocks on a full pipe.
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s; });
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  const logs = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', killOnExit);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(join(resultsDir, `${name}.log`), `$ ${bin} ${args.join(' ')}\n${logs()}`);
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const firstStart = await new Promise((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`no complete first-start block on stdout within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const check = () => {
        const parsed = parseFirstStart(stdout);
        if (parsed) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          ok(parsed);
        }
      };
      child.stdout.on('data', check);
      child.once('error', (err) => { clearTimeout(timer); fail(err); });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`server exited (code ${code}, signal ${signal}) before printing the first-start block`));
      });
      check();
    });
    await waitHealthy(baseUrl, child);
    return { baseUrl, port, dataDir, ...firstStart, logs, stop };
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n$ ${bin} ${args.join(' ')}\n${logs()}`, { cause: err });
  }
}
