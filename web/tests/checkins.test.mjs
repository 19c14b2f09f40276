// Owns the check-in page tests: entries added for today through the page (a goal and a blocker shown as such), a like and a comment, the schedule changed (prompt time, a workday off, a holiday, a stale version refused), my own vacation, my calendar, and the outbox page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, watchProblems, workspaceApi } from './browser.mjs';
import { startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('checkins');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A JSON API call with the master key: the status and the parsed body. */
const api = (method, path, body) => workspaceApi(server, method, path, body);

test('entries are added for today, shown as goals and blockers, liked and commented', { timeout: 120_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  const w = server.workspaceId;
  await logIn(page, server);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Check-ins', exact: true }).click();
  await atPath(page, `/w/${w}/checkins`, 'the check-ins page');
  await see(page.getByText('No entries for this day yet.'), 'an empty day');
  const today = await page.locator('#add-entries input[name="date"]').inputValue();

  await page.getByLabel('What did you get done?', { exact: true }).fill('Shipped the invoice export #billing\n[ ] Write the migration\n! Waiting on legal');
  await page.getByRole('button', { name: 'Add entries', exact: true }).click();
  await atPath(page, `/w/${w}/checkins`, 'the day after adding');
  const entries = page.locator('li[data-entry]');
  await see(entries.filter({ hasText: 'Shipped the invoice export' }), 'the done entry');
  assert.deepEqual(await entries.evaluateAll((items) => items.map((li) => li.dataset.kind)), ['blocker', 'done', 'goal'], 'blockers first');
  const blocker = entries.filter({ hasText: 'Waiting on legal' });
  assert.equal(await blocker.locator('.badge-blocker').textContent(), 'Blocker');
  const goal = entries.filter({ hasText: 'Write the migration' });
  assert.equal(await goal.locator('.goal-box').textContent(), '[ ]', 'an open goal is an empty box');
  const done = entries.filter({ hasText: 'Shipped the invoice export' });
  await see(done.getByRole('link', { name: '#billing', exact: true }), 'the tag linked');
  const stored = (await api('GET', `/checkins/entries?from=${today}&to=${today}`)).body.entries;
  assert.deepEqual(stored.map((e) => [e.kind, e.text]).sort(), [['blocker', 'Waiting on legal'], ['done', 'Shipped the invoice export #billing'], ['goal', 'Write the migration']]);
  const doneId = await done.getAttribute('data-entry');

  // A like goes through the JSON API: the page stays, the button and the count change.
  const url = page.url();
  const like = done.getByRole('button', { name: /^Like/ });
  await like.click();
  await page.waitForFunction((id) => document.querySelector(`li[data-entry="${id}"] button.like`).getAttribute('aria-pressed') === 'true', doneId);
  assert.equal(await done.locator('[data-likes]').textContent(), '1');
  assert.equal(page.url(), url, 'liking does not leave the page');
  assert.equal((await api('GET', `/checkins/entries/${doneId}`)).body.likes.length, 1, 'the like is stored');
  await like.click();
  await page.waitForFunction((id) => document.querySelector(`li[data-entry="${id}"] [data-likes]`).textContent === '0', doneId);
  await like.click();
  await page.waitForFunction((id) => document.querySelector(`li[data-entry="${id}"] [data-likes]`).textContent === '1', doneId);

  await done.getByLabel('Comment', { exact: true }).fill('Nice work <b>team</b>');
  await done.getByRole('button', { name: 'Comment', exact: true }).click();
  await see(page.locator(`li[data-entry="${doneId}"] .comment-body`).filter({ hasText: 'Nice work <b>team</b>' }), 'the comment, as typed');
  const after = page.locator(`li[data-entry="${doneId}"]`);
  assert.equal(await after.locator('button.like').getAttribute('aria-pressed'), 'true', 'the like is still there after reloading');

  // My entries: today is marked on the calendar, and the goal is ticked off in place.
  await page.getByRole('navigation', { name: 'Check-ins' }).getByRole('link', { name: 'My entries', exact: true }).click();
  await atPath(page, `/w/${w}/checkins/me`, 'my entries');
  await see(page.locator(`td.has-entries[data-date="${today}"]`), 'today marked on the calendar');
  const mine = page.locator('li[data-entry]').filter({ hasText: 'Write the migration' });
  await mine.getByText('Edit', { exact: true }).click();
  await mine.getByLabel('Goal done', { exact: true }).check();
  await mine.getByRole('button', { name: 'Save', exact: true }).click();
  await see(page.locator('li[data-entry] .goal-box').filter({ hasText: '[x]' }), 'the goal done');
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

test('the schedule is changed, a stale change is explained, and I set my vacation', { timeout: 120_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page, [409]);
  const w = server.workspaceId;
  await logIn(page, server);
  await page.goto(`/w/${w}/checkins/settings`);
  await page.getByLabel('Prompt time', { exact: true }).fill('18:30');
  await page.getByLabel('Friday', { exact: true }).uncheck();
  await page.getByRole('button', { name: 'Save schedule', exact: true }).click();
  await atPath(page, `/w/${w}/checkins/settings`, 'the schedule after saving');
  assert.equal(await page.getByLabel('Prompt time', { exact: true }).inputValue(), '18:30');
  assert.equal(await page.getByLabel('Friday', { exact: true }).isChecked(), false, 'Friday is off');
  let settings = (await api('GET', '/checkins/settings')).body;
  assert.equal(settings.prompt_time, '18:30');
  assert.equal(settings.workdays, '1234');

  await page.getByLabel('Holiday', { exact: true }).fill('2026-12-25');
  await page.getByRole('button', { name: 'Add holiday', exact: true }).click();
  await see(page.getByRole('button', { name: 'Remove 2026-12-25', exact: true }), 'the holiday listed');
  settings = (await api('GET', '/checkins/settings')).body;
  assert.deepEqual(settings.holidays, ['2026-12-25']);

  // Someone else changes the schedule: this page's change is refused and explained.
  const changed = await api('PATCH', '/checkins/settings', { version: settings.version, digest_time: '07:45' });
  assert.equal(changed.status, 200);
  await page.getByLabel('Prompt time', { exact: true }).fill('19:00');
  await page.getByRole('button', { name: 'Save schedule', exact: true }).click();
  await see(page.getByRole('alert').filter({ hasText: 'Someone changed the schedule since you loaded this page' }), 'the conflict explained');
  assert.equal((await api('GET', '/checkins/settings')).body.prompt_time, '18:30', 'the stale change changed nothing');
  assert.equal(await page.getByLabel('Digest time', { exact: true }).inputValue(), '07:45', 'the page shows the current schedule');

  // My own row: a vacation.
  const members = (await api('GET', '/checkins/members')).body.members;
  const me = members.find((m) => m.email === server.email);
  const row = page.locator(`tr[data-member="${me.user}"]`);
  await row.locator('input[name="vacation_from"]').fill('2026-12-21');
  await row.locator('input[name="vacation_until"]').fill('2027-01-02');
  await row.getByRole('button', { name: /^Save/ }).click();
  await atPath(page, `/w/${w}/checkins/settings`, 'the schedule after saving my row');
  assert.equal(await page.locator(`tr[data-member="${me.user}"] input[name="vacation_from"]`).inputValue(), '2026-12-21');
  const saved = (await api('GET', '/checkins/members')).body.members.find((m) => m.user === me.user);
  assert.deepEqual([saved.vacation_from, saved.vacation_until], ['2026-12-21', '2027-01-02']);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

test('the outbox page shows mail by state, suppressions and received mail', { timeout: 60_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  const w = server.workspaceId;
  await logIn(page, server);
  await page.goto(`/w/${w}/checkins`);
  await page.getByRole('navigation', { name: 'Check-ins' }).getByRole('link', { name: 'Outbox', exact: true }).click();
  await atPath(page, `/w/${w}/checkins/outbox`, 'the outbox');
  for (const heading of ['Mail by state', 'Latest messages', 'Suppressed addresses', 'Received mail']) {
    await see(page.getByRole('heading', { name: heading, exact: true }), `the ${heading} section`);
  }
  assert.match(await page.title(), /^Outbox · Check-ins · /);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});
