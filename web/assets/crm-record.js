// A contact's or an organization's page: its details and links, the boxes it is on, the threads it takes part in, and the tasks on its boxes.
import { api, el, href, problem, say, page, today, when, who } from "/assets/crm-1.js";

const kind = page.root.dataset.kind;
const plural = kind === "contact" ? "contacts" : "organizations";
const recordId = page.root.dataset.record;
const $ = (id) => document.getElementById(id);
const fail = (result) => say($("record-error"), problem(result));
const empty = (text) => el("li", { class: "muted", text });

function detail(term, ...values) {
  const shownValues = values.flat().filter((v) => v !== null && v !== undefined && v !== "");
  return [el("dt", { text: term }), el("dd", {}, shownValues.length ? shownValues.map((v, i) => [i ? ", " : "", v]) : el("span", { class: "muted", text: "none" }))];
}

// The other side's records a contact or an organization is linked to, as links with how they were linked.
async function linked(links, otherKind) {
  const key = otherKind === "organizations" ? "organization" : "contact";
  const found = await Promise.all(links.map((l) => api("GET", `/${otherKind}/${l[key]}`)));
  return found.map((result, index) => {
    if (!result.ok) return null;
    const how = [links[index].manual ? "by hand" : null, links[index].by_domain ? "by domain" : null].filter(Boolean).join(", ");
    return el("span", {}, el("a", { href: href(otherKind, result.body.id), text: result.body.name }), how ? el("span", { class: "muted", text: ` (${how})` }) : null);
  }).filter(Boolean);
}

async function loadDetails() {
  const result = await api("GET", `/${plural}/${recordId}`);
  if (!result.ok) return fail(result);
  const record = result.body;
  const rows = [detail("Name", record.name)];
  if (kind === "contact") {
    rows.push(detail("Email", record.emails.map((e) => el("a", { href: `mailto:${e}`, text: e }))));
    rows.push(detail("Title", record.title));
    rows.push(detail("Phone", record.phones));
    rows.push(detail("Address", record.addresses));
    rows.push(detail("Organizations", await linked(record.organizations || [], "organizations")));
  } else {
    rows.push(detail("Domains", record.domains));
    rows.push(detail("Contacts", await linked(record.contacts || [], "contacts")));
  }
  for (const [name, value] of Object.entries(record.custom || {})) rows.push(detail(name, typeof value === "string" ? value : JSON.stringify(value)));
  rows.push(detail("Updated", when(record.updated_at)));
  $("record-details").replaceChildren(...rows.flat());
}

// Stage names for boxes of any pipeline, each pipeline read once.
const pipelines = new Map();
async function stageOf(crmBox) {
  if (!pipelines.has(crmBox.pipeline)) pipelines.set(crmBox.pipeline, api("GET", `/pipelines/${crmBox.pipeline}`));
  const result = await pipelines.get(crmBox.pipeline);
  if (!result.ok) return { pipeline: "", stage: "" };
  const stage = result.body.stages.find((s) => s.id === crmBox.stage);
  return { pipeline: result.body.name, stage: stage ? stage.name : "" };
}

async function loadBoxes() {
  const result = await api("GET", `/${plural}/${recordId}/boxes`);
  if (!result.ok) return fail(result);
  const items = await Promise.all(result.body.boxes.map(async (b) => {
    const { pipeline, stage } = await stageOf(b);
    return el("li", {}, el("a", { href: href("boxes", b.id), text: b.name }), el("span", { class: "muted", text: ` · ${pipeline} · ${stage}` }));
  }));
  $("record-boxes").replaceChildren(...(items.length ? items : [empty("Not on any box.")]));
}

async function loadThreads() {
  const result = await api("GET", `/${plural}/${recordId}/threads`);
  if (!result.ok) return fail(result);
  const items = result.body.threads.map((t) => el("li", {},
    el("strong", { text: t.subject || "(no subject)" }),
    el("span", { class: "muted", text: ` · ${t.message_count} ${t.message_count === 1 ? "message" : "messages"} · last ${when(t.last_message_at)}` })));
  $("record-threads").replaceChildren(...(items.length ? items : [empty("No email threads.")]));
}

async function loadTasks() {
  const result = await api("GET", `/${plural}/${recordId}/tasks`);
  if (!result.ok) return fail(result);
  const day = today();
  const items = result.body.tasks.map((t) => el("li", { class: t.done ? "task done" : "task" },
    el("span", { class: "task-text", text: t.done ? `${t.text} (done)` : t.text }),
    t.due_date ? el("span", { class: !t.done && t.due_date < day ? "due overdue" : "due muted", text: `due ${t.due_date}` }) : null,
    el("a", { href: href("boxes", t.box), text: "open box" }),
    t.assignees.length ? el("span", { class: "muted", text: t.assignees.map(who).join(", ") }) : null));
  $("record-tasks").replaceChildren(...(items.length ? items : [empty("No tasks.")]));
}

Promise.all([loadDetails(), loadBoxes(), loadThreads(), loadTasks()]).then(() => { page.root.dataset.ready = "true"; });
