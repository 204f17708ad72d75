// People pickers: an input with data-picker="person" | "group" | "to" becomes a combobox (the WAI-ARIA
// combobox pattern with a listbox popup). From two letters on it asks /people/suggest.json (the directory
// as mirrored in the database) and lists people (name, username, department) and groups; Down/Up move
// through the list, Enter takes the highlighted one, Escape closes the list. Without this script the
// input stays a plain text box for a username or group name.
(function () {
  "use strict";
  var DELAY_MS = 150;
  var counter = 0;

  function setup(input) {
    var kind = input.getAttribute("data-picker");
    var mine = input.hasAttribute("data-picker-mine") ? "&mine=1" : "";
    var id = "picker-" + (++counter);
    var list = document.createElement("ul");
    var wrap = document.createElement("div");
    var options = [], active = -1, timer = null, seq = 0;

    wrap.className = "picker";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    list.id = id + "-list";
    list.className = "picker__list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    wrap.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      options = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(i) {
      if (!options.length) { return; }
      active = (i + options.length) % options.length;
      options.forEach(function (li, n) { li.setAttribute("aria-selected", n === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function choose(li) {
      input.value = li.getAttribute("data-value");
      close();
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function valueOf(item) {
      if (item.kind === "group") { return kind === "to" ? "group:" + item.name : item.name; }
      return item.username;
    }

    function show(results) {
      close();
      results.forEach(function (item, n) {
        var li = document.createElement("li");
        li.id = id + "-opt-" + n;
        li.className = "picker__option";
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-value", valueOf(item));
        var strong = document.createElement("strong");
        strong.textContent = item.label;
        var small = document.createElement("small");
        small.textContent = item.kind === "group"
          ? " group"
          : " " + item.username + (item.department ? " · " + item.department : "");
        li.appendChild(strong);
        li.appendChild(small);
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(li); });
        list.appendChild(li);
        options.push(li);
      });
      if (options.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
    }

    function ask() {
      var q = input.value.trim();
      if (q.length < 2) { close(); return; }
      var mySeq = ++seq;
      var types = kind === "to" ? "all" : kind;
      fetch("/people/suggest.json?q=" + encodeURIComponent(q) + "&kind=" + types + mine,
            { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) { if (mySeq === seq) { show(data.results || []); } })
        .catch(function () {});
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown") {
        if (list.hidden) { ask(); } else { highlight(active + 1); }
        ev.preventDefault();
      } else if (ev.key === "ArrowUp") {
        if (!list.hidden) { highlight(active - 1); ev.preventDefault(); }
      } else if (ev.key === "Enter") {
        if (!list.hidden && active >= 0) { ev.preventDefault(); choose(options[active]); }
      } else if (ev.key === "Escape") {
        if (!list.hidden) { ev.preventDefault(); close(); }
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-picker]"), setup);
  });
})();
