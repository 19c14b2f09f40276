// Owns the login page tests: logging in and out, a wrong password, and a form post without its CSRF token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, submitLogin } from './browser.mjs';
import { startServer } from './server.mjs';

const NAV = ['Events', 'Pipelines', 'Contacts', 'Check-ins', 'Customers', 'Search', 'Settings'];
let server;
let browser;

before(async () => {
  server = await startServer('login');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the owner logs in, sees the navigation, and logs out', { timeout: 120_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  await logIn(page, server);
  for (const name of NAV) {
    await see(page.getByRole('link', { name, exact: true }), `the navigation link "${name}"`);
  }

  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await atPath(page, '/login', 'the login page after logging out');

  // The session is over: the workspace page no longer offers to log out.
  await page.goto(`/w/${server.workspaceId}`);
  assert.equal(await page.getByRole('button', { name: 'Log out', exact: true }).count(), 0,
    `after logging out, ${page.url()} still shows a "Log out" button`);
});

test('a wrong password is refused without a session', { timeout: 120_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  await page.goto('/login');
  const before = new Set((await page.context().cookies()).map((c) => c.name));

  await submitLogin(page, server.email, `${server.password}-wrong`);
  await see(page.getByRole('alert').filter({ hasText: 'Wrong email or password' }),
    'role="alert" saying "Wrong email or password"');
  await atPath(page, '/login', 'the login page after a wrong password');

  const added = (await page.context().cookies()).map((c) => c.name).filter((n) => !before.has(n));
  assert.deepEqual(added, [], `a failed login set cookies: ${added.join(', ')}`);
});

test('a login post without its CSRF token is refused with 403', { timeout: 120_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  await page.goto('/login'); // the browser holds whatever cookies the login page hands out; only the token is missing
  const before = new Set((await page.context().cookies()).map((c) => c.name));
  const res = await page.request.post('/login', {
    form: { email: server.email, password: server.password },
    maxRedirects: 0,
  });
  assert.equal(res.status(), 403, `POST /login without a CSRF token answered ${res.status()}, expected 403`);
  const added = (await page.context().cookies()).map((c) => c.name).filter((n) => !before.has(n));
  assert.deepEqual(added, [], `POST /login without a CSRF token set cookies: ${added.join(', ')}`);
});
