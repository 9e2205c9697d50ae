// privis web page: each dropped image goes to POST /v1/anonymize and comes back anonymized.
// Nothing leaves this page but the request; the token stays in this tab (sessionStorage).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const token = $("#token");
token.value = sessionStorage.getItem("privis-token") || "";
token.addEventListener("change", () => sessionStorage.setItem("privis-token", token.value.trim()));

function chosenTargets() {
  return [...document.querySelectorAll("#targets input:checked")].map((i) => i.value).join(",") || "face";
}

// XMLHttpRequest rather than fetch: it reports upload progress. Resolves with the request
// once it is answered 2xx (its response parsed as JSON, or a Blob with `blob`).
function request(method, url, { body = null, type = null, blob = false, onUpload = null } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.responseType = blob ? "blob" : "json";
    if (type) xhr.setRequestHeader("Content-Type", type);
    if (token.value.trim()) xhr.setRequestHeader("Authorization", "Bearer " + token.value.trim());
    if (onUpload) xhr.upload.onprogress = (e) => e.lengthComputable && onUpload(e.loaded / e.total);
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr);
      let detail = xhr.statusText;
      try { detail = (blob ? JSON.parse(await xhr.response.text()) : xhr.response).detail; } catch (e) { /* not JSON */ }
      reject(new Error(`${xhr.status}: ${detail}`));
    };
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    xhr.send(body);
  });
}

// A video is a job: uploaded, then polled for progress, then its result fetched once.
async function handleVideo(file, item, status, bar) {
  const query = new URLSearchParams({ targets: chosenTargets(), method: $("#method").value });
  const job = (await request("POST", "/v1/jobs?" + query, {
    body: file, type: file.type || "application/octet-stream", onUpload: (p) => { bar.value = 0.2 * p; },
  })).response;
  status.textContent = "queued";
  let state = job;
  while (!["done", "failed"].includes(state.state)) {
    await new Promise((r) => setTimeout(r, 1000));
    state = (await request("GET", job.status_url)).response;
    if (state.progress != null) bar.value = 0.2 + 0.75 * state.progress;
    status.textContent = state.state === "running" && state.frames_total
      ? `anonymizing: frame ${state.frames_done} of ${state.frames_total}` : state.state;
  }
  if (state.state === "failed") throw new Error(state.error);
  const blob = (await request("GET", job.result_url, { blob: true })).response;
  bar.value = 1;
  $(".videos .before", item).src = URL.createObjectURL(file);
  const after = URL.createObjectURL(blob);
  $(".videos .after", item).src = after;
  $(".videos", item).hidden = false;
  const link = $(".download", item);
  link.href = after;
  link.download = "anonymized-" + file.name.replace(/\.[^.]+$/, "") + ".mp4";
  link.hidden = false;
  status.textContent = "done: the server has deleted its copy";
  item.dataset.state = "done";
}

async function handleImage(file, item, status, bar) {
  const query = new URLSearchParams({ targets: chosenTargets(), method: $("#method").value });
  const xhr = await request("POST", "/v1/anonymize?" + query, {
    body: file, type: file.type || "application/octet-stream", blob: true,
    onUpload: (p) => { bar.value = 0.5 * p; if (p >= 1) status.textContent = "anonymizing"; },
  });
  const regions = Number(xhr.getResponseHeader("X-Privis-Regions") || 0);
  bar.value = 1;
  const before = URL.createObjectURL(file), after = URL.createObjectURL(xhr.response);
  $(".before", item).src = before;
  $(".after", item).src = after;
  $(".compare", item).hidden = false;
  const slider = $(".slider", item), clip = $(".after-clip", item);
  slider.addEventListener("input", () => { clip.style.clipPath = `inset(0 ${100 - slider.value}% 0 0)`; });
  const link = $(".download", item);
  link.href = after;
  link.download = "anonymized-" + file.name;
  link.hidden = false;
  status.textContent = `done: ${regions} region${regions === 1 ? "" : "s"} hidden`;
  item.dataset.state = "done";
}

async function handle(file) {
  const item = $("#result").content.firstElementChild.cloneNode(true);
  $(".name", item).textContent = file.name;
  $("#results").prepend(item);
  const status = $(".status", item), bar = $("progress", item);
  status.textContent = "uploading";
  const video = (file.type || "").startsWith("video/");
  try {
    await (video ? handleVideo : handleImage)(file, item, status, bar);
  } catch (err) {
    status.textContent = err.message;
    status.classList.add("error");
    bar.hidden = true;
    item.dataset.state = "error";
  }
}

const drop = $("#drop");
["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (ev) => [...ev.dataTransfer.files].forEach(handle));
$("#files").addEventListener("change", (ev) => { [...ev.target.files].forEach(handle); ev.target.value = ""; });
