// Groundwork: renders the API reference at /api/docs with Redoc (vendored
// in /static/vendor/redoc/). A static file, as the CSP allows no inline
// script; the element's data-spec names the OpenAPI document.
"use strict";
(function () {
  var el = document.getElementById("api-reference");
  if (!el || !window.Redoc) { return; }
  window.Redoc.init(el.dataset.spec, {
    expandResponses: "200,201",
    hideDownloadButton: false,
    nativeScrollbars: true,
    theme: { typography: { fontFamily: "system-ui, sans-serif", headings: { fontFamily: "system-ui, sans-serif" } } }
  }, el);
})();
