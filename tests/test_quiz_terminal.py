"""What the terminal shows: unambiguous formulas kept on one line, cloze with TeX braces, numeric
answers read by a documented rule and explained with the drawn numbers, and where to re-read."""

from __future__ import annotations

import io
import math
import random
import re
from pathlib import Path

import pytest

from lossprep.book import toc
from lossprep.quiz.cards import CardError, cloze_answers, cloze_blanks, cloze_spans, load_bank, load_file
from lossprep.quiz.clock import parse_now
from lossprep.quiz.numeric import GENERATORS, draw, fmt_number, parse_answer
from lossprep.quiz.render import NBSP, latex_to_unicode, to_terminal
from lossprep.quiz.session import Session
from lossprep.quiz.store import Store
from lossprep.quiz.where import heading_slug, headings, locate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "tex, text",
    [
        (r"\frac{a}{b c}", "a/(b c)"),  # never "a/b c"
        (r"\frac{a}{bc}", "a/(bc)"),
        (r"\frac{1}{N}\sum_i e_i", "(1/N) Σᵢ eᵢ"),  # a fraction next to a factor is bracketed whole
        (r"\frac{1}{2} e^2", "(1/2) e²"),
        (r"\frac{a}{b}^2", "(a/b)²"),
        (r"\frac{p - y}{p(1 - p)}", "(p − y)/(p(1 − p))"),  # p(1 − p) is a product, not a call
        (r"\frac{(y - \hat y)^2}{2\sigma^2} + \log\sigma", "(y − ŷ)²/(2σ²) + log σ"),
        (r"\frac{e^{z_k}}{\sum_j e^{z_j}}", "e^(zₖ)/(Σⱼ e^(zⱼ))"),
        (r"q = \frac{1}{2}", "q = 1/2"),
        (r"|e| - \frac{1}{2}\delta", "|e| − (1/2) δ"),
        (r"\frac{x}{10} + 1", "x/10 + 1"),
        (r"\frac{-1}{N}", "(−1)/N"),
        (r"\sqrt{\frac{a}{b}}", "√(a/b)"),
    ],
)
def test_fractions_are_unambiguous(tex: str, text: str) -> None:
    assert latex_to_unicode(tex) == text


def test_no_raw_backticks_or_latex_reach_the_terminal() -> None:
    assert to_terminal("as `F.mse_loss`, not `F.l1_loss`") == "as F.mse_loss, not F.l1_loss"
    for card in load_bank().cards:
        for text in (card.front, card.back, *card.choices, cloze_blanks(card.front, reveal=True)):
            shown = to_terminal(text)
            assert "`" not in shown and "\\" not in shown and "$" not in shown, (card.id, shown)


def test_a_formula_is_never_split_across_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    with Store.open(tmp_path / "q.sqlite3") as store:
        session = Session(store, [], clock=None, new_per_day=0, minutes=None, rng=random.Random(0), out=out, width=44)  # type: ignore[arg-type]
        text = (
            r"The Gaussian negative log-likelihood of one target is "
            r"$\frac{(y - \hat y)^2}{2\sigma^2} + \log\sigma + \frac{1}{2}\log 2\pi$ and "
            r"`F.gaussian_nll_loss(full=True)` adds the constant."
        )
        session.say(text)
    lines = out.getvalue().splitlines()
    formula = latex_to_unicode(r"\frac{(y - \hat y)^2}{2\sigma^2} + \log\sigma + \frac{1}{2}\log 2\pi")
    assert any(formula in line for line in lines), lines  # whole, on one line
    assert "F.gaussian_nll_loss(full=True)" in out.getvalue()
    assert NBSP not in out.getvalue()
    assert all(len(line) <= 42 for line in lines if formula not in line), lines


def test_cloze_with_tex_braces_round_trips() -> None:
    text = r"Softmax: $p_k = $ {{c1::$\frac{e^{z_k}}{\sum_j e^{z_j}}$}}. Loss: {{c2::$-\log p_t$::a log}}."
    assert cloze_answers(text) == [r"$\frac{e^{z_k}}{\sum_j e^{z_j}}$", r"$-\log p_t$"]
    assert cloze_blanks(text) == "Softmax: $p_k = $ [...]. Loss: [a log]."
    assert cloze_blanks(text, reveal=True) == r"Softmax: $p_k = $ $\frac{e^{z_k}}{\sum_j e^{z_j}}$. Loss: $-\log p_t$."
    assert to_terminal(cloze_blanks(text, reveal=True)) == "Softmax: pₖ = e^(zₖ)/(Σⱼ e^(zⱼ)). Loss: −log pₜ."
    assert [s.number for s in cloze_spans(text)] == [1, 2]
    # escaped braces are characters, not groups
    assert cloze_answers(r"{{c1::$y \in \{0, 1\}$}}") == [r"$y \in \{0, 1\}$"]
    # the bank's softmax card, garbled before: the whole formula is hidden and revealed
    card = load_bank().by_id()["lik-softmax-ce"]
    blank = cloze_blanks(card.front)
    assert "z_" not in blank and "}" not in blank and blank.count("[...]") == 2
    for card in load_bank().cards:
        if card.kind == "cloze":
            revealed = cloze_blanks(card.front, reveal=True)
            assert "{{" not in revealed and "::" not in revealed, card.id
            assert revealed.count("$") % 2 == 0, card.id


