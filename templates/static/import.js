// The import page's progress bar, kept up to date without a reload; without JavaScript the page's
// "Refresh" link does the same. When the work moves on (checked, done), the page is reloaded.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || !window.fetch) { return; }
  var bar = document.getElementById("progress-bar");
  var status = document.getElementById("progress-status");
  var label = box.querySelector("label[for='progress-bar']");
  function poll() {
    fetch(box.getAttribute("data-progress-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.state !== box.getAttribute("data-state")) { window.location.reload(); return; }
        bar.max = data.rows; bar.value = data.processed;
        label.textContent = data.processed + " of " + data.rows + " rows done";
        status.textContent = Math.floor(100 * data.processed / Math.max(1, data.rows)) + "% done.";
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
