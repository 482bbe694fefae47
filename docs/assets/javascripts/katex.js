// Renders the formulas that pymdownx.arithmatex (generic mode) leaves in
// `.arithmatex` elements as \( ... \) and \[ ... \], with the KaTeX files
// shipped in docs/assets/katex, so the site needs no network for math.
(function () {
  function renderMath(root) {
    root.querySelectorAll(".arithmatex").forEach(function (element) {
      renderMathInElement(element, {
        delimiters: [
          { left: "\\[", right: "\\]", display: true },
          { left: "\\(", right: "\\)", display: false },
        ],
        throwOnError: false,
      });
    });
  }
  if (typeof document$ !== "undefined") {
    // Material for MkDocs: also after instant navigation.
    document$.subscribe(function () {
      renderMath(document.body);
    });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      renderMath(document.body);
    });
  } else {
    renderMath(document.body);
  }
})();
