// Shared by the CRM pages: the page's context (workspace, CSRF token, members, write access), JSON API calls, DOM building, and field values with their inputs.
const root = document.getElementById("crm");

export const page = {
  root,
  workspace: root.dataset.workspace,
  csrf: root.querySelector('input[name="csrf"]').value,
  canWrite: root.dataset.canWrite === "true",
  members: JSON.parse(root.dataset.members || "[]"),
};

const apiBase = `/api/v1/workspaces/${page.workspace}`;

/** The page address of a workspace object, e.g. `href("boxes", id)`. */
export const href = (kind, id) => `/w/${page.workspace}/${kind}/${id}`;

/** Calls the JSON API with the session: answers `{ ok, status, body }` and never throws. */
export async function api(method, path, body) {
  const init = { method, headers: { "X-CSRF-Token": page.csrf } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiBase + path, init);
  } catch {
    return { ok: false, status: 0, body: { message: "the server could not be reached; check your connection and try again" } };
  }
  const text = await response.text();
  let parsed = {};
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = { message: text }; }
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** Most items a page reads from one list, so that a huge pipeline cannot stall the browser. */
export const READ_MAX = 5000;

/**
 * The items of a keyset-paginated list (`key` names the list in the answer), up to `READ_MAX`:
 * `{ ok, items, more }`, where `more` says the list went on; or `{ ok: false, result }`.
 */
export async function everything(path, key) {
  const items = [];
  let cursor = null;
  const joiner = path.includes("?") ? "&" : "?";
  do {
    const suffix = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const result = await api("GET", `${path}${joiner}limit=200${suffix}`);
    if (!result.ok) return { ok: false, result };
    items.push(...result.body[key]);
    cursor = result.body.next_cursor;
  } while (cursor && items.length < READ_MAX);
  return { ok: true, items, more: Boolean(cursor) };
}

/** What to tell the user about a failed call. */
export function problem(result) {
  const message = result.body && result.body.message ? result.body.message : `the server answered ${result.status}`;
  if (result.status === 403) return `You may not change this: your role in this workspace is read-only (${message}).`;
  if (result.status === 409) return `Someone changed this since you loaded it, so your change was not saved (${message}).`;
  if (result.status === 401) return "Your session has ended: log in again.";
  return `Not saved: ${message}.`;
}

/** Shows `message` in a flash element, or hides it when there is none. */
export function say(node, message) {
  if (!node) return;
  node.textContent = message || "";
  node.hidden = !message;
}

/**
 * Builds an element: `attrs` are properties (`class`, `text`, `dataset`, `on<event>`) or attributes;
 * children are nodes or strings, and null or false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/** A name for a user id or an actor label (`user:ID`, `key:ID`, `cli`); anything else, such as a sender's address, as it is. */
export function who(label) {
  if (!label) return "someone";
  if (label === "cli") return "the command line";
  if (label.startsWith("key:") || label.startsWith("scoped:")) return "an API key";
  const id = label.startsWith("user:") ? label.slice(5) : label;
  const member = page.members.find((m) => m.id === id);
  if (member) return member.name;
  return label.startsWith("user:") || /^[0-9a-f]{24}$/.test(label) ? "a former member" : label;
}

/** An instant in the reader's locale. */
export function when(instant) {
  if (!instant) return "";
  const date = new Date(instant);
  return Number.isNaN(date.getTime()) ? instant : date.toLocaleString();
}

/** Today in the reader's timezone, as `YYYY-MM-DD`. */
export function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Sets a stage's colour on `node` (as the `--stage` custom property, which the CSP allows). */
export function paint(node, color) {
  if (/^#[0-9a-fA-F]{6}$/.test(color || "")) node.style.setProperty("--stage", color);
  return node;
}

/** A field value as text, for read-only cells and cards. */
export function shown(field, value) {
  if (value === null || value === undefined || value === "") return "";
  switch (field.type) {
    case "checkbox": return value ? "Yes" : "No";
    case "number": return Number(value).toLocaleString();
    case "tags": return Array.isArray(value) ? value.join(", ") : String(value);
    case "person": return who(value);
    default: return String(value);
  }
}

/** An input for `field` holding `value`, named `label` (as its aria-label, so it needs no visible label). */
export function fieldInput(field, value, label, id) {
  const common = { id, "aria-label": label, dataset: { field: field.id } };
  switch (field.type) {
    case "number":
      return el("input", { ...common, type: "number", step: "any", value: value ?? "" });
    case "date":
      return el("input", { ...common, type: "date", value: value ?? "" });
    case "checkbox": {
      const box = el("input", { ...common, type: "checkbox" });
      box.checked = value === true;
      return box;
    }
    case "dropdown":
    case "person": {
      const choices = field.type === "person"
        ? page.members.map((m) => [m.id, m.name])
        : field.options.map((o) => [o, o]);
      const select = el("select", common, el("option", { value: "", text: "—" }));
      for (const [optionValue, text] of choices) select.append(new Option(text, optionValue));
      if (value !== null && value !== undefined && ![...select.options].some((o) => o.value === value)) {
        select.append(new Option(String(value), String(value)));
      }
      select.value = value ?? "";
      return select;
    }
    case "tags":
      return el("input", { ...common, type: "text", value: Array.isArray(value) ? value.join(", ") : "", placeholder: "tag, another tag" });
    default:
      return el("input", { ...common, type: "text", value: value ?? "" });
  }
}

/** The JSON value an input from `fieldInput` holds: null when empty. */
export function fieldValue(field, input) {
  if (field.type === "checkbox") return input.checked;
  const text = input.value.trim();
  if (text === "") return null;
  if (field.type === "number") return Number(text);
  if (field.type === "tags") return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
  return text;
}

/** Splits a comma- or space-separated list typed by the user. */
export function list(text) {
  return text.split(/[,\s]+/).map((part) => part.trim()).filter(Boolean);
}
