// Owns the CRM page tests: create a pipeline, add boxes, drag one to another stage, edit fields in the table, comment and add tasks on the box page, see tasks due, contacts and organizations, and a viewer's read-only pages.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { atPath, launchBrowser, logIn, newPage, see, submitLogin, TIMEOUT_MS, watchProblems, workspaceApi } from './browser.mjs';
import { serverBinary, startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('crm');
  browser = await launchBrowser();
}, { timeout: 150_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A JSON API call with the master key: the status and the parsed body. */
const api = (method, path, body) => workspaceApi(server, method, path, body);

/** Waits until the page's script has read everything it shows. */
const loaded = (page) => page.waitForSelector('#crm[data-ready="true"]', { state: 'attached' });

const localDay = (offset = 0) => {
  const d = new Date();
  d.setDate(d.getDate() + offset);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};

test('a pipeline is created, boxes added, dragged between stages, edited in the table, commented and given tasks', { timeout: 180_000 }, async (t) => {
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page, [409]);
  const w = server.workspaceId;
  await logIn(page, server);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pipelines', exact: true }).click();
  await atPath(page, `/w/${w}/pipelines`, 'the pipelines page');
  await see(page.getByText('No pipelines yet.'), 'the empty list');

  // The form starts with three stages; add a number field and a dropdown.
  await page.getByLabel('Pipeline name', { exact: true }).fill('Sales');
  assert.equal(await page.getByLabel('Stage 2 name', { exact: true }).inputValue(), 'Won');
  await page.getByRole('button', { name: 'Add field', exact: true }).click();
  await page.getByLabel('Field 1 name', { exact: true }).fill('Amount');
  await page.getByLabel('Type of field 1', { exact: true }).selectOption('number');
  await page.getByRole('button', { name: 'Add field', exact: true }).click();
  await page.getByLabel('Field 2 name', { exact: true }).fill('Size');
  await page.getByLabel('Type of field 2', { exact: true }).selectOption('dropdown');
  await page.getByLabel('Options of field 2', { exact: true }).fill('S, M, L');
  await page.getByRole('button', { name: 'Create pipeline', exact: true }).click();
  await page.waitForURL(/\/pipelines\/[0-9a-f]{24}$/, { timeout: TIMEOUT_MS });
  const pipelineId = page.url().split('/').pop();
  const { body: pipeline } = await api('GET', `/pipelines/${pipelineId}`);
  assert.deepEqual(pipeline.stages.map((s) => s.name), ['Lead', 'Won', 'Lost']);
  assert.deepEqual(pipeline.fields.map((f) => [f.name, f.type, f.options]), [['Amount', 'number', []], ['Size', 'dropdown', ['S', 'M', 'L']]]);
  const [lead, won, lost] = pipeline.stages;
  const [amount, size] = pipeline.fields;
  assert.match(await page.title(), /^Sales · Board · /);

  // Two boxes, added in the first stage.
  for (const name of ['Acme renewal', 'Globex pilot']) {
    await page.getByLabel('New box', { exact: true }).fill(name);
    await page.getByRole('button', { name: 'Add box', exact: true }).click();
    await see(page.getByRole('region', { name: 'Lead stage' }).getByRole('link', { name, exact: true }), `the card of ${name} in Lead`);
  }
  const leadColumn = page.getByRole('region', { name: 'Lead stage' });
  const wonColumn = page.getByRole('region', { name: 'Won stage' });
  assert.equal(await leadColumn.locator('[data-count]').textContent(), '2');
  const acmeCard = page.locator('li[data-box]', { hasText: 'Acme renewal' });
  const acmeId = await acmeCard.getAttribute('data-box');

  // Drag Acme to Won: the card moves and the server has the new stage.
  await acmeCard.dragTo(wonColumn);
  await see(wonColumn.getByRole('link', { name: 'Acme renewal', exact: true }), 'Acme renewal in Won');
  await see(page.getByText('Moved “Acme renewal” to Won.'), 'the move announced');
  let acme = (await api('GET', `/boxes/${acmeId}`)).body;
  assert.equal(acme.stage, won.id, 'the box changed stage on the server');
  assert.equal(await leadColumn.locator('[data-count]').textContent(), '1');
  assert.equal(await wonColumn.locator('[data-count]').textContent(), '1');

  // Someone else changes Globex: a drag on the stale card is refused, said, and the card reloaded.
  const globexCard = page.locator('li[data-box]', { hasText: 'Globex pilot' });
  const globexId = await globexCard.getAttribute('data-box');
  const changed = await api('PATCH', `/boxes/${globexId}`, { version: 1, notes: 'Changed elsewhere' });
  assert.equal(changed.status, 200);
  await globexCard.dragTo(page.getByRole('region', { name: 'Lost stage' }));
  await see(page.getByRole('alert').filter({ hasText: '“Globex pilot” was changed by someone else' }), 'the conflict explained');
  await see(leadColumn.getByRole('link', { name: 'Globex pilot', exact: true }), 'Globex back in Lead');
  assert.equal((await api('GET', `/boxes/${globexId}`)).body.stage, lead.id, 'the stale move changed nothing');
  await globexCard.dragTo(page.getByRole('region', { name: 'Lost stage' }));
  await see(page.getByText('Moved “Globex pilot” to Lost.'), 'the move after reloading announced');
  await see(page.getByRole('region', { name: 'Lost stage' }).getByRole('link', { name: 'Globex pilot' }), 'Globex in Lost after reloading');
  assert.equal((await api('GET', `/boxes/${globexId}`)).body.stage, lost.id);

  // The name filter hides other cards.
  await page.getByLabel('Filter by name', { exact: true }).fill('acme');
  await see(wonColumn.getByRole('link', { name: 'Acme renewal' }), 'the matching card');
  assert.equal(await page.locator('li[data-box]').count(), 1, 'only the matching card shows');
  await page.getByLabel('Filter by name', { exact: true }).fill('');

  // The table: edit a number and a dropdown in place; sort by the number.
  await page.getByRole('link', { name: 'Table', exact: true }).click();
  await atPath(page, `/w/${w}/pipelines/${pipelineId}/table`, 'the table view');
  const acmeAmount = page.getByLabel('Amount of Acme renewal', { exact: true });
  await acmeAmount.fill('1200');
  await acmeAmount.press('Enter');
  await see(page.getByText('Saved “Acme renewal”.'), 'the save announced');
  acme = (await api('GET', `/boxes/${acmeId}`)).body;
  assert.equal(acme.fields[amount.id], 1200, 'the field was saved');
  await page.getByLabel('Size of Acme renewal', { exact: true }).selectOption('M');
  await see(page.getByText('Saved “Acme renewal”.'), 'the dropdown save announced');
  assert.equal((await api('GET', `/boxes/${acmeId}`)).body.fields[size.id], 'M');
  await page.getByLabel('Amount of Globex pilot', { exact: true }).fill('300');
  await page.getByLabel('Amount of Globex pilot', { exact: true }).press('Enter');
  await see(page.getByText('Saved “Globex pilot”.'), 'the second save announced');
  const amountHeader = page.getByRole('columnheader', { name: 'Amount' });
  await amountHeader.getByRole('button').click();
  assert.equal(await amountHeader.getAttribute('aria-sort'), 'ascending');
  assert.deepEqual(await page.locator('tbody th').allTextContents(), ['Globex pilot', 'Acme renewal']);
  await amountHeader.getByRole('button').click();
  assert.equal(await amountHeader.getAttribute('aria-sort'), 'descending');
  assert.deepEqual(await page.locator('tbody th').allTextContents(), ['Acme renewal', 'Globex pilot']);

  // A stale edit in the table is refused with a clear message and the row shows the latest values.
  const current = (await api('GET', `/boxes/${acmeId}`)).body;
  assert.equal((await api('PATCH', `/boxes/${acmeId}`, { version: current.version, fields: { [amount.id]: 1500 } })).status, 200);
  await acmeAmount.fill('999');
  await acmeAmount.press('Enter');
  await see(page.getByRole('alert').filter({ hasText: '“Acme renewal” was changed by someone else' }), 'the table conflict explained');
  await page.waitForFunction(() => document.querySelector('input[aria-label="Amount of Acme renewal"]').value === '1500');
  assert.equal((await api('GET', `/boxes/${acmeId}`)).body.fields[amount.id], 1500, 'the stale edit changed nothing');

  // The board sums the number field per column.
  await page.getByRole('link', { name: 'Board', exact: true }).click();
  await see(wonColumn.getByText('Amount: 1,500'), 'the sum in Won');

  // The box page: a comment and a task, both on the timeline.
  await wonColumn.getByRole('link', { name: 'Acme renewal', exact: true }).click();
  await atPath(page, `/w/${w}/boxes/${acmeId}`, 'the box page');
  assert.match(await page.title(), /^Acme renewal · Sales · /);
  await loaded(page);
  assert.equal(await page.getByLabel('Stage', { exact: true }).inputValue(), won.id);
  assert.equal(await page.getByLabel('Amount', { exact: true }).inputValue(), '1500');
  await page.getByLabel('Comment', { exact: true }).fill('Called Ana, she wants the M plan.');
  await page.getByRole('button', { name: 'Add comment', exact: true }).click();
  await see(page.locator('#comments').getByText('Called Ana, she wants the M plan.'), 'the comment');
  await page.getByLabel('Task', { exact: true }).fill('Send the contract');
  await page.getByLabel('Due date', { exact: true }).fill(localDay());
  await page.getByRole('button', { name: 'Add task', exact: true }).click();
  await see(page.locator('#tasks').getByText('Send the contract'), 'the task');
  await see(page.locator('#timeline').getByText('commented: Called Ana'), 'the comment on the timeline');
  await see(page.locator('#timeline').getByText('added the task “Send the contract”'), 'the task on the timeline');
  await see(page.locator('#timeline').getByText('moved it from Lead to Won'), 'the stage change on the timeline');
  const comments = (await api('GET', `/boxes/${acmeId}/comments`)).body.comments;
  assert.deepEqual(comments.map((c) => c.body), ['Called Ana, she wants the M plan.']);

  // Notes and a follower saved from the details form.
  await page.getByLabel('Notes', { exact: true }).fill('Renewal due in March.');
  await page.getByRole('group', { name: 'Followers' }).getByLabel('Owner', { exact: true }).check();
  await page.getByRole('button', { name: 'Save changes', exact: true }).click();
  await see(page.getByText('Saved.', { exact: true }), 'the details saved');
  acme = (await api('GET', `/boxes/${acmeId}`)).body;
  assert.equal(acme.notes, 'Renewal due in March.');
  assert.equal(acme.followers.length, 1, 'the owner follows the box');
  assert.deepEqual(acme.assignees, [], 'assignees unchanged');

  // The tasks page: due today and overdue, marked done in place.
  const overdue = await api('POST', `/boxes/${globexId}/tasks`, { text: 'Chase the pilot feedback', due_date: localDay(-2) });
  assert.equal(overdue.status, 201);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Pipelines', exact: true }).click();
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await atPath(page, `/w/${w}/tasks`, 'the tasks page');
  const dueToday = page.getByRole('region', { name: 'Due today' });
  const overdueList = page.getByRole('region', { name: 'Overdue' });
  await see(dueToday.getByText('Send the contract'), 'the task due today');
  await see(overdueList.getByText('Chase the pilot feedback'), 'the overdue task');
  assert.equal(await dueToday.getByRole('link', { name: 'Acme renewal' }).count(), 1, 'the task links its box');
  await dueToday.getByLabel('Done: Send the contract', { exact: true }).check();
  await see(dueToday.getByText('Nothing due today.'), 'the done task gone');
  const tasks = (await api('GET', `/boxes/${acmeId}/tasks`)).body.tasks;
  assert.deepEqual(tasks.map((x) => [x.text, x.done]), [['Send the contract', true]]);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

test('contacts and organizations are created, linked to a box, and show their context', { timeout: 120_000 }, async (t) => {
  const w = server.workspaceId;
  const created = await api('POST', '/pipelines', { name: 'Hiring', stages: [{ name: 'Applied' }] });
  const box = (await api('POST', `/pipelines/${created.body.id}/boxes`, { name: 'Backend engineer' })).body;
  const other = (await api('POST', `/pipelines/${created.body.id}/boxes`, { name: 'Frontend engineer' })).body;
  assert.equal((await api('PUT', `/boxes/${box.id}/boxes/${other.id}`)).status, 204);
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  await logIn(page, server);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts', exact: true }).click();
  await atPath(page, `/w/${w}/contacts`, 'the contacts page');
  await page.getByLabel('Contact name', { exact: true }).fill('Ana Lima');
  await page.getByLabel('Email addresses', { exact: true }).fill('ana@initech.com');
  await page.getByLabel('Job title', { exact: true }).fill('CTO');
  await page.getByRole('button', { name: 'Create contact', exact: true }).click();
  await see(page.locator('#contacts').getByRole('link', { name: 'Ana Lima', exact: true }), 'the new contact listed');
  await page.getByLabel('Organization name', { exact: true }).fill('Initech');
  await page.getByLabel('Domains', { exact: true }).fill('initech.com');
  await page.getByRole('button', { name: 'Create organization', exact: true }).click();
  await see(page.locator('#organizations').getByRole('link', { name: 'Initech', exact: true }), 'the new organization listed');

  await page.goto(`/w/${w}/boxes/${box.id}`);
  await loaded(page);
  await see(page.locator('#box-links').getByRole('link', { name: 'Frontend engineer', exact: true }), 'the linked box');
  await page.getByRole('button', { name: 'Unlink Frontend engineer', exact: true }).click();
  await see(page.locator('#box-links').getByText('No boxes linked.'), 'the box link removed');
  assert.deepEqual((await api('GET', `/boxes/${box.id}`)).body.linked_boxes, []);
  await page.getByLabel('Link a contact by email', { exact: true }).fill('ana@initech.com');
  await page.getByRole('button', { name: 'Link contact', exact: true }).click();
  await see(page.locator('#box-contacts').getByRole('link', { name: 'Ana Lima', exact: true }), 'the linked contact');
  await page.getByLabel('Link an organization', { exact: true }).selectOption({ label: 'Initech' });
  await page.getByRole('button', { name: 'Link organization', exact: true }).click();
  await see(page.locator('#box-organizations').getByRole('link', { name: 'Initech', exact: true }), 'the linked organization');
  await page.getByLabel('Task', { exact: true }).fill('Schedule the interview');
  await page.getByRole('button', { name: 'Add task', exact: true }).click();
  await see(page.locator('#tasks').getByText('Schedule the interview'), 'the task');

  await page.locator('#box-contacts').getByRole('link', { name: 'Ana Lima', exact: true }).click();
  assert.match(await page.title(), /^Ana Lima · Contact · /);
  await see(page.locator('#record-details').getByRole('link', { name: 'Initech', exact: true }), 'the organization found by domain');
  await see(page.locator('#record-boxes').getByRole('link', { name: 'Backend engineer', exact: true }), 'the contact’s box');
  await see(page.locator('#record-tasks').getByText('Schedule the interview'), 'the task on the contact’s box');
  await page.locator('#record-details').getByRole('link', { name: 'Initech', exact: true }).click();
  assert.match(await page.title(), /^Initech · Organization · /);
  await see(page.locator('#record-details').getByRole('link', { name: 'Ana Lima', exact: true }), 'the organization’s contact');
  await see(page.locator('#record-boxes').getByRole('link', { name: 'Backend engineer', exact: true }), 'the organization’s box');
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

test('a viewer sees the CRM pages without controls that change anything', { timeout: 120_000 }, async (t) => {
  const w = server.workspaceId;
  const created = await api('POST', '/pipelines', { name: 'Support', stages: [{ name: 'Open' }, { name: 'Closed' }], fields: [{ name: 'Priority', type: 'number' }] });
  const box = (await api('POST', `/pipelines/${created.body.id}/boxes`, { name: 'Printer on fire', fields: { [created.body.fields[0].id]: 1 } })).body;
  const password = await addUser('vic@example.com', 'viewer');
  const page = await newPage(t, browser, server);
  const problems = watchProblems(page);
  await submitLogin(page, 'vic@example.com', password);
  await atPath(page, `/w/${w}`, 'the workspace page');

  await page.goto(`/w/${w}/pipelines`);
  await see(page.getByRole('link', { name: 'Support', exact: true }), 'the pipeline listed');
  assert.equal(await page.getByRole('button', { name: 'Create pipeline' }).count(), 0);
  await page.goto(`/w/${w}/pipelines/${created.body.id}`);
  await see(page.getByRole('region', { name: 'Open stage' }).getByRole('link', { name: 'Printer on fire' }), 'the card');
  assert.equal(await page.getByRole('button', { name: 'Add box' }).count(), 0);
  assert.equal(await page.locator('li[data-box]').getAttribute('draggable'), null, 'cards are not draggable');
  await page.goto(`/w/${w}/pipelines/${created.body.id}/table`);
  await see(page.getByRole('cell', { name: '1', exact: true }), 'the field shown as text');
  assert.equal(await page.locator('#table input, #table select').count(), 0, 'no editors');
  await page.goto(`/w/${w}/boxes/${box.id}`);
  await loaded(page);
  assert.ok(await page.getByLabel('Name', { exact: true }).isDisabled(), 'the details are read-only');
  for (const button of ['Save changes', 'Add comment', 'Add task', 'Link contact']) {
    assert.equal(await page.getByRole('button', { name: button }).count(), 0, `no ${button} button`);
  }
  await page.goto(`/w/${w}/contacts`);
  await see(page.getByText('Your role is read-only'), 'the read-only note');
  assert.equal(await page.getByRole('button', { name: 'Create contact' }).count(), 0);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});
