// The console: a playground over the server's public API and an operator view over its admin API.
// Vanilla JS, no build step. Keys live in memory and sessionStorage (this tab only), never in the URL.
// Every value from the server reaches the page through textContent or SVG attributes, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#c2410c", "#2563eb", "#059669", "#7c3aed", "#db2777", "#ca8a04", "#0891b2", "#4b5563"];

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function remembered(input, name) {
  input.value = sessionStorage.getItem(name) || "";
  input.addEventListener("change", () => sessionStorage.setItem(name, input.value));
}

async function api(path, { key, method = "GET", body } = {}) {
  const headers = {};
  if (key) headers.Authorization = "Bearer " + key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

async function errorText(response) {
  try {
    const payload = await response.json();
    return `${response.status}: ${payload.error ? payload.error.message : JSON.stringify(payload)}`;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

// ---- Server-sent events: a generic reader; each dialect interprets the events. ----

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = { event: "message", data: [] };
        for (const line of block.split("\n")) {
          if (line.startsWith("data:")) event.data.push(line.slice(5).replace(/^ /, ""));
          else if (line.startsWith("event:")) event.event = line.slice(6).trim();
        }
        if (event.data.length) yield { event: event.event, data: event.data.join("\n") };
      }
    }
  } finally {
    reader.cancel().catch(() => {}); // a reader left early (error or end event) frees the connection
  }
}

// ---- Dialects: one small object per wire format, so adding one is local to its object and the DIALECTS list.
//   buildRequest({model, system, messages, stream, key}) -> {path, headers, body}  (messages: [{role, content}])
//   parseStreamEvent({event, data}) -> {text?, usage?, error?, done?}  (usage: the dialect's raw usage, merged
//                                       across events, since Messages splits it over message_start/message_delta)
//   parseResponse(json) -> {text, usage}  (a whole non-streaming answer)
//   usage(raw) -> {input, output, cached}  (input counts cached input too, the same in every dialect) ----

const bearer = (key) => (key ? { Authorization: "Bearer " + key } : {});
const JSON_TYPE = { "Content-Type": "application/json" };

const chatCompletions = {
  id: "chat",
  label: "Chat Completions",
  path: "/v1/chat/completions",
  buildRequest({ model, system, messages, stream, key }) {
    const all = system ? [{ role: "system", content: system }, ...messages] : messages;
    const body = { model, messages: all, stream };
    if (stream) body.stream_options = { include_usage: true };
    return { path: this.path, headers: { ...JSON_TYPE, ...bearer(key) }, body };
  },
  parseStreamEvent({ data }) {
    if (data === "[DONE]") return { done: true };
    const chunk = JSON.parse(data);
    if (chunk.error) return { error: chunk.error.message };
    const out = {};
    const choice = chunk.choices && chunk.choices[0];
    if (choice && choice.delta && choice.delta.content) out.text = choice.delta.content;
    if (choice && choice.delta && choice.delta.claude_code) out.activity = choice.delta.claude_code.activity;
    if (chunk.usage) out.usage = chunk.usage;
    return out;
  },
  parseResponse(json) {
    const message = json.choices[0].message;
    return { text: message.content || "", usage: json.usage, activity: activityOf(message) };
  },
  usage(u) {
    const cached = (u.prompt_tokens_details && u.prompt_tokens_details.cached_tokens) || 0;
    return { input: u.prompt_tokens, output: u.completion_tokens, cached };
  },
};

