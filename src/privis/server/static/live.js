// privis live page: the stream's MJPEG (through a short-lived ticket, since <img> sends no
// token) and its released counts, polled every second and drawn as lines over the buckets.
"use strict";

const $ = (sel) => document.querySelector(sel);
const token = $("#token");
token.value = sessionStorage.getItem("privis-token") || "";
const COLOURS = ["#0a7", "#d50", "#36c", "#a3a", "#c90", "#599"];
let current = new URLSearchParams(location.search).get("stream");
let ticketFor = null;

function auth() {
  return token.value.trim() ? { Authorization: "Bearer " + token.value.trim() } : {};
}

async function api(path) {
  const r = await fetch(path, { headers: auth() });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${r.status}: ${body.detail || r.statusText}`);
  return body;
}

async function listStreams() {
  const { streams } = await api("/v1/streams");
  const select = $("#stream");
  select.innerHTML = "";
  for (const s of streams) select.add(new Option(s.name, s.name, false, s.name === current));
  current = current || (streams[0] && streams[0].name);
  select.value = current;
}

function series(status) {
  // One line per counted thing: a line's forward and backward crossings, a zone's entries.
  const lines = new Map();
  status.series.forEach((bucket, i) => {
    for (const [kind, key] of [["lines", "forward"], ["lines", "backward"], ["zones", "entries"]]) {
      for (const [name, values] of Object.entries(bucket[kind] || {})) {
        if (!(key in values)) continue;
        const label = `${name} ${key}`;
        if (!lines.has(label)) lines.set(label, []);
        lines.get(label).push([i, values[key]]);
      }
    }
  });
  return lines;
}

function draw(status) {
  const chart = $("#chart"), legend = $("#legend");
  const lines = series(status);
  const n = Math.max(status.series.length - 1, 1);
  const values = [...lines.values()].flat().map((p) => p[1]);
  const top = Math.max(1, ...values), bottom = Math.min(0, ...values);
  chart.innerHTML = "";
  legend.innerHTML = "";
  [...lines.entries()].forEach(([label, points], k) => {
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    poly.setAttribute("points", points.map(([i, v]) => `${(400 * i) / n},${195 - (190 * (v - bottom)) / (top - bottom)}`).join(" "));
    poly.setAttribute("fill", "none");
    poly.setAttribute("stroke", COLOURS[k % COLOURS.length]);
    poly.setAttribute("stroke-width", "2");
    chart.appendChild(poly);
    const item = document.createElement("li");
    item.textContent = `${label}: ${points[points.length - 1][1]}`;
    item.style.color = COLOURS[k % COLOURS.length];
    legend.appendChild(item);
  });
  chart.dataset.buckets = String(status.series.length);
}

async function poll() {
  try {
    if (!current) await listStreams();
    if (!current) return;
    if (ticketFor !== current) {
      const { url } = await api(`/v1/streams/${encodeURIComponent(current)}/ticket`);
      $("#view").src = url;
      ticketFor = current;
    }
    const status = await api(`/v1/streams/${encodeURIComponent(current)}/counts`);
    $("#state").textContent = `${status.state}, ${status.frames} frames`;
    $("#state").dataset.frames = String(status.frames);
    if (status.series) {
      draw(status);
      const t = status.totals || { lines: {}, zones: {} };
      $("#totals").textContent = "Released in total: " + Object.entries(t.lines)
        .map(([n, v]) => `${n} ${v.forward ?? 0} forward, ${v.backward ?? 0} backward`).join("; ");
    }
    $("#budget").textContent = status.dp
      ? `Differential privacy: ε ${status.dp.epsilon_left_today} left today of ${status.dp.epsilon_per_day}`
      : "Counts are released without noise (no daily ε set).";
  } catch (err) {
    $("#state").textContent = err.message;
  }
}

token.addEventListener("change", () => { sessionStorage.setItem("privis-token", token.value.trim()); ticketFor = null; current = null; poll(); });
$("#stream").addEventListener("change", (e) => { current = e.target.value; poll(); });
poll();
setInterval(poll, 1000);
