// Messaging without page reloads: send with fetch() and append the returned HTML fragment; poll for
// new messages and for the conversation list. The pages work without this script (plain forms).
(function () {
  "use strict";
  var POLL_MS = 3000;
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

  function pollChat(chat) {
    var base = chat.getAttribute("data-poll").replace(/0\/$/, "");
    function tick() {
      fetch(base + lastId(chat) + "/", { headers: FETCH, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          var unread = r.headers.get("X-Unread");
          if (unread !== null) { setUnread(parseInt(unread, 10)); }
          return r.text();
        })
        .then(function (html) { if (html.trim()) { append(chat, html); } })
        .catch(function () { /* offline for a moment: the next tick tries again */ })
        .then(function () { setTimeout(tick, POLL_MS); });
    }
    setTimeout(tick, POLL_MS);
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

  function pollList(list) {
    var url = list.getAttribute("data-refresh");
    setInterval(function () {
      fetch(url, { headers: FETCH, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { list.innerHTML = html; } })
        .catch(function () {});
    }, POLL_MS * 3);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var chat = document.getElementById("chat");
    var form = document.getElementById("send-form");
    if (chat) { pollChat(chat); }
    if (chat && form) { wireSend(form, chat); }
    var list = document.getElementById("conversation-list");
    if (list) { pollList(list); }
  });
})();
