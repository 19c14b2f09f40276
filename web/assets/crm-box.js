// The box page: details, fields, assignees and followers saved under the box's version, linked contacts, organizations and boxes, threads, comments, tasks and the timeline.
import { api, el, everything, fieldInput, fieldValue, href, page, problem, say, today, when, who } from "/assets/crm-1.js";

const boxId = page.root.dataset.box;
const pipelineId = page.root.dataset.pipeline;
const $ = (id) => document.getElementById(id);
let pipeline = null;
let box = null;

// The details form: name, stage, notes, fields, assignees and followers, saved together; only what changed is sent.
function fillDetails() {
  $("box-name").value = box.name;
  $("box-notes").value = box.notes;
  const stage = $("box-stage");
  stage.replaceChildren(...pipeline.stages.map((s) => new Option(s.name, s.id)));
  stage.value = box.stage;
  $("box-fields").replaceChildren(...pipeline.fields.map((field) => {
    const id = `field-${field.id}`;
    const input = fieldInput(field, box.fields[field.id], field.name, id);
    input.removeAttribute("aria-label");
    const label = el("label", { for: id, text: field.name });
    return el("div", { class: field.type === "checkbox" ? "field check" : "field" }, label, input);
  }));
  for (const [listId, chosen] of [["box-assignees", box.assignees], ["box-followers", box.followers || []]]) {
    $(listId).replaceChildren(...page.members.map((member) => {
      const check = el("input", { type: "checkbox", value: member.id });
      check.checked = chosen.includes(member.id);
      return el("label", { class: "check" }, check, ` ${member.name}`);
    }));
  }
  if (!page.canWrite) for (const control of $("details").querySelectorAll("input, select, textarea")) control.disabled = true;
}

function changes() {
  const change = {};
  const name = $("box-name").value.trim();
  if (name !== box.name) change.name = name;
  if ($("box-notes").value !== box.notes) change.notes = $("box-notes").value;
  if ($("box-stage").value !== box.stage) change.stage = $("box-stage").value;
  const fields = {};
  for (const field of pipeline.fields) {
    const value = fieldValue(field, $(`field-${field.id}`));
    const before = box.fields[field.id] ?? (field.type === "checkbox" ? false : null);
    if (JSON.stringify(value) !== JSON.stringify(before)) fields[field.id] = value;
  }
  if (Object.keys(fields).length) change.fields = fields;
  for (const [key, listId] of [["assignees", "box-assignees"], ["followers", "box-followers"]]) {
    const chosen = [...$(listId).querySelectorAll("input:checked")].map((c) => c.value);
    if (JSON.stringify([...chosen].sort()) !== JSON.stringify([...(box[key] || [])].sort())) change[key] = chosen;
  }
  return change;
}

async function saveDetails(event) {
  event.preventDefault();
  const status = $("details-status");
  const change = changes();
  if (!Object.keys(change).length) {
    status.textContent = "Nothing to save.";
    return;
  }
  const result = await api("PATCH", `/boxes/${boxId}`, { version: box.version, ...change });
  if (result.ok) {
    box = { ...box, ...result.body };
    say($("box-error"), "");
    status.textContent = "Saved.";
    fillDetails();
    loadTimeline();
    return;
  }
  status.textContent = "";
  if (result.status === 409) {
    await loadBox();
    say($("box-error"), "Someone changed this box since you opened it, so your changes were not saved. The form now shows the latest values; make your changes again.");
    return;
  }
  say($("box-error"), problem(result));
}

