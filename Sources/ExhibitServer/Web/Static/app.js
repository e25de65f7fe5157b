// Exhibit web app: the little the pages need beyond forms. Times are written in UTC by the server; this adds the
// browser's own zone beside them (in the title, for a pointer or a screen reader) and names the zone in the footer.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[datetime]").forEach(function (element) {
    var when = new Date(element.getAttribute("datetime"));
    if (!isNaN(when.getTime())) element.title = format.format(when) + " (" + zone + ")";
  });
  var footer = document.querySelector(".local-zone");
  if (footer) {
    footer.textContent = "; hover a time for " + zone;
    footer.hidden = false;
  }
});

// Uploading from the case page: files or a whole folder, over the tus endpoint (/v1/uploads) in requests of
// 4 MiB. Each request carries an Upload-Checksum of the bytes the browser read (SHA-256 by WebCrypto), so every
// byte is checked end to end. A broken connection or a restarted server is waited out and resumed from the
// offset the server has; an upload is remembered in localStorage (by case, path, size and modification time), so
// choosing the same file again after closing the tab resumes it.
(function () {
  var CHUNK = 4 * 1024 * 1024;
  // On the owner's page of a footage request (data-mode="request") the same code uploads through the request's
  // own tus endpoint (data-endpoint), and each file's answer is what its sender may know: verdict and coverage.
  var section, caseRef, csrf, endpoint, mode, queue = [], running = false, totals = { bytes: 0, sent: 0 };

  function base64(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }

  function metadata(fields) {
    return Object.keys(fields).filter(function (k) { return fields[k]; }).map(function (k) {
      return k + " " + base64(new TextEncoder().encode(fields[k]));
    }).join(",");
  }

  function request(method, url, headers, body) {
    var all = { "Tus-Resumable": "1.0.0" };
    if (csrf) all["X-CSRF-Token"] = csrf;
    Object.keys(headers || {}).forEach(function (k) { all[k] = headers[k]; });
    return fetch(url, { method: method, headers: all, body: body, credentials: "same-origin", cache: "no-store" });
  }

  async function problem(response) {
    try { var json = await response.json(); return json.detail || json.title || ("HTTP " + response.status); }
    catch (e) { return "HTTP " + response.status; }
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function human(bytes) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i === 0 ? bytes : bytes.toFixed(1)) + " " + units[i];
  }

  function duration(seconds) {
    if (!isFinite(seconds)) return "";
    seconds = Math.round(seconds);
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m > 0 ? m + " min " + s + " s" : s + " s";
  }

  function key(file) {
    return "exhibit-upload:" + caseRef + ":" + (file.webkitRelativePath || file.name) + ":" + file.size + ":" + file.lastModified;
  }

  function cell(row, name) { return row.querySelector("[data-cell='" + name + "']"); }

  function addRow(file) {
    var body = document.querySelector("#upload-list tbody");
    var row = document.createElement("tr");
    var name = file.webkitRelativePath || file.name;
    ["file", "size", "progress", "result"].forEach(function (n) {
      var td = document.createElement("td");
      td.setAttribute("data-cell", n);
      row.appendChild(td);
    });
    cell(row, "file").textContent = name;
    cell(row, "file").className = "file";
    cell(row, "size").textContent = human(file.size);
    var bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute("aria-label", "Progress of " + name);
    var text = document.createElement("span");
    cell(row, "progress").appendChild(bar);
    cell(row, "progress").appendChild(text);
    cell(row, "result").textContent = "waiting";
    row.setAttribute("data-state", "waiting");
    body.appendChild(row);
    return { row: row, bar: bar, text: text };
  }

  function overall() {
    var box = document.getElementById("overall");
    box.hidden = false;
    var bar = document.getElementById("overall-bar");
    bar.max = totals.bytes || 1;
    bar.value = totals.sent;
    document.getElementById("overall-text").textContent =
      human(totals.sent) + " of " + human(totals.bytes) + (running ? "" : " — done");
  }

  function fields() {
    var out = {};
    ["recorded_start", "clock_offset", "requested_from", "requested_to"].forEach(function (name) {
      var element = document.getElementById(name);
      var value = element ? element.value.trim() : "";
      if (value) out[name] = value;
    });
    return out;
  }

  async function offsetAt(location) {
    var head = await request("HEAD", location);
    if (head.status === 404 || head.status === 410) return null;
    if (!head.ok) throw new Error("HTTP " + head.status);
    return Number(head.headers.get("Upload-Offset"));
  }

  // Sends one file; resolves with the finished upload's JSON, rejects with words for the person.
  async function send(item) {
    var file = item.file, ui = item.ui, stored = localStorage.getItem(key(file)), location = null, offset = 0;
    if (stored) {
      try { offset = await offsetAt(stored); location = offset === null ? null : stored; } catch (e) { location = stored; }
      if (location === null) { localStorage.removeItem(key(file)); offset = 0; }
    }
    if (!location) {
      var meta = item.fields;
      if (mode !== "request") meta.case = caseRef;
      meta.filename = file.webkitRelativePath || file.name;
      var created = await request("POST", endpoint, { "Upload-Length": String(file.size), "Upload-Metadata": metadata(meta) });
      if (created.status !== 201) throw new Error(await problem(created));
      location = created.headers.get("Location");
      localStorage.setItem(key(file), location);
    }
    // Where this attempt starts: 0 for a new upload, the server's offset for one taken up again.
    ui.row.setAttribute("data-started-at", String(offset));
    ui.bar.value = offset;
    var started = Date.now(), startOffset = offset, failures = 0;
    var counted = offset;
    totals.sent += offset;
    while (offset < file.size) {
      var piece = new Uint8Array(await file.slice(offset, Math.min(offset + CHUNK, file.size)).arrayBuffer());
      var headers = { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) };
      if (window.crypto && crypto.subtle) {
        headers["Upload-Checksum"] = "sha256 " + base64(new Uint8Array(await crypto.subtle.digest("SHA-256", piece)));
      }
      var answer = null;
      try { answer = await request("PATCH", location, headers, piece); } catch (e) { answer = null; }
      if (answer && answer.status === 204) {
        offset = Number(answer.headers.get("Upload-Offset"));
        failures = 0;
      } else if (answer && answer.status >= 400 && answer.status < 500 && [409, 423, 460].indexOf(answer.status) < 0) {
        if (answer.status === 404 || answer.status === 410) localStorage.removeItem(key(file));
        throw new Error(await problem(answer));
      } else {
        // The connection broke or the server is restarting: wait, ask where it stands, go on from there.
        failures += 1;
        if (failures > 120) throw new Error("the server has not answered for several minutes; choose the file again to resume");
        ui.text.textContent = " connection lost; resuming…";
        await sleep(Math.min(500 * failures, 5000));
        try { var now = await offsetAt(location); if (now === null) throw new Error("the upload is gone from the server"); offset = now; }
        catch (e) { if (e.message.indexOf("gone") >= 0) throw e; }
      }
      totals.sent += offset - counted;
      counted = offset;
      ui.bar.value = offset;
      var seconds = (Date.now() - started) / 1000, rate = (offset - startOffset) / Math.max(seconds, 0.001);
      ui.text.textContent = " " + Math.floor(100 * offset / (file.size || 1)) + "% · " + human(rate) + "/s · " +
        duration((file.size - offset) / Math.max(rate, 1)) + " left";
      overall();
    }
    var done = null;
    for (var attempt = 0; attempt < 60 && done === null; attempt++) {
      var shown = await request("GET", location);
      if (shown.ok) {
        var json = await shown.json();
        if (json.exhibit || json.file) done = json;
        else if (json.state === "failed") throw new Error(json.error || "the upload failed");
      }
      if (done === null) await sleep(500);
    }
    localStorage.removeItem(key(file));
    if (done === null) throw new Error("the server did not say what became of the upload");
    return done;
  }

  async function run() {
    if (running) return;
    running = true;
    while (queue.length > 0) {
      var item = queue.shift();
      item.ui.row.setAttribute("data-state", "sending");
      cell(item.ui.row, "result").textContent = "sending";
      try {
        var done = await send(item);
        if (mode === "request") { showReceived(item, done); continue; }
        var exhibit = done.exhibit;
        var result = cell(item.ui.row, "result");
        result.textContent = "";
        var strong = document.createElement("strong");
        strong.textContent = exhibit.reference;
        var verdict = document.createElement("span");
        verdict.className = "badge verdict-" + exhibit.verdict;
        verdict.setAttribute("data-verdict", exhibit.verdict);
        verdict.textContent = exhibit.verdict;
        var digest = document.createElement("div");
        digest.className = "digest";
        digest.textContent = "SHA-256 " + exhibit.sha256;
        result.appendChild(strong);
        result.appendChild(document.createTextNode(" "));
        result.appendChild(verdict);
        result.appendChild(digest);
        item.ui.row.setAttribute("data-state", "done");
        item.ui.row.setAttribute("data-sha256", exhibit.sha256);
        item.ui.row.className = "state-done";
        item.ui.text.textContent = " 100%";
      } catch (error) {
        cell(item.ui.row, "result").textContent = "refused: " + error.message;
        item.ui.row.setAttribute("data-state", "failed");
        item.ui.row.className = "state-failed";
      }
      overall();
    }
    running = false;
    overall();
    refreshExhibits();
  }

  // A file received through a footage request: what was found, in words, and how much of the window is covered.
  function showReceived(item, done) {
    var file = done.file, result = cell(item.ui.row, "result");
    result.textContent = "";
    var verdict = document.createElement("span");
    verdict.className = "badge verdict-" + file.verdict;
    verdict.setAttribute("data-verdict", file.verdict);
    verdict.textContent = file.verdict;
    var words = document.createElement("div");
    words.className = "words";
    words.textContent = file.verdict_words + (file.recorded ? " " + file.recorded : "");
    var digest = document.createElement("div");
    digest.className = "digest";
    digest.textContent = "SHA-256 " + file.sha256;
    result.appendChild(verdict);
    result.appendChild(words);
    result.appendChild(digest);
    item.ui.row.setAttribute("data-state", "done");
    item.ui.row.setAttribute("data-sha256", file.sha256);
    item.ui.row.className = "state-done";
    item.ui.text.textContent = " 100%";
    var coverage = document.getElementById("coverage");
    if (coverage && done.coverage) coverage.textContent = done.coverage;
    overall();
  }

  // When a batch ends, the case's list of exhibits is fetched again and put in place of the old one.
  function refreshExhibits() {
    fetch(location.pathname, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html) return;
      var table = mode === "request" ? "table[aria-label='Received files'] tbody" : "table[aria-label='Exhibits'] tbody";
      var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(table);
      var old = document.querySelector(table);
      if (fresh && old) old.replaceWith(document.importNode(fresh, true));
    }).catch(function () {});
  }

  function choose(files) {
    var list = Array.prototype.slice.call(files).filter(function (f) { return f.size >= 0; });
    if (list.length === 0) return;
    var batch = fields();
    list.forEach(function (file) {
      totals.bytes += file.size;
      var copy = {};
      Object.keys(batch).forEach(function (k) { copy[k] = batch[k]; });
      queue.push({ file: file, ui: addRow(file), fields: copy });
    });
    overall();
    run();
  }

  // Files from a dropped folder, walked recursively (each keeps its path in the folder).
  function walk(entry, path, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) {
          try { Object.defineProperty(file, "webkitRelativePath", { value: path + file.name }); } catch (e) {}
          out.push(file);
          resolve();
        }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader(), all = [];
        (function more() {
          reader.readEntries(function (entries) {
            if (entries.length === 0) {
              Promise.all(all.map(function (e) { return walk(e, path + entry.name + "/", out); })).then(function () { resolve(); });
            } else { all = all.concat(Array.prototype.slice.call(entries)); more(); }
          }, function () { resolve(); });
        })();
      } else resolve();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    section = document.getElementById("upload");
    if (!section) return;
    caseRef = section.getAttribute("data-case") || section.getAttribute("data-key");
    csrf = section.getAttribute("data-csrf");
    endpoint = section.getAttribute("data-endpoint") || "/v1/uploads";
    mode = section.getAttribute("data-mode") || "case";
    section.hidden = false;
    var button = document.getElementById("start-upload");
    var pending = [];
    ["files", "folder"].forEach(function (id) {
      document.getElementById(id).addEventListener("change", function (event) {
        pending = pending.concat(Array.prototype.slice.call(event.target.files));
        button.disabled = pending.length === 0;
        var verb = mode === "request" ? "Send" : "Upload";
        button.textContent = pending.length === 0 ? verb : verb + " " + pending.length + (pending.length === 1 ? " file" : " files");
      });
    });
    button.addEventListener("click", function () {
      var files = pending;
      pending = [];
      button.disabled = true;
      button.textContent = mode === "request" ? "Send" : "Upload";
      document.getElementById("files").value = "";
      document.getElementById("folder").value = "";
      choose(files);
    });
    var drop = document.getElementById("drop");
    drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("over");
      var items = event.dataTransfer.items, out = [], walks = [];
      if (items && items.length && items[0].webkitGetAsEntry) {
        for (var i = 0; i < items.length; i++) {
          var entry = items[i].webkitGetAsEntry();
          if (entry) walks.push(walk(entry, "", out));
        }
        Promise.all(walks).then(function () { choose(out); });
      } else choose(event.dataTransfer.files);
    });
  });
})();