const anthropicMessages = {
  id: "messages",
  label: "Anthropic Messages",
  path: "/v1/messages",
  maxTokens: 4096, // required by the Messages API; ample for a playground answer
  buildRequest({ model, system, messages, stream, key }) {
    const body = { model, max_tokens: this.maxTokens, messages, stream };
    if (system) body.system = system;
    const headers = { ...JSON_TYPE, "anthropic-version": "2023-06-01" };
    if (key) headers["x-api-key"] = key;
    return { path: this.path, headers, body };
  },
  parseStreamEvent({ data }) {
    const evt = JSON.parse(data);
    switch (evt.type) {
      case "message_start":
        return { usage: evt.message.usage };
      case "content_block_delta":
        return evt.delta.type === "text_delta" ? { text: evt.delta.text } : {};
      case "message_delta":
        return { usage: evt.usage };
      case "message_stop":
        return { done: true };
      case "claude_code_activity": // agent mode: one step of the agent
        return { activity: [evt.activity] };
      case "error":
        return { error: evt.error.message };
      default: // ping, content_block_start/stop: nothing to show
        return {};
    }
  },
  parseResponse(json) {
    const text = json.content.filter((b) => b.type === "text").map((b) => b.text).join("");
    return { text, usage: json.usage, activity: activityOf(json) };
  },
  usage(u) {
    // Anthropic counts cache reads and writes apart from input_tokens
    const read = u.cache_read_input_tokens || 0;
    return { input: (u.input_tokens || 0) + read + (u.cache_creation_input_tokens || 0), output: u.output_tokens, cached: read };
  },
};

const responses = {
  id: "responses",
  label: "Responses",
  path: "/v1/responses",
  buildRequest({ model, system, messages, stream, key }) {
    // The whole conversation each turn with store:false, so switching dialects mid-chat keeps the history and the
    // playground leaves nothing in the server's response store.
    const body = { model, input: messages.map((m) => ({ role: m.role, content: m.content })), stream, store: false };
    if (system) body.instructions = system;
    return { path: this.path, headers: { ...JSON_TYPE, ...bearer(key) }, body };
  },
  parseStreamEvent({ data }) {
    const evt = JSON.parse(data);
    switch (evt.type) {
      case "response.output_text.delta":
        return { text: evt.delta };
      case "response.claude_code.activity": // agent mode: one step of the agent
        return { activity: [evt.activity] };
      case "response.completed":
      case "response.incomplete":
        return { usage: evt.response.usage, done: true };
      case "response.failed":
        return { error: (evt.response.error && evt.response.error.message) || "The response failed." };
      case "error":
        return { error: evt.message };
      default:
        return {};
    }
  },
  parseResponse(json) {
    const text = json.output
      .filter((item) => item.type === "message")
      .flatMap((item) => item.content.filter((p) => p.type === "output_text").map((p) => p.text))
      .join("");
    return { text, usage: json.usage, activity: activityOf(json) };
  },
  usage(u) {
    const cached = (u.input_tokens_details && u.input_tokens_details.cached_tokens) || 0;
    return { input: u.input_tokens, output: u.output_tokens, cached };
  },
};

const DIALECTS = [chatCompletions, anthropicMessages, responses];

// Agent mode: every dialect carries the agent's steps in a `claude_code` extension (docs/agent.md).
function activityOf(json) {
  return (json && json.claude_code && json.claude_code.activity) || [];
}

// One line per tool call: its summary when called, replaced by the result's when it comes back.
function showActivity(container, records) {
  for (const record of records || []) {
    const id = record.type === "tool_use" ? record.id : record.tool_use_id;
    let line = container.querySelector(`[data-call="${CSS.escape(id)}"]`);
    if (!line) {
      line = el("div", "", "step");
      line.dataset.call = id;
      container.append(line);
    }
    line.textContent = record.summary;
    line.classList.toggle("failed", Boolean(record.is_error));
  }
}

// ---- Playground ----

const chat = { messages: [], busy: false };

function dialect() {
  return DIALECTS.find((d) => d.id === $("pg-dialect").value) || DIALECTS[0];
}

async function loadModels() {
  const select = $("pg-model");
  const previous = select.value;
  try {
    const list = await api("/v1/models", { key: $("pg-key").value });
    select.replaceChildren(...list.data.map((m) => el("option", m.id)));
    select.value = list.data.some((m) => m.id === previous) ? previous : list.data.some((m) => m.id === "sonnet") ? "sonnet" : list.data[0].id;
    notice("pg-notice", null);
  } catch (err) {
    notice("pg-notice", `Cannot list models (${err.message}). Type your API key above.`);
  }
}

