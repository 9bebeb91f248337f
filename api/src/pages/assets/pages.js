// Argus pages: the batch status followed live, the fleet dashboard kept current, and
// uploads with per-file progress. Every page reads without this script; it only keeps
// them moving. Served as a file (no inline script), so the pages' CSP forbids inline code.
"use strict";

(function () {
  const FINAL = ["completed", "failed"];

  // Replaces `selector` with its copy from a fresh load of this page (the server renders
  // everything; the script never builds a report itself).
  async function refresh(selector) {
    const response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector(selector);
    const current = document.querySelector(selector);
    if (fresh && current) current.replaceWith(fresh);
  }

  // The batch page: follows /api/v1/batches/{id}/events until the batch is final, then
  // loads the report into the page.
  function followBatch(facts) {
    window.argusStatusTrail = [facts.dataset.status];
    if (FINAL.includes(facts.dataset.status) || !window.EventSource) return;
    const events = new EventSource("/api/v1/batches/" + encodeURIComponent(facts.dataset.batch) + "/events");
    events.addEventListener("status", function (event) {
      const snapshot = JSON.parse(event.data);
      showStatus(snapshot);
      if (FINAL.includes(snapshot.status)) {
        // Closed before the server ends the stream, so that it does not reconnect.
        events.close();
        refresh("main").then(function () {
          document.documentElement.dataset.reportShown = snapshot.status;
        });
      }
    });
  }

  function showStatus(snapshot) {
    const trail = window.argusStatusTrail;
    if (trail[trail.length - 1] !== snapshot.status) trail.push(snapshot.status);
    const status = document.getElementById("batch-status");
    if (status) {
      status.dataset.status = snapshot.status;
      const badge = status.querySelector(".badge");
      badge.textContent = snapshot.status;
      badge.className = "badge status-" + snapshot.status;
    }
    const progress = document.getElementById("files-progress");
    const text = document.getElementById("files-parsed-text");
    if (progress && snapshot.file_count !== null) {
      progress.max = Math.max(snapshot.file_count, 1);
      progress.value = Math.min(snapshot.files_parsed, snapshot.file_count);
      text.textContent = snapshot.files_parsed + " of " + snapshot.file_count;
    }
    const steps = document.querySelectorAll("#lifecycle li");
    const at = Array.prototype.findIndex.call(steps, function (li) { return li.dataset.step === snapshot.status; });
    steps.forEach(function (li, i) {
      li.classList.toggle("done", at >= 0 && i < at);
      if (i === at) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
  }

  // The fleet dashboard: reloads its live section every few seconds while visible.
  function keepCurrent(live) {
    const seconds = Number(live.dataset.refresh) || 10;
    setInterval(function () {
      if (document.visibilityState === "visible") refresh("#live").catch(function () {});
    }, seconds * 1000);
  }

  // The upload page: one batch, one request per file with its progress, then complete.
  function setupUpload(form) {
    const input = document.getElementById("files");
    const zone = document.getElementById("drop-zone");
    const list = document.getElementById("file-list");
    const error = document.getElementById("upload-error");
    const button = document.getElementById("upload-button");

    function listFiles() {
      list.replaceChildren.apply(list, Array.prototype.map.call(input.files, function (file) {
        const row = document.createElement("li");
        const name = document.createElement("span");
        name.textContent = file.name + " ";
        const bar = document.createElement("progress");
        bar.max = Math.max(file.size, 1);
        bar.value = 0;
        bar.setAttribute("aria-label", "upload of " + file.name);
        const state = document.createElement("span");
        state.className = "file-state";
        state.textContent = " waiting";
        row.append(name, bar, state);
        return row;
      }));
    }

    input.addEventListener("change", listFiles);
    zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      input.files = event.dataTransfer.files;
      listFiles();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      error.hidden = true;
      upload().catch(function (failure) {
        error.textContent = failure.message;
        error.hidden = false;
        button.disabled = false;
      });
    });

    function headers(extra) {
      const token = document.getElementById("upload-token");
      const all = Object.assign({}, extra);
      if (token && token.value.trim()) all.Authorization = "Bearer " + token.value.trim();
      return all;
    }

    async function call(method, url, body, extra) {
      const response = await fetch(url, { method: method, body: body, headers: headers(extra) });
      const answer = await response.json().catch(function () { return {}; });
      if (!response.ok) throw new Error(answer.error || method + " " + url + ": " + response.status);
      return answer;
    }

    async function upload() {
      const batch = {};
      const vehicle = document.getElementById("vehicle-id").value.trim();
      const vin = document.getElementById("upload-vin").value.trim();
      if (vehicle) batch.vehicle_id = vehicle;
      if (vin) batch.vin = vin;
      const created = await call("POST", "/api/v1/batches", JSON.stringify(batch), { "Content-Type": "application/json" });
      const id = created.batch_id;
      const files = Array.prototype.slice.call(input.files);
      for (let i = 0; i < files.length; i++) await send(id, files[i], list.children[i]);
      await call("POST", "/api/v1/batches/" + id + "/complete", null, {});
      location.assign("/batches/" + id);
    }

    // The server takes file names of A-Z a-z 0-9 . _ - only.
    function fileName(name) {
      return name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "") || "file.rec";
    }

    function send(id, file, row) {
      const bar = row.querySelector("progress");
      const state = row.querySelector(".file-state");
      return new Promise(function (resolve, reject) {
        const request = new XMLHttpRequest();
        request.open("POST", "/api/v1/batches/" + id + "/files?name=" + encodeURIComponent(fileName(file.name)));
        const all = headers({ "Content-Type": "application/octet-stream" });
        Object.keys(all).forEach(function (key) { request.setRequestHeader(key, all[key]); });
        request.upload.onprogress = function (event) {
          if (event.lengthComputable) {
            bar.max = Math.max(event.total, 1);
            bar.value = event.loaded;
          }
        };
        request.onload = function () {
          if (request.status === 201) {
            bar.value = bar.max;
            state.textContent = " uploaded";
            resolve();
          } else {
            let reason = request.status;
            try { reason = JSON.parse(request.responseText).error; } catch (_) { /* not JSON */ }
            state.textContent = " failed";
            reject(new Error(file.name + ": " + reason));
          }
        };
        request.onerror = function () { reject(new Error(file.name + ": the connection failed")); };
        state.textContent = " uploading";
        request.send(file);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const facts = document.getElementById("batch-facts");
    if (facts) followBatch(facts);
    const live = document.getElementById("live");
    if (live) keepCurrent(live);
    const form = document.getElementById("upload-form");
    if (form) setupUpload(form);
  });
})();
