/// The page `lantern serve` answers at `/`: one HTML document with its CSS and JS inline, no external
/// resource and no build step. It chats through `/v1/chat/completions` (with `logprobs` and
/// `top_logprobs: 5`, streamed or not), colours each reply token by its probability (hover: the five
/// most likely tokens; click: the same as a table), and draws the attention of any layer and head of
/// the text from `/v1/lantern/attention` on a canvas, with token labels and a colour bar of the range.
///
/// `/?demo=TEXT` makes the page type TEXT and run it (chat and attention) as soon as it loads;
/// `layer`, `head` (a number or `all`), `max_tokens`, `temperature` and `stream=0` set the controls, and
/// `key` the API key. `body[data-state]` becomes `done` when both answers are drawn (or `error`).
///
/// The colours are fixed so that a screenshot can be checked: probabilities >= 0.8, >= 0.5, >= 0.2
/// and below are `Page.probabilityColours` (the thresholds of `lantern generate --show-probs`); the
/// heatmap uses the same viridis stops as `Heatmap`, spanning the map's smallest to largest value.
enum Page {
    static let probabilityColours: [(threshold: Double, rgb: (UInt8, UInt8, UInt8))] = [
        (0.8, (0, 214, 143)), (0.5, (255, 196, 0)), (0.2, (255, 128, 48)), (0, (255, 51, 102)),
    ]

    static let html: String = {
        let colours = probabilityColours.map { "[\($0.threshold), \"rgb(\($0.rgb.0),\($0.rgb.1),\($0.rgb.2))\"]" }
            .joined(separator: ", ")
        return template.replacingOccurrences(of: "/*PROBABILITY_COLOURS*/", with: colours)
    }()