function notice(id, text) {
  const box = $(id);
  box.hidden = !text;
  box.textContent = text || "";
}

function bubble(role, text) {
  const node = el("div", null, "msg " + role);
  if (role === "assistant") node.append(el("div", null, "activity"));
  node.append(el("div", text, "text"));
  $("pg-transcript").append(node);
  node.scrollIntoView({ block: "end" });
  return node;
}

function describeAnswer({ dialect: d, usage, started, finished, firstAt, cost }) {
  const parts = [d.label];
  if (usage) {
    const tokens = d.usage(usage);
    parts.push(`${tokens.input} in / ${tokens.output} out tokens` + (tokens.cached ? ` (${tokens.cached} cached)` : ""));
  }
  parts.push(`${((finished - started) / 1000).toFixed(2)} s`);
  if (firstAt) parts.push(`first token ${((firstAt - started) / 1000).toFixed(2)} s`);
  // The server reports cost in the usage (cost_usd), and in the X-Claude-Cost-USD header of a whole answer.
  const priced = (usage && usage.cost_usd !== undefined && usage.cost_usd !== null) ? usage.cost_usd : cost;
  if (priced !== null && priced !== undefined) parts.push(`$${Number(priced).toFixed(6)}`);
  return parts.join(" · ");
}

async function send(event) {
  event.preventDefault();
  const text = $("pg-input").value.trim();
  if (!text || chat.busy) return;
  chat.busy = true;
  $("pg-send").disabled = $("pg-reset").disabled = true;
  $("pg-input").value = "";
  chat.messages.push({ role: "user", content: text });
  bubble("user", text);
  const answer = bubble("assistant", "");
  try {
    const result = await ask(answer.querySelector(".text"), answer.querySelector(".activity"));
    chat.messages.push({ role: "assistant", content: result.text });
    answer.dataset.dialect = result.dialect.id;
    answer.append(el("div", describeAnswer(result), "meta"));
  } catch (err) {
    answer.classList.add("error"); // what streamed before the failure stays visible above the error
    answer.append(el("div", err.message, "err"));
    chat.messages.pop(); // the failed turn is not part of the conversation
  } finally {
    chat.busy = false;
    $("pg-send").disabled = $("pg-reset").disabled = false;
    showServer(); // the answer may have started or reused a Claude Code process
  }
}

async function ask(target, steps) {
  const d = dialect();
  const stream = $("pg-stream").checked;
  const { path, headers, body } = d.buildRequest({
    model: $("pg-model").value,
    system: $("pg-system").value.trim(),
    messages: chat.messages,
    stream,
    key: $("pg-key").value,
  });
  const workspace = $("pg-agent").hidden ? "" : $("pg-workspace").value.trim();
  if (workspace) body.claude_code = { workspace }; // the same top-level field in every dialect
  const started = performance.now();
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(await errorText(response));
  const result = { dialect: d, text: "", usage: null, started, firstAt: null, stream, cost: null };
  if (!stream) {
    Object.assign(result, d.parseResponse(await response.json()));
    result.cost = response.headers.get("X-Claude-Cost-USD");
    showActivity(steps, result.activity);
    target.textContent = result.text;
  } else {
    for await (const evt of sseEvents(response)) {
      const part = d.parseStreamEvent(evt);
      if (part.error) throw new Error(part.error);
      if (part.activity) showActivity(steps, part.activity);
      if (part.text) {
        result.firstAt = result.firstAt || performance.now();
        result.text += part.text;
        target.textContent = result.text;
      }
      if (part.usage) result.usage = { ...result.usage, ...part.usage };
      if (part.done) {
        result.complete = true;
        break;
      }
    }
    // every dialect ends a whole answer with its own event: without it the connection dropped mid-answer
    if (!result.complete) throw new Error("The stream ended before the answer was complete.");
  }
  result.finished = performance.now();
  return result;
}

