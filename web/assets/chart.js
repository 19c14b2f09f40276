// Charts and tables for Keen query results, drawn as plain SVG and HTML (no chart library):
// a line chart for series (interval), bars for groups (group_by), a funnel for funnels, and a
// big number otherwise. Used by the explorer, and on its own for the dashboard's saved queries.
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 640;
  const COLORS = 6;

  function svg(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, text, parent) {
    const node = document.createElement(name);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function format(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
    }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  // The smallest 1, 2 or 5 times a power of ten at or above `max`: a tidy top for an axis.
  function niceMax(max) {
    if (!(max > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(max));
    return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= max);
  }

  function groupKeys(query) {
    const groupBy = query.group_by;
    if (!groupBy) return [];
    return Array.isArray(groupBy) ? groupBy : [groupBy];
  }

  function groupLabel(row, keys) {
    return keys.map((key) => format(row[key])).join(" · ");
  }

  // What the result holds, whatever the analysis: { kind, ... } for the drawers below.
  function describe(query, result) {
    const keys = groupKeys(query);
    if (query.analysis_type === "funnel") {
      const steps = (query.steps || []).map((step, i) => `${i + 1}. ${step.event_collection}`);
      return { kind: "funnel", labels: steps, values: result };
    }
    if (Array.isArray(result) && result.length && result[0] && typeof result[0] === "object" && "timeframe" in result[0]) {
      const grouped = keys.length > 0;
      const labels = [];
      if (grouped) {
        for (const bucket of result) {
          for (const row of bucket.value || []) {
            const label = groupLabel(row, keys);
            if (!labels.includes(label)) labels.push(label);
          }
        }
      } else {
        labels.push(query.analysis_type);
      }
      const missing = ["count", "count_unique", "sum"].includes(query.analysis_type) ? 0 : null;
      const series = labels.map((label) => ({
        label,
        values: result.map((bucket) => {
          if (!grouped) return bucket.value;
          const row = (bucket.value || []).find((r) => groupLabel(r, keys) === label);
          return row ? row.result : missing;
        }),
      }));
      const starts = result.map((bucket) => bucket.timeframe.start);
      return { kind: "series", starts, series, interval: query.interval || "" };
    }
    if (keys.length && Array.isArray(result)) {
      return { kind: "groups", keys, rows: result.map((row) => ({ label: groupLabel(row, keys), row, value: row.result })) };
    }
    if (Array.isArray(result)) return { kind: "list", values: result };
    return { kind: "number", value: result, label: query.analysis_type };
  }

  function shortTime(iso, interval) {
    return ["minutely", "hourly"].includes(interval) ? iso.slice(5, 16).replace("T", " ") : iso.slice(0, 10);
  }

  function legend(labels, parent) {
    const list = html("ul", undefined, parent);
    list.className = "legend";
    labels.forEach((label, i) => {
      const item = html("li", undefined, list);
      const swatch = svg("svg", { viewBox: "0 0 12 12", "aria-hidden": "true" }, item);
      svg("rect", { width: 12, height: 12, rx: 2, class: `series-${i % COLORS}` }, swatch);
      html("span", label, item);
    });
  }

  function lineChart(described, parent) {
    const height = 260;
    const pad = { left: 52, right: 16, top: 14, bottom: 34 };
    const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": "Line chart", class: "line-chart" }, parent);
    const all = described.series.flatMap((s) => s.values).filter((v) => typeof v === "number");
    const top = niceMax(Math.max(0, ...all));
    const plotWidth = WIDTH - pad.left - pad.right;
    const plotHeight = height - pad.top - pad.bottom;
    const count = described.starts.length;
    const x = (i) => pad.left + (count > 1 ? (i * plotWidth) / (count - 1) : plotWidth / 2);
    const y = (v) => pad.top + plotHeight - (v / top) * plotHeight;
    for (let tick = 0; tick <= 4; tick += 1) {
      const value = (top * tick) / 4;
      svg("line", { x1: pad.left, x2: WIDTH - pad.right, y1: y(value), y2: y(value), class: tick ? "grid-line" : "axis" }, chart);
      svg("text", { x: pad.left - 6, y: y(value) + 4, "text-anchor": "end" }, chart).textContent = format(value);
    }
    const every = Math.max(1, Math.ceil(count / 6));
    described.starts.forEach((start, i) => {
      if (i % every) return;
      const anchor = count > 1 && i === count - 1 ? "end" : count > 1 && i === 0 ? "start" : "middle";
      svg("text", { x: x(i), y: height - pad.bottom + 18, "text-anchor": anchor }, chart).textContent =
        shortTime(start, described.interval);
    });
    described.series.forEach((series, s) => {
      const color = `series-${s % COLORS}`;
      let segment = [];
      const flush = () => {
        if (segment.length > 1) svg("polyline", { points: segment.join(" "), class: `line ${color}` }, chart);
        segment = [];
      };
      series.values.forEach((value, i) => {
        if (typeof value !== "number") return flush();
        segment.push(`${x(i)},${y(value)}`);
        const point = svg("circle", { cx: x(i), cy: y(value), r: 3, class: `point ${color}` }, chart);
        svg("title", {}, point).textContent = `${series.label} · ${described.starts[i]}: ${format(value)}`;
      });
      flush();
    });
    if (described.series.length > 1) legend(described.series.map((s) => s.label), parent);
  }

  // Horizontal bars, one per label; a funnel centres them so they narrow step by step.
  function barChart(items, parent, centred) {
    const row = 30;
    const labelWidth = 170;
    const height = items.length * row + 8;
    const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": centred ? "Funnel chart" : "Bar chart", class: "bar-chart" }, parent);
    const numbers = items.map((item) => (typeof item.value === "number" ? item.value : 0));
    const top = Math.max(...numbers, 0) || 1;
    const plotWidth = WIDTH - labelWidth - 70;
    items.forEach((item, i) => {
      const width = Math.max(1, (numbers[i] / top) * plotWidth);
      const left = centred ? labelWidth + (plotWidth - width) / 2 : labelWidth;
      const y = 4 + i * row;
      svg("text", { x: labelWidth - 8, y: y + 18, "text-anchor": "end", class: "bar-label" }, chart).textContent =
        item.label.length > 26 ? `${item.label.slice(0, 25)}…` : item.label;
      const bar = svg("rect", { x: left, y: y + 3, width, height: row - 8, rx: 3, class: `bar series-${centred ? 0 : i % COLORS}` }, chart);
      svg("title", {}, bar).textContent = `${item.label}: ${format(item.value)}`;
      svg("text", { x: left + width + 6, y: y + 18, class: "bar-value" }, chart).textContent = format(item.value);
    });
  }

  function bigNumber(value, label, parent) {
    const box = html("div", undefined, parent);
    html("div", format(value), box).className = "big-number";
    html("div", label, box).className = "big-number-label";
  }

  function table(headers, rows, parent) {
    const node = html("table", undefined, parent);
    const head = html("tr", undefined, html("thead", undefined, node));
    for (const header of headers) html("th", header, head).setAttribute("scope", "col");
    const body = html("tbody", undefined, node);
    for (const cells of rows) {
      const tr = html("tr", undefined, body);
      for (const cell of cells) html("td", format(cell), tr);
    }
  }

  // Extraction results: one column per top-level property, at most 100 rows shown.
  function eventsTable(events, parent) {
    const columns = [...new Set(events.slice(0, 100).flatMap((e) => (e && typeof e === "object" ? Object.keys(e) : [])))];
    if (!columns.length) return table(["Value"], events.map((v) => [v]), parent);
    return table(columns, events.slice(0, 100).map((e) => columns.map((c) => e[c])), parent);
  }

  /** Draws `result` of `query` into `chartBox` and `tableBox`, replacing what was there. */
  function render(query, result, chartBox, tableBox) {
    chartBox.replaceChildren();
    tableBox.replaceChildren();
    const described = describe(query, result);
    switch (described.kind) {
      case "funnel": {
        const first = described.values[0] || 0;
        const items = described.labels.map((label, i) => ({ label, value: described.values[i] }));
        barChart(items, chartBox, true);
        const percent = (v) => (first ? `${Math.round((v / first) * 1000) / 10}%` : "—");
        table(["Step", "Actors", "Of first step"], items.map((item) => [item.label, item.value, percent(item.value)]), tableBox);
        break;
      }
      case "series": {
        lineChart(described, chartBox);
        const headers = ["Interval start", ...described.series.map((s) => s.label)];
        table(headers, described.starts.map((start, i) => [start, ...described.series.map((s) => s.values[i])]), tableBox);
        break;
      }
      case "groups": {
        const rows = [...described.rows].sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity));
        barChart(rows.slice(0, 30), chartBox, false);
        table([...described.keys, "Result"], rows.map((r) => [...described.keys.map((k) => r.row[k]), r.value]), tableBox);
        break;
      }
      case "list": {
        bigNumber(described.values.length, query.analysis_type === "extraction" ? "events" : "unique values", chartBox);
        if (query.analysis_type === "extraction") eventsTable(described.values, tableBox);
        else table(["Value"], described.values.map((v) => [v]), tableBox);
        break;
      }
      default:
        bigNumber(described.value, described.label, chartBox);
        table(["Analysis", "Result"], [[described.label, described.value]], tableBox);
    }
    return described.kind;
  }

  window.SwitchboardCharts = { render };

  document.addEventListener("DOMContentLoaded", () => {
    for (const box of document.querySelectorAll(".saved-query-result[data-result]")) {
      render(JSON.parse(box.dataset.query), JSON.parse(box.dataset.result), box.querySelector(".chart"), box.querySelector(".table-wrap"));
    }
  });
})();
