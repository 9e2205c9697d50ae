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

function send(file, onProgress) {
  // XMLHttpRequest rather than fetch: it reports upload progress.
  return new Promise((resolve, reject) => {
    const query = new URLSearchParams({ targets: chosenTargets(), method: $("#method").value });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/anonymize?" + query);
    xhr.responseType = "blob";
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    if (token.value.trim()) xhr.setRequestHeader("Authorization", "Bearer " + token.value.trim());
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(0.5 * e.loaded / e.total);
    xhr.onload = async () => {
      if (xhr.status === 200) {
        resolve({ blob: xhr.response, regions: Number(xhr.getResponseHeader("X-Privis-Regions") || 0) });
        return;
      }
      let detail = xhr.statusText;
      try { detail = JSON.parse(await xhr.response.text()).detail; } catch (e) { /* not JSON */ }
      reject(new Error(`${xhr.status}: ${detail}`));
    };
    xhr.onerror = () => reject(new Error("the server could not be reached"));
    xhr.send(file);
  });
}

function request(method, url, { body = null, type = null, blob = false, onUpload = null } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.responseType = blob ? "blob" : "json";
    if (type) xhr.setRequestHeader("Content-Type", type);
    if (token.value.trim()) xhr.setRequestHeader("Authorization", "Bearer " + token.value.trim());
    if (onUpload) xhr.upload.onprogress = (e) => e.lengthComputable && onUpload(e.loaded / e.total);
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr.response);
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
  const job = await request("POST", "/v1/jobs?" + query, {
    body: file, type: file.type || "application/octet-stream", onUpload: (p) => { bar.value = 0.2 * p; },
  });
  status.textContent = "queued";
  let state = job;
  while (!["done", "failed"].includes(state.state)) {
    await new Promise((r) => setTimeout(r, 1000));
    state = await request("GET", job.status_url);
    if (state.progress != null) bar.value = 0.2 + 0.75 * state.progress;
    status.textContent = state.state === "running" && state.frames_total
      ? `anonymizing: frame ${state.frames_done} of ${state.frames_total}` : state.state;
  }
  if (state.state === "failed") throw new Error(state.error);
  const blob = await request("GET", job.result_url, { blob: true });
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

async function handle(file) {
  if ((file.type || "").startsWith("video/")) {
    const item = $("#result").content.firstElementChild.cloneNode(true);
    $(".name", item).textContent = file.name;
    $("#results").prepend(item);
    const status = $(".status", item), bar = $("progress", item);
    status.textContent = "uploading";
    try {
      await handleVideo(file, item, status, bar);
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
      bar.hidden = true;
      item.dataset.state = "error";
    }
    return;
  }
  const item = $("#result").content.firstElementChild.cloneNode(true);
  $(".name", item).textContent = file.name;
  $("#results").prepend(item);
  const status = $(".status", item), bar = $("progress", item);
  status.textContent = "uploading";
  try {
    const { blob, regions } = await send(file, (p) => { bar.value = p; if (p >= 0.5) status.textContent = "anonymizing"; });
    bar.value = 1;
    const before = URL.createObjectURL(file), after = URL.createObjectURL(blob);
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
