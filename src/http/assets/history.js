// The history page: statistics from /api/stats drawn as inline SVG.
// Names in the data may be hostile: text goes in only as text nodes.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const token = new URLSearchParams(location.search).get("token");
  const OUTCOMES = [
    ["answered", "answered"],
    ["abandoned", "abandoned"],
    ["timeout", "timeout"],
    ["no_agent_timeout", "no agent"],
    ["exit_with_key", "exit with key"],
    ["break_out", "break out"],
    ["interrupted", "interrupted"],
  ];
  const WAITS = ["0-5", "5-10", "10-20", "20-30", "30-60", "60-120", "120-300", "300+"];

  let last = null; // the data on screen, redrawn on resize

  const $ = (id) => document.getElementById(id);

  function withToken(path) {
    if (!token) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  }

  function isNum(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.append(e);
    return e;
  }

  function svgText(parent, x, y, text, attrs) {
    const t = svg("text", Object.assign({ x, y }, attrs || {}), parent);
    t.textContent = String(text);
    return t;
  }

  function title(parent, text) {
    svg("title", {}, parent).textContent = text;
  }

  // ---- dates ----
  const pad = (n) => String(n).padStart(2, "0");
  function localInput(d) {
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function midnight(d, addDays) {
    return new Date(d.getFullYear(), d.getMonth(), d.getDate() + (addDays || 0));
  }
  // The browser's calendar: close to the server's when both are in one time zone.
  function preset(name) {
    const now = new Date();
    const today = midnight(now);
    const tomorrow = midnight(now, 1);
    switch (name) {
      case "yesterday":
        return [midnight(now, -1), today, "1h"];
      case "last7":
        return [midnight(now, -6), tomorrow, "day"];
      case "month":
        return [new Date(now.getFullYear(), now.getMonth(), 1), tomorrow, "day"];
      default:
        return [today, tomorrow, "1h"];
    }
  }
  function applyPreset(name) {
    const [from, to, interval] = preset(name);
    $("from").value = localInput(from);
    $("to").value = localInput(to);
    $("interval").value = interval;
  }
  // "2026-12-02T08:00" -> "2026-12-02T08:00:00", as the API takes it.
  function apiDate(v) {
    return /T\d\d:\d\d$/.test(v) ? v + ":00" : v;
  }

  // ---- data ----
  async function stats(params) {
    const q = new URLSearchParams(params);
    const url = withToken("/api/stats?" + q.toString());
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(url, { cache: "no-store" });
      // The server runs few statistics at once: a busy answer is retried.
      if (res.status === 503 && attempt < 3) {
        await new Promise((r) => setTimeout(r, 400 * (attempt + 1)));
        continue;
      }
      if (!res.ok) {
        const why = (await res.text()).trim().slice(0, 200);
        throw new Error(`${res.status} ${why}`);
      }
      const data = await res.json();
      return Array.isArray(data.rows) ? data : { meta: data.meta || {}, rows: [] };
    }
  }

  function n(v) {
    return isNum(v) ? v : 0;
  }

  // Queue rows per interval, summed over queues (one queue: its own rows).
  function series(rows) {
    const by = new Map();
    for (const r of rows) {
      const key = String(r.interval);
      if (!by.has(key)) {
        by.set(key, {
          label: key,
          offered: 0,
          within: 0,
          slBase: 0,
          slKnown: false,
          asaSum: 0,
          asaN: 0,
          maxWait: null,
          outcomes: Object.fromEntries(OUTCOMES.map(([k]) => [k, 0])),
        });
      }
      const s = by.get(key);
      s.offered += n(r.offered);
      for (const [k] of OUTCOMES) s.outcomes[k] += n(r[k]);
      // Combined service level: within-SL over the sum of each row's own
      // denominator (recovered from its percentage, so any sl-formula holds).
      if (isNum(r.service_level_pct)) {
        s.slKnown = true;
        s.within += n(r.answered_within_sl);
        s.slBase +=
          r.service_level_pct > 0
            ? (100 * n(r.answered_within_sl)) / r.service_level_pct
            : Math.max(0, n(r.offered) - n(r.short_abandoned));
      }
      if (isNum(r.asa_sec) && n(r.answered) > 0) {
        s.asaSum += r.asa_sec * r.answered;
        s.asaN += r.answered;
      }
      if (isNum(r.max_wait_sec)) s.maxWait = Math.max(s.maxWait === null ? 0 : s.maxWait, r.max_wait_sec);
    }
    const out = [...by.values()].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    for (const s of out) {
      s.sl = s.slKnown && s.slBase > 0 ? (100 * s.within) / s.slBase : null;
      s.asa = s.asaN > 0 ? s.asaSum / s.asaN : null;
    }
    return out;
  }

  function waitBuckets(rows) {
    const by = new Map(WAITS.map((w) => [w, { wait: w, answered: 0, abandoned: 0 }]));
    for (const r of rows) {
      const key = String(r.wait);
      if (!by.has(key)) by.set(key, { wait: key, answered: 0, abandoned: 0 });
      by.get(key).answered += n(r.answered);
      by.get(key).abandoned += n(r.abandoned);
    }
    return [...by.values()];
  }

  // ---- scales and axes ----
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function ticks(max, count) {
    const step = niceMax(max / (count || 5));
    const out = [];
    for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
    return out;
  }

  function shortLabels(labels) {
    // "2026-12-02 08:00": the time alone when all are one day; the date alone for days.
    const days = new Set(labels.map((l) => l.slice(0, 10)));
    const allMidnight = labels.every((l) => l.endsWith("00:00"));
    if (days.size === 1 && labels.length > 1) return labels.map((l) => l.slice(11, 16) || l);
    if (allMidnight) return labels.map((l) => l.slice(5, 10));
    return labels.map((l) => l.slice(5, 16));
  }

  function frame(container, height, margin) {
    const width = Math.max(320, Math.floor(container.clientWidth || 640));
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      preserveAspectRatio: "xMinYMin meet",
    });
    container.replaceChildren(root);
    const m = Object.assign({ top: 12, right: 16, bottom: 34, left: 48 }, margin || {});
    return { root, width, height, m, w: width - m.left - m.right, h: height - m.top - m.bottom };
  }

  function yAxis(f, max, fmt, label) {
    const g = svg("g", { class: "axis y" }, f.root);
    const grid = svg("g", { class: "grid" }, f.root);
    for (const t of ticks(max, 5)) {
      const y = f.m.top + f.h - (t / max) * f.h;
      svg("line", { x1: f.m.left, x2: f.m.left + f.w, y1: y, y2: y }, grid);
      svgText(g, f.m.left - 6, y + 4, fmt ? fmt(t) : t, { "text-anchor": "end" });
    }
    svg("line", { x1: f.m.left, x2: f.m.left, y1: f.m.top, y2: f.m.top + f.h }, g);
    if (label) {
      svgText(g, 12, f.m.top + f.h / 2, label, {
        "text-anchor": "middle",
        transform: `rotate(-90 12 ${f.m.top + f.h / 2})`,
      });
    }
  }

  function xBandAxis(f, labels) {
    const g = svg("g", { class: "axis x" }, f.root);
    const y = f.m.top + f.h;
    svg("line", { x1: f.m.left, x2: f.m.left + f.w, y1: y, y2: y }, g);
    const band = f.w / Math.max(1, labels.length);
    const shown = shortLabels(labels);
    const every = Math.max(1, Math.ceil((labels.length * 44) / f.w));
    shown.forEach((l, i) => {
      if (i % every !== 0) return;
      const x = f.m.left + band * (i + 0.5);
      svg("line", { x1: x, x2: x, y1: y, y2: y + 4 }, g);
      svgText(g, x, y + 16, l, { "text-anchor": "middle" });
    });
    return band;
  }

  function noData(f) {
    svgText(f.root, f.width / 2, f.height / 2, "No data in this range", { class: "no-data", "text-anchor": "middle" });
  }

  function legend(id, items) {
    const box = $(id);
    box.replaceChildren(
      ...items.map(([cls, label]) => {
        const item = el("span", "legend-item");
        item.append(el("span", "swatch " + cls), document.createTextNode(label));
        return item;
      }),
    );
  }

  function fmtSec(v) {
    if (!isNum(v)) return "–";
    const s = Math.round(v);
    return s >= 120 ? `${Math.floor(s / 60)}:${pad(s % 60)}` : `${s}s`;
  }

  // ---- charts ----
  function drawCalls(data) {
    const f = frame($("chart-calls"), 280);
    legend("legend-calls", OUTCOMES.map(([k, label]) => ["fill-" + k, label]));
    const totals = data.map((s) => OUTCOMES.reduce((a, [k]) => a + s.outcomes[k], 0));
    const max = niceMax(Math.max(0, ...totals));
    yAxis(f, max, null, "calls");
    const band = xBandAxis(f, data.map((s) => s.label));
    if (data.length === 0 || totals.every((t) => t === 0)) return noData(f);
    const bw = Math.max(1, Math.min(band * 0.78, 60));
    data.forEach((s, i) => {
      let y = f.m.top + f.h;
      const x = f.m.left + band * (i + 0.5) - bw / 2;
      for (const [k, label] of OUTCOMES) {
        const v = s.outcomes[k];
        if (!v) continue;
        const hgt = (v / max) * f.h;
        y -= hgt;
        const r = svg("rect", { class: "mark fill-" + k, x, y, width: bw, height: Math.max(0.5, hgt) }, f.root);
        r.dataset.outcome = k;
        title(r, `${s.label} — ${label}: ${v} (of ${s.offered} offered)`);
      }
    });
  }

  function linePath(f, data, key, max, band) {
    let d = "";
    let pen = false;
    data.forEach((s, i) => {
      const v = s[key];
      if (!isNum(v)) {
        pen = false;
        return;
      }
      const x = f.m.left + band * (i + 0.5);
      const y = f.m.top + f.h - (Math.min(v, max) / max) * f.h;
      d += `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)} `;
      pen = true;
    });
    return d.trim();
  }

  function drawLines(f, data, lines, max, band, fmt) {
    let marks = 0;
    for (const [key, cls, label] of lines) {
      const d = linePath(f, data, key, max, band);
      if (d) {
        const p = svg("path", { class: `mark line stroke-${cls}`, d }, f.root);
        title(p, label);
        marks++;
      }
      data.forEach((s, i) => {
        if (!isNum(s[key])) return;
        const c = svg(
          "circle",
          {
            class: `point dot-${cls}`,
            cx: f.m.left + band * (i + 0.5),
            cy: f.m.top + f.h - (Math.min(s[key], max) / max) * f.h,
            r: data.length > 40 ? 1.8 : 3.2,
          },
          f.root,
        );
        title(c, `${s.label} — ${label}: ${fmt(s[key])}`);
      });
    }
    return marks;
  }

  function drawSl(data, target) {
    const f = frame($("chart-sl"), 240);
    legend("legend-sl", [
      ["stroke-sl", "service level"],
      ["dashed", `target ${target} %`],
    ]);
    yAxis(f, 100, (t) => `${t}%`);
    const band = xBandAxis(f, data.map((s) => s.label));
    const y = f.m.top + f.h - (Math.max(0, Math.min(100, target)) / 100) * f.h;
    const line = svg("line", { class: "target", x1: f.m.left, x2: f.m.left + f.w, y1: y, y2: y }, f.root);
    title(line, `target ${target} %`);
    const fmt = (v) => `${v.toFixed(1)} %`;
    if (!drawLines(f, data, [["sl", "sl", "service level"]], 100, band, fmt)) noData(f);
  }

  function drawAsa(data) {
    const f = frame($("chart-asa"), 240);
    legend("legend-asa", [
      ["stroke-asa", "ASA"],
      ["stroke-max-wait", "longest wait"],
    ]);
    const max = niceMax(Math.max(0, ...data.map((s) => Math.max(n(s.asa), n(s.maxWait)))));
    // One unit along the axis: m:ss once the scale passes three minutes.
    yAxis(f, max, (t) => (max >= 180 ? `${Math.floor(t / 60)}:${pad(Math.round(t % 60))}` : `${t}s`));
    const band = xBandAxis(f, data.map((s) => s.label));
    const lines = [
      ["asa", "asa", "ASA"],
      ["maxWait", "max-wait", "longest wait"],
    ];
    if (!drawLines(f, data, lines, max, band, fmtSec)) noData(f);
  }

  function drawWaits(buckets) {
    const f = frame($("chart-waits"), 240, { bottom: 40 });
    legend("legend-waits", [
      ["fill-answered", "answered"],
      ["fill-abandoned", "abandoned"],
    ]);
    const max = niceMax(Math.max(0, ...buckets.map((b) => Math.max(b.answered, b.abandoned))));
    yAxis(f, max, null, "calls");
    const g = svg("g", { class: "axis x" }, f.root);
    const base = f.m.top + f.h;
    svg("line", { x1: f.m.left, x2: f.m.left + f.w, y1: base, y2: base }, g);
    const band = f.w / Math.max(1, buckets.length);
    const bw = Math.min(band * 0.38, 36);
    let marks = 0;
    buckets.forEach((b, i) => {
      const cx = f.m.left + band * (i + 0.5);
      svgText(g, cx, base + 16, b.wait + " s", { "text-anchor": "middle" });
      [
        ["answered", -bw],
        ["abandoned", 0],
      ].forEach(([k, dx]) => {
        const v = b[k];
        if (!v) return;
        const hgt = (v / max) * f.h;
        const r = svg("rect", { class: "mark fill-" + k, x: cx + dx, y: base - hgt, width: bw, height: hgt }, f.root);
        r.dataset.wait = b.wait;
        title(r, `wait ${b.wait} s — ${k}: ${v}`);
        marks++;
      });
    });
    svgText(g, f.m.left + f.w / 2, base + 34, "wait in queue", { "text-anchor": "middle" });
    if (!marks) noData(f);
  }

  function drawOccupancy(rows) {
    const agents = rows
      .filter((r) => r.agent !== undefined)
      .slice()
      .sort((a, b) => (String(a.agent) < String(b.agent) ? -1 : String(a.agent) > String(b.agent) ? 1 : 0));
    const row = 24;
    const container = $("chart-occupancy");
    const f = frame(container, Math.max(120, 20 + 34 + agents.length * row), { left: 150, right: 56 });
    const g = svg("g", { class: "axis x" }, f.root);
    const base = f.m.top + f.h;
    for (const t of [0, 25, 50, 75, 100]) {
      const x = f.m.left + (t / 100) * f.w;
      svg("line", { x1: x, x2: x, y1: f.m.top, y2: base, class: "gridline" }, svg("g", { class: "grid" }, f.root));
      svgText(g, x, base + 16, `${t}%`, { "text-anchor": "middle" });
    }
    svg("line", { x1: f.m.left, x2: f.m.left + f.w, y1: base, y2: base }, g);
    let marks = 0;
    agents.forEach((a, i) => {
      const y = f.m.top + i * row;
      const name = String(a.agent);
      const t = svgText(f.root, f.m.left - 8, y + row / 2 + 4, name.length > 22 ? name.slice(0, 21) + "…" : name, {
        "text-anchor": "end",
        class: "bar-label",
      });
      title(t, name);
      const v = a.occupancy_pct;
      if (!isNum(v)) {
        svgText(f.root, f.m.left + 6, y + row / 2 + 4, "no logged-in time", {});
        return;
      }
      const w = (Math.max(0, Math.min(100, v)) / 100) * f.w;
      const r = svg("rect", { class: "mark fill-occupancy", x: f.m.left, y: y + 4, width: Math.max(1, w), height: row - 8 }, f.root);
      r.dataset.agent = name;
      title(r, `${name}: ${v.toFixed(1)} % occupied`);
      svgText(f.root, f.m.left + w + 6, y + row / 2 + 4, `${v.toFixed(1)}%`, { class: "bar-label" });
      marks++;
    });
    if (!marks) noData(f);
  }

  function draw() {
    if (!last) return;
    const target = Number($("sl-target").value);
    drawCalls(last.series);
    drawSl(last.series, isNum(target) ? target : 80);
    drawAsa(last.series);
    drawWaits(last.waits);
    drawOccupancy(last.agents);
  }

  function fillQueues(rows, keep) {
    const names = [...new Set(rows.map((r) => String(r.queue)))].sort();
    const sel = $("queue");
    const opts = [new Option("All queues", "all")];
    for (const name of names) opts.push(new Option(name, name));
    if (keep !== "all" && !names.includes(keep)) opts.push(new Option(keep, keep));
    sel.replaceChildren(...opts);
    sel.value = keep;
  }

  function status(text, state) {
    const s = $("history-status");
    s.textContent = text;
    s.dataset.state = state;
  }

  async function load() {
    const from = apiDate($("from").value);
    const to = apiDate($("to").value);
    const interval = $("interval").value;
    const queue = $("queue").value || "all";
    const node = $("node").value.trim() || "all";
    const hours = $("hours").value.trim();
    const days = $("days").value;
    // Business hours: left out when empty, so the server keeps every hour.
    const range = { from, to, node, ...(hours && { hours }), ...(days && { days }) };
    saveUrl(queue);
    status("Loading…", "loading");
    try {
      // One after another: the server runs only a few statistics at once.
      const totals = await stats({ subject: "queue", name: "all", ...range, interval: "total" });
      fillQueues(totals.rows, queue);
      const per = await stats({ subject: "queue", name: queue, ...range, interval });
      const waits = await stats({ subject: "waits", name: queue, ...range });
      const agents = await stats({ subject: "agent", name: "all", ...range, interval: "total" });
      last = { series: series(per.rows), waits: waitBuckets(waits.rows), agents: agents.rows };
      draw();
      const m = per.meta || {};
      status(
        `${m.from || from} – ${m.to || to} (${m.time_zone || "server time"}), ${queue === "all" ? "all queues" : queue}, ` +
          `node ${node}${m.hours && m.hours !== "all" ? `, hours ${m.hours}` : ""}` +
          `${m.days && m.days !== "all" ? `, days ${m.days}` : ""}; ` +
          `SL = answered within ${m.sl_sec || "?"} s, formula ${m.sl_formula || "?"}`,
        "ok",
      );
    } catch (err) {
      status(`Could not load statistics: ${err && err.message}`, "error");
    }
  }

  function saveUrl(queue) {
    const q = new URLSearchParams();
    if (token) q.set("token", token);
    q.set("from", $("from").value);
    q.set("to", $("to").value);
    q.set("interval", $("interval").value);
    q.set("queue", queue);
    q.set("node", $("node").value.trim() || "all");
    if ($("hours").value.trim()) q.set("hours", $("hours").value.trim());
    if ($("days").value) q.set("days", $("days").value);
    q.set("sl", $("sl-target").value);
    history.replaceState(null, "", "?" + q.toString());
  }

  function start() {
    if (token) $("link-wallboard").href = withToken("/");
    const q = new URLSearchParams(location.search);
    applyPreset("today");
    if (q.get("from")) $("from").value = q.get("from");
    if (q.get("to")) $("to").value = q.get("to");
    if (["15m", "30m", "1h", "day"].includes(q.get("interval"))) $("interval").value = q.get("interval");
    if (q.get("node")) $("node").value = q.get("node");
    if (q.get("hours")) $("hours").value = q.get("hours");
    if (["mon-fri", "sat,sun", "mon-sat"].includes(q.get("days"))) $("days").value = q.get("days");
    if (q.get("sl")) $("sl-target").value = q.get("sl");
    const queue = q.get("queue") || "all";
    fillQueues([], queue);
    for (const b of document.querySelectorAll("[data-preset]")) {
      b.addEventListener("click", () => {
        applyPreset(b.dataset.preset);
        load();
      });
    }
    $("controls").addEventListener("submit", (e) => {
      e.preventDefault();
      load();
    });
    $("queue").addEventListener("change", load);
    $("interval").addEventListener("change", load);
    $("days").addEventListener("change", load);
    $("sl-target").addEventListener("input", () => {
      saveUrl($("queue").value);
      draw();
    });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(draw, 150);
    });
    load();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
