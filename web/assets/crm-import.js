// The import and export page: reads a CSV file's headings in the browser for the column mapping, sends the file to the import API (dry run or for real) while polling the runs for a progress bar, shows the report, and lists the latest runs.
import { api, el, page, say, when, who } from "/assets/crm-1.js";

const $ = (id) => document.getElementById(id);
const pipelines = JSON.parse(page.root.dataset.pipelines || "[]");
const POLL_MS = 300;
// The headings are in the first record: a slice this long holds them in any reasonable file.
const HEADING_BYTES = 64 * 1024;

const KINDS = { contacts: "Contacts", organizations: "Organizations", boxes: "Boxes" };
const STATES = { running: "Running", done: "Done", stopped: "Stopped" };

/** The first record of CSV `text` (quoted cells, doubled quotes, a leading byte order mark). */
function headings(text) {
  const cells = [];
  let cell = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { cells.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") break;
    else cell += c;
  }
  cells.push(cell);
  return cells.map((h) => h.trim());
}

/** What a column may fill for the chosen kind (and pipeline): [value sent in `map`, label]. */
function attributes(kind, pipelineId, heading) {
  const key = heading.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "") || "value";
  const custom = [`custom.${key}`, `Custom value “${key}”`];
  if (kind === "contacts") {
    return [["name", "Name"], ["email", "Email address"], ["phone", "Phone number"], ["address", "Postal address"], ["title", "Job title"], custom];
  }
  if (kind === "organizations") return [["name", "Name"], ["domain", "Domain or website"], custom];
  const pipeline = pipelines.find((p) => p.id === pipelineId);
  const fields = (pipeline ? pipeline.fields : []).map((name) => [name, `Field “${name}”`]);
  return [["name", "Name"], ["notes", "Notes"], ["stage", "Stage (its name)"], ["assignee", "Assignee (member address)"], ["follower", "Follower (member address)"], ...fields];
}

/** Answers `{ ok, status, body }` for `fetch(…)` of the JSON API, as `api` does, and never throws. */
async function answer(request) {
  let response;
  try {
    response = await request;
  } catch {
    return { ok: false, status: 0, body: { message: "the server could not be reached; check your connection and try again" } };
  }
  const text = await response.text();
  let body = {};
  if (text) {
    try { body = JSON.parse(text); } catch { body = { message: text }; }
  }
  return { ok: response.ok, status: response.status, body };
}

function kindOf(run) {
  const label = KINDS[run.kind] || run.kind;
  if (run.kind !== "boxes") return label;
  const pipeline = pipelines.find((p) => p.id === run.pipeline);
  return `${label} of ${pipeline ? pipeline.name : "a deleted pipeline"}`;
}

