// The live wallboard: polls /api/live every second and redraws.
// Every name shown (queue, agent, caller) may be hostile: text goes in with
// textContent only, never innerHTML.
"use strict";

(() => {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 5000;
  const token = new URLSearchParams(location.search).get("token");

  // Seconds to add to the local clock to get the server's, from the last poll.
  let clockOffset = 0;
  let lastOk = null; // local ms of the last good poll
  let thresholds = { sl_warn_pct: 80, sl_alert_pct: 60, wait_warn_sec: 30, wait_alert_sec: 60 };
  let timeZone = null;

  const ACTIVITY = {
    available: "Available",
    ringing: "Ringing",
    on_call: "On call",
    wrap_up: "Wrap-up",
    on_break: "On break",
    idle: "Idle",
    logged_out: "Logged out",
  };
  const CALLER_STATE = { waiting: "Waiting", ringing: "Ringing", talking: "Talking" };

  function withToken(path) {
    if (!token) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  }

  function serverNow() {
    return Date.now() / 1000 + clockOffset;
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function isNum(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  // m:ss, or h:mm:ss past an hour.
  function duration(sec) {
    if (!isNum(sec)) return "–";
    const s = Math.max(0, Math.floor(sec));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const r = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
  }

  function count(v) {
    return isNum(v) ? String(v) : "–";
  }

  function pct(v) {
    return isNum(v) ? `${v.toFixed(v >= 99.95 || v === 0 ? 0 : 1)} %` : "–";
  }

  function text(v) {
    return v === null || v === undefined ? "" : String(v);
  }

  function byKey(key) {
    return (a, b) => {
      const x = text(a[key]);
      const y = text(b[key]);
      return x < y ? -1 : x > y ? 1 : 0;
    };
  }

  function slLevel(v) {
    if (!isNum(v)) return "none";
    if (v < thresholds.sl_alert_pct) return "alert";
    if (v < thresholds.sl_warn_pct) return "warn";
    return "ok";
  }

  function waitLevel(sec) {
    if (!isNum(sec) || sec <= 0) return "none";
    if (sec >= thresholds.wait_alert_sec) return "alert";
    if (sec >= thresholds.wait_warn_sec) return "warn";
    return "ok";
  }

  function setLevel(e, level) {
    e.dataset.level = level;
    e.classList.remove("level-ok", "level-warn", "level-alert", "level-none");
    e.classList.add("level-" + level);
  }

  // A number with its label, as in a tile:
  // <div class="stat stat-KEY"><span class="value KEY">N</span><span class="label">..</span></div>.
  // `value` is text, or {n, u} for a number with a unit.
  function stat(key, label, value, extra) {
    const box = el("div", "stat stat-" + key + (extra ? " " + extra : ""));
    const v = el("span", "value " + key);
    if (value && typeof value === "object") {
      v.append(document.createTextNode(value.n));
      if (value.u) v.append(el("span", "unit", value.u));
    } else {
      v.textContent = value;
      if (value === "0" || value === "–") v.classList.add("zero");
    }
    box.append(v, el("span", "label", label));
    return { box, v };
  }

  function pctParts(v) {
    return isNum(v) ? { n: v.toFixed(v >= 99.95 || v === 0 ? 0 : 1), u: "%" } : "–";
  }

  function secParts(v) {
    return isNum(v) ? { n: String(Math.round(v)), u: "s" } : "–";
  }

  // An element whose text counts up from the server's `since` epoch.
  function ticking(e, since, kind) {
    if (isNum(since)) {
      e.dataset.since = String(since);
      if (kind) e.dataset.tick = kind;
    }
    return e;
  }

  function queueTile(q) {
    const tile = el("section", "queue-tile");
    tile.dataset.queue = text(q.queue);
    const head = el("header", "tile-head");
    head.append(el("h2", "queue-name", q.queue));
    const today = q.today || {};
    const sl = el("span", "sl-badge sl", pct(today.service_level_pct));
    setLevel(sl, slLevel(today.service_level_pct));
    sl.title = "Service level today";
    head.append(sl);
    tile.append(head);

    const big = el("div", "stats big");
    const waiting = stat("waiting", "waiting", count(q.waiting));
    if (isNum(q.waiting) && q.waiting > 0) waiting.box.classList.add("has-waiting");
    const lw = stat("longest-wait", "longest wait", duration(q.longest_wait_sec));
    if (isNum(q.longest_wait_sec) && q.waiting > 0) {
      ticking(lw.v, lastAt - q.longest_wait_sec, "wait");
    }
    setLevel(lw.v, waitLevel(q.longest_wait_sec));
    if (!(q.waiting > 0)) lw.v.classList.add("zero");
    const talking = stat("talking", "talking", count(q.talking));
    big.append(waiting.box, lw.box, talking.box);
    tile.append(big);

    const a = q.agents || {};
    const agents = el("div", "stats agents-row");
    agents.append(
      stat("agents-available", "available", count(a.available), "act-available").box,
      stat("agents-on-call", "on call", count(a.on_call), "act-on_call").box,
      stat("agents-ringing", "ringing", count(a.ringing), "act-ringing").box,
      stat("agents-wrap-up", "wrap-up", count(a.wrap_up), "act-wrap_up").box,
      stat("agents-on-break", "break", count(a.on_break), "act-on_break").box,
      stat("agents-logged-in", "logged in", count(a.logged_in)).box,
    );
    tile.append(agents);

    const day = el("div", "stats today-row");
    const slStat = stat("sl-pct", "service lvl", pctParts(today.service_level_pct));
    setLevel(slStat.v, slLevel(today.service_level_pct));
    day.append(
      stat("offered", "offered", count(today.offered)).box,
      stat("answered", "answered", count(today.answered)).box,
      stat("abandoned", "abandoned", count(today.abandoned)).box,
      slStat.box,
      stat("abandon-rate", "aband. rate", pctParts(today.abandon_rate_pct)).box,
      stat("asa", "ASA", secParts(today.asa_sec)).box,
    );
    tile.append(day);

    const callers = (q.callers || []).slice().sort((x, y) => {
      const a1 = isNum(x.since_epoch) ? x.since_epoch : Infinity;
      const b1 = isNum(y.since_epoch) ? y.since_epoch : Infinity;
      return a1 - b1 || byKey("uuid")(x, y);
    });
    const list = el("ul", "callers");
    const MAX_CALLERS = 6;
    for (const c of callers.slice(0, MAX_CALLERS)) {
      const li = el("li", "caller");
      li.dataset.state = text(c.state);
      if (c.uuid) li.dataset.uuid = text(c.uuid);
      li.append(
        el("span", "caller-number", c.caller_id_number || "unknown"),
        el("span", "caller-name", c.caller_id_name || ""),
        el("span", "caller-state state-" + text(c.state), CALLER_STATE[c.state] || text(c.state)),
      );
      const w = el("span", "caller-wait", duration(c.wait_sec));
      if (c.state === "waiting" && isNum(c.wait_sec)) {
        ticking(w, lastAt - c.wait_sec, "wait");
        setLevel(w, waitLevel(c.wait_sec));
      }
      li.append(w);
      list.append(li);
    }
    if (callers.length > MAX_CALLERS) {
      list.append(el("li", "caller more", `+ ${callers.length - MAX_CALLERS} more`));
    }
    if (callers.length === 0) list.append(el("li", "caller none", "No callers"));
    tile.append(list);
    return tile;
  }

  function agentRow(ag) {
    const tr = el("tr", "agent");
    tr.dataset.agent = text(ag.agent);
    tr.dataset.activity = text(ag.activity);
    const name = el("td", "agent-name", ag.agent);
    name.dataset.label = "Agent";
    const act = el("td", "activity");
    act.dataset.label = "Activity";
    act.append(el("span", "activity-pill act-" + text(ag.activity), ACTIVITY[ag.activity] || text(ag.activity)));
    const st = el("td", "status-state", [ag.status, ag.state].filter((s) => s).join(" / "));
    st.dataset.label = "Status";
    const since = isNum(ag.since_epoch)
      ? ag.since_epoch
      : isNum(ag.in_state_sec)
        ? lastAt - ag.in_state_sec
        : null;
    const inState = ticking(el("td", "in-state num", duration(isNum(since) ? lastAt - since : null)), since);
    inState.dataset.label = "In state";
    const t = ag.talking_to;
    const talk = el("td", "talking-to");
    talk.dataset.label = "Talking to";
    if (t) {
      talk.append(el("span", "talk-number", t.caller_id_number || "unknown"));
      if (t.caller_id_name) talk.append(el("span", "talk-name", t.caller_id_name));
      if (t.queue) talk.append(el("span", "talk-queue", t.queue));
    }
    const today = ag.today || {};
    const answered = el("td", "answered num", count(today.answered));
    answered.dataset.label = "Answered";
    const missed = el("td", "missed num", count(today.missed));
    missed.dataset.label = "Missed";
    if (isNum(today.missed) && today.missed > 0) missed.classList.add("has-missed");
    const talkSec = el("td", "talk num", duration(today.talk_sec));
    talkSec.dataset.label = "Talk";
    const reason = el("td", "break-reason", ag.break_reason || "");
    reason.dataset.label = "Break";
    tr.append(name, act, st, inState, talk, answered, missed, talkSec, reason);
    return tr;
  }

  function abandonedRow(a) {
    const tr = el("tr", "abandoned-call");
    tr.dataset.queue = text(a.queue);
    if (a.uuid) tr.dataset.uuid = text(a.uuid);
    const cells = [
      ["caller-number", "Number", a.caller_id_number || "unknown"],
      ["caller-name", "Name", a.caller_id_name || ""],
      ["queue", "Queue", a.queue],
      ["at", "Time", shortTime(a.at)],
      ["wait num", "Wait", duration(a.wait_sec)],
    ];
    for (const [cls, label, value] of cells) {
      const td = el("td", cls, value);
      td.dataset.label = label;
      tr.append(td);
    }
    return tr;
  }

  // "2026-12-02 10:59:01" -> "10:59:01" (the list is today's).
  function shortTime(at) {
    const s = text(at);
    const m = /\d\d:\d\d(:\d\d)?$/.exec(s);
    return m ? m[0] : s;
  }

  let lastAt = 0; // the server's at_epoch of the data on screen

  function render(data) {
    thresholds = Object.assign({}, thresholds, data.thresholds || {});
    timeZone = data.time_zone || null;
    lastAt = isNum(data.at_epoch) ? data.at_epoch : serverNow();
    document.getElementById("node").textContent = text(data.node) || "–";

    const queues = (data.queues || []).slice().sort(byKey("queue"));
    const qBox = document.getElementById("queues");
    qBox.replaceChildren(...queues.map(queueTile));
    document.getElementById("no-queues").hidden = queues.length > 0;

    const agents = (data.agents || []).slice().sort(byKey("agent"));
    const tbody = document.querySelector("#agents tbody");
    tbody.replaceChildren(...agents.map(agentRow));
    document.getElementById("no-agents").hidden = agents.length > 0;
    const present = agents.filter((a) => a.activity !== "logged_out").length;
    document.getElementById("agents-summary").textContent = `${present} logged in`;

    const abandoned = (data.abandoned_today || []).slice().sort((x, y) => {
      const a1 = text(x.at);
      const b1 = text(y.at);
      return a1 < b1 ? 1 : a1 > b1 ? -1 : byKey("uuid")(x, y);
    });
    const aBody = document.querySelector("#abandoned tbody");
    aBody.replaceChildren(...abandoned.map(abandonedRow));
    document.getElementById("no-abandoned").hidden = abandoned.length > 0;
    document.getElementById("abandoned-count").textContent = String(abandoned.length);
    tick();
  }

  // Between polls: times in state and waits count up on the local clock.
  function tick() {
    const now = serverNow();
    for (const e of document.querySelectorAll("[data-since]")) {
      const sec = Math.max(0, now - Number(e.dataset.since));
      e.textContent = duration(sec);
      if (e.dataset.tick === "wait") setLevel(e, waitLevel(sec));
    }
    const clock = document.getElementById("clock");
    clock.textContent = formatClock(now);
    const updated = document.getElementById("updated");
    if (lastOk === null) {
      updated.textContent = "waiting for data…";
    } else {
      const ago = Math.max(0, Math.round((Date.now() - lastOk) / 1000));
      updated.textContent = `updated ${ago}s ago`;
    }
  }

  function formatClock(epoch) {
    const d = new Date(epoch * 1000);
    try {
      return d.toLocaleTimeString("en-GB", timeZone ? { timeZone, hour12: false } : { hour12: false });
    } catch (_) {
      // An unknown time zone name: the browser's own.
      return d.toLocaleTimeString("en-GB", { hour12: false });
    }
  }

  function setConnection(ok, why) {
    const status = document.getElementById("status");
    status.dataset.state = ok ? "ok" : "lost";
    const lost = document.getElementById("connection");
    lost.hidden = ok;
    lost.textContent = ok ? "" : "connection lost" + (why ? ` (${why})` : "");
    document.body.classList.toggle("stale", !ok);
  }

  async function poll() {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(withToken("/api/live"), { cache: "no-store", signal: ctrl.signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = await res.json();
      if (isNum(data.at_epoch)) clockOffset = data.at_epoch - Date.now() / 1000;
      lastOk = Date.now();
      render(data);
      setConnection(true);
    } catch (err) {
      setConnection(false, err && err.name === "AbortError" ? "timeout" : err && err.message);
    } finally {
      clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
  }

  function start() {
    const link = document.getElementById("link-history");
    if (token) link.href = withToken("/history");
    setInterval(tick, 250);
    poll();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