function showEndpoint() {
  $("pg-endpoint").textContent = "POST " + dialect().path;
  sessionStorage.setItem("cca.dialect", dialect().id);
}

function setUpPlayground() {
  $("pg-dialect").replaceChildren(...DIALECTS.map((d) => Object.assign(el("option", d.label), { value: d.id })));
  $("pg-dialect").value = sessionStorage.getItem("cca.dialect") || DIALECTS[0].id;
  if (!$("pg-dialect").value) $("pg-dialect").value = DIALECTS[0].id; // a remembered dialect this page lacks
  $("pg-dialect").addEventListener("change", showEndpoint);
  showEndpoint();
  remembered($("pg-key"), "cca.key");
  remembered($("pg-system"), "cca.system");
  $("pg-key").addEventListener("change", () => $("pg-key").value && loadModels());
  $("pg-form").addEventListener("submit", send);
  $("pg-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("pg-form").requestSubmit();
  });
  $("pg-reset").addEventListener("click", () => {
    chat.messages = [];
    $("pg-transcript").replaceChildren();
  });
  fetch("/console/config.json")
    .then((r) => r.json())
    .then((config) => {
      $("pg-agent").hidden = !config.agent;
      remembered($("pg-workspace"), "cca.workspace");
      if (!config.keys_required || $("pg-key").value) loadModels();
      else notice("pg-notice", "This server needs an API key: type yours above to list the models and chat.");
    });
}

// ---- Charts: stacked SVG bars, one bar per day, one colour per series. ----

function stackedBars(container, days, series, format) {
  const width = 720, height = 180, left = 64, bottom = 24, top = 10;
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const max = Math.max(...totals, 0) || 1;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  const plotH = height - bottom - top;
  const step = (width - left) / Math.max(days.length, 1);
  const barW = Math.max(4, Math.min(48, step * 0.7));
  for (const frac of [0, 0.5, 1]) {
    const y = top + plotH * (1 - frac);
    chart.append(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#e3e6ec" }));
    const label = svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" });
    label.textContent = format(max * frac);
    chart.append(label);
  }
  days.forEach((day, i) => {
    const x = left + step * i + (step - barW) / 2;
    let y = top + plotH;
    series.forEach((s, j) => {
      const h = (s.values[i] / max) * plotH;
      if (h <= 0) return;
      y -= h;
      const rect = svg("rect", { x, y, width: barW, height: h, fill: PALETTE[j % PALETTE.length], class: "bar" });
      const tip = svg("title");
      tip.textContent = `${day} · ${s.name}: ${format(s.values[i])}`;
      rect.append(tip);
      chart.append(rect);
    });
    const label = svg("text", { x: x + barW / 2, y: height - 6, "text-anchor": "middle", "font-size": 11, fill: "#667085" });
    label.textContent = day.slice(5);
    chart.append(label);
  });
  const legend = el("div", null, "legend");
  series.forEach((s, j) => {
    const item = el("span");
    const swatch = el("span", null, "swatch");
    swatch.style.background = PALETTE[j % PALETTE.length];
    item.append(swatch, s.name);
    legend.append(item);
  });
  container.replaceChildren(chart, legend);
}

function dayRange(days) {
  // every day from the first to the last, so a quiet day shows as a gap rather than vanishing
  const sorted = [...new Set(days)].sort();
  if (!sorted.length) return [];
  const out = [];
  for (let d = new Date(sorted[0] + "T00:00:00Z"); out.length < 400; d = new Date(d.getTime() + 86400e3)) {
    const day = d.toISOString().slice(0, 10);
    out.push(day);
    if (day >= sorted[sorted.length - 1]) break;
  }
  return out;
}

function pivot(rows, by, value) {
  const days = dayRange(rows.map((r) => r.day));
  const names = [...new Set(rows.map((r) => r[by]))].sort();
  const series = names.map((name) => ({
    name: name || "(open server)",
    values: days.map((day) => rows.filter((r) => r.day === day && r[by] === name).reduce((sum, r) => sum + value(r), 0)),
  }));
  return { days, series };
}

const compact = (n) => (n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n)));
const dollars = (n) => "$" + (n >= 1 ? n.toFixed(2) : n === 0 ? "0" : n.toPrecision(2));

