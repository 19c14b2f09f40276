// The pipeline board: a column per stage with its box cards, counts and number-field sums, filters, adding a box, and dragging a card to another stage.
import { READ_MAX, api, el, everything, href, page, paint, problem, say, shown, who } from "/assets/crm-1.js";

const pipelineId = page.root.dataset.pipeline;
const boardNode = document.getElementById("board");
const errorNode = document.getElementById("board-error");
const statusNode = document.getElementById("board-status");
const textFilter = document.getElementById("filter-text");
const assigneeFilter = document.getElementById("filter-assignee");
let pipeline = null;
let boxes = [];

function visible() {
  const text = textFilter.value.trim().toLowerCase();
  const assignee = assigneeFilter.value;
  return boxes.filter((b) => (!text || b.name.toLowerCase().includes(text)) && (!assignee || b.assignees.includes(assignee)));
}

function card(box) {
  const details = pipeline.fields
    .filter((f) => shown(f, box.fields[f.id]) !== "")
    .slice(0, 3)
    .map((f) => el("li", {}, el("span", { class: "muted", text: `${f.name}: ` }), shown(f, box.fields[f.id])));
  const node = el("li", {
    class: "box-card",
    draggable: page.canWrite ? "true" : null,
    dataset: { box: box.id },
    "aria-label": box.name,
  },
  el("a", { href: href("boxes", box.id), text: box.name, draggable: "false" }),
  details.length ? el("ul", { class: "card-fields", role: "list" }, details) : null,
  box.assignees.length ? el("p", { class: "muted card-people", text: box.assignees.map(who).join(", ") }) : null);
  if (page.canWrite) {
    node.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("text/plain", box.id);
      event.dataTransfer.effectAllowed = "move";
      node.classList.add("dragging");
    });
    node.addEventListener("dragend", () => node.classList.remove("dragging"));
  }
  return node;
}

function sums(inStage) {
  return pipeline.fields
    .filter((f) => f.type === "number")
    .map((f) => {
      const total = inStage.reduce((sum, b) => sum + (typeof b.fields[f.id] === "number" ? b.fields[f.id] : 0), 0);
      return el("li", { dataset: { sum: f.id } }, `${f.name}: `, el("strong", { text: total.toLocaleString() }));
    });
}

function column(stage, shownBoxes) {
  const inStage = shownBoxes.filter((b) => b.stage === stage.id);
  const count = el("span", { class: "badge", "data-count": true, text: String(inStage.length) });
  const totals = sums(inStage);
  const node = el("section", { class: "board-column", dataset: { stage: stage.id }, "aria-label": `${stage.name} stage` },
    el("header", { class: "column-head" },
      el("h2", {}, el("span", { class: "stage-dot", "aria-hidden": "true" }), stage.name),
      count,
      el("span", { class: "visually-hidden", text: inStage.length === 1 ? " box" : " boxes" })),
    totals.length ? el("ul", { class: "column-sums", role: "list", "aria-label": `Sums in ${stage.name}` }, totals) : null,
    el("ul", { class: "column-cards", role: "list" }, inStage.map(card)));
  paint(node, stage.color);
  if (page.canWrite) {
    node.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      node.classList.add("drop-target");
    });
    node.addEventListener("dragleave", (event) => {
      if (!node.contains(event.relatedTarget)) node.classList.remove("drop-target");
    });
    node.addEventListener("drop", (event) => {
      event.preventDefault();
      node.classList.remove("drop-target");
      move(event.dataTransfer.getData("text/plain"), stage.id);
    });
  }
  return node;
}

function render() {
  if (!pipeline) return;
  const shownBoxes = visible();
  boardNode.replaceChildren(...pipeline.stages.map((stage) => column(stage, shownBoxes)));
}

function replace(box) {
  const index = boxes.findIndex((b) => b.id === box.id);
  if (index >= 0) boxes[index] = box;
  else boxes.push(box);
}

async function move(id, stageId) {
  const box = boxes.find((b) => b.id === id);
  if (!box || box.stage === stageId) return;
  const stage = pipeline.stages.find((s) => s.id === stageId);
  const from = box.stage;
  box.stage = stageId;
  render();
  say(errorNode, "");
  const result = await api("PATCH", `/boxes/${id}`, { version: box.version, stage: stageId });
  if (result.ok) {
    replace(result.body);
    statusNode.textContent = `Moved “${box.name}” to ${stage.name}.`;
    render();
    return;
  }
  box.stage = from;
  if (result.status === 409) {
    const fresh = await api("GET", `/boxes/${id}`);
    if (fresh.ok) replace(fresh.body);
    say(errorNode, `“${box.name}” was changed by someone else since this board was loaded, so it was not moved. The board now shows its latest state; drag it again if it still needs to move.`);
  } else {
    say(errorNode, problem(result));
  }
  render();
}

async function addBox(event) {
  event.preventDefault();
  const name = document.getElementById("box-name");
  const stage = document.getElementById("box-stage").value;
  const result = await api("POST", `/pipelines/${pipelineId}/boxes`, { name: name.value.trim(), stage });
  if (!result.ok) {
    say(errorNode, problem(result));
    return;
  }
  say(errorNode, "");
  replace(result.body);
  statusNode.textContent = `Added “${result.body.name}”.`;
  name.value = "";
  render();
}

async function load() {
  const [found, listed] = await Promise.all([
    api("GET", `/pipelines/${pipelineId}`),
    everything(`/pipelines/${pipelineId}/boxes?sort=name`, "boxes"),
  ]);
  if (!found.ok) {
    say(errorNode, problem(found));
    return;
  }
  if (!listed.ok) {
    say(errorNode, problem(listed.result));
    return;
  }
  pipeline = found.body;
  boxes = listed.items;
  if (listed.more) say(errorNode, `This pipeline has more than ${READ_MAX.toLocaleString()} boxes: only the first ${READ_MAX.toLocaleString()} by name are shown here.`);
  for (const member of page.members) assigneeFilter.append(new Option(member.name, member.id));
  const stageSelect = document.getElementById("box-stage");
  if (stageSelect) for (const stage of pipeline.stages) stageSelect.append(new Option(stage.name, stage.id));
  render();
  boardNode.dataset.ready = "true";
}

textFilter.addEventListener("input", render);
assigneeFilter.addEventListener("change", render);
document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
document.getElementById("add-box")?.addEventListener("submit", addBox);
load();
