// The pipelines list: paints the stage chips in their colours and runs the form that creates a pipeline with its stages and fields.
import { api, el, href, paint, problem, say } from "/assets/crm-1.js";

for (const chip of document.querySelectorAll("[data-color]")) paint(chip, chip.dataset.color);

const form = document.getElementById("create-pipeline");
const TYPES = ["text", "number", "date", "checkbox", "dropdown", "tags", "person"];
const COLORS = ["#4c6ef5", "#f59f00", "#12b886", "#fa5252", "#7950f2", "#15aabf"];

function renumber() {
  for (const [kind, listId] of [["Stage", "stages"], ["Field", "fields"]]) {
    [...document.getElementById(listId).children].forEach((row, index) => {
      for (const node of row.querySelectorAll("[data-label]")) {
        node.setAttribute("aria-label", node.dataset.label.replace("#", `${kind.toLowerCase()} ${index + 1}`).replace(/^./, (c) => c.toUpperCase()));
      }
      row.querySelector("[data-remove]").setAttribute("aria-label", `Remove ${kind.toLowerCase()} ${index + 1}`);
    });
  }
}

function stageRow(name = "") {
  const count = document.getElementById("stages").children.length;
  const row = el("li", { class: "row" },
    el("input", { "data-label": "# name", name: "stage-name", value: name, placeholder: "Stage name", required: true, maxlength: "200", autocomplete: "off" }),
    el("input", { "data-label": "Colour of #", name: "stage-color", type: "color", value: COLORS[count % COLORS.length] }),
    el("button", { type: "button", class: "btn small ghost", "data-remove": true, text: "Remove" }));
  document.getElementById("stages").append(row);
  renumber();
}

function fieldRow() {
  const type = el("select", { "data-label": "Type of #", name: "field-type" });
  for (const t of TYPES) type.append(new Option(t, t));
  const options = el("input", { "data-label": "Options of #", name: "field-options", autocomplete: "off", placeholder: "comma-separated", hidden: true });
  type.addEventListener("change", () => { options.hidden = type.value !== "dropdown"; });
  const row = el("li", { class: "row" },
    el("input", { "data-label": "# name", name: "field-name", placeholder: "Field name", required: true, maxlength: "200", autocomplete: "off" }),
    type, options,
    el("button", { type: "button", class: "btn small ghost", "data-remove": true, text: "Remove" }));
  document.getElementById("fields").append(row);
  renumber();
}

if (form) {
  for (const name of ["Lead", "Won", "Lost"]) stageRow(name);
  document.getElementById("add-stage").addEventListener("click", () => stageRow());
  document.getElementById("add-field").addEventListener("click", () => fieldRow());
  form.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove]");
    if (!remove) return;
    remove.closest("li").remove();
    renumber();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("create-error");
    const stages = [...document.getElementById("stages").children].map((row) => ({
      name: row.querySelector('[name="stage-name"]').value.trim(),
      color: row.querySelector('[name="stage-color"]').value,
    }));
    if (!stages.length) {
      say(error, "A pipeline needs at least one stage.");
      return;
    }
    const fields = [...document.getElementById("fields").children].map((row) => {
      const type = row.querySelector('[name="field-type"]').value;
      const field = { name: row.querySelector('[name="field-name"]').value.trim(), type };
      if (type === "dropdown") field.options = row.querySelector('[name="field-options"]').value.split(",").map((o) => o.trim()).filter(Boolean);
      return field;
    });
    const body = {
      name: document.getElementById("pipeline-name").value.trim(),
      description: document.getElementById("pipeline-description").value.trim(),
      stages,
      fields,
    };
    const result = await api("POST", "/pipelines", body);
    if (!result.ok) {
      say(error, problem(result));
      return;
    }
    location.assign(href("pipelines", result.body.id));
  });
}