// ---- Operator view ----

const operator = { timer: null };

function tableRows(tableId, rows) {
  $(tableId).querySelector("tbody").replaceChildren(...rows);
}

function row(cells, cls) {
  const tr = el("tr", null, cls);
  for (const cell of cells) {
    if (cell instanceof Node) {
      const td = el("td");
      td.append(cell);
      tr.append(td);
    } else tr.append(el("td", cell, /^\d+(\.\d+)?$/.test(String(cell)) ? "num" : ""));
  }
  return tr;
}

function renderUsage(rows) {
  const tokens = pivot(rows, "model", (r) => r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens);
  stackedBars($("chart-tokens"), tokens.days, tokens.series, compact);
  const cost = pivot(rows, "key", (r) => r.cost_usd);
  stackedBars($("chart-cost"), cost.days, cost.series, dollars);
  const totals = new Map();
  for (const r of rows) {
    const k = `${r.key}\u0000${r.model}`;
    const t = totals.get(k) || { key: r.key || "(open server)", model: r.model, requests: 0, input: 0, output: 0, cache: 0, cost: 0 };
    t.requests += r.requests; t.input += r.input_tokens; t.output += r.output_tokens;
    t.cache += r.cache_read_tokens; t.cost += r.cost_usd;
    totals.set(k, t);
  }
  tableRows("usage-table", [...totals.values()].map((t) => row([t.key, t.model, t.requests, t.input, t.output, t.cache, t.cost.toFixed(6)])));
  if (!rows.length) $("chart-tokens").replaceChildren(el("p", "No usage recorded yet.", "muted"));
}

function renderProcesses(stats) {
  const states = ["busy", "idle", "parked", "spawning"];
  const max = Math.max(1, ...states.map((s) => stats[s] || 0), stats.live || 0);
  const bars = states.map((state) => {
    const line = el("div", null, "bar-row");
    line.dataset.state = state;
    const track = el("div", null, "bar-track");
    const fill = el("div", null, "bar-fill");
    fill.style.width = `${((stats[state] || 0) / max) * 100}%`;
    track.append(fill);
    line.append(el("span", state), track, el("span", stats[state] || 0, "num"));
    return line;
  });
  const counts = `${stats.live || 0} live · ${stats.running || 0} running · ${stats.queued || 0} queued`;
  const made = `${stats.prestarted || 0} started ahead, ${stats.warmed || 0} warmed up, ${stats.emptied || 0} emptied from old conversations`;
  const spares = `${stats.spares || 0} spare · ${made}`;
  const summary = el("p", `${counts} · ${spares}`, "muted");
  summary.id = "procs-summary";
  $("procs").replaceChildren(summary, ...bars);
  const routes = Object.entries(stats).filter(([k]) => k.startsWith("route_"));
  $("routes").replaceChildren(
    routes.length ? el("p", routes.map(([k, v]) => `${k.slice(6)}: ${v}`).join(" · ")) : el("p", "No requests yet.", "muted"),
  );
}

function renderErrors(errors) {
  tableRows("errors-table", errors.length
    ? errors.slice(0, 20).map((e) => row([e.time.slice(11, 19), e.status ?? "", e.error || "", `${e.method} ${e.path}`, e.key, e.model]))
    : [row(["none", "", "", "", "", ""])]);
}

function renderKeys(keys) {
  tableRows("keys-table", keys.map((k) => {
    const limits = [k.rpm && `${k.rpm} rpm`, k.tpm && `${k.tpm} tpm`, k.max_concurrent && `${k.max_concurrent} at once`].filter(Boolean).join(", ");
    let action = el("span", k.revoked_at ? "revoked" : "", "muted");
    if (!k.revoked_at) {
      action = el("button", "Revoke", "danger revoke");
      action.type = "button";
      action.dataset.name = k.name;
      action.addEventListener("click", () => revoke(action));
    }
    return row([k.name, k.prefix + "…", k.created_at.slice(0, 16).replace("T", " "), limits || "none", k.models.join(",") || "all", k.agent ? "yes" : "no", action], k.revoked_at ? "revoked" : "");
  }));
}

