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

async function handle(file) {
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