// Contacts, organizations and other boxes linked to the box, with their names, and the forms that link more.
async function fillLinks() {
  const [contacts, organizations, linkedBoxes] = await Promise.all([
    Promise.all((box.contacts || []).map((id) => api("GET", `/contacts/${id}`))),
    Promise.all((box.organizations || []).map((id) => api("GET", `/organizations/${id}`))),
    Promise.all((box.linked_boxes || []).map((id) => api("GET", `/boxes/${id}`))),
  ]);
  const boxItems = linkedBoxes.filter((r) => r.ok).map((r) => el("li", {},
    el("a", { href: href("boxes", r.body.id), text: r.body.name }),
    page.canWrite ? el("button", { type: "button", class: "btn small ghost", text: "Unlink", "aria-label": `Unlink ${r.body.name}`, onclick: () => unlink("boxes", r.body.id) }) : null));
  $("box-links").replaceChildren(...(boxItems.length ? boxItems : [el("li", { class: "muted", text: "No boxes linked." })]));
  const item = (kind, result) => {
    if (!result.ok) return null;
    const record = result.body;
    const detail = kind === "contacts" ? record.emails.join(", ") : record.domains.join(", ");
    return el("li", {},
      el("a", { href: href(kind, record.id), text: record.name }),
      detail ? el("span", { class: "muted", text: ` ${detail}` }) : null,
      page.canWrite ? el("button", { type: "button", class: "btn small ghost", text: "Unlink", "aria-label": `Unlink ${record.name}`, onclick: () => unlink(kind, record.id) }) : null);
  };
  const empty = (text) => el("li", { class: "muted", text });
  const contactItems = contacts.map((r) => item("contacts", r)).filter(Boolean);
  const organizationItems = organizations.map((r) => item("organizations", r)).filter(Boolean);
  $("box-contacts").replaceChildren(...(contactItems.length ? contactItems : [empty("No contacts linked.")]));
  $("box-organizations").replaceChildren(...(organizationItems.length ? organizationItems : [empty("No organizations linked.")]));
}

async function relink(method, path) {
  const result = await api(method, path);
  if (!result.ok) {
    say($("link-error"), problem(result));
    return false;
  }
  say($("link-error"), "");
  await loadBox();
  return true;
}

function unlink(kind, id) {
  return relink("DELETE", `/boxes/${boxId}/${kind}/${id}`);
}

async function linkContact(event) {
  event.preventDefault();
  const email = $("link-contact-email");
  const found = await api("GET", `/contacts?email=${encodeURIComponent(email.value.trim())}`);
  if (!found.ok) {
    say($("link-error"), problem(found));
    return;
  }
  const contact = found.body.contacts[0];
  if (!contact) {
    say($("link-error"), `No contact has the address ${email.value.trim()}. Create the contact on the Contacts page first.`);
    return;
  }
  if (await relink("PUT", `/boxes/${boxId}/contacts/${contact.id}`)) email.value = "";
}

async function linkOrganization(event) {
  event.preventDefault();
  const id = $("link-organization-id").value;
  if (id) await relink("PUT", `/boxes/${boxId}/organizations/${id}`);
}

async function fillOrganizationChoices() {
  const select = $("link-organization-id");
  if (!select) return;
  const listed = await everything("/organizations?sort=name", "organizations");
  if (!listed.ok) return;
  select.replaceChildren(new Option("Choose an organization", ""), ...listed.items.map((o) => new Option(o.name, o.id)));
}

// Threads, comments, tasks and the timeline: each list is read again after a change.
async function loadThreads() {
  const result = await api("GET", `/boxes/${boxId}/threads`);
  if (!result.ok) return say($("box-error"), problem(result));
  const items = result.body.threads.map((t) => el("li", {},
    el("strong", { text: t.subject || "(no subject)" }),
    el("span", { class: "muted", text: ` · ${t.message_count} ${t.message_count === 1 ? "message" : "messages"} · last ${when(t.last_message_at)} · ${t.source}` })));
  $("threads").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No email threads on this box." })]));
}

async function loadComments() {
  const result = await api("GET", `/boxes/${boxId}/comments`);
  if (!result.ok) return say($("box-error"), problem(result));
  const items = result.body.comments.map((c) => el("li", { class: "comment" },
    el("p", { class: "meta" }, el("strong", { text: who(c.created_by) }), el("span", { class: "muted", text: ` · ${when(c.created_at)}` })),
    el("p", { class: "comment-body", text: c.body })));
  $("comments").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No comments yet." })]));
}

async function addComment(event) {
  event.preventDefault();
  const body = $("comment-body");
  const result = await api("POST", `/boxes/${boxId}/comments`, { body: body.value });
  if (!result.ok) return say($("comment-error"), problem(result));
  say($("comment-error"), "");
  body.value = "";
  await Promise.all([loadComments(), loadTimeline()]);
}

