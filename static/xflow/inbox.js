// Progressive enhancement only: every action works without this file.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    // A second click while the first post is on its way would claim or complete twice.
    if (form.method === "post" && form.dataset.sent) {
      event.preventDefault();
      return;
    }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.method === "post") {
      form.dataset.sent = "1";
      form.setAttribute("aria-busy", "true");
    }
  });
  // Back from the browser's page cache: the form may be used again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.removeAttribute("aria-busy");
    });
  });
})();
