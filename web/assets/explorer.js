// The query explorer: builds a Keen query from the form, runs it through the session API
// (POST /api/v1/workspaces/{id}/queries/{analysis}, CSRF token in a header), draws the result
// with chart.js, shows the same query as a Keen URL and a curl command, and saves it.
(() => {
  const form = document.getElementById("explorer");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const workspace = form.dataset.workspace;
  const csrf = form.querySelector('input[name="csrf"]').value;
  const schemas = JSON.parse(form.dataset.schemas || "{}");
  const TARGETLESS = ["count", "extraction", "funnel"];

  // Which blocks show for the current choices: `data-show` names a condition below.
  function conditions() {
    const analysis = $("analysis_type").value;
    const kind = $("timeframe_kind").value;
    return {
      single: analysis !== "funnel",
      target: !TARGETLESS.includes(analysis),
      percentile: analysis === "percentile",
      grouping: !["funnel", "extraction"].includes(analysis),
      funnel: analysis === "funnel",
      relative: kind === "relative",
      absolute: kind === "absolute",
    };
  }

  function refresh() {
    const shown = conditions();
    for (const node of document.querySelectorAll("[data-show]")) node.hidden = !shown[node.dataset.show];
    const collections = shown.funnel
      ? [...$("steps").querySelectorAll('select[name="event_collection"]')].map((s) => s.value)
      : [$("event_collection").value];
    const properties = new Set();
    for (const name of collections) for (const path of Object.keys(schemas[name] || {})) properties.add(path);
    $("properties").replaceChildren(...[...properties].sort().map((path) => new Option(path, path)));
  }

  function addRow(templateId, listId, values = {}) {
    const row = $(templateId).content.firstElementChild.cloneNode(true);
    for (const [name, value] of Object.entries(values)) {
      const field = row.querySelector(`[name="${name}"]`);
      if (field) field.value = typeof value === "string" ? value : JSON.stringify(value);
    }
    $(listId).appendChild(row);
    refresh();
    return row;
  }

  // A filter value as typed: numbers, booleans, null and JSON lists become JSON values.
  function typedValue(operator, text) {
    const trimmed = text.trim();
    if (operator === "exists") return trimmed !== "false";
    if (/^-?\d+(\.\d+)?$/.test(trimmed) || ["true", "false", "null"].includes(trimmed) || trimmed.startsWith("[")) {
      try { return JSON.parse(trimmed); } catch { return text; }
    }
    if (operator === "in") return trimmed.split(",").map((part) => part.trim());
    return text;
  }

  function filters() {
    return [...$("filters").children]
      .map((row) => {
        const operator = row.querySelector('[name="operator"]').value;
        return {
          property_name: row.querySelector('[name="property_name"]').value.trim(),
          operator,
          property_value: typedValue(operator, row.querySelector('[name="property_value"]').value),
        };
      })
      .filter((f) => f.property_name);
  }

  // The query as Keen parameters (without analysis_type).
  function parameters() {
    const shown = conditions();
    const params = {};
    const kind = $("timeframe_kind").value;
    if (kind === "relative" && $("timeframe").value.trim()) params.timeframe = $("timeframe").value.trim();
    if (kind === "absolute") {
      const start = $("timeframe_start").value;
      const end = $("timeframe_end").value;
      params.timeframe = { start: start.length === 16 ? `${start}:00` : start, end: end.length === 16 ? `${end}:00` : end };
    }
    if ($("timezone").value.trim()) params.timezone = $("timezone").value.trim();
    const filterList = filters();
    if (shown.funnel) {
      params.steps = [...$("steps").children].map((row) => {
        const step = {
          event_collection: row.querySelector('[name="event_collection"]').value,
          actor_property: row.querySelector('[name="actor_property"]').value.trim(),
        };
        if (filterList.length) step.filters = filterList;
        return step;
      });
      return params;
    }
    params.event_collection = $("event_collection").value;
    if (shown.target) params.target_property = $("target_property").value.trim();
    if (shown.percentile) params.percentile = Number($("percentile").value);
    if (filterList.length) params.filters = filterList;
    if (shown.grouping) {
      const groupBy = $("group_by").value.split(",").map((p) => p.trim()).filter(Boolean);
      if (groupBy.length) params.group_by = groupBy.length === 1 ? groupBy[0] : groupBy;
      if ($("interval").value) params.interval = $("interval").value;
    }
    return params;
  }

  // The GET form Keen clients send: strings raw, everything else JSON text.
  function keenUrl(analysis, params) {
    const query = new URLSearchParams({ api_key: "READ_KEY" });
    for (const [key, value] of Object.entries(params)) query.set(key, typeof value === "string" ? value : JSON.stringify(value));
    return `${location.origin}/3.0/projects/${workspace}/queries/${analysis}?${query}`;
  }

  function curl(analysis, params) {
    const body = JSON.stringify(params).replace(/'/g, "'\\''");
    return `curl -X POST "${location.origin}/3.0/projects/${workspace}/queries/${analysis}" \\\n` +
      '  -H "Authorization: READ_KEY" -H "Content-Type: application/json" \\\n' +
      `  -d '${body}'`;
  }

  let lastRun = null;

  async function run() {
    const analysis = $("analysis_type").value;
    const params = parameters();
    $("query-url").textContent = keenUrl(analysis, params);
    $("query-curl").textContent = curl(analysis, params);
    $("share").hidden = false;
    $("output").hidden = false;
    const error = $("query-error");
    const response = await fetch(`/api/v1/workspaces/${workspace}/queries/${encodeURIComponent(analysis)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(params),
    });
    const body = await response.json().catch(() => ({ message: `the server answered ${response.status}` }));
    if (!response.ok) {
      error.textContent = body.message || `the server answered ${response.status}`;
      error.hidden = false;
      $("chart").replaceChildren();
      $("table").replaceChildren();
      if ($("save")) $("save").hidden = true;
      lastRun = null;
      return;
    }
    error.hidden = true;
    const query = { analysis_type: analysis, ...params };
    const visualization = window.SwitchboardCharts.render(query, body.result, $("chart"), $("table"));
    lastRun = { query, visualization };
    if ($("save")) $("save").hidden = false;
  }

  async function save(event) {
    event.preventDefault();
    if (!lastRun) return;
    const status = $("save-status");
    const name = $("save-name").value.trim();
    const definition = {
      query_name: name,
      refresh_rate: 0,
      query: lastRun.query,
      metadata: { display_name: $("save-title").value.trim() || name, visualization: { chart_type: lastRun.visualization } },
    };
    const response = await fetch(`/api/v1/workspaces/${workspace}/saved_queries/${encodeURIComponent(name)}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(definition),
    });
    const body = await response.json().catch(() => ({}));
    status.replaceChildren();
    if (!response.ok) {
      status.className = "flash error";
      status.textContent = body.message || `the server answered ${response.status}`;
      return;
    }
    status.className = "flash success";
    status.append(`Saved as “${body.query_name}”. `);
    const link = document.createElement("a");
    link.href = `/w/${workspace}/dashboard`;
    link.textContent = "See it on the dashboard";
    status.append(link);
  }

  // Fills the form from a saved query's definition and runs it.
  function open(saved) {
    const query = saved.query || {};
    $("analysis_type").value = query.analysis_type || "count";
    if (query.event_collection) $("event_collection").value = query.event_collection;
    $("target_property").value = query.target_property || "";
    if (query.percentile !== undefined) $("percentile").value = query.percentile;
    $("group_by").value = Array.isArray(query.group_by) ? query.group_by.join(", ") : query.group_by || "";
    $("interval").value = query.interval || "";
    const timeframe = query.timeframe;
    if (timeframe && typeof timeframe === "object") {
      $("timeframe_kind").value = "absolute";
      $("timeframe_start").value = String(timeframe.start || "").slice(0, 16);
      $("timeframe_end").value = String(timeframe.end || "").slice(0, 16);
    } else {
      $("timeframe_kind").value = timeframe ? "relative" : "all";
      $("timeframe").value = timeframe || "";
    }
    if (query.timezone !== undefined) $("timezone").value = query.timezone;
    const steps = query.steps || [];
    for (const step of steps) addRow("step-row", "steps", step);
    for (const filter of query.filters || (steps[0] && steps[0].filters) || []) addRow("filter-row", "filters", filter);
    const name = $("save-name");
    if (name) {
      name.value = saved.query_name || "";
      $("save-title").value = (saved.metadata && saved.metadata.display_name) || "";
    }
    refresh();
    run();
  }

  form.addEventListener("change", refresh);
  form.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove]");
    if (remove) {
      remove.closest(".row").remove();
      refresh();
    }
  });
  $("add-filter").addEventListener("click", () => addRow("filter-row", "filters"));
  $("add-step").addEventListener("click", () => addRow("step-row", "steps"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  if ($("save-form")) $("save-form").addEventListener("submit", save);
  if (form.dataset.saved) {
    open(JSON.parse(form.dataset.saved));
  } else {
    addRow("step-row", "steps");
    addRow("step-row", "steps");
  }
})();