// Copy buttons: <button data-copy="ID"> copies the value of the field ID (selecting it when the clipboard is not
// available, so the person can copy it themselves).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) return;
      field.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(field.value).then(done, function () {});
      else if (document.execCommand && document.execCommand("copy")) done();
    });
  });
});

// The owner's clock check: the true time ticks on the page (the server's clock, shown in the force's zone), and
// the moment the owner types what the recorder shows is sent with the form, so the offset does not include the
// time they took to press the button. A print button on a receipt.
document.addEventListener("DOMContentLoaded", function () {
  var clock = document.getElementById("true-time");
  if (clock) {
    var loaded = Date.now(), server = Number(clock.getAttribute("data-now")), zone = Number(clock.getAttribute("data-offset"));
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var tick = function () {
      var shown = new Date(server + (Date.now() - loaded) + zone);
      clock.textContent = shown.getUTCFullYear() + "-" + pad(shown.getUTCMonth() + 1) + "-" + pad(shown.getUTCDate()) + " " +
        pad(shown.getUTCHours()) + ":" + pad(shown.getUTCMinutes()) + ":" + pad(shown.getUTCSeconds());
    };
    tick();
    setInterval(tick, 1000);
    var input = document.getElementById("recorder-time"), seen = document.getElementById("seen-at");
    if (input && seen) {
      var mark = function () { seen.value = String(Math.round(server + (Date.now() - loaded))); };
      input.addEventListener("input", mark);
      input.addEventListener("change", mark);
    }
  }
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