def test_an_unclosed_cloze_is_a_card_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yml"
    path.write_text(
        "chapter: demo\ncards:\n  - id: demo-c\n    kind: cloze\n    section: demo\n    front: 'a {{c1::$x^{2}$'\n"
    )
    with pytest.raises(CardError, match=r"demo.yml: card 'demo-c': field 'front': the cloze \{\{c1::\.\.\. starting"):
        load_file(path)


@pytest.mark.parametrize(
    "text, value",
    [("0.25", 0.25), ("-3", -3.0), ("1.5e-3", 0.0015), ("13/3", 13 / 3), ("−2", -2.0), (" 4667 ", 4667.0)],
)
def test_answers_are_read_as_finite_numbers(text: str, value: float) -> None:
    assert parse_answer(text) == value


@pytest.mark.parametrize(
    "text, reason",
    [
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("1e999", "not a finite number"),
        ("1/0", "not a finite number"),
        ("4,667", "has a comma, which could be a decimal or a thousands separator"),
        ("0,5", "has a comma"),
        ("1_000", "is not a number"),
        ("two", "is not a number"),
        ("", "Please type a number"),
    ],
)
def test_other_answers_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_answer(text)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_numeric_steps_show_the_drawn_numbers_and_end_in_the_answer(name: str) -> None:
    rng = random.Random(99)
    for _ in range(20):
        inst = draw(name, rng)
        for value in inst.params.values():
            shown = str(value)
            assert shown in inst.steps or f"({shown})" in inst.steps, (name, inst.params, inst.steps)
        assert inst.steps.endswith(fmt_number(inst.answer)), (name, inst.steps)
        assert math.isclose(float(inst.steps.rsplit(" ", 1)[1]), inst.answer, rel_tol=1e-3, abs_tol=1e-4)


def test_now_takes_a_date_with_its_zone() -> None:
    assert parse_now("2026-12-04Z").isoformat() == "2026-12-04T00:00:00+00:00"
    assert parse_now("2026-12-04+02:00").isoformat() == "2026-12-03T22:00:00+00:00"
    assert parse_now("2026-12-04T10:30+01:00").isoformat() == "2026-12-04T09:30:00+00:00"
    with pytest.raises(ValueError, match="naive"):
        parse_now("2026-12-04T10:30")
    with pytest.raises(ValueError, match="naive"):
        parse_now("2026-12-04")
    with pytest.raises(ValueError, match="with its zone"):
        parse_now("yesterday")


def test_heading_slugs_match_myst_and_docutils() -> None:
    """The quiz computes anchors without importing MyST or docutils; they must agree."""
    from docutils.nodes import make_id
    from mdit_py_plugins.anchors.index import slugify

    titles = [t for source in toc.chapter_sources(ROOT) for _, t, _ in headings(source)]
    titles += ["`smooth_l1_loss` is not `huber_loss`", "Pinball (quantile) loss", "Demo: 50 luxury houses"]
    titles += ["Über Straße, Æsop and œuvre", "2 losses: $\\ell_1$ vs $\\ell_2$", "Ünïcödé—dash – and ø"]
    for title in titles:
        text = re.sub(r"`([^`]*)`", r"\1", title)
        text = re.sub(r"\$([^$]*)\$", r"\1", text)
        assert heading_slug(title) == make_id(slugify(text)), title


def test_reread_points_to_the_chapter_section_and_built_page(tmp_path: Path) -> None:
    where = locate("regression#huber-loss")
    assert where.title == "Regression losses › Huber loss"
    where = locate("regression#smooth-l1-loss-is-not-huber-loss")
    assert where.title == "Regression losses › smooth_l1_loss is not huber_loss"
    for card in load_bank().cards:  # every card of the bank names a real chapter and section
        found = locate(card.section)
        assert found.chapter and (found.heading or card.anchor is None), card.section
    # with the book built, the page's file:// address with the anchor
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "regression.md").write_text("# Regression losses\n\n## Huber loss\n")
    assert locate("regression#huber-loss", tmp_path).url is None
    page = tmp_path / "_build" / "html" / "book" / "regression.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    assert locate("regression#huber-loss", tmp_path).url == page.as_uri() + "#huber-loss"