/** The latest runs, newest first; answers the list (or null when it could not be read). */
async function loadRuns() {
  const result = await api("GET", "/imports");
  if (!result.ok) {
    say($("runs-error"), `The imports could not be read: ${result.body.message || `the server answered ${result.status}`}.`);
    return null;
  }
  say($("runs-error"), "");
  const runs = result.body.imports;
  const body = $("runs").querySelector("tbody");
  body.replaceChildren(...runs.map((run) => el("tr", { dataset: { run: run.id } },
    el("td", { class: "nowrap", text: when(run.started_at), title: `by ${who(run.started_by)}` }),
    el("td", { text: kindOf(run) }),
    el("td", { text: STATES[run.state] || run.state, title: run.message || null }),
    el("td", { text: `${run.rows_done.toLocaleString()} of ${run.total_rows.toLocaleString()}` }),
    el("td", { text: run.created.toLocaleString() }),
    el("td", { text: run.updated.toLocaleString() }),
    el("td", { text: run.unchanged.toLocaleString() }))));
  if (!runs.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No imports yet." })));
  return runs;
}

const form = $("import-form");
if (form) {
  const kind = $("import-kind");
  const pipeline = $("import-pipeline");
  const file = $("import-file");
  const mapping = $("import-mapping");
  const bar = $("import-bar");
  const count = $("import-count");
  const buttons = [$("import-check"), $("import-run")];
  let columns = [];

  // One row per heading, each with a select of what the column fills; the choices follow the kind and pipeline.
  function drawMapping() {
    $("import-pipeline-field").hidden = kind.value !== "boxes";
    $("import-columns").hidden = !columns.length;
    mapping.replaceChildren(...columns.map((heading) => {
      const select = el("select", { "aria-label": `What “${heading}” fills`, dataset: { heading } },
        el("option", { value: "", text: "As its heading says (or ignored)" }),
        el("option", { value: "-", text: "Ignore this column" }));
      for (const [value, label] of attributes(kind.value, pipeline.value, heading)) select.append(new Option(label, value));
      return el("tr", {}, el("th", { scope: "row", text: heading }), el("td", {}, select));
    }));
  }

  async function readHeadings() {
    columns = [];
    say($("import-error"), "");
    $("import-report").hidden = true;
    const chosen = file.files[0];
    if (chosen) {
      try {
        columns = headings(await chosen.slice(0, HEADING_BYTES).text()).filter((heading, index, all) => heading && all.indexOf(heading) === index);
      } catch {
        say($("import-error"), "The file could not be read by the browser.");
      }
    }
    drawMapping();
  }

  /** The import's query, or a reason it cannot be sent. */
  function query(dryRun) {
    const params = new URLSearchParams({ kind: kind.value });
    if (kind.value === "boxes") params.set("pipeline", pipeline.value);
    const pairs = [];
    for (const select of mapping.querySelectorAll("select")) {
      if (!select.value) continue;
      const heading = select.dataset.heading;
      if (/[;=]/.test(heading)) return { problem: `The column “${heading}” cannot be mapped: its heading holds “;” or “=”. Rename it in the file.` };
      pairs.push(`${heading}=${select.value}`);
    }
    if (pairs.length) params.set("map", pairs.join(";"));
    if (dryRun) params.set("dry_run", "true");
    if ($("import-resume").checked) params.set("resume", "true");
    return { params };
  }

  function showProgress(done, total) {
    bar.max = Math.max(total, 1);
    bar.value = total ? done : 1;
    count.textContent = `${done.toLocaleString()} of ${total.toLocaleString()} rows imported.`;
  }

  function showReport(report, dryRun) {
    const counts = $("report-counts");
    const headings = { done: "Imported", stopped: "Stopped part way", refused: "Not imported" };
    const refusal = report.error_count ? "Dry run: the file would be refused" : "Dry run: what the import would do";
    $("report-heading").textContent = dryRun ? refusal : headings[report.state] || "Not imported";
    const would = dryRun ? " (would be)" : "";
    // A refused file wrote nothing, so only its rows and their errors are worth saying.
    const rows = report.state === "refused"
      ? [["rows", "Rows", report.total_rows], ["errors", "Rows with errors", report.error_count]]
      : [
        ["rows", "Rows", report.total_rows],
        ["created", `Created${would}`, report.created],
        ["updated", `Updated${would}`, report.updated],
        ["unchanged", `Unchanged${would}`, report.unchanged],
      ];
    if (report.resumed_from) rows.push(["resumed", "Went on from row", report.resumed_from + 1]);
    counts.replaceChildren(...rows.flatMap(([key, label, value]) => [
      el("dt", { text: label }),
      el("dd", { dataset: { count: key }, text: Number(value).toLocaleString() }),
    ]));
    const ignored = report.ignored_columns || [];
    say($("report-ignored"), ignored.length ? `Ignored columns: ${ignored.join(", ")}.` : "");
    const errors = report.errors || [];
    $("report-errors").hidden = !errors.length;
    $("report-error-list").replaceChildren(...errors.map((e) => el("li", { class: "row-error", text: `Line ${e.line}: ${e.message}` })));
    if (report.error_count > errors.length) {
      $("report-error-list").append(el("li", { class: "muted", text: `…and ${report.error_count - errors.length} more rows with errors.` }));
    }
    $("import-report").hidden = false;
  }

  /** Sends the file; while a real import runs, polls the runs every `POLL_MS` for the bar. */
  async function run(dryRun) {
    const error = $("import-error");
    say(error, "");
    $("import-report").hidden = true;
    const chosen = file.files[0];
    if (!chosen) {
      say(error, "Choose a CSV file first.");
      return;
    }
    const { params, problem } = query(dryRun);
    if (problem) {
      say(error, problem);
      return;
    }
    for (const button of buttons) button.disabled = true;
    $("import-progress").hidden = false;
    bar.removeAttribute("value");
    count.textContent = dryRun ? "Checking every row…" : "Checking every row before writing any…";
    const before = new Set(((await loadRuns()) || []).map((r) => r.id));
    const resuming = params.has("resume");
    let finished = false;
    const poll = async () => {
      while (!finished) {
        await new Promise((ok) => setTimeout(ok, POLL_MS));
        if (finished) return;
        const runs = await loadRuns();
        const current = (runs || []).find((r) => r.kind === kind.value && r.state === "running" && (resuming || !before.has(r.id)));
        if (current && !finished) showProgress(current.rows_done, current.total_rows);
      }
    };
    const polling = dryRun ? Promise.resolve() : poll();
    const result = await answer(fetch(`/api/v1/workspaces/${page.workspace}/imports?${params}`, {
      method: "POST",
      headers: { "X-CSRF-Token": page.csrf, "Content-Type": "text/csv" },
      body: chosen,
    }));
    finished = true;
    await polling;
    for (const button of buttons) button.disabled = false;
    const report = result.body;
    if (result.ok) {
      if (dryRun) $("import-progress").hidden = true;
      else showProgress(report.rows_done, report.total_rows);
      showReport(report, dryRun);
    } else if (result.status === 409 && report.state === "stopped") {
      showProgress(report.rows_done, report.total_rows);
      say(error, `The import stopped part way: ${report.message}.`);
      showReport(report, false);
    } else {
      $("import-progress").hidden = true;
      const message = report.message || `the server answered ${result.status}`;
      say(error, result.status === 403 ? `You may not import: ${message}.` : `The file was refused: ${message}.`);
      if (report.state === "refused") showReport(report, false);
    }
    await loadRuns();
  }

  kind.addEventListener("change", drawMapping);
  pipeline.addEventListener("change", drawMapping);
  file.addEventListener("change", readHeadings);
  $("import-check").addEventListener("click", () => run(true));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(false);
  });
  drawMapping();
}

loadRuns().then(() => { page.root.dataset.ready = "true"; });
