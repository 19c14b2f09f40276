// Owns the browser side: launches system Chromium through playwright-core, gives each test a fresh context, logs in.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { resultsDir } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const TIMEOUT_MS = 20_000;

/**
 * Headless Chromium. playwright-core gives every launch a fresh temporary --user-data-dir and removes it on close;
 * the networking flags keep Chromium from reaching out (it is flaky without them on a machine without internet).
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page in its own context (own cookies) for test `t`; on test end, a screenshot of its last state, then close. */
export async function newPage(t, browser, server) {
  const context = await browser.newContext({ baseURL: server.baseUrl });
  context.setDefaultTimeout(TIMEOUT_MS);
  context.setDefaultNavigationTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  t.after(async () => {
    const name = t.name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
    await mkdir(resultsDir, { recursive: true });
    await page.screenshot({ path: join(resultsDir, `last-${name}.png`), fullPage: true }).catch(() => {});
    await context.close();
  });
  return page;
}

/** Waits until `locator` is visible; on timeout, says what was expected and where the page was. */
export async function see(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  } catch (err) {
    throw new Error(`expected to see ${what} on ${locator.page().url()}: ${err.message.split('\n')[0]}`, { cause: err });
  }
}

/** Waits until the page's path is `path` (a trailing slash is allowed). */
export async function atPath(page, path, what = path) {
  const wanted = path.replace(/\/$/, '');
  try {
    await page.waitForURL((url) => url.pathname.replace(/\/$/, '') === wanted, { timeout: TIMEOUT_MS });
  } catch (err) {
    throw new Error(`expected to be on ${what}, but the page is at ${page.url()}`, { cause: err });
  }
}

/** Fills the login form and submits it; does not wait for the outcome. */
export async function submitLogin(page, email, password) {
  await page.goto('/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Logs the first-start owner in and waits for the workspace page. */
export async function logIn(page, server) {
  await submitLogin(page, server.email, server.password);
  await atPath(page, `/w/${server.workspaceId}`, 'the workspace page after logging in');
}

/** A JSON API call to `server`'s first workspace with its master key: the status and the parsed body. */
export async function workspaceApi(server, method, path, body) {
  const res = await fetch(`${server.baseUrl}/api/v1/workspaces/${server.workspaceId}${path}`, {
    method,
    headers: { Authorization: `Bearer ${server.masterKey}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Collects script errors and CSP violations on `page`. Chromium logs every response with an error status as a console
 * error; `expected` lists the statuses a test provokes on purpose (409, or "400 (Bad Request)"), which are not problems.
 */
export function watchProblems(page, expected = []) {
  const problems = [];
  const provoked = (text) => expected.some((status) => text.startsWith(`Failed to load resource: the server responded with a status of ${status}`));
  page.on('console', (message) => { if (message.type() === 'error' && !provoked(message.text())) problems.push(message.text()); });
  page.on('pageerror', (error) => problems.push(error.message));
  return problems;
}
