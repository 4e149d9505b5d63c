"""Formulas for a terminal, and for Anki.

Cards write formulas in LaTeX between ``$...$`` (inline) or ``$$...$$`` (display), as the
chapters do. A terminal cannot run MathJax, so :func:`to_terminal` turns the simple LaTeX the
cards use into Unicode (``$\\hat y_i^2$`` becomes ``ŷᵢ²``); Anki runs MathJax but wants
``\\(...\\)`` and ``\\[...\\]``, which :func:`to_anki` writes.

Example::

    >>> to_terminal(r"$\\frac{1}{N}\\sum_i (y_i - \\hat y_i)^2$")
    '(1/N) Σᵢ (yᵢ − ŷᵢ)²'
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["to_terminal", "latex_to_unicode", "to_anki", "to_html"]

_SYMBOLS: dict[str, str] = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "Delta": "Δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "eta": "η",
    "theta": "θ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "Sigma": "Σ",
    "tau": "τ",
    "phi": "φ",
    "varphi": "φ",
    "omega": "ω",
    "sum": "Σ",
    "prod": "Π",
    "infty": "∞",
    "cdot": "·",
    "times": "×",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "approx": "≈",
    "to": "→",
    "rightarrow": "→",
    "Rightarrow": "⇒",
    "mapsto": "↦",
    "in": "∈",
    "partial": "∂",
    "nabla": "∇",
    "pm": "±",
    "propto": "∝",
    "ldots": "…",
    "dots": "…",
    "cdots": "⋯",
    "quad": "  ",
    "qquad": "    ",
    "log": "log",
    "ln": "ln",
    "exp": "exp",
    "max": "max",
    "min": "min",
    "arg": "arg",
    "sign": "sign",
    "cosh": "cosh",
    "tanh": "tanh",
    "sinh": "sinh",
    "lvert": "|",
    "rvert": "|",
    "mid": "|",
    "lbrace": "{",
    "rbrace": "}",
    "{": "{",
    "}": "}",
    ",": " ",
    ";": " ",
    "!": "",
    " ": " ",
    "%": "%",
    "_": "_",
    "E": "𝔼",
    "R": "ℝ",
    "sigmoid": "σ",
    "yhat": "ŷ",
    "ell": "ℓ",
    "hbar": "ħ",
}
_SUP = str.maketrans("0123456789+-=()nixyTabcdeklmoprstuv", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱˣʸᵀᵃᵇᶜᵈᵉᵏˡᵐᵒᵖʳˢᵗᵘᵛ")
_SUB = str.maketrans("0123456789+-=()aeioruvxjklmnpst", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒᵣᵤᵥₓⱼₖₗₘₙₚₛₜ")
_HAT = "\u0302"
_BAR = "\u0304"
_TILDE = "\u0303"


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at ``s[i]``: a braced group, a command, or one character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth = 0
        for j in range(i, len(s)):
            if s[j] == "{":
                depth += 1
            elif s[j] == "}":
                depth -= 1
                if depth == 0:
                    return s[i + 1 : j], j + 1
        return s[i + 1 :], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", s[i:])
        assert m is not None
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def _script(text: str, table: dict[int, int], mark: str) -> str:
    """Unicode super/subscript when every character has one, else ``^(...)`` / ``_(...)``."""
    if text and all(ord(c) in table for c in text):
        return text.translate(table)
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def _accent(arg: str, mark: str) -> str:
    body = latex_to_unicode(arg)
    return body + mark if len(body) == 1 else f"{mark.strip()}({body})" if mark.strip() else body


def latex_to_unicode(tex: str) -> str:
    """Convert one LaTeX formula (no ``$``) to Unicode text; unknown commands lose their backslash."""
    out: list[str] = []
    i = 0
    s = tex
    while i < len(s):
        c = s[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            assert m is not None
            name = m.group(1)
            i += len(m.group(0))
            if name in ("frac", "dfrac", "tfrac"):
                num, i = _group(s, i)
                den, i = _group(s, i)
                n, d = latex_to_unicode(num), latex_to_unicode(den)
                n = n if len(n) == 1 or n.isalnum() else f"({n})"
                d = d if len(d) == 1 or d.isalnum() else f"({d})"
                out.append(f"{n}/{d}")
                if i < len(s) and (s[i].isalnum() or s[i] == "\\"):
                    out.append(" ")
            elif name == "sqrt":
                arg, i = _group(s, i)
                a = latex_to_unicode(arg)
                out.append(f"√{a}" if len(a) == 1 else f"√({a})")
            elif name in ("hat", "widehat"):
                arg, i = _group(s, i)
                body = latex_to_unicode(arg)
                out.append(body + _HAT if len(body) == 1 else f"hat({body})")
            elif name in ("bar", "overline"):
                arg, i = _group(s, i)
                body = latex_to_unicode(arg)
                out.append(body + _BAR if len(body) == 1 else f"mean({body})")
            elif name in ("tilde", "widetilde"):
                arg, i = _group(s, i)
                body = latex_to_unicode(arg)
                out.append(body + _TILDE if len(body) == 1 else f"~({body})")
            elif name in (
                "text",
                "mathrm",
                "operatorname",
                "textrm",
                "mathit",
                "mathbf",
                "boldsymbol",
                "textbf",
                "texttt",
            ):
                arg, i = _group(s, i)
                out.append(latex_to_unicode(arg) if name not in ("text", "textrm", "texttt") else arg)
            elif name == "mathbb":
                arg, i = _group(s, i)
                out.append({"E": "𝔼", "R": "ℝ", "N": "ℕ", "1": "𝟙", "P": "ℙ"}.get(arg, arg))
            elif name in ("left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "displaystyle"):
                pass
            elif name in _SYMBOLS:
                sym = _SYMBOLS[name]
                out.append(sym)
                if sym.isalpha() and len(sym) > 1 and i < len(s) and (s[i].isalnum() or s[i] == "\\"):
                    out.append(" ")
            else:
                out.append(name)
        elif c in "^_":
            arg, i = _group(s, i + 1)
            body = latex_to_unicode(arg)
            out.append(_script(body, _SUP if c == "^" else _SUB, c))
        elif c in "{}":
            i += 1
        elif c == "-":
            out.append("−")
            i += 1
        elif c == "~":
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    text = unicodedata.normalize("NFC", "".join(out))
    return re.sub(r"(?<=\S) {2,}(?=\S)", " ", text).strip() if "quad" not in tex else text.strip()


_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_CODE = re.compile(r"`([^`\n]+)`")


def _text_html(text: str, quote: bool = True) -> str:
    """Text between formulas as HTML: escaped, with markdown code spans as ``<code>``."""
    return _CODE.sub(lambda m: "<code>" + m.group(1) + "</code>", html.escape(text, quote=quote))


def to_terminal(text: str) -> str:
    """Replace every ``$...$`` and ``$$...$$`` formula in ``text`` with its Unicode rendering."""
    return _MATH.sub(lambda m: latex_to_unicode(m.group(1) if m.group(1) is not None else m.group(2)), text)


def to_anki(text: str) -> str:
    """HTML for an Anki field: text escaped, formulas as MathJax ``\\(...\\)`` / ``\\[...\\]``.

    Anki's cloze markers ``{{c1::...}}`` pass through; inside a formula, ``}}`` that ends a
    cloze is written as ``} }`` as Anki's manual asks.
    """
    parts: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        parts.append(_text_html(text[pos : m.start()], quote=False).replace("\n", "<br>"))
        if m.group(1) is not None:
            parts.append(r"\[" + _anki_math(m.group(1)) + r"\]")
        else:
            parts.append(r"\(" + _anki_math(m.group(2)) + r"\)")
        pos = m.end()
    parts.append(_text_html(text[pos:], quote=False).replace("\n", "<br>"))
    return "".join(parts)


def _anki_math(tex: str) -> str:
    tex = html.escape(tex, quote=False)
    # "}}" inside a formula would close a cloze deletion early.
    return re.sub(r"\}\}(?!\})", "} }", tex) if "{{c" not in tex else tex


def to_html(text: str) -> str:
    """HTML for the book's self-check: text escaped, formulas in Sphinx's MathJax spans."""
    parts: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        parts.append(_text_html(text[pos : m.start()]))
        if m.group(1) is not None:
            parts.append('<div class="math notranslate nohighlight">\\[' + html.escape(m.group(1)) + "\\]</div>")
        else:
            parts.append('<span class="math notranslate nohighlight">\\(' + html.escape(m.group(2)) + "\\)</span>")
        pos = m.end()
    parts.append(_text_html(text[pos:]))
    return "".join(parts)
