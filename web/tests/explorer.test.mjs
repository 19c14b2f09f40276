// Owns the analytics tests: build a grouped daily count in the explorer, check its chart and table, save it, see it on the dashboard, delete it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, TIMEOUT_MS } from './browser.mjs';
import { startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('explorer');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a grouped daily count is charted, tabulated, saved to the dashboard and deleted', { timeout: 120_000 }, async (t) => {
  const events = [{ plan: 'pro' }, { plan: 'pro' }, { plan: 'pro' }, { plan: 'free' }, { plan: 'free' }];
  const res = await fetch(`${server.baseUrl}/3.0/projects/${server.workspaceId}/events`, {
    method: 'POST',
    headers: { Authorization: server.writeKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ signups: events }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  assert.equal(res.status, 200, `the Keen batch write failed: ${await res.text()}`);

  const page = await newPage(t, browser, server);
  const problems = [];
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
  page.on('pageerror', (error) => problems.push(error.message));
  await logIn(page, server);
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await page.getByRole('link', { name: 'Explorer', exact: true }).click();
  await atPath(page, `/w/${server.workspaceId}/explore`, 'the explorer');

  await page.getByLabel('Analysis', { exact: true }).selectOption('count');
  await page.getByLabel('Collection', { exact: true }).selectOption('signups');
  await page.getByLabel('Group by', { exact: true }).fill('plan');
  await page.getByLabel('Interval', { exact: true }).selectOption('daily');
  await page.getByLabel('Relative timeframe', { exact: true }).fill('this_7_days');
  await page.getByLabel('Timezone', { exact: true }).fill('UTC');
  await page.getByRole('button', { name: 'Run', exact: true }).click();

  // A line per plan over the seven daily buckets, and a table with today's counts.
  const chart = page.locator('#chart svg[aria-label="Line chart"]');
  await see(chart, 'the line chart');
  assert.equal(await chart.locator('polyline').count(), 2, 'one line per plan');
  assert.equal(await chart.locator('circle').count(), 14, 'a point per plan and day');
  const table = page.locator('#table table');
  await see(table, 'the result table');
  assert.deepEqual(await table.locator('th').allTextContents(), ['Interval start', 'pro', 'free']);
  assert.equal(await table.locator('tbody tr').count(), 7);
  const today = new Date().toISOString().slice(0, 10);
  const todayRow = table.locator('tbody tr').filter({ hasText: today });
  assert.deepEqual((await todayRow.locator('td').allTextContents()).slice(1), ['3', '2']);

  // The same query as a Keen URL and a curl command, with a placeholder instead of a key.
  const url = await page.locator('#query-url').textContent();
  assert.match(url, new RegExp(`/3\\.0/projects/${server.workspaceId}/queries/count\\?api_key=READ_KEY&`));
  assert.match(url, /group_by=plan/);
  assert.match(url, /interval=daily/);
  const curl = await page.locator('#query-curl').textContent();
  assert.match(curl, /Authorization: READ_KEY/);
  for (const key of [server.readKey, server.writeKey, server.masterKey]) {
    assert.ok(!url.includes(key) && !curl.includes(key), 'no real key on the page');
  }
  const counted = await fetch(url.replace('READ_KEY', server.readKey), { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(counted.status, 200, 'the shown URL works with a read key');

  await page.getByLabel('Title', { exact: true }).fill('Signups by plan');
  await page.getByLabel('Name in URLs', { exact: true }).fill('signups-by-plan');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await see(page.getByText('Saved as “signups-by-plan”'), 'the saved confirmation');
  await page.getByRole('link', { name: 'See it on the dashboard', exact: true }).click();
  await atPath(page, `/w/${server.workspaceId}/dashboard`, 'the dashboard');

  const card = page.locator('article.saved-query', { hasText: 'Signups by plan' });
  await see(card.locator('svg[aria-label="Line chart"]'), 'the saved query charted on the dashboard');
  const cardRow = card.locator('tbody tr').filter({ hasText: today });
  assert.deepEqual((await cardRow.locator('td').allTextContents()).slice(1), ['3', '2']);

  // Opened back in the explorer, the form is filled in and the query runs again.
  await card.getByRole('link', { name: 'Open in explorer' }).click();
  await atPath(page, `/w/${server.workspaceId}/explore`, 'the explorer with the saved query');
  assert.equal(await page.getByLabel('Group by', { exact: true }).inputValue(), 'plan');
  await see(page.locator('#chart svg[aria-label="Line chart"]'), 'the reopened query charted');
  await page.goBack();

  page.once('dialog', (dialog) => dialog.accept());
  await page.locator('article.saved-query', { hasText: 'Signups by plan' }).getByRole('button', { name: 'Delete Signups by plan' }).click();
  await page.locator('article.saved-query').waitFor({ state: 'detached', timeout: TIMEOUT_MS });
  await page.reload();
  await see(page.getByText('No saved queries yet'), 'the empty dashboard after deleting');
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});