function taskItem(task, onDone) {
  const check = el("input", { type: "checkbox", "aria-label": `Done: ${task.text}` });
  check.checked = task.done;
  check.disabled = !page.canWrite;
  check.addEventListener("change", async () => {
    const result = await api("PATCH", `/tasks/${task.id}`, { version: task.version, done: check.checked });
    if (!result.ok) {
      check.checked = task.done;
      say($("task-error"), problem(result));
      return;
    }
    say($("task-error"), "");
    onDone();
  });
  const overdue = !task.done && task.due_date && task.due_date < today();
  return el("li", { class: task.done ? "task done" : "task" },
    check,
    el("span", { class: "task-text", text: task.text }),
    task.due_date ? el("span", { class: overdue ? "due overdue" : "due muted", text: `due ${task.due_date}` }) : null,
    task.assignees.length ? el("span", { class: "muted", text: task.assignees.map(who).join(", ") }) : null);
}

async function loadTasks() {
  const result = await api("GET", `/boxes/${boxId}/tasks`);
  if (!result.ok) return say($("box-error"), problem(result));
  const items = result.body.tasks.map((t) => taskItem(t, () => Promise.all([loadTasks(), loadTimeline()])));
  $("tasks").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No tasks yet." })]));
}

async function addTask(event) {
  event.preventDefault();
  const text = $("task-text");
  const due = $("task-due");
  const body = { text: text.value.trim() };
  if (due.value) body.due_date = due.value;
  const result = await api("POST", `/boxes/${boxId}/tasks`, body);
  if (!result.ok) return say($("task-error"), problem(result));
  say($("task-error"), "");
  text.value = "";
  due.value = "";
  await Promise.all([loadTasks(), loadTimeline()]);
}

function stageName(id) {
  const stage = pipeline.stages.find((s) => s.id === id);
  return stage ? stage.name : "a removed stage";
}

// A timeline entry in words; field edits name the field rather than its id.
function describe(entry) {
  switch (entry.kind) {
    case "stage": return entry.from ? `moved it from ${stageName(entry.from)} to ${stageName(entry.to)}` : `created it in ${stageName(entry.to)}`;
    case "email": return `email “${entry.subject || "(no subject)"}”: ${entry.snippet}`;
    case "comment": return `commented: ${entry.body}`;
    case "task": return `added the task “${entry.text}”${entry.done ? " (done)" : ""}`;
    case "edit": {
      const names = Object.keys(entry.changes || {}).map((key) => {
        if (!key.startsWith("fields.")) return key;
        const field = pipeline.fields.find((f) => f.id === key.slice(7));
        return field ? field.name : "a removed field";
      });
      return `changed ${names.join(", ") || "the box"}`;
    }
    default: return entry.kind;
  }
}

async function loadTimeline() {
  const result = await api("GET", `/boxes/${boxId}/timeline`);
  if (!result.ok) return say($("box-error"), problem(result));
  const items = [...result.body.timeline].reverse().map((entry) => el("li", { class: `event-${entry.kind}` },
    el("span", { class: "muted", text: `${when(entry.at)} · ` }),
    el("strong", { text: who(entry.actor) }), ` ${describe(entry)}`));
  $("timeline").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "Nothing has happened yet." })]));
}

async function loadBox() {
  const result = await api("GET", `/boxes/${boxId}`);
  if (!result.ok) return say($("box-error"), problem(result));
  box = result.body;
  fillDetails();
  await fillLinks();
}

async function load() {
  const found = await api("GET", `/pipelines/${pipelineId}`);
  if (!found.ok) return say($("box-error"), problem(found));
  pipeline = found.body;
  await Promise.all([loadBox(), loadThreads(), loadComments(), loadTasks(), loadTimeline(), fillOrganizationChoices()]);
  page.root.dataset.ready = "true";
}

$("details").addEventListener("submit", saveDetails);
$("add-comment")?.addEventListener("submit", addComment);
$("add-task")?.addEventListener("submit", addTask);
$("link-contact")?.addEventListener("submit", linkContact);
$("link-organization")?.addEventListener("submit", linkOrganization);
load();
