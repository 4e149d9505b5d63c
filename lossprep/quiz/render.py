"""Formulas for a terminal, and for Anki.

Cards write formulas in LaTeX between ``$...$`` (inline) or ``$$...$$`` (display), as the
chapters do. A terminal cannot run MathJax, so :func:`to_terminal` turns the simple LaTeX the
cards use into Unicode (``$\\hat y_i^2$`` becomes ``ŷᵢ²``); Anki runs MathJax but wants
``\\(...\\)`` and ``\\[...\\]``, which :func:`to_anki` writes.

The terminal form must be unambiguous: a fraction whose numerator or denominator is more
than one symbol gets parentheses (``\\frac{a}{b c}`` is ``a/(b c)``, never ``a/b c``), and a
fraction next to another factor is parenthesised as a whole (``(1/N) Σᵢ``). Code spans lose
their backticks. With ``keep_together=True`` the spaces inside a formula or a code span are
no-break spaces, so wrapping a paragraph never splits a formula across lines.

Example::

    >>> to_terminal(r"$\\frac{1}{N}\\sum_i (y_i - \\hat y_i)^2$")
    '(1/N) Σᵢ (yᵢ − ŷᵢ)²'
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["NBSP", "to_terminal", "latex_to_unicode", "to_anki", "to_html"]

NBSP = "\u00a0"

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
_SCRIPT_CHARS = {chr(v) for v in (*_SUP.values(), *_SUB.values())}
_SCRIPTS = "".join(sorted(_SCRIPT_CHARS))
# One operand that needs no parentheses as a numerator or denominator: a number, one symbol
# with its accents, a bracketed group, or a named function applied to one (log(x), exp(z):
# two letters at least, since p(1 − p) is a product), each with its super- and subscripts
# (e², e^z, e^(zₖ)).
_ATOM = re.compile(
    rf"(?:\d+(?:\.\d+)?|[^\W\d_][\u0300-\u036f]*|[^\W\d_]{{2,}}\([^()]*\)|√?\([^()]*\))"
    rf"(?:[{_SCRIPTS}]|[\^_](?:\([^()]*\)|[^\s()]))*"
)
# Neighbours next to which a fraction needs no parentheses of its own (operators, relations,
# separators, and the opening / closing bracket on the matching side).
_FREE_LEFT = set("+−-=<>≤≥≠≈→⇒↦∈±∝,;:|([{")
_FREE_RIGHT = set("+−-=<>≤≥≠≈→⇒↦∈±∝,;:|)]}.")
_FRAC = "\x00"
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
    fracs: list[str] = []
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
                n = n if _ATOM.fullmatch(n) else f"({n})"
                d = d if _ATOM.fullmatch(d.removeprefix("−")) and not d.startswith("−") else f"({d})"
                fracs.append(f"{n}/{d}")
                out.append(f"{_FRAC}{len(fracs) - 1}{_FRAC}")
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
    text = re.sub(r"(?<=\S) {2,}(?=\S)", " ", text).strip() if "quad" not in tex else text.strip()
    return _place_fractions(text, fracs) if fracs else text


def _place_fractions(text: str, fracs: list[str]) -> str:
    """Put each fraction back, in parentheses when a neighbour would bind to it (``(1/2) e²``,
    ``(a/b)²``) and bare between operators or at the ends (``a/b + c``)."""
    parts = re.split(f"{_FRAC}(\\d+){_FRAC}", text)
    texts, which = parts[0::2], [int(k) for k in parts[1::2]]
    out = [texts[0]]
    for k, idx in enumerate(which):
        # neighbours, with every other fraction standing as one operand "F"
        left = "F".join(texts[: k + 1]).rstrip()[-1:]
        right = "F".join(texts[k + 1 :]).lstrip()[:1]
        free = (not left or left in _FREE_LEFT) and (not right or right in _FREE_RIGHT)
        out.append(fracs[idx] if free else f"({fracs[idx]})")
        out.append(texts[k + 1])
    return "".join(out)


_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_CODE = re.compile(r"`([^`\n]+)`")


def _text_html(text: str, quote: bool = True) -> str:
    """Text between formulas as HTML: escaped, with markdown code spans as ``<code>``."""
    return _CODE.sub(lambda m: "<code>" + m.group(1) + "</code>", html.escape(text, quote=quote))


def to_terminal(text: str, *, keep_together: bool = False) -> str:
    """Replace every ``$...$`` and ``$$...$$`` formula in ``text`` with its Unicode rendering and
    every code span with its bare text; with ``keep_together``, their spaces become no-break
    spaces so that a line wrapper never splits one."""

    def glue(part: str) -> str:
        return part.replace(" ", NBSP) if keep_together else part

    def formula(m: re.Match[str]) -> str:
        return glue(latex_to_unicode(m.group(1) if m.group(1) is not None else m.group(2)))

    parts: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        parts.append(_CODE.sub(lambda c: glue(c.group(1)), text[pos : m.start()]))
        parts.append(formula(m))
        pos = m.end()
    parts.append(_CODE.sub(lambda c: glue(c.group(1)), text[pos:]))
    return "".join(parts)


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
    # "}}" inside a formula would close a cloze deletion early ("}}}" too: every pair is split).
    return re.sub(r"\}(?=\})", "} ", tex) if "{{c" not in tex else tex


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
