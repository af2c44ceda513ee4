// veriscope desk: the little JavaScript the pages need. No other script, no other host.
"use strict";

const CSRF = () => document.querySelector('meta[name="csrf"]').content;

function api(method, url, body, headers) {
  return fetch(url, {method, body, credentials: "same-origin",
                     headers: Object.assign({"X-CSRF-Token": CSRF()}, headers || {})});
}

// ------------------------------------------------------------------ uploads (case page)
function setupUpload() {
  const box = document.getElementById("upload");
  if (!box) return;
  const caseId = box.dataset.case, maxBytes = Number(box.dataset.maxBytes);
  const list = document.getElementById("uploads");
  const queue = [];
  let active = 0;

  function add(file, relPath) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = relPath || file.name;
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    const status = document.createElement("span");
    status.className = "muted";
    li.append(name, bar, status);
    list.append(li);
    if (file.size > maxBytes) {
      status.textContent = `refused: ${file.size} bytes, over this desk's limit of ${maxBytes}`;
      status.className = "error";
      return;
    }
    queue.push({file, relPath, bar, status});
    pump();
  }

  function pump() {
    while (active < 3 && queue.length) {
      const job = queue.shift();
      active++;
      send(job).finally(() => { active--; pump(); refreshItems(); });
    }
  }

  function send({file, relPath, bar, status}) {
    return new Promise((resolve) => {
      const params = new URLSearchParams({name: relPath || file.name});
      const exp = document.getElementById("expected").value.trim();
      if (exp) params.set("expected_sha256", exp);
      if (document.getElementById("as-batch").checked) params.set("batch", "true");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/v1/cases/${caseId}/items?${params}`);
      xhr.setRequestHeader("X-CSRF-Token", CSRF());
      const post = postFields();
      let body = file;
      if (post) {  // a caption: the file and the post's fields as multipart/form-data
        body = new FormData();
        body.append("file", file, file.name);
        for (const [k, v] of Object.entries(post)) body.append(k, v);
      } else {
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
      }
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
      xhr.onload = () => {
        if (xhr.status === 201) { bar.value = 100; status.textContent = "queued"; }
        else {
          let msg = xhr.statusText;
          try { msg = JSON.parse(xhr.responseText).detail; } catch (e) { /* keep statusText */ }
          status.textContent = `refused (${xhr.status}): ${typeof msg === "string" ? msg : JSON.stringify(msg)}`;
          status.className = "error";
        }
        resolve();
      };
      xhr.onerror = () => { status.textContent = "network error"; status.className = "error"; resolve(); };
      xhr.send(body);
    });
  }

  function postFields() {  // the caption and its companions, or null without a caption
    const caption = document.getElementById("caption").value;
    if (!caption.trim()) return null;
    const out = {caption};
    for (const [id, field] of [["claimed-date", "claimed_date"], ["claimed-place", "claimed_place"],
                               ["source", "source"]]) {
      const v = document.getElementById(id).value.trim();
      if (v) out[field] = v;
    }
    return out;
  }

  async function walk(entry, prefix) {  // a dropped folder
    if (entry.isFile) {
      await new Promise((res) => entry.file((f) => { add(f, prefix + f.name); res(); }, res));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      do {
        batch = await new Promise((res) => reader.readEntries(res, () => res([])));
        for (const e of batch) await walk(e, prefix + entry.name + "/");
      } while (batch.length);
    }
  }

  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry());
    if (entries.length && entries.every(Boolean)) {
      for (const en of entries) await walk(en, "");
    } else {
      for (const f of e.dataTransfer.files) add(f);
    }
  });
  for (const id of ["pick", "pickdir"]) {
    document.getElementById(id).addEventListener("change", (e) => {
      for (const f of e.target.files) add(f, f.webkitRelativePath || f.name);
      e.target.value = "";
    });
  }
}

// ------------------------------------------------------------------ items table, live
async function refreshItems() {
  const table = document.getElementById("items");
  if (!table || !table.dataset.case) return;
  const r = await fetch(`/api/v1/cases/${table.dataset.case}/items`, {credentials: "same-origin"});
  if (!r.ok) return;
  const items = await r.json();
  const body = table.tBodies[0];
  body.replaceChildren(...items.map(row));
  if (!items.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell("No item.");
    td.colSpan = 8;
    tr.append(td);
    body.append(tr);
  }
  return items;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function row(i) {
  const tr = document.createElement("tr");
  tr.dataset.id = i.id;
  tr.dataset.state = i.state;
  const name = document.createElement("td");
  const a = document.createElement("a");
  a.href = `/items/${i.id}`;
  a.textContent = i.name;
  name.append(a);
  if (i.hash_ok === false) {
    const s = document.createElement("span");
    s.className = "bad"; s.textContent = " hash mismatch";
    name.append(s);
  }
  if (i.post) {  // the caption, as text (never as HTML)
    const cap = document.createElement("div");
    cap.className = "caption";
    cap.title = i.post.caption.slice(0, 500);
    const c = i.post.caption;
    cap.textContent = `“${c.length > 120 ? c.slice(0, 119) + "…" : c}”`;
    name.append(cap);
  }
  const verdict = document.createElement("td");
  if (i.verdict) {
    const s = document.createElement("span");
    s.className = `verdict v-${i.verdict}`; s.textContent = i.verdict;
    verdict.append(s);
  }
  if (i.post_label) {
    const s = document.createElement("span");
    s.className = `post-label p-${i.post_label}`;
    s.textContent = `caption: ${i.post_label}`;
    s.title = "does the caption fit the picture?";
    verdict.append(" ", s);
  }
  const state = cell(i.state + (i.error ? `: ${i.error.slice(0, 80)}` : ""), `state s-${i.state}`);
  if (i.error) state.title = i.error;
  tr.append(cell(i.id), name, cell(i.kind), verdict,
            cell(i.score == null ? "" : i.score.toFixed(2)), state,
            cell(i.review.replace("_", " "), `review r-${i.review}`), cell(i.tags.join(", ")));
  return tr;
}

function pollItems() {
  const table = document.getElementById("items");
  if (!table || !table.dataset.case) return;
  setInterval(async () => {
    const pending = table.querySelector('tr[data-state="queued"], tr[data-state="running"]');
    if (pending) await refreshItems();
  }, 1500);
}

// ------------------------------------------------------------------ picture viewer (item page)
function setupViewer() {
  const paneA = document.getElementById("pane-a");
  if (!paneA) return;
  const paneB = document.getElementById("pane-b");
  const img = document.getElementById("orig");
  const canvas = document.getElementById("overlay");
  const opacity = document.getElementById("opacity");
  const toggle = document.getElementById("toggle");
  const sbs = document.getElementById("sbs");
  const loupe = document.getElementById("loupe");
  const loupeOn = document.getElementById("loupe-on");
  const layers = [paneA.querySelector(".layer"), paneB.querySelector(".layer")];
  const view = {scale: 1, x: 0, y: 0, fit: 1};

  function apply() {  // one transform for both panes: zoom and pan stay in step
    for (const l of layers) l.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
  }
  function fit() {
    const w = img.naturalWidth, h = img.naturalHeight;
    if (!w) return;
    const hgt = `${Math.min(window.innerHeight * 0.7, paneA.clientWidth * h / w)}px`;
    paneA.style.height = hgt; paneB.style.height = hgt;
    view.fit = Math.min(paneA.clientWidth / w, paneA.clientHeight / h);
    view.scale = view.fit; view.x = (paneA.clientWidth - w * view.scale) / 2; view.y = 0;
    apply();
  }
  function zoomAt(factor, cx, cy) {
    const s = Math.min(Math.max(view.scale * factor, view.fit * 0.5), 32);
    view.x = cx - (cx - view.x) * (s / view.scale);
    view.y = cy - (cy - view.y) * (s / view.scale);
    view.scale = s;
    apply();
  }

  function colour() {  // the grey map (255 = most suspicious) as red with alpha
    if (!canvas) return;
    const map = new Image();
    map.onload = () => {
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(map, 0, 0, canvas.width, canvas.height);
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < d.data.length; i += 4) {
        const v = d.data[i];
        d.data[i] = 255; d.data[i + 1] = 30; d.data[i + 2] = 30; d.data[i + 3] = v;
      }
      ctx.putImageData(d, 0, 0);
      canvas.dataset.ready = "1";
    };
    map.src = canvas.dataset.map;
  }
  function setOpacity() { if (canvas) canvas.style.opacity = String(opacity.value / 100); }

  if (img.complete && img.naturalWidth) { fit(); colour(); }
  else img.addEventListener("load", () => { fit(); colour(); });
  opacity.addEventListener("input", setOpacity);
  setOpacity();
  toggle.addEventListener("click", () => {
    const showingOriginal = toggle.getAttribute("aria-pressed") === "true";
    toggle.setAttribute("aria-pressed", String(!showingOriginal));
    toggle.textContent = showingOriginal ? "Show original" : "Show overlay";
    if (canvas) canvas.classList.toggle("hidden", !showingOriginal);
  });
  sbs.addEventListener("click", () => {
    const on = sbs.getAttribute("aria-pressed") !== "true";
    sbs.setAttribute("aria-pressed", String(on));
    paneB.classList.toggle("hidden", !on);
    fit();
  });
  document.getElementById("zoom-in").addEventListener("click", () => zoomAt(1.5, paneA.clientWidth / 2, paneA.clientHeight / 2));
  document.getElementById("zoom-out").addEventListener("click", () => zoomAt(1 / 1.5, paneA.clientWidth / 2, paneA.clientHeight / 2));
  document.getElementById("zoom-reset").addEventListener("click", fit);
  for (const pane of [paneA, paneB]) {
    pane.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = pane.getBoundingClientRect();
      zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
    }, {passive: false});
    let drag = null;
    pane.addEventListener("mousedown", (e) => { drag = {x: e.clientX - view.x, y: e.clientY - view.y}; });
    window.addEventListener("mouseup", () => { drag = null; });
    pane.addEventListener("mousemove", (e) => {
      if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; apply(); }
      if (loupeOn.checked) showLoupe(e, pane);
    });
    pane.addEventListener("mouseleave", () => loupe.classList.add("hidden"));
  }
  function showLoupe(e, pane) {  // 3x the current view, centred on the pointer
    const r = pane.getBoundingClientRect(), host = paneA.parentElement.getBoundingClientRect();
    const px = (e.clientX - r.left - view.x) / view.scale, py = (e.clientY - r.top - view.y) / view.scale;
    const z = view.scale * 3, size = 180;
    loupe.style.backgroundImage = `url("${img.src}")`;
    loupe.style.backgroundSize = `${img.naturalWidth * z}px ${img.naturalHeight * z}px`;
    loupe.style.backgroundPosition = `${size / 2 - px * z}px ${size / 2 - py * z}px`;
    loupe.style.left = `${e.clientX - host.left - size / 2}px`;
    loupe.style.top = `${e.clientY - host.top - size / 2}px`;
    loupe.classList.remove("hidden");
  }
  window.addEventListener("resize", fit);
}

// ------------------------------------------------------------------ timeline (audio / video)
function setupTimeline() {
  const player = document.getElementById("player");
  const tl = document.getElementById("timeline");
  if (!player || !tl) return;
  function layout() {
    const dur = Number(tl.dataset.duration) || player.duration || 0;
    if (!dur) return;
    for (const b of tl.querySelectorAll(".seg")) {
      const s = Number(b.dataset.start), e = Number(b.dataset.end);
      b.style.left = `${100 * s / dur}%`;
      b.style.width = `${Math.max(0.4, 100 * (e - s) / dur)}%`;
    }
  }
  layout();
  player.addEventListener("loadedmetadata", layout);
  for (const el of document.querySelectorAll(".seg, tr.seek")) {
    el.addEventListener("click", () => { player.currentTime = Number(el.dataset.start); });
  }
}

// ------------------------------------------------------------------ review (item page)
function setupReview() {
  const box = document.getElementById("review");
  if (!box) return;
  document.getElementById("save").addEventListener("click", async () => {
    const saved = document.getElementById("saved");
    const body = {
      note: document.getElementById("note").value,
      tags: document.getElementById("tags").value.split(",").map((t) => t.trim()).filter(Boolean),
      review: document.getElementById("review-status").value,
    };
    const r = await api("PATCH", `/api/v1/items/${box.dataset.item}`, JSON.stringify(body),
                        {"Content-Type": "application/json"});
    saved.textContent = r.ok ? "saved" : `not saved (${r.status})`;
    saved.className = r.ok ? "good" : "error";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupUpload(); pollItems(); setupViewer(); setupTimeline(); setupReview();
});