    static let template = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lantern</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f4f2; color: #1b1b1b; }
  header { display: flex; gap: 16px; align-items: baseline; padding: 10px 18px; background: #24292e; color: #eee; }
  header h1 { font-size: 18px; margin: 0; }
  header .model { color: #bbb; font-size: 13px; }
  header label { margin-left: auto; font-size: 13px; }
  header input { width: 170px; }
  main { display: flex; gap: 18px; padding: 14px 18px; align-items: flex-start; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px 14px; }
  #chat { flex: 0 0 520px; }
  #attention { flex: 1 1 auto; min-width: 0; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  #messages { min-height: 80px; max-height: 430px; overflow-y: auto; margin-bottom: 10px; }
  .msg { margin: 6px 0; padding: 6px 9px; border-radius: 5px; white-space: pre-wrap; word-break: break-word; }
  .msg.user { background: #e9eef5; }
  .msg.assistant { background: #fafafa; border: 1px solid #eee; line-height: 1.9; }
  .msg .who { display: block; font-size: 11px; color: #777; line-height: 1.3; }
  .tok { padding: 2px 1px; border-radius: 2px; cursor: pointer; color: #111; }
  .tok.picked { outline: 2px solid #24292e; }
  form textarea { width: 100%; box-sizing: border-box; font: inherit; min-height: 54px; }
  .row { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-top: 6px; font-size: 13px; }
  .row input[type=number] { width: 64px; }
  button { font: inherit; padding: 3px 12px; }
  .legend { font-size: 12px; color: #555; margin-top: 8px; }
  .legend i { display: inline-block; width: 9px; height: 9px; margin: 0 3px 0 8px; vertical-align: middle; }
  #alternatives { font-size: 13px; margin-top: 8px; }
  #alternatives table { border-collapse: collapse; }
  #alternatives td { padding: 1px 8px 1px 0; font-family: monospace; }
  #alternatives .bar { display: inline-block; height: 8px; background: #7a8699; vertical-align: middle; }
  #atext { width: 100%; box-sizing: border-box; font: inherit; }
  #map { display: none; margin-top: 10px; }
  #cell { font-size: 13px; color: #444; min-height: 1.4em; font-family: monospace; }
  #error { display: none; margin: 0 18px; padding: 6px 10px; background: #fde8e8; color: #8a1f1f; border-radius: 4px; }
</style>
</head>
<body data-state="loading">
<header>
  <h1>Lantern</h1><span class="model" id="model">loading...</span>
  <label>API key <input id="key" type="password" autocomplete="off" placeholder="(none)"></label>
</header>
<div id="error"></div>
<main>
  <section id="chat">
    <h2>Chat</h2>
    <div id="messages"></div>
    <form id="form">
      <textarea id="prompt" name="prompt" placeholder="Type a message"></textarea>
      <div class="row">
        <button id="send" type="submit">Send</button>
        <label>max tokens <input id="max" type="number" min="1" value="64"></label>
        <label>temperature <input id="temp" type="number" min="0" step="0.1" value="0.7"></label>
        <label><input id="stream" type="checkbox" checked> stream</label>
        <button id="clear" type="button">Clear</button>
      </div>
    </form>
    <div class="legend">token probability:<span id="legend"></span> (hover or click a token for the alternatives)</div>
    <div id="alternatives"></div>
  </section>
  <section id="attention">
    <h2>Attention</h2>
    <input id="atext" name="atext" placeholder="Text whose attention to draw">
    <div class="row">
      <label>layer <select id="layer"></select></label>
      <label>head <select id="head"></select></label>
      <button id="show" type="button">Show</button>
      <button id="useReply" type="button">Prompt + last reply</button>
    </div>
    <canvas id="map" width="10" height="10"></canvas>
    <div id="cell"></div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const PROBABILITY = [/*PROBABILITY_COLOURS*/];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
let info = null, lastPrompt = "", lastReply = "", map = null;
const conversation = [];

$("key").value = params.get("key") || localStorage.getItem("lantern-key") || "";
$("key").addEventListener("change", () => localStorage.setItem("lantern-key", $("key").value));
$("legend").innerHTML = PROBABILITY.map(([t, c], i) =>
  '<i style="background:' + c + '"></i>' + (i === PROBABILITY.length - 1 ? "< " + PROBABILITY[i - 1][0] : "\u2265 " + t)).join("");

function headers() {
  const h = {"Content-Type": "application/json"};
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}
function showError(e) {
  const box = $("error");
  box.textContent = String(e && e.message ? e.message : e);
  box.style.display = "block";
}
async function request(method, path, body) {
  const r = await fetch(path, {method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body)});
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new Error((j && j.error && j.error.message) || (r.status + " " + r.statusText));
  return j;
}

async function loadInfo() {
  info = await request("GET", "/v1/lantern/info");
  $("model").textContent = info.model + " \u00b7 " + info.architecture + " \u00b7 " + info.layers + " layers \u00b7 " +
    info.heads[0] + " heads \u00b7 context " + info.context_length;
  $("layer").innerHTML = info.heads.map((_, l) => '<option value="' + l + '">' + l + "</option>").join("");
  fillHeads();
}
function fillHeads() {
  const n = info ? info.heads[+$("layer").value || 0] : 0;
  const old = $("head").value;
  let html = '<option value="all">all</option>';
  for (let h = 0; h < n; h++) html += '<option value="' + h + '">' + h + "</option>";
  $("head").innerHTML = html;
  if (old !== "" && (old === "all" || +old < n)) $("head").value = old; else $("head").value = "0";
}
$("layer").addEventListener("change", () => { fillHeads(); showAttention(); });
$("head").addEventListener("change", () => showAttention());

// ---- chat and token probabilities ----
function probabilityColour(p) {
  for (const [t, c] of PROBABILITY) if (p >= t) return c;
  return PROBABILITY[PROBABILITY.length - 1][1];
}
function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role;
  div.appendChild(who);
  if (text) div.appendChild(document.createTextNode(text));
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return div;
}
function visibleText(s) { return s.replace(/\n/g, "\u21b5\n"); }
function percent(logprob) { return (100 * Math.exp(logprob)).toFixed(1) + "%"; }

// Tokens arrive as bytes (a token may hold part of a UTF-8 character): bytes are gathered until
// they decode, and each span covers whole characters, coloured by the joint probability of its tokens.
class TokenWriter {
  constructor(element) { this.element = element; this.pending = []; this.bytes = []; this.count = 0; }
  add(entry) {
    this.pending.push(entry);
    for (const b of entry.bytes || []) this.bytes.push(b);
    let text;
    try { text = new TextDecoder("utf-8", {fatal: true}).decode(new Uint8Array(this.bytes)); } catch (e) { return; }
    const entries = this.pending;
    this.pending = []; this.bytes = [];
    if (!text) return;
    const p = entries.reduce((a, e) => a * Math.exp(e.logprob), 1);
    const span = document.createElement("span");
    span.className = "tok";
    span.style.background = probabilityColour(p);
    span.dataset.p = p.toFixed(4);
    span.textContent = visibleText(text);
    span.title = entries.map((e) => JSON.stringify(e.token) + " " + percent(e.logprob) + "\n" +
      (e.top_logprobs || []).map((t) => "   " + JSON.stringify(t.token) + "  " + percent(t.logprob)).join("\n")).join("\n");
    span.addEventListener("click", () => pick(span, entries));
    this.element.appendChild(span);
    this.count += entries.length;
  }
}
function pick(span, entries) {
  document.querySelectorAll(".tok.picked").forEach((s) => s.classList.remove("picked"));
  span.classList.add("picked");
  let html = "";
  for (const e of entries) {
    html += "<div>chosen " + escapeHTML(JSON.stringify(e.token)) + " p = " + percent(e.logprob) + "</div><table>";
    for (const t of e.top_logprobs || []) {
      const p = Math.exp(t.logprob);
      html += "<tr><td>" + escapeHTML(JSON.stringify(t.token)) + "</td><td>" + percent(t.logprob) +
        '</td><td><span class="bar" style="width:' + Math.round(120 * p) + 'px"></span></td></tr>';
    }
    html += "</table>";
  }
  $("alternatives").innerHTML = html;
}
function escapeHTML(s) { return s.replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }

async function send(text) {
  lastPrompt = text;
  conversation.push({role: "user", content: text});
  addMessage("user", text);
  const bubble = addMessage("assistant", "");
  const writer = new TokenWriter(bubble);
  const body = {messages: conversation, max_tokens: +$("max").value || 64, temperature: +$("temp").value,
                logprobs: true, top_logprobs: 5, stream: $("stream").checked};
  let reply = "";
  $("send").disabled = true;
  try {
    if (body.stream) {
      const r = await fetch("/v1/chat/completions", {method: "POST", headers: headers(), body: JSON.stringify(body)});
      if (!r.ok) {
        const j = await r.json().catch(() => null);
        throw new Error((j && j.error && j.error.message) || (r.status + " " + r.statusText));
      }
      const reader = r.body.getReader(), decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (!event.startsWith("data: ")) continue;
          const data = event.slice(6);
          if (data === "[DONE]") continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          const choice = (j.choices || [])[0];
          if (!choice) continue;
          reply += (choice.delta && choice.delta.content) || "";
          for (const entry of (choice.logprobs && choice.logprobs.content) || []) writer.add(entry);
        }
      }
    } else {
      const j = await request("POST", "/v1/chat/completions", body);
      const choice = j.choices[0];
      reply = choice.message.content;
      for (const entry of (choice.logprobs && choice.logprobs.content) || []) writer.add(entry);
    }
    if (writer.count === 0 && reply) bubble.appendChild(document.createTextNode(reply));
    conversation.push({role: "assistant", content: reply});
    lastReply = reply;
  } finally {
    $("send").disabled = false;
  }
}

// ---- attention ----
function viridis(t) {
  const x = Math.min(Math.max(isFinite(t) ? t : 0, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return "rgb(" + [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)).join(",") + ")";
}
function label(s) {
  let out = s.replace(/ /g, "\u00b7").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
  return out.length <= 12 ? out : out.slice(0, 10) + "..";
}
async function showAttention() {
  const text = $("atext").value;
  if (!text) return;
  const body = {text, layer: +$("layer").value || 0};
  if ($("head").value !== "all") body.head = +$("head").value;
  map = await request("POST", "/v1/lantern/attention", body);
  draw(map);
}
function draw(m) {
  const canvas = $("map"), ctx = canvas.getContext("2d");
  const n = m.tokens.length, count = m.heads.length;
  const columns = count === 1 ? 1 : Math.ceil(Math.sqrt(count)), rows = Math.ceil(count / columns);
  const room = Math.max(240, $("attention").clientWidth - 230);
  const cell = Math.max(2, Math.min(40, Math.floor(room / (columns * n + (columns - 1) * 0.5))));
  const labels = m.labels.map(label);
  const font = "12px monospace";
  ctx.font = font;
  const showLabels = cell >= 8;
  const labelSize = showLabels ? Math.ceil(Math.max(...labels.map((s) => ctx.measureText(s).width))) + 8 : 4;
  const panel = n * cell, gap = count === 1 ? 0 : Math.max(12, Math.round(cell / 2)), title = count === 1 ? 0 : 16;
  const left = labelSize, top = labelSize + title;
  const gridW = columns * panel + (columns - 1) * gap, gridH = rows * (panel + title) + (rows - 1) * gap - title;
  const barX = left + gridW + 18, barH = Math.max(120, Math.min(256, gridH)), barW = 16;
  canvas.width = barX + barW + 70;
  canvas.height = Math.max(top + gridH, top + barH) + 8;
  canvas.style.display = "block";
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const [lo, hi] = m.range, span = hi - lo;
  const tOf = (w) => (span > 0 ? (w - lo) / span : 0);
  m.panels = [];
  for (let k = 0; k < count; k++) {
    const ox = left + (k % columns) * (panel + gap), oy = top + Math.floor(k / columns) * (panel + gap + title);
    m.panels.push([ox, oy]);
    const w = m.weights[k];
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
      ctx.fillStyle = viridis(tOf(w[r][c]));
      ctx.fillRect(ox + c * cell, oy + r * cell, cell, cell);
    }
    ctx.fillStyle = "#333";
    ctx.font = font;
    if (count > 1) { ctx.textAlign = "left"; ctx.textBaseline = "bottom"; ctx.fillText("head " + m.heads[k], ox, oy - 2); }
  }
  if (showLabels) {
    ctx.fillStyle = "#222";
    ctx.font = font;
    for (let row = 0; row < rows; row++) {
      const oy = top + row * (panel + gap + title);
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      labels.forEach((s, r) => ctx.fillText(s, left - 4, oy + r * cell + cell / 2));
    }
    for (let col = 0; col < Math.min(columns, count); col++) {
      const ox = left + col * (panel + gap);
      labels.forEach((s, c) => {
        ctx.save();
        ctx.translate(ox + c * cell + cell / 2, labelSize - 4);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = "left"; ctx.textBaseline = "middle";
        ctx.fillText(s, 0, 0);
        ctx.restore();
      });
    }
  }
  for (let y = 0; y < barH; y++) {
    ctx.fillStyle = viridis(1 - y / (barH - 1));
    ctx.fillRect(barX, top + y, barW, 1);
  }
  ctx.fillStyle = "#222";
  ctx.font = font;
  ctx.textAlign = "left";
  ctx.textBaseline = "top"; ctx.fillText(hi.toFixed(3), barX + barW + 5, top);
  ctx.textBaseline = "middle"; ctx.fillText(((lo + hi) / 2).toFixed(3), barX + barW + 5, top + barH / 2);
  ctx.textBaseline = "bottom"; ctx.fillText(lo.toFixed(3), barX + barW + 5, top + barH);
  m.cell = cell;
  $("cell").textContent = "layer " + m.layer + (count === 1 ? ", head " + m.heads[0] : ", all " + count + " heads") + ": " +
    n + " tokens, range " + lo.toFixed(4) + " ... " + hi.toFixed(4) + " (row: query, column: key)";
}
$("map").addEventListener("mousemove", (event) => {
  if (!map || !map.panels) return;
  const rect = $("map").getBoundingClientRect(), x = event.clientX - rect.left, y = event.clientY - rect.top;
  const n = map.tokens.length;
  map.panels.forEach(([ox, oy], k) => {
    const c = Math.floor((x - ox) / map.cell), r = Math.floor((y - oy) / map.cell);
    if (r >= 0 && r < n && c >= 0 && c < n) {
      $("cell").textContent = "head " + map.heads[k] + ": query " + JSON.stringify(map.labels[r]) + " \u2192 key " +
        JSON.stringify(map.labels[c]) + " = " + map.weights[k][r][c].toFixed(5);
    }
  });
});

// ---- wiring ----
async function submit(text) {
  $("error").style.display = "none";
  $("atext").value = text;
  const chat = send(text).catch((e) => { showError(e); throw e; });
  const attention = showAttention().catch((e) => { showError(e); throw e; });
  await Promise.all([chat, attention]);
}
$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text) return;
  $("prompt").value = "";
  submit(text).catch(() => {});
});
$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("form").requestSubmit(); }
});
$("show").addEventListener("click", () => showAttention().catch(showError));
$("useReply").addEventListener("click", () => {
  $("atext").value = lastPrompt + (lastReply ? " " + lastReply : "");
  showAttention().catch(showError);
});
$("clear").addEventListener("click", () => {
  conversation.length = 0; $("messages").innerHTML = ""; $("alternatives").innerHTML = "";
});

(async () => {
  try { await loadInfo(); } catch (e) { showError(e); document.body.dataset.state = "error"; return; }
  if (params.has("layer")) { $("layer").value = params.get("layer"); fillHeads(); }
  if (params.has("head")) $("head").value = params.get("head");
  if (params.has("max_tokens")) $("max").value = params.get("max_tokens");
  if (params.has("temperature")) $("temp").value = params.get("temperature");
  if (params.get("stream") === "0") $("stream").checked = false;
  const demo = params.get("demo");
  if (demo === null) { document.body.dataset.state = "ready"; return; }
  $("prompt").value = demo;
  try {
    $("prompt").value = "";
    await submit(demo);
    document.body.dataset.state = "done";
  } catch (e) {
    document.body.dataset.state = "error";
  }
})();
</script>
</body>
</html>
"""#
}