async function revoke(button) {
  if (button.dataset.confirm !== "yes") { // a second click confirms: no modal dialog to dismiss by accident
    button.dataset.confirm = "yes";
    button.textContent = "Confirm revoke";
    return;
  }
  try {
    await api(`/v1/admin/keys/${encodeURIComponent(button.dataset.name)}`, { key: adminKey(), method: "DELETE" });
    await refreshOperator();
  } catch (err) {
    notice("op-error", err.message);
  }
}

async function createKey(event) {
  event.preventDefault();
  const number = (id) => ($(id).value ? Number($(id).value) : null);
  const body = {
    name: $("new-key-name").value.trim(),
    rpm: number("new-key-rpm"),
    tpm: number("new-key-tpm"),
    max_concurrent: number("new-key-concurrent"),
    models: $("new-key-models").value.split(",").map((m) => m.trim()).filter(Boolean),
    agent: $("new-key-agent").checked,
  };
  try {
    const created = await api("/v1/admin/keys", { key: adminKey(), method: "POST", body });
    $("new-key-label").textContent = created.name;
    $("new-key-value").textContent = created.key;
    $("new-key-box").hidden = false;
    $("key-form").reset();
    notice("op-error", null);
    await refreshOperator();
  } catch (err) {
    notice("op-error", err.message);
  }
}

function adminKey() {
  return $("op-key").value;
}

async function refreshOperator() {
  const key = adminKey();
  try {
    const since = new Date(Date.now() - 30 * 86400e3).toISOString().slice(0, 10);
    const [usage, keys, errors, health] = await Promise.all([
      api(`/v1/admin/usage?since=${since}`, { key }),
      api("/v1/admin/keys", { key }),
      api("/v1/admin/errors", { key }),
      api("/health"),
    ]);
    renderUsage(usage.data);
    renderKeys(keys.data);
    renderErrors(errors.data);
    renderProcesses(health.processes || {});
    showServerLine(health);
    $("op-body").hidden = false;
    notice("op-error", null);
    return true;
  } catch (err) {
    $("op-body").hidden = true;
    notice("op-error", `Refused: ${err.message}`);
    return false;
  }
}

async function refreshProcesses() {
  if ($("operator").hidden || $("op-body").hidden) return;
  try {
    const health = await api("/health");
    renderProcesses(health.processes || {});
    showServerLine(health);
  } catch (_) {
    /* the next tick tries again */
  }
}

function setUpOperator() {
  remembered($("op-key"), "cca.admin");
  $("op-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("cca.admin", adminKey());
    refreshOperator();
  });
  $("key-form").addEventListener("submit", createKey);
  $("new-key-copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("new-key-value").textContent));
  operator.timer = setInterval(refreshProcesses, 3000);
}

// ---- Tabs (the hash names the view; keys never go in the URL) ----

function showTab() {
  const name = location.hash === "#operator" ? "operator" : "playground";
  for (const tab of ["playground", "operator"]) {
    $(tab).hidden = tab !== name;
    $("tab-" + tab).classList.toggle("active", tab === name);
  }
  if (name === "operator" && adminKey() && $("op-body").hidden) refreshOperator();
}

function showServerLine(health) {
  const live = (health.processes || {}).live || 0;
  $("server-status").textContent = `v${health.version} · ${live} live ${live === 1 ? "process" : "processes"}`;
}

async function showServer() {
  try {
    showServerLine(await api("/health"));
  } catch (_) {
    $("server-status").textContent = "server not answering";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpPlayground();
  setUpOperator();
  window.addEventListener("hashchange", showTab);
  showTab();
  showServer();
});
