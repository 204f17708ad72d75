// Strata: what every page does in the browser (CSP: no inline scripts, so it lives here).
// 1. Phones: the main menu folds behind the "Menu" button (without this script it simply stays open).
// 2. Tables: each cell gets its column's name (data-label), which the phone layout shows when a table
//    collapses into a list of cards (site.css).
(function () {
  "use strict";

  var PHONE = window.matchMedia("(max-width: 36rem)");

  function setUpMenu() {
    var button = document.querySelector(".menu-toggle");
    var nav = document.getElementById("site-nav");
    if (!button || !nav) { return; }
    function fold(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("is-folded", !open);
    }
    button.hidden = false;
    fold(!PHONE.matches);
    button.addEventListener("click", function () {
      fold(button.getAttribute("aria-expanded") !== "true");
    });
    PHONE.addEventListener("change", function () { fold(!PHONE.matches); });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && PHONE.matches && button.getAttribute("aria-expanded") === "true") {
        fold(false);
        button.focus();
      }
    });
  }

  function labelCells(table) {
    var heads = table.querySelectorAll("thead th");
    if (!heads.length) { return; }
    // A column named for screen readers only (an actions column) gets no visible label.
    var names = Array.prototype.map.call(heads, function (th) {
      return th.querySelector(".visually-hidden") ? "" : th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      Array.prototype.forEach.call(tr.children, function (cell, i) {
        if (names[i] && !cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
          cell.setAttribute("data-label", names[i]);
        }
      });
    });
  }

  function setUpTables() {
    document.querySelectorAll("table.table").forEach(function (table) {
      labelCells(table);
      // Rows added later (an upload finished: files.js) get their labels too.
      var body = table.querySelector("tbody");
      if (body && window.MutationObserver) {
        new MutationObserver(function () { labelCells(table); }).observe(body, { childList: true });
      }
    });
  }

  function start() {
    setUpMenu();
    setUpTables();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
