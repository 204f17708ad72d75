/* Files: drag-and-drop and chosen-file uploads with a progress bar per file, over the resumable
 * upload API (POST uploads/ -> PUT parts/<n> -> POST complete). An upload survives a reload: its id
 * is kept in localStorage, and choosing the same file again sends only the parts the server does not
 * hold with the same sha256. Also the "Copy" buttons of the file page. No inline script anywhere: the site sends Content-Security-Policy default-src 'self'. */
(function () {
  "use strict";

  var PARALLEL_PARTS = 2; // parts in flight per file; files go one after another
  var PART_RETRIES = 3; // a failed part is retried this many times before the error is shown
  var BACKOFF_MS = [500, 1500, 4000];
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // --- helpers ---------------------------------------------------------------------------------

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    // Fallback when the cookie is not readable (CSRF_COOKIE_HTTPONLY): a form's hidden field.
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function humanSize(n) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + (n === 1 ? " byte" : " bytes") : n.toFixed(1) + "\u00a0" + units[i];
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // --- resuming after a reload: the upload id is kept in localStorage, keyed by where the file goes and
  // what the file is (name, size, last modified); choosing the same file again resumes that upload.
  var STORE_PREFIX = "strata.upload:";

  function storeKey(q, file) {
    var where = q.folder ? "folder " + q.folder : "space " + q.space;
    return STORE_PREFIX + JSON.stringify([where, file.name, file.size, file.lastModified]);
  }

  function remembered(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function remember(key, id) {
    try {
      if (id) window.localStorage.setItem(key, id); else window.localStorage.removeItem(key);
    } catch (e) { /* storage off or full: the upload still works, it just cannot resume after a reload */ }
  }

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }

  // Resolve to the hex sha256 of BLOB, or null when the browser cannot compute it (then nothing is skipped).
  function sha256(blob) {
    if (!window.crypto || !window.crypto.subtle || !blob.arrayBuffer) return Promise.resolve(null);
    return blob.arrayBuffer()
      .then(function (buf) { return window.crypto.subtle.digest("SHA-256", buf); })
      .then(hex, function () { return null; });
  }

  // Return a promise of {status, data} for a request; never rejects (status 0 = network failure).
  function send(method, url, body, opts) {
    opts = opts || {};
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      if (opts.json) xhr.setRequestHeader("Content-Type", "application/json");
      else if (body !== null && body !== undefined) xhr.setRequestHeader("Content-Type", "application/octet-stream");
      if (opts.onprogress) xhr.upload.onprogress = function (e) { opts.onprogress(e.loaded); };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        resolve({ status: xhr.status, data: data });
      };
      xhr.onerror = function () { resolve({ status: 0, data: null }); };
      xhr.onabort = xhr.onerror;
      xhr.send(opts.json ? JSON.stringify(body) : (body === undefined ? null : body));
    });
  }

  function errorText(res) {
    if (res.data && typeof res.data.error === "string") return res.data.error;
    if (res.status === 0) return "The connection failed (network error).";
    if (res.status === 413) return "The server refused the upload: it is too large.";
    if (res.status === 401 || res.status === 403) return "Your session has ended: reload the page and log in.";
    if (res.status >= 500) return "The server is unavailable (HTTP " + res.status + "); try again later.";
    return "The upload failed (HTTP " + res.status + ").";
  }

  // Only these are worth sending again as they are: the network or the server hiccupped.
  function transient(res) {
    return res.status === 0 || res.status === 408 || res.status === 429 || res.status >= 500;
  }

  // --- one file being uploaded -----------------------------------------------------------------

  function Item(file, list) {
    this.file = file;
    this.upload = null; // the server's {id, part_size, parts, received}
    this.done = {}; // part number -> true once the server has it
    this.inFlight = {}; // part number -> bytes sent so far
    this.li = el("li", { "class": "upload-item", "data-state": "waiting" });
    var head = el("div", { "class": "upload-item__head" });
    this.nameEl = el("span", { "class": "upload-item__name" }, file.name);
    this.sizeEl = el("span", { "class": "upload-item__size muted" }, humanSize(file.size));
    this.pctEl = el("span", { "class": "upload-item__pct" }, "0%");
    head.append(this.nameEl, this.sizeEl, this.pctEl);
    this.bar = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
    this.stateEl = el("span", { "class": "upload-item__state" }, "Waiting");
    this.actions = el("span", { "class": "upload-item__actions" });
    this.li.append(head, this.bar, this.stateEl, this.actions);
    list.append(this.li);
  }

  Item.prototype.setState = function (state, text) {
    this.li.setAttribute("data-state", state);
    this.stateEl.textContent = text;
    this.stateEl.setAttribute("role", state === "error" ? "alert" : "status");
  };

  Item.prototype.showProgress = function () {
    var size = this.file.size;
    var sent = 0;
    var self = this;
    if (this.upload) {
      Object.keys(this.done).forEach(function (n) { sent += self.partLength(+n); });
      Object.keys(this.inFlight).forEach(function (n) { sent += self.inFlight[n]; });
    }
    var pct = size === 0 ? (this.finished ? 100 : 0) : Math.min(100, Math.floor((sent * 100) / size));
    // 100% only once the server has joined the parts, not when the last byte left the browser.
    if (pct === 100 && !this.finished) pct = 99;
    this.bar.value = pct;
    this.pctEl.textContent = pct + "%";
  };

  Item.prototype.partLength = function (n) {
    var ps = this.upload.part_size;
    return Math.max(0, Math.min(ps, this.file.size - (n - 1) * ps));
  };

  Item.prototype.partBlob = function (n) {
    var start = (n - 1) * this.upload.part_size;
    return this.file.slice(start, start + this.partLength(n));
  };

  // Count as done only the parts the server holds whole whose size and sha256 match this file's bytes
  // (the same name, size and date could still be different content); resolve to how many were kept.
  // One part at a time: only one part's bytes are in memory, however large the file.
  Item.prototype.keepStoredParts = function (stored) {
    var self = this;
    var kept = 0;
    var todo = (stored || []).filter(function (p) {
      return p.number >= 1 && p.number <= self.upload.parts && p.size === self.partLength(p.number);
    });
    function next() {
      var p = todo.shift();
      if (!p) { self.showProgress(); return Promise.resolve(kept); }
      self.setState("uploading", "Checking the parts already on the server (" + kept + " kept)…");
      return sha256(self.partBlob(p.number)).then(function (digest) {
        if (digest && digest === p.sha256) { self.done[p.number] = true; kept++; }
        return next();
      });
    }
    return next();
  };

  // After a reload: ask the server about the upload remembered for this file; resolve to true when it
  // still exists and this.upload is set (with the verified parts marked done), false to start afresh.
  Item.prototype.resume = function (id) {
    var self = this;
    var q = this.queue;
    return send("GET", q.api + encodeURIComponent(id)).then(function (res) {
      var d = res.data;
      if (res.status !== 200 || !d || d.size !== self.file.size) {
        if (res.status === 404 || res.status === 200) remember(self.key, null);
        return false;
      }
      self.upload = d;
      self.done = {};
      return self.keepStoredParts(d.stored).then(function (kept) {
        self.setState("uploading", "Resuming: " + kept + " of " + d.parts + " parts already on the server");
        return true;
      });
    });
  };

  Item.prototype.missingParts = function () {
    var out = [];
    for (var n = 1; n <= this.upload.parts; n++) if (!this.done[n]) out.push(n);
    return out;
  };

  Item.prototype.fail = function (message, canRetry) {
    var self = this;
    this.setState("error", message);
    this.actions.textContent = "";
    if (canRetry) {
      var retry = el("button", { type: "button", "class": "button" }, "Retry");
      retry.addEventListener("click", function () { self.actions.textContent = ""; self.queue.add(self); });
      this.actions.append(retry);
    }
    if (this.upload) {
      // An unfinished upload keeps its declared size reserved against the quota until cancelled.
      var cancel = el("button", { type: "button", "class": "button" }, "Cancel");
      cancel.addEventListener("click", function () {
        self.actions.textContent = "";
        remember(self.key, null);
        send("DELETE", self.queue.api + encodeURIComponent(self.upload.id)).then(function () {
          self.setState("cancelled", "Cancelled");
        });
      });
      this.actions.append(cancel);
    }
  };

  // Send one part, retrying transient failures with backoff; resolve to the last response.
  Item.prototype.sendPart = function (n) {
    var self = this;
    var blob = this.partBlob(n);
    var url = this.queue.api + encodeURIComponent(this.upload.id) + "/parts/" + n;
    function attempt(i) {
      self.inFlight[n] = 0;
      return send("PUT", url, blob, {
        onprogress: function (loaded) { self.inFlight[n] = loaded; self.showProgress(); },
      }).then(function (res) {
        delete self.inFlight[n];
        if (res.status === 200) { self.done[n] = true; self.showProgress(); return res; }
        if (i < PART_RETRIES && transient(res)) {
          self.setState("retrying", "Part " + n + " failed; retrying (" + (i + 1) + " of " + PART_RETRIES + ")…");
          return sleep(BACKOFF_MS[i]).then(function () {
            self.setState("uploading", "Uploading");
            return attempt(i + 1);
          });
        }
        self.showProgress();
        return res;
      });
    }
    return attempt(0);
  };

  // Send the missing parts, PARALLEL_PARTS at a time; resolve to the first failure or null.
  Item.prototype.sendParts = function () {
    var self = this;
    var todo = this.missingParts();
    var failure = null;
    function worker() {
      if (failure || !todo.length) return Promise.resolve();
      var n = todo.shift();
      return self.sendPart(n).then(function (res) {
        if (res.status !== 200 && !failure) { failure = res; failure.part = n; }
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < PARALLEL_PARTS; i++) workers.push(worker());
    return Promise.all(workers).then(function () { return failure; });
  };

  // Ask the server which parts it holds (after a failure) so only the missing ones are sent again.
  Item.prototype.refreshReceived = function () {
    var self = this;
    return send("GET", this.queue.api + encodeURIComponent(this.upload.id)).then(function (res) {
      if (res.status === 404) {
        // The server dropped the upload (cancelled or cleaned up): the next Retry starts afresh.
        remember(self.key, null);
        self.upload = null;
        self.done = {};
        return { status: 404, restart: true,
          data: { error: "The server no longer has this upload; Retry starts it again." } };
      }
      if (res.status !== 200 || !res.data) return res;
      self.done = {};
      (res.data.received || []).forEach(function (n) { self.done[n] = true; });
      self.showProgress();
      return null;
    });
  };

  Item.prototype.run = function () {
    var self = this;
    var q = this.queue;
    var file = this.file;
    if (file.size > q.max) {
      this.setState("error", "Too large: files are limited to " + humanSize(q.max) + "; nothing was sent.");
      return Promise.resolve();
    }
    this.setState("uploading", "Uploading");
    this.key = storeKey(q, file);
    function open() {
      var body = { name: file.name, size: file.size, content_type: file.type || "application/octet-stream" };
      if (q.folder) body.folder = +q.folder; else body.space = +q.space;
      return send("POST", q.api, body, { json: true }).then(function (res) {
        if (res.status !== 201 || !res.data) return res;
        self.upload = res.data;
        remember(self.key, res.data.id);
        (res.data.received || []).forEach(function (n) { self.done[n] = true; });
        return null;
      });
    }
    var begin;
    var earlier = remembered(this.key);
    if (this.upload) {
      begin = this.refreshReceived();
    } else if (earlier) {
      begin = this.resume(earlier).then(function (resumed) { return resumed ? null : open(); });
    } else {
      begin = open();
    }
    return begin.then(function (failed) {
      if (failed) {
        // Refusals before any byte (quota, size, name) are final; only hiccups are worth a retry.
        self.fail(errorText(failed), transient(failed) || !!self.upload || !!failed.restart);
        return;
      }
      return self.sendParts().then(function (failedPart) {
        if (failedPart) {
          self.fail("Part " + failedPart.part + " of " + self.upload.parts + " failed: " + errorText(failedPart), true);
          return;
        }
        self.setState("finishing", "Finishing…");
        return send("POST", q.api + encodeURIComponent(self.upload.id) + "/complete").then(function (res) {
          if (res.status !== 201 || !res.data) { self.fail(errorText(res), true); return; }
          remember(self.key, null);
          self.finished = true;
          self.showProgress();
          self.setState("done", res.data.name === file.name ? "Uploaded" : "Uploaded as “" + res.data.name + "”");
          q.added(res.data);
        });
      });
    });
  };

  // --- the queue: one file at a time --------------------------------------------------------------

  function Queue(section) {
    this.section = section;
    this.api = section.getAttribute("data-api");
    this.space = section.getAttribute("data-space");
    this.folder = section.getAttribute("data-folder");
    this.max = parseInt(section.getAttribute("data-max"), 10) || Infinity;
    this.fileUrl = section.getAttribute("data-file-url");
    this.downloadUrl = section.getAttribute("data-download-url");
    this.list = section.querySelector(".upload-list");
    this.items = [];
    this.running = false;
  }

  Queue.prototype.addFiles = function (files) {
    for (var i = 0; i < files.length; i++) {
      var item = new Item(files[i], this.list);
      item.queue = this;
      this.add(item);
    }
  };

  Queue.prototype.add = function (item) {
    item.setState("waiting", "Waiting");
    this.items.push(item);
    if (!this.running) this.next();
  };

  Queue.prototype.next = function () {
    var self = this;
    var item = this.items.shift();
    if (!item) { this.running = false; this.refreshQuota(); return; }
    this.running = true;
    item.li.scrollIntoView({ block: "nearest", behavior: reducedMotion ? "auto" : "smooth" });
    item.run().then(function () { self.next(); });
  };

  Queue.prototype.busy = function () { return this.running; };

  // Show the quota as it is now that the uploads are done (or their reservations are).
  Queue.prototype.refreshQuota = function () {
    var out = this.section.querySelector(".quota");
    var url = this.section.getAttribute("data-quota-url");
    if (!out || !url) return;
    send("GET", url).then(function (res) {
      if (res.status === 200 && res.data && res.data.quota) {
        out.textContent = humanSize(res.data.quota.used) + " of " + humanSize(res.data.quota.limit) + " used";
      }
    });
  };

  function withId(template, id) {
    var i = template.lastIndexOf("/0/");
    return template.slice(0, i) + "/" + id + "/" + template.slice(i + 3);
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  // Put the new file's row into the listing, in name order among the files.
  Queue.prototype.added = function (f) {
    var tbody = document.querySelector("table.files tbody");
    if (!tbody || !this.fileUrl) return;
    var empty = tbody.querySelector(".files-empty");
    if (empty) empty.remove();
    var tr = el("tr", { "class": "file-row", "data-name": f.name });
    var th = el("th", { scope: "row" });
    th.append(el("a", { href: withId(this.fileUrl, f.id) }, f.name));
    var d = new Date(f.updated_at);
    var when = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
    var actions = el("td");
    actions.append(el("a", { href: withId(this.downloadUrl, f.id) }, "Download"));
    tr.append(th, el("td", {}, humanSize(f.size)), el("td", {}, when), actions);
    tr.classList.add("is-new");
    setTimeout(function () { tr.classList.remove("is-new"); }, 2500); // the highlight fades (CSS)
    var rows = tbody.querySelectorAll("tr.file-row");
    var before = null;
    for (var i = 0; i < rows.length; i++) {
      if ((rows[i].getAttribute("data-name") || "") > f.name) { before = rows[i]; break; }
    }
    tbody.insertBefore(tr, before);
  };

  // --- wiring ----------------------------------------------------------------------------------

  function hasFiles(e) {
    var types = e.dataTransfer && e.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  // Return the dropped files; a dropped folder shows up as an error row instead of a bogus empty file.
  function droppedFiles(dt) {
    var files = Array.prototype.slice.call(dt.files || []);
    var items = dt.items || [];
    if (items.length !== files.length) return files;
    return files.filter(function (file, i) {
      var entry = items[i].webkitGetAsEntry ? items[i].webkitGetAsEntry() : null;
      if (entry && entry.isDirectory) {
        var li = el("li", { "class": "upload-item", "data-state": "error" }, "");
        li.append(el("span", { "class": "upload-item__name" }, file.name),
          el("span", { "class": "upload-item__state", role: "alert" },
            " — folders cannot be dropped: create the folder, then drop the files inside it."));
        document.querySelector("#upload .upload-list").append(li);
        return false;
      }
      return true;
    });
  }

  function setupUpload(section) {
    var queue = new Queue(section);
    var input = section.querySelector("input[type=file]");
    if (input) {
      input.addEventListener("change", function () {
        queue.addFiles(input.files);
        input.value = ""; // choosing the same file again fires "change" again
      });
    }
    // The whole page is a drop target; the section shows it while files are dragged over.
    var depth = 0;
    function leave() { depth = 0; section.classList.remove("is-dragover"); }
    document.addEventListener("dragenter", function (e) {
      if (!hasFiles(e)) return;
      depth++;
      section.classList.add("is-dragover");
    });
    document.addEventListener("dragover", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault(); // without this the browser opens the dropped file instead
      e.dataTransfer.dropEffect = "copy";
    });
    document.addEventListener("dragleave", function (e) {
      if (!hasFiles(e)) return;
      if (--depth <= 0) leave();
    });
    document.addEventListener("dragend", leave);
    document.addEventListener("drop", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      leave();
      queue.addFiles(droppedFiles(e.dataTransfer));
    });
    window.addEventListener("beforeunload", function (e) {
      if (!queue.busy()) return;
      e.preventDefault();
      e.returnValue = ""; // leaving now would stop the uploads
    });
    section.classList.add("is-ready");
  }

  function setupCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        if (!field) return;
        field.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  var section = document.getElementById("upload");
  if (section) setupUpload(section);
  setupCopyButtons();
})();
