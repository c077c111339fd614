// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // The navigation collapses behind a button on narrow screens.
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        nav.classList.toggle("open", open);
      });
    }

    // Destructive links lead to a confirmation page; with a <dialog>, ask in place instead.
    var dialog = document.getElementById("confirm-dialog");
    if (dialog && typeof dialog.showModal === "function") {
      var form = dialog.querySelector("form");
      var question = dialog.querySelector(".question");
      var submit = dialog.querySelector("button[type=submit]");
      document.querySelectorAll("a[data-confirm]").forEach(function (link) {
        link.addEventListener("click", function (event) {
          event.preventDefault();
          form.setAttribute("action", link.getAttribute("href"));
          question.textContent = link.dataset.confirm;
          submit.textContent = link.dataset.button || link.textContent.trim();
          dialog.showModal();
          submit.focus();
        });
      });
      dialog.querySelectorAll("[data-close]").forEach(function (button) {
        button.addEventListener("click", function () { dialog.close(); });
      });
    }

    // Copy a shown-once secret.
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.dataset.copy);
        field.select();
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(
            function () { button.textContent = "Copied"; },
            function () { button.textContent = "Press Ctrl+C to copy"; }
          );
        } else {
          button.textContent = "Selected: press Ctrl+C to copy";
        }
      });
    });
  });
})();
