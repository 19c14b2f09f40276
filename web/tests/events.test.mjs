// Owns the Events page tests: an event sent through the Keen API shows up on the page without a reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, TIMEOUT_MS } from './browser.mjs';
import { startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('events');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a new collection appears on the Events page by itself, with its schema and events', { timeout: 90_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  await logIn(page, server);
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await atPath(page, `/w/${server.workspaceId}/events`, 'the Events page');
  await see(page.getByText('No events yet'), 'the empty state');

  const res = await fetch(`${server.baseUrl}/3.0/projects/${server.workspaceId}/events/signups`, {
    method: 'POST',
    headers: { Authorization: server.writeKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ plan: 'pro', user: { email: 'ana@acme.example' } }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  assert.equal(res.status, 201, `the Keen write failed: ${await res.text()}`);

  // No reload: the list refreshes itself every few seconds.
  await see(page.getByRole('link', { name: 'signups', exact: true }), 'the new collection in the live list');
  await page.getByRole('link', { name: 'signups', exact: true }).click();
  await atPath(page, `/w/${server.workspaceId}/events/signups`, 'the collection page');
  await see(page.getByRole('cell', { name: 'user.email', exact: true }), 'the flattened property in the schema');
  await see(page.getByText('ana@acme.example'), 'the event itself among the recent events');
});
