/* Search results that read well offline and show no TeX (loaded with `defer` by
   book/_ext/offline_book.py, so it runs after Sphinx's searchtools.js and before the search).

   - Opened from a file (file://), the browser refuses the fetch Sphinx makes for each result's
     excerpt ("Failed to fetch" in the console). There the results list only page titles, with a
     note saying why, and nothing is fetched.
   - Over HTTP the excerpts are cut from each page's HTML, where formulas are still TeX
     (\(\delta\)). Each formula is turned into plain text first (δ), so an excerpt never shows a
     TeX command or delimiter, even when it cuts a formula in two.

   tests/test_browser.py checks both. */
(function () {
  "use strict";
  if (typeof Search === "undefined" || typeof DOCUMENTATION_OPTIONS === "undefined") {
    return; // not the search page
  }

  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", vartheta: "θ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν",
    xi: "ξ", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", upsilon: "υ", phi: "φ", varphi: "φ",
    chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Xi: "Ξ",
    Pi: "Π", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", sim: "~", equiv: "≡",
    to: "→", rightarrow: "→", leftarrow: "←", Rightarrow: "⇒", mapsto: "↦", infty: "∞",
    cdot: "·", times: "×", pm: "±", mp: "∓", partial: "∂", nabla: "∇", sum: "Σ", prod: "Π",
    int: "∫", sqrt: "√", in: "∈", notin: "∉", subset: "⊂", cup: "∪", cap: "∩", forall: "∀",
    exists: "∃", mid: "|", lvert: "|", rvert: "|", vert: "|", lVert: "‖", rVert: "‖",
    langle: "⟨", rangle: "⟩", ldots: "…", cdots: "⋯", dots: "…", prime: "′",
    // the book's own macros (_config.yml, mathjax3_config)
    E: "𝔼", R: "ℝ", sigmoid: "σ", yhat: "ŷ",
  };
  var ACCENTS = { hat: "\u0302", widehat: "\u0302", bar: "\u0304", overline: "\u0304", tilde: "\u0303", dot: "\u0307", vec: "\u20d7" };
  var SPACES = { ",": " ", ";": " ", ":": " ", "!": "", " ": " ", quad: " ", qquad: " " };

  // A formula's TeX as plain text: \delta -> δ, \hat{y} -> ŷ, \frac{a}{b} -> (a)/(b), \mathrm{MSE} -> MSE.
  function texToText(tex) {
    var group = "\\{((?:[^{}]|\\{[^{}]*\\})*)\\}";
    var s = tex.trim()
      .replace(/^\\\(|\\\)$|^\\\[|\\\]$|^\$\$?|\$\$?$/g, "")
      .replace(/\\(begin|end)\{[^}]*\}/g, " ")
      .replace(/\\(left|right|big|Big|bigg|Bigg)\b\\?/g, "")
      .replace(/\\\\/g, " ")
      .replace(/&/g, " ");
    var frac = new RegExp("\\\\[dt]?frac\\s*" + group + "\\s*" + group);
    for (var i = 0; i < 10 && frac.test(s); i++) {
      s = s.replace(frac, function (_, a, b) {
        var wrap = function (x) { return /^\s*[\w.\\]+\s*$/.test(x) ? x.trim() : "(" + x.trim() + ")"; };
        return wrap(a) + "/" + wrap(b);
      });
    }
    s = s.replace(new RegExp("\\\\(mathrm|text|textrm|textit|mathit|mathbf|boldsymbol|mathcal|mathbb|operatorname)\\s*" + group, "g"), "$2");
    s = s.replace(/\\(hat|widehat|bar|overline|tilde|dot|vec)\s*(?:\{\s*(\\?[A-Za-z]+|.)\s*\}|(\\?[A-Za-z]))/g, function (_, accent, a, b) {
      var base = a || b;
      if (base.charAt(0) === "\\") { base = SYMBOLS[base.slice(1)] || base.slice(1); }
      return base + ACCENTS[accent];
    });
    s = s.replace(/\\([A-Za-z]+|[,;:! ])/g, function (_, name) {
      if (Object.prototype.hasOwnProperty.call(SYMBOLS, name)) { return SYMBOLS[name]; }
      if (Object.prototype.hasOwnProperty.call(SPACES, name)) { return SPACES[name]; }
      return name; // \log, \exp, \max, \tanh ... and anything unknown: the bare name
    });
    return s.replace(/\\/g, "").replace(/[{}]/g, "").replace(/\s+/g, " ").trim().normalize("NFC");
  }
  window.lossprepTexToText = texToText; // for the tests

  var htmlToText = Search.htmlToText;
  Search.htmlToText = function (htmlString, anchor) {
    var doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(".math").forEach(function (el) {
      el.textContent = " " + texToText(el.textContent) + " ";
    });
    return htmlToText(doc.documentElement.outerHTML, anchor);
  };

  if (window.location.protocol === "file:") {
    DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
    var performSearch = Search.performSearch;
    Search.performSearch = function (query) {
      performSearch(query);
      if (Search.output && !document.querySelector(".lossprep-search-note")) {
        var note = document.createElement("p");
        note.className = "lossprep-search-note";
        note.textContent =
          "Opened from a file, the results list page titles only: the browser does not let a page " +
          "read other files for the excerpts. Serve the book (python -m http.server -d _build/html) " +
          "to see them.";
        Search.output.parentNode.insertBefore(note, Search.output);
      }
    };
  }
})();
