// Groundwork: small enhancements; every page works without them.
// A button with data-copy="ID" copies the text of the element #ID.
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  var target = document.getElementById(b.dataset.copy);
  if (!target || !navigator.clipboard) { return; }
  b.hidden = false;
  var label = b.textContent;
  b.addEventListener("click", function () {
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = label; }, 2000);
    });
  });
});
