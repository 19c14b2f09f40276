// Owns the API key tests: keys printed on first start work, and a key created in Settings works until revoked.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, TIMEOUT_MS } from './browser.mjs';
import { resultsDir, startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('keys');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** GET the workspace through the API with a bearer key; returns the status and the parsed JSON body (or the raw text). */
async function getWorkspace(secret) {
  const res = await fetch(`${server.baseUrl}/api/v1/workspaces/${server.workspaceId}`, {
    headers: { Authorization: `Bearer ${secret}` },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body };
}

test('the keys printed on first start reach the workspace API', { timeout: 60_000 }, async () => {
  for (const [kind, secret] of [['master', server.masterKey], ['write', server.writeKey], ['read', server.readKey]]) {
    const { status, body } = await getWorkspace(secret);
    assert.equal(status, 200, `${kind} key: expected 200, got ${status}: ${JSON.stringify(body)}`);
    assert.equal(body.id, server.workspaceId, `${kind} key: the workspace JSON has the wrong id`);
  }
});

test('a read key created in Settings works until it is revoked', { timeout: 120_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  page.on('dialog', (dialog) => dialog.accept());
  await logIn(page, server);
  await page.getByRole('link', { name: 'Settings', exact: true }).first().click();
  await atPath(page, `/w/${server.workspaceId}/settings`, 'the settings page');

  const createButton = page.getByRole('button', { name: 'Create key', exact: true });
  await see(createButton, 'the "Create key" button');
  const form = page.locator('form').filter({ has: createButton });
  // Not exact: a <label> wrapping a <select> also names it by the selected option ("Kind master").
  await form.getByLabel('Name').fill('CI reader');
  await form.getByLabel('Kind').selectOption('read');
  await createButton.click();

  const secretBox = page.locator('#new-key-secret');
  await see(secretBox, 'the new key in #new-key-secret');
  const shown = await secretBox.evaluate((el) => ('value' in el && el.value) || el.textContent);
  const secret = /\b[0-9A-Fa-f]{64}\b/.exec(shown)?.[0];
  assert.ok(secret, `#new-key-secret does not hold 64 hex characters: ${JSON.stringify(shown)}`);

  const row = page.locator('tr[data-key-id]').filter({ hasText: 'CI reader' });
  await see(row, 'a keys table row for "CI reader"');
  assert.equal(await row.count(), 1, 'expected exactly one keys table row for "CI reader"');
  const keyId = await row.getAttribute('data-key-id');

  await mkdir(resultsDir, { recursive: true });
  await page.screenshot({ path: join(resultsDir, 'settings.png'), fullPage: true });

  const live = await getWorkspace(secret);
  assert.equal(live.status, 200, `new read key: expected 200, got ${live.status}: ${JSON.stringify(live.body)}`);
  assert.equal(live.body.id, server.workspaceId, 'new read key: the workspace JSON has the wrong id');

  // Not exact: the button may name its key too ("Revoke CI reader").
  await row.getByRole('button', { name: 'Revoke' }).click();
  await see(page.locator(`tr[data-key-id="${keyId}"]`).filter({ hasText: 'Revoked' }),
    'the "CI reader" row marked "Revoked"');

  const revoked = await getWorkspace(secret);
  assert.equal(revoked.status, 401, `revoked key: expected 401, got ${revoked.status}: ${JSON.stringify(revoked.body)}`);
  assert.equal(typeof revoked.body?.error_code, 'string',
    `revoked key: expected JSON with error_code, got ${JSON.stringify(revoked.body)}`);
});
