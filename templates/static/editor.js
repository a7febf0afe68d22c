// The issue editor, made livelier: it saves as you type, refreshes the preview beside it, and asks
// before you leave with changes not saved. Everything here also works without it (the buttons submit).
(function () {
  "use strict";
  var form = document.getElementById("issue-editor");
  if (!form) { return; }
  var status = document.getElementById("save-status");
  var preview = document.getElementById("live-preview");
  var autosaveUrl = form.getAttribute("data-autosave");
  var dirty = form.getAttribute("data-unsaved") === "yes";
  var timer = null;
  var saving = false;
  var again = false;
  var stopped = false;

  function say(text) { if (status) { status.textContent = text; } }

  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
  form.addEventListener("submit", function () { dirty = false; });

  function changed() {
    dirty = true;
    if (!autosaveUrl || stopped) { say("Not saved yet"); return; }
    say("Changes not saved yet…");
    window.clearTimeout(timer);
    timer = window.setTimeout(save, 700);
  }
  form.addEventListener("input", function (event) { if (event.target.type !== "file") { changed(); } });
  form.addEventListener("change", function (event) {
    if (event.target.type === "file") { chosen(event.target); } else { changed(); }
  });

  // Choosing an image uploads it at once (the card's Upload button, which also works without this),
  // unless it is too big to send: then it says so here, before anything is sent.
  function chosen(input) {
    var file = input.files && input.files[0];
    var box = input.closest(".field");
    var old = box && box.querySelector(".error.chosen");
    if (old) { old.remove(); }
    if (!file) { return; }
    var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
    if (limit && file.size > limit) {
      var error = document.createElement("p");
      error.className = "error chosen";
      error.id = input.id + "-chosen-error";
      error.textContent = "That image is " + (file.size / 1048576).toFixed(1) + " MB. Choose one of at most " +
        Math.floor(limit / 1048576) + " MB, for example by saving it smaller or as a JPEG.";
      input.before(error);
      input.setAttribute("aria-describedby", input.id + "-hint " + error.id);
      input.value = "";
      input.focus();
      return;
    }
    var button = box && box.querySelector("button[value^='upload-']");
    if (button) { form.requestSubmit(button); }
  }

  function save() {
    if (saving) { again = true; return; }
    saving = true;
    var data = new FormData(form);
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
      data.delete(input.name);  // images go up with their Upload button, never with every keystroke
    });
    fetch(autosaveUrl, { method: "POST", body: data, credentials: "same-origin",
                         headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      })
      .then(function (result) {
        if (result.body.saved) {
          form.elements.version.value = result.body.version;
          if (!again) { dirty = false; }
          say("Saved at " + result.body.at + " UTC");
          if (preview) { preview.src = preview.src.split("?")[0] + "?at=" + encodeURIComponent(result.body.version); }
        } else if (result.status === 409) {
          stopped = true;
          say(result.body.message || "Someone else saved this issue. Your changes are not saved.");
        } else {
          var fields = result.body.fields || {};
          var first = Object.keys(fields)[0];
          say("Not saved: " + (first ? fields[first] : (result.body.message || "please check the form.")));
        }
      })
      .catch(function () { say("Not saved: PeerPost could not be reached. Your text is still here."); })
      .then(function () {
        saving = false;
        if (again) { again = false; save(); }
      });
  }

  var widths = document.querySelector(".preview-widths");
  if (widths && preview) {
    widths.hidden = false;
    widths.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-width]");
      if (!button) { return; }
      preview.style.width = button.getAttribute("data-width") + "px";
      Array.prototype.forEach.call(widths.querySelectorAll("button"), function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
    });
  }
}());
