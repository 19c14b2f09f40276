// Owns the import and export page tests: a CSV of contacts checked and imported through the page, a bad file refused with its line, exports downloaded, a large import's progress bar, boxes imported into a pipeline with a mapped field, and a viewer's export-only page.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, submitLogin, TIMEOUT_MS, watchProblems, workspaceApi } from './browser.mjs';
import { serverBinary, startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('crm-import');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A JSON API call with the master key: the status and the parsed body. */
const api = (method, path, body) => workspaceApi(server, method, path, body);

/** Chooses a CSV file with `text` in the page's file input. */
const choose = (page, name, text) => page.getByLabel('CSV file', { exact: true }).setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });

/** The number the report shows for `key` (rows, created, updated, unchanged). */
const counted = async (page, key) => (await page.locator(`#report-counts [data-count="${key}"]`).textContent()).replace(/,/g, '');

/** The contact that has `email`, if any. */
async function contactOf(email) {
  const { body } = await api('GET', `/contacts?email=${encodeURIComponent(email)}`);
  return body.contacts[0];
}

test('a CSV of contacts is checked, imported and exported through the page; a bad file imports nothing and says its line', { timeout: 120_000 }, async (t) => {
  const w = server.workspaceId;
  const pipeline = (await api('POST', '/pipelines', { name: 'Sales', stages: [{ name: 'Lead' }] })).body;
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page, ['400 (Bad Request)']);
  await logIn(page, server);
  await page.goto(`/w/${w}/contacts`);
  await page.getByRole('link', { name: 'Import / export', exact: true }).click();
  await atPath(page, `/w/${w}/contacts/import`, 'the import and export page');
  assert.match(await page.title(), /^Import and export · /);
  await page.waitForSelector('#crm[data-ready="true"]', { state: 'attached' });
  await see(page.locator('#runs').getByText('No imports yet.'), 'no runs yet');

  // The headings are read in the browser; one unknown column is mapped to a custom value, another left out.
  await choose(page, 'people.csv', 'Full name,E-mail,Job title,Team,Source\nAna Lima,ana@initech.com,CTO,Core,fair\n"Chen, Bo",bo@initech.com,CEO,Board,web\n');
  await see(page.getByRole('rowheader', { name: 'Team', exact: true }), 'the Team column in the mapping');
  assert.deepEqual(await page.locator('#import-mapping th').allTextContents(), ['Full name', 'E-mail', 'Job title', 'Team', 'Source']);
  await page.getByLabel('What “Team” fills', { exact: true }).selectOption('custom.team');

  await page.getByRole('button', { name: 'Check (dry run)', exact: true }).click();
  await see(page.getByRole('heading', { name: 'Dry run: what the import would do' }), 'the dry run report');
  assert.equal(await counted(page, 'rows'), '2');
  assert.equal(await counted(page, 'created'), '2');
  assert.equal(await counted(page, 'updated'), '0');
  await see(page.getByText('Ignored columns: Source.'), 'the ignored column');
  assert.equal(await contactOf('ana@initech.com'), undefined, 'a dry run writes nothing');

  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await see(page.getByRole('heading', { name: 'Imported', exact: true }), 'the import report');
  assert.equal(await counted(page, 'created'), '2');
  await see(page.getByText('2 of 2 rows imported.'), 'the finished count');
  assert.deepEqual(await page.locator('#import-bar').evaluate((bar) => [bar.value, bar.max]), [2, 2]);
  const ana = await contactOf('ana@initech.com');
  assert.equal(ana.name, 'Ana Lima');
  assert.equal(ana.title, 'CTO');
  assert.deepEqual(ana.custom, { team: 'Core' });
  assert.equal((await contactOf('bo@initech.com')).name, 'Chen, Bo');
  await see(page.locator('#runs tbody tr').filter({ hasText: 'Done' }).getByText('2 of 2'), 'the run listed as done');

  // The same file again matches both contacts: nothing would be created.
  await page.getByRole('button', { name: 'Check (dry run)', exact: true }).click();
  await see(page.getByRole('heading', { name: 'Dry run: what the import would do' }), 'the second dry run');
  assert.equal(await counted(page, 'created'), '0');

  // A bad address on line 3: the dry run says so, and the import refuses the whole file.
  await choose(page, 'bad.csv', 'Name,Email\nCy Diaz,cy@initech.com\nDee Ray,not-an-address\n');
  await page.getByRole('button', { name: 'Check (dry run)', exact: true }).click();
  await see(page.getByRole('heading', { name: 'Dry run: the file would be refused' }), 'the dry run of the bad file');
  await see(page.locator('#report-error-list').getByText(/^Line 3: /), 'the failing line in the dry run');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await see(page.getByRole('alert').filter({ hasText: 'The file was refused: 1 rows have errors; nothing was imported' }), 'the refusal');
  await see(page.locator('#report-error-list').getByText(/^Line 3: /), 'the failing line');
  await see(page.getByRole('heading', { name: 'Not imported', exact: true }), 'the refused report');
  assert.equal(await counted(page, 'errors'), '1');
  assert.equal(await page.locator('#report-counts [data-count="created"]').count(), 0, 'a refused file shows no counts of what it did');
  assert.equal(await page.locator('#report-error-list li').count(), 1);
  assert.equal(await page.locator('#import-progress').isHidden(), true, 'no progress for a refused file');
  assert.equal(await contactOf('cy@initech.com'), undefined, 'the good row was not imported either');

  // Exports: plain links that the session cookie is enough for.
  const csvLink = page.getByRole('link', { name: 'Export contacts as CSV', exact: true });
  const csv = await page.request.get(await csvLink.getAttribute('href'));
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'], /^text\/csv/);
  assert.match(await csv.text(), /ana@initech\.com/);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Export contacts as JSON', exact: true }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'contacts.json');
  const exported = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.ok(JSON.stringify(exported).includes('bo@initech.com'), 'the JSON export holds the imported contacts');
  const boxes = await page.request.get(await page.getByRole('link', { name: 'Export the boxes of Sales as CSV', exact: true }).getAttribute('href'));
  assert.equal(boxes.status(), 200);
  assert.match(boxes.url(), new RegExp(`pipeline=${pipeline.id}`));
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

test('a large import shows its progress until the bar is full', { timeout: 180_000 }, async (t) => {
  const w = server.workspaceId;
  const rows = Array.from({ length: 1500 }, (_, i) => `Person ${i + 1},person${i + 1}@bulk.example`);
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  await logIn(page, server);
  await page.goto(`/w/${w}/contacts/import`);
  await page.waitForSelector('#crm[data-ready="true"]', { state: 'attached' });
  await choose(page, 'bulk.csv', `Name,Email\n${rows.join('\n')}\n`);
  await see(page.getByRole('rowheader', { name: 'Email', exact: true }), 'the headings');

  // Seen part way: a value the server saved (every 100 rows) below the file's row count.
  const partWay = page.waitForFunction(() => {
    const bar = document.getElementById('import-bar');
    return bar.hasAttribute('value') && bar.max === 1500 && bar.value > 0 && bar.value < bar.max;
  }, null, { timeout: 120_000, polling: 'raf' });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await partWay;
  await page.getByRole('heading', { name: 'Imported', exact: true }).waitFor({ timeout: 120_000 });
  assert.deepEqual(await page.locator('#import-bar').evaluate((bar) => [bar.value, bar.max]), [1500, 1500]);
  await see(page.getByText('1,500 of 1,500 rows imported.'), 'the finished count');
  assert.equal(await counted(page, 'created'), '1500');
  assert.equal((await contactOf('person1500@bulk.example')).name, 'Person 1500');
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

test('boxes are imported into the pipeline whose board links to the page, a column mapped to a field', { timeout: 120_000 }, async (t) => {
  const w = server.workspaceId;
  const pipeline = (await api('POST', '/pipelines', { name: 'Deals', stages: [{ name: 'Lead' }, { name: 'Won' }], fields: [{ name: 'Amount', type: 'number' }] })).body;
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  await logIn(page, server);
  await page.goto(`/w/${w}/pipelines/${pipeline.id}`);
  await page.getByRole('link', { name: 'Import / export', exact: true }).click();
  await atPath(page, `/w/${w}/contacts/import`, 'the import and export page');
  assert.equal(await page.getByLabel('What to import', { exact: true }).inputValue(), 'boxes');
  assert.equal(await page.getByLabel('Into pipeline', { exact: true }).inputValue(), pipeline.id);
  await choose(page, 'deals.csv', 'Deal,Value,Stage\nAcme renewal,1200,Won\n');
  await page.getByLabel('What “Value” fills', { exact: true }).selectOption({ label: 'Field “Amount”' });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await see(page.getByRole('heading', { name: 'Imported', exact: true }), 'the import report');
  await see(page.locator('#runs tbody tr').filter({ hasText: 'Boxes of Deals' }).getByText('1 of 1'), 'the run listed with its pipeline');
  const { body } = await api('GET', `/pipelines/${pipeline.id}/boxes`);
  assert.deepEqual(body.boxes.map((b) => [b.name, b.stage, b.fields[pipeline.fields[0].id]]), [['Acme renewal', pipeline.stages[1].id, 1200]]);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

/** Adds a user with `role` to the workspace through the admin CLI and returns their password. */
function addUser(email, role) {
  const password = 'correct horse battery';
  return new Promise((ok, fail) => {
    const child = execFile(serverBinary(), ['user', 'create', email, '--data-dir', server.dataDir, '--workspace', server.workspaceId, '--role', role, '--password-stdin'],
      { timeout: TIMEOUT_MS }, (error, stdout, stderr) => (error ? fail(new Error(`${error.message}\n${stdout}\n${stderr}`)) : ok(password)));
    child.stdin.end(`${password}\n`);
  });
}

test('a viewer can export but not import', { timeout: 120_000 }, async (t) => {
  const w = server.workspaceId;
  const imported = await fetch(`${server.baseUrl}/api/v1/workspaces/${w}/imports?kind=organizations`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.masterKey}`, 'Content-Type': 'text/csv' },
    body: 'Company,Website\nInitech,https://initech.example\n',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  assert.equal(imported.status, 200, await imported.text());
  const password = await addUser('vic@example.com', 'viewer');
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  await submitLogin(page, 'vic@example.com', password);
  await atPath(page, `/w/${w}`, 'the workspace page');
  await page.goto(`/w/${w}/contacts`);
  await page.getByRole('link', { name: 'Export', exact: true }).click();
  await atPath(page, `/w/${w}/contacts/import`, 'the import and export page');
  await see(page.getByText('Your role is read-only: you can export the lists but not import files.'), 'the read-only note');
  assert.equal(await page.locator('input[type="file"]').count(), 0, 'no file to choose');
  assert.equal(await page.getByRole('button', { name: 'Import' }).count(), 0, 'no import button');
  await see(page.locator('#runs tbody tr').filter({ hasText: 'Organizations' }).getByText('1 of 1'), 'the runs listed');
  const csv = await page.request.get(await page.getByRole('link', { name: 'Export organizations as CSV', exact: true }).getAttribute('href'));
  assert.equal(csv.status(), 200);
  assert.match(await csv.text(), /initech\.example/);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});
