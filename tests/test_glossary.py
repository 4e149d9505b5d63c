"""One symbol, one meaning, on every page (issue 9): the glossary, where chapters get their
symbols, and the notation rules the pages and the quiz cards keep.

The rules a page's math must follow, decided once for the whole book (``lossprep.symbols``):

- the sigmoid is a function: every ``\\sigma`` is applied, ``\\sigma(z)`` or ``\\sigma'(z)``;
  a bare ``\\sigma`` (``\\sigma^2``, ``1/\\sigma``) would be a noise scale, which is ``s``;
- ``\\delta`` is Huber's threshold, never the Dirac delta: no ``\\delta(e)``; the Dirac delta
  is ``\\operatorname{Dirac}(e)``;
- ``e`` is the error: Euler's number is written ``\\exp(\\cdot)``, never ``e^{...}`` (``e^2``,
  the error squared, is fine).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest
import sympy as sp
import yaml

from lossprep import symbols
from lossprep.book import toc
from lossprep.book.glossary import glossary_markdown
from lossprep.symbols import GLOSSARY, latex

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_SOURCES = toc.chapter_sources(ROOT)
CHAPTER_MODULES = sorted(p for p in (ROOT / "lossprep" / "chapters").glob("*.py") if p.name != "__init__.py")
CARD_FILES = sorted((ROOT / "book" / "cards").glob("*.yml"))

# ------------------------------------------------------------------------------------------
# The rules, as functions of a text
# ------------------------------------------------------------------------------------------

_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$]+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_SPACING = r"(?:\s|\\!|\\,|\\;|\\left)*+"
RULES = {
    "a bare \\sigma (the sigmoid is always applied; a noise scale is s)": re.compile(
        rf"\\sigma(?![A-Za-z]){_SPACING}(?![('])"
    ),
    "\\delta applied like a function (the Dirac delta is \\operatorname{Dirac})": re.compile(
        rf"\\delta(?![A-Za-z]){_SPACING}\(\s*[A-Za-z]\s*(?:\\right)?\s*\)"
    ),
    "Euler's e with an exponent (write \\exp; e is the error)": re.compile(
        r"(?<![\\A-Za-z])e\^(?:\{(?![0-9])|(?![{0-9]))"
    ),
}


def math_spans(text: str) -> list[str]:
    """The formulas of a Markdown or HTML text: ``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``."""
    text = text.replace("\\$", " ")  # an escaped dollar is currency
    return [next(g for g in m.groups() if g is not None) for m in _MATH.finditer(text)]


def notation_problems(text: str) -> list[str]:
    problems = []
    for formula in math_spans(text):
        for rule, pattern in RULES.items():
            if pattern.search(formula):
                problems.append(f"{rule}: ${formula.strip()}$")
    return problems


@pytest.mark.parametrize(
    "bad",
    [
        r"the noise $\sigma^2$",  # the old noise scale
        r"$\frac{(y - \hat y)^2}{2\sigma^2}$",
        r"$b = \sigma/\sqrt 2$",
        r"$\frac{d^2}{de^2}|e| = 2\delta(e)$",  # the old Dirac
        r"$2\,\delta\left(e\right)$",
        r"$p_k = e^{z_k} / \sum_j e^{z_j}$",  # Euler's e beside the error e
        r"$|e| + \log(1 + e^{-2|e|})$",
        r"\(\sigma\)",
    ],
)
def test_the_rules_catch_the_old_notation(bad: str) -> None:
    assert notation_problems(bad), bad


@pytest.mark.parametrize(
    "good",
    [
        r"$\sigma(z)\,(1 - \sigma(z))$",
        r"$\sigma'(z) = \sigma\left(z\right)$",
        r"$\delta(|e| - \tfrac12\delta)$",  # delta times a bracket is a product, not the Dirac
        r"$\delta \operatorname{sign} e$ and $2 \operatorname{Dirac}\left(e\right)$",
        r"$e^2/2$, $e^{2}$ and $\exp(-z)$, $\frac{d^2}{de^2}$",
        r"costs \$100K and \$500K",  # currency, not math
    ],
)
def test_the_rules_accept_the_books_notation(good: str) -> None:
    assert not notation_problems(good), notation_problems(good)


# ------------------------------------------------------------------------------------------
# The glossary
# ------------------------------------------------------------------------------------------


def test_glossary_entries_are_unique_and_print_as_listed() -> None:
    texs = [tex for _, tex, _ in GLOSSARY]
    assert len(set(texs)) == len(texs), [t for t in texs if texs.count(t) > 1]
    assert len({id(obj) for obj, _, _ in GLOSSARY}) == len(GLOSSARY)
    meanings = [m for _, _, m in GLOSSARY]
    assert len(set(meanings)) == len(meanings)
    x = sp.Symbol("x")
    for obj, tex, _ in GLOSSARY:
        if isinstance(obj, type):  # a function, always written applied
            assert latex(obj(x)).startswith(tex + r"\left(") or latex(obj(x)).startswith(tex + "{"), (
                tex,
                latex(obj(x)),
            )
        else:  # what SymPy prints on a page is the glossary's symbol
            assert sp.latex(obj) == tex and latex(obj) == tex, (tex, sp.latex(obj))


def test_every_symbol_of_the_module_is_in_the_glossary() -> None:
    listed = {id(obj) for obj, _, _ in GLOSSARY}
    helpers = {"logits", "indexed", "latex", "GLOSSARY"}
    missing = [n for n in symbols.__all__ if n not in helpers and id(getattr(symbols, n)) not in listed]
    assert not missing, f"in lossprep.symbols but not in GLOSSARY: {missing}"


def test_the_printer_writes_the_books_notation() -> None:
    e, z = symbols.e, symbols.z
    assert latex(sp.diff(sp.Abs(e), e, 2)) == r"2 \operatorname{Dirac}\left(e\right)"
    assert latex(sp.exp(-z)) == r"\exp\left(- z\right)"
    assert latex(symbols.sigmoid(z)) == r"\sigma\left(z\right)"
    assert not notation_problems("$" + latex(1 / (1 + sp.exp(-z)) + sp.diff(sp.Abs(e), e, 2)) + "$")
    assert notation_problems("$" + sp.latex(sp.exp(-z) + sp.DiracDelta(e)) + "$")  # SymPy's default would not


def test_sigmoid_derivative_is_confirmed_from_its_definition() -> None:
    z = symbols.z
    sig = symbols.sigmoid(z)
    definition = 1 / (1 + sp.exp(-z))
    assert sp.simplify(sig.rewrite(sp.exp) - definition) == 0
    assert sp.simplify((sp.diff(definition, z) - sig * (1 - sig)).rewrite(sp.exp)) == 0
    assert symbols.sigmoid(0) == sp.Rational(1, 2)


def test_logits_are_zero_based() -> None:
    assert [str(v) for v in symbols.logits(3)] == ["z_0", "z_1", "z_2"]
    with pytest.raises(ValueError, match="at least 2 classes"):
        symbols.logits(1)


def test_glossary_page_is_built_from_the_module() -> None:
    page = (ROOT / "book" / "glossary.md").read_text()
    assert "```{symbol-glossary}\n```" in page
    assert "book/glossary" in toc.pages(ROOT)
    table = glossary_markdown()
    assert table.count("\n") == len(GLOSSARY) + 1
    for _, tex, _ in GLOSSARY:
        assert f"${tex}$" in table or f"${tex}(\\cdot)$" in table
    assert not notation_problems(page) and not notation_problems(table)


# ------------------------------------------------------------------------------------------
# Chapters take their symbols from lossprep.symbols
# ------------------------------------------------------------------------------------------


def _defining_calls(source: str) -> list[str]:
    found = []
    makers = {"Symbol", "symbols", "Dummy", "Wild", "Function", "var"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):  # sp.Symbol(...), not tensor.var()
                if f.attr in makers and isinstance(f.value, ast.Name) and f.value.id in {"sp", "sympy"}:
                    found.append(ast.unparse(node))
            elif isinstance(f, ast.Name) and f.id in makers - {"var"}:
                found.append(ast.unparse(node))
    return found


def test_the_symbol_finder_catches_a_definition() -> None:
    assert _defining_calls('import sympy as sp\nk = sp.Symbol("k", positive=True)\nf = sp.Function("f")')
    assert _defining_calls("from sympy import symbols\nz0, z1 = symbols('z_0 z_1')")
    assert not _defining_calls("from lossprep.symbols import e\nx = e**2\nv = draws.var()")


@pytest.mark.parametrize("path", CHAPTER_MODULES, ids=lambda p: p.stem)
def test_chapter_modules_define_no_symbols(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert not _defining_calls(source), f"{path.name} defines symbols; take them from lossprep.symbols"
    if "sympy" in source:
        assert "from lossprep.symbols import" in source


@pytest.mark.parametrize("path", CHAPTER_SOURCES, ids=lambda p: p.stem)
def test_chapter_pages_define_no_symbols(path: Path) -> None:
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    code = "\n".join(line for cell in cells for line in cell.splitlines() if not line.startswith("%"))
    assert not _defining_calls(code), f"{path.name} defines symbols; take them from lossprep.symbols"
    if "import sympy" in code:
        assert "from lossprep.symbols import" in code


# ------------------------------------------------------------------------------------------
# The pages and the cards keep the rules
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTER_SOURCES, ids=lambda p: p.stem)
def test_chapter_prose_keeps_the_notation(path: Path) -> None:
    prose = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")
    assert not notation_problems(prose), notation_problems(prose)


@pytest.mark.parametrize("path", CARD_FILES, ids=lambda p: p.stem)
def test_quiz_cards_keep_the_notation(path: Path) -> None:
    cards = yaml.safe_load(path.read_text(encoding="utf-8"))["cards"]
    text = "\n".join(str(card.get(k, "")) for card in cards for k in ("front", "back", "choices"))
    assert not notation_problems(text), notation_problems(text)


@pytest.mark.slow
def test_built_pages_keep_the_notation(built_book: Path) -> None:
    """The chapters' outputs too: SymPy's results are printed in the book's notation."""
    for source in CHAPTER_SOURCES:
        html = (built_book / "book" / f"{source.stem}.html").read_text(encoding="utf-8")
        assert not notation_problems(html), (source.stem, notation_problems(html)[:5])
    glossary = (built_book / "book" / "glossary.html").read_text(encoding="utf-8")
    assert glossary.count("<tr") == len(GLOSSARY) + 1
