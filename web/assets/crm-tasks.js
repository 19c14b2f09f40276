// The tasks page: the open tasks due by today (in the reader's timezone), split into overdue and due today, with their boxes, marked done in place.
import { api, el, href, page, problem, say, today, who } from "/assets/crm-1.js";

const $ = (id) => document.getElementById(id);
const assignee = $("task-assignee");
const boxNames = new Map();

async function boxName(id) {
  if (!boxNames.has(id)) {
    const result = await api("GET", `/boxes/${id}`);
    boxNames.set(id, result.ok ? result.body.name : "a box");
  }
  return boxNames.get(id);
}

function item(task, name) {
  const check = el("input", { type: "checkbox", "aria-label": `Done: ${task.text}`, disabled: !page.canWrite });
  check.addEventListener("change", async () => {
    const result = await api("PATCH", `/tasks/${task.id}`, { version: task.version, done: true });
    if (!result.ok) {
      check.checked = false;
      say($("tasks-error"), problem(result));
      return;
    }
    say($("tasks-error"), "");
    await load();
  });
  return el("li", { class: "task", dataset: { task: task.id } },
    check,
    el("span", { class: "task-text", text: task.text }),
    el("span", { class: "due muted", text: `due ${task.due_date}` }),
    el("a", { href: href("boxes", task.box), text: name }),
    task.assignees.length ? el("span", { class: "muted", text: task.assignees.map(who).join(", ") }) : null);
}

async function load() {
  const day = today();
  const filter = assignee.value ? `&assignee=${encodeURIComponent(assignee.value)}` : "";
  const result = await api("GET", `/tasks?due_by=${day}${filter}`);
  if (!result.ok) return say($("tasks-error"), problem(result));
  const tasks = result.body.tasks;
  const names = await Promise.all(tasks.map((t) => boxName(t.box)));
  const items = tasks.map((task, index) => ({ task, node: item(task, names[index]) }));
  const fill = (listId, chosen, empty) => $(listId).replaceChildren(...(chosen.length ? chosen.map((i) => i.node) : [el("li", { class: "muted", text: empty })]));
  fill("overdue", items.filter((i) => i.task.due_date < day), "Nothing overdue.");
  fill("today", items.filter((i) => i.task.due_date === day), "Nothing due today.");
  page.root.dataset.ready = "true";
}

for (const member of page.members) assignee.append(new Option(member.name, member.id));
assignee.addEventListener("change", load);
$("task-filters").addEventListener("submit", (event) => event.preventDefault());
load();
