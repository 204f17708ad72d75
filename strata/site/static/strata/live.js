// Live updates: one EventSource per page on /events/ (the app role's event server, strata/live/server.py).
// New messages, the unread count and "shared with you" arrive as Server-Sent Events; this script keeps the
// unread badge, shows a notice, and tells the page's own scripts (messaging.js) through DOM events
// "strata:message", "strata:unread", "strata:share" and "strata:ready" (each stream's start: catch up).
// EventSource reconnects by itself with Last-Event-ID; when a reconnect is refused (no event server for a
// moment: nginx answers 502) it gives up, so this script opens a new one, passing the last id it saw.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = (script && script.getAttribute("data-events-url")) || "/events/";
  var lastId = null;
  var retryMs = 1000;

  function setUnread(n) {
    var badge = document.querySelector("[data-unread-badge]");
    if (!badge || typeof n !== "number") { return; }
    badge.textContent = n > 0 ? String(n) : "";
    badge.hidden = !(n > 0);
  }

  function notice(text, href) {
    var box = document.getElementById("live-notices");
    if (!box) { return; }
    var item = document.createElement("div");
    item.className = "live-notice";
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      item.appendChild(a);
    } else {
      item.textContent = text;
    }
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 8000);
  }

  function tell(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  // A replay after a reconnect may resend a few recent events (ids commit out of order): each once.
  var seen = {}, seenOrder = [];
  function parse(ev) {
    if (ev.lastEventId) {
      if (lastId === null || parseInt(ev.lastEventId, 10) > parseInt(lastId, 10)) { lastId = ev.lastEventId; }
      if (ev.type !== "ready") {
        if (seen[ev.lastEventId]) { return null; }
        seen[ev.lastEventId] = true;
        seenOrder.push(ev.lastEventId);
        if (seenOrder.length > 500) { delete seen[seenOrder.shift()]; }
      }
    }
    try { return JSON.parse(ev.data || "{}"); } catch (e) { return {}; }
  }

  function open() {
    var src = new EventSource(lastId ? url + "?after=" + encodeURIComponent(lastId) : url);
    document.documentElement.setAttribute("data-live", "connecting");
    src.addEventListener("ready", function (ev) {
      parse(ev);
      retryMs = 1000;
      document.documentElement.setAttribute("data-live", "open");
      tell("strata:ready", {});
    });
    src.addEventListener("message", function (ev) {
      var d = parse(ev);
      if (!d) { return; }
      setUnread(d.unread);
      var handled = { shown: false };
      tell("strata:message", { data: d, handled: handled });
      if (!handled.shown) {
        notice("New message from " + d.from + (d.subject ? ": " + d.subject : ""), d.url);
      }
    });
    src.addEventListener("unread", function (ev) {
      var d = parse(ev);
      if (!d) { return; }
      setUnread(d.unread);
      tell("strata:unread", d);
    });
    src.addEventListener("share", function (ev) {
      var d = parse(ev);
      if (!d) { return; }
      notice(d.text, d.url);
      tell("strata:share", d);
    });
    src.addEventListener("error", function () {
      document.documentElement.setAttribute("data-live", "reconnecting");
      if (src.readyState === EventSource.CLOSED) {
        // Refused (not a broken stream, which EventSource retries itself): open a new one, later.
        setTimeout(open, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    });
  }

  if (window.EventSource) { open(); }
})();
