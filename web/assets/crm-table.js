// The pipeline table: a row per box, columns sorted by a click on their heading, stage and field cells edited in place and saved under the box's version.
import { READ_MAX, api, el, everything, fieldInput, fieldValue, href, page, problem, say, shown, when } from "/assets/crm-1.js";

const pipelineId = page.root.dataset.pipeline;
const tableNode = document.getElementById("table");
const errorNode = document.getElementById("table-error");
const statusNode = document.getElementById("table-status");
let pipeline = null;
let boxes = [];
let columns = [];
const sort = { key: "name", descending: false };

function stageIndex(id) {
  return pipeline.stages.findIndex((s) => s.id === id);
}

// The value a column sorts by: numbers compare as numbers, everything else as text; empty values sort last.
function sortValue(column, box) {
  if (column.key === "name") return box.name.toLowerCase();
  if (column.key === "stage") return stageIndex(box.stage);
  if (column.key === "updated") return box.updated_at;
  const value = box.fields[column.field.id];
  if (value === null || value === undefined || value === "") return null;
  if (column.field.type === "number") return value;
  if (column.field.type === "checkbox") return value ? 1 : 0;
  return shown(column.field, value).toLowerCase();
}

function sorted() {
  const column = columns.find((c) => c.key === sort.key);
  const direction = sort.descending ? -1 : 1;
  return [...boxes].sort((a, b) => {
    const x = sortValue(column, a);
    const y = sortValue(column, b);
    if (x === null && y === null) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    if (x < y) return -direction;
    if (x > y) return direction;
    return 0;
  });
}

function heading(column) {
  const active = sort.key === column.key;
  const button = el("button", { type: "button", class: "sort", text: column.label, onclick: () => {
    sort.descending = active ? !sort.descending : false;
    sort.key = column.key;
    render();
    tableNode.querySelector(`th[data-key="${column.key}"] button`).focus();
  } });
  return el("th", { scope: "col", dataset: { key: column.key }, "aria-sort": active ? (sort.descending ? "descending" : "ascending") : "none" }, button);
}

function commitOnEnter(input) {
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && input.tagName === "INPUT") {
      event.preventDefault();
      input.blur();
    }
  });
  return input;
}

function stageCell(box) {
  const stage = pipeline.stages.find((s) => s.id === box.stage);
  if (!page.canWrite) return el("td", { text: stage ? stage.name : "" });
  const select = el("select", { "aria-label": `Stage of ${box.name}` });
  for (const s of pipeline.stages) select.append(new Option(s.name, s.id));
  select.value = box.stage;
  select.addEventListener("change", () => save(box, { stage: select.value }));
  return el("td", {}, select);
}

function fieldCell(box, field) {
  const value = box.fields[field.id];
  if (!page.canWrite) return el("td", { text: shown(field, value) });
  const input = commitOnEnter(fieldInput(field, value, `${field.name} of ${box.name}`));
  input.addEventListener("change", () => save(box, { fields: { [field.id]: fieldValue(field, input) } }));
  return el("td", { class: `cell-${field.type}` }, input);
}

function row(box) {
  return el("tr", { dataset: { box: box.id } },
    el("th", { scope: "row" }, el("a", { href: href("boxes", box.id), text: box.name })),
    stageCell(box),
    el("td", { class: "muted nowrap", text: when(box.updated_at) }),
    pipeline.fields.map((field) => fieldCell(box, field)));
}

function render() {
  if (!boxes.length) {
    tableNode.replaceChildren(el("p", { class: "muted", text: "No boxes in this pipeline yet. Add them on the board." }));
    return;
  }
  tableNode.replaceChildren(el("table", { class: "box-table", "aria-label": `Boxes of ${pipeline.name}` },
    el("thead", {}, el("tr", {}, columns.map(heading))),
    el("tbody", {}, sorted().map(row))));
}

function redraw(box) {
  const index = boxes.findIndex((b) => b.id === box.id);
  boxes[index] = box;
  const current = tableNode.querySelector(`tr[data-box="${box.id}"]`);
  if (current) current.replaceWith(row(box));
}

async function save(box, change) {
  say(errorNode, "");
  statusNode.textContent = "";
  const result = await api("PATCH", `/boxes/${box.id}`, { version: box.version, ...change });
  if (result.ok) {
    redraw(result.body);
    statusNode.textContent = `Saved “${result.body.name}”.`;
    return;
  }
  if (result.status === 409) {
    const fresh = await api("GET", `/boxes/${box.id}`);
    if (fresh.ok) redraw(fresh.body);
    say(errorNode, `“${box.name}” was changed by someone else since this table was loaded, so your change was not saved. The row now shows the latest values; make your change again if it is still needed.`);
    return;
  }
  redraw(box);
  say(errorNode, `“${box.name}”: ${problem(result)}`);
}

async function load() {
  const [found, listed] = await Promise.all([
    api("GET", `/pipelines/${pipelineId}`),
    everything(`/pipelines/${pipelineId}/boxes?sort=name`, "boxes"),
  ]);
  if (!found.ok || !listed.ok) {
    say(errorNode, problem(found.ok ? listed.result : found));
    return;
  }
  pipeline = found.body;
  boxes = listed.items;
  if (listed.more) say(errorNode, `This pipeline has more than ${READ_MAX.toLocaleString()} boxes: only the first ${READ_MAX.toLocaleString()} by name are shown here.`);
  columns = [
    { key: "name", label: "Name" },
    { key: "stage", label: "Stage" },
    { key: "updated", label: "Updated" },
    ...pipeline.fields.map((field) => ({ key: `field-${field.id}`, label: field.name, field })),
  ];
  render();
  tableNode.dataset.ready = "true";
}

load();
