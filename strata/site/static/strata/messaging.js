// Messaging without page reloads: send with fetch() and append the returned HTML fragment; new messages
// and the conversation list follow the live stream (live.js: no polling). The pages work without this
// script (plain forms).
(function () {
  "use strict";
  var FETCH = { "X-Requested-With": "fetch" };

  function setUnread(n) {
    var badge = document.querySelector("[data-unread-badge]");
    if (!badge) { return; }
    badge.textContent = n > 0 ? String(n) : "";
    badge.hidden = !(n > 0);
  }

  function lastId(chat) {
    var items = chat.querySelectorAll("[data-id]");
    return items.length ? items[items.length - 1].getAttribute("data-id") : "0";
  }

  function append(chat, html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    Array.prototype.forEach.call(tpl.content.querySelectorAll("[data-id]"), function (li) {
      if (!document.getElementById(li.id)) { chat.appendChild(li); }
    });
    chat.lastElementChild && chat.lastElementChild.scrollIntoView({ block: "nearest" });
  }

  // New messages come by live.js (Server-Sent Events): fetch what is newer than the last one shown.
  function followChat(chat) {
    var base = chat.getAttribute("data-after").replace(/0\/$/, "");
    var conversation = parseInt(chat.getAttribute("data-conversation"), 10);
    var busy = false, again = false;
    function catchUp() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(base + lastId(chat) + "/", { headers: FETCH, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          var unread = r.headers.get("X-Unread");
          if (unread !== null) { setUnread(parseInt(unread, 10)); }
          return r.text();
        })
        .then(function (html) { if (html.trim()) { append(chat, html); } })
        .catch(function () { /* offline for a moment: the stream's next "ready" catches up */ })
        .then(function () {
          busy = false;
          if (again) { again = false; catchUp(); }
        });
    }
    document.addEventListener("strata:ready", catchUp);
    document.addEventListener("strata:message", function (ev) {
      if (ev.detail.data.conversation === conversation) {
        ev.detail.handled.shown = true;
        catchUp();
      }
    });
  }

  function wireSend(form, chat) {
    var error = document.getElementById("send-error");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      fetch(form.action, { method: "POST", body: new FormData(form), headers: FETCH, credentials: "same-origin" })
        .then(function (r) {
          return r.text().then(function (text) { return { ok: r.ok, text: text, status: r.status }; });
        })
        .then(function (res) {
          if (res.ok) {
            append(chat, res.text);
            form.reset();
            error.hidden = true;
          } else {
            error.textContent = res.status === 403 ? "Your session expired: reload the page." : res.text;
            error.hidden = false;
          }
        })
        .catch(function () {
          error.textContent = "The message could not be sent: check your connection and try again.";
          error.hidden = false;
        })
        .then(function () { button.disabled = false; });
    });
  }

  function followList(list) {
    var url = list.getAttribute("data-refresh");
    function refresh() {
      fetch(url, { headers: FETCH, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { list.innerHTML = html; } })
        .catch(function () {});
    }
    document.addEventListener("strata:ready", refresh);
    document.addEventListener("strata:message", refresh);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var chat = document.getElementById("chat");
    var form = document.getElementById("send-form");
    if (chat) { followChat(chat); }
    if (chat && form) { wireSend(form, chat); }
    var list = document.getElementById("conversation-list");
    if (list) { followList(list); }
  });
})();
