"""A Sphinx extension: ``{selfcheck}``, the interactive self-check at the end of a chapter.

In a chapter (MyST)::

    ```{selfcheck} likelihoods
    ```

renders that chapter's multiple-choice and numeric cards from ``book/cards/likelihoods.yml``
as HTML with a small inline JavaScript checker. Numeric cards get parameters drawn at build
time (seeded by the card id, so a rebuild gives the same page) and answers computed in Python
by :mod:`lossprep.quiz.numeric`. The page needs no server, no network and no CDN: the script
is inline and formulas go through the MathJax the book already loads.

Enable it in ``_config.yml``::

    sphinx:
      extra_extensions:
        - lossprep.book.selfcheck

Config value ``selfcheck_cards_dir``: the card folder (default ``<srcdir>/book/cards``, else
:func:`lossprep.quiz.cards.default_cards_dir`).
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from lossprep.quiz.cards import Card, CardError, choice_order, default_cards_dir, load_file
from lossprep.quiz.numeric import fixed_instance
from lossprep.quiz.render import to_html

__all__ = [
    "SelfCheckDirective",
    "mcq_order",
    "numeric_instance",
    "render_selfcheck",
    "render_selfcheck_markdown",
    "select_cards",
    "setup",
    "SCRIPT",
]

SCRIPT = """<script>
(function () {
  if (window.lossprepSelfcheck) { return; }
  window.lossprepSelfcheck = true;
  function parse(text) {
    var t = String(text).trim().replace(/\\u2212/g, "-");
    if (t.indexOf(",") >= 0) { return "comma"; }
    if (!/^[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?$/.test(t)) { return NaN; }
    return parseFloat(t);
  }
  function close(given, want, rel, abs) {
    return isFinite(given) && Math.abs(given - want) <= Math.max(rel * Math.max(Math.abs(given), Math.abs(want)), abs);
  }
  function grade(q) {
    var result = q.querySelector(".lpq-result");
    var explain = q.querySelector(".lpq-explain");
    var ok = false;
    if (q.dataset.kind === "mcq") {
      var picked = q.querySelector("input[type=radio]:checked");
      if (!picked) { result.textContent = "Pick an answer first."; return; }
      ok = picked.value === q.dataset.answer;
      result.textContent = ok ? "Correct." : "Not quite: the answer is " + q.dataset.answerLabel + ".";
    } else {
      var given = parse(q.querySelector("input[type=text]").value);
      if (given === "comma") { result.textContent = "Write the number without commas, with a point for decimals: 4667 or 0.25."; return; }
      if (isNaN(given)) { result.textContent = "Type a number, e.g. 0.25."; return; }
      var want = parseFloat(q.dataset.answer);
      ok = close(given, want, parseFloat(q.dataset.rel), parseFloat(q.dataset.abs));
      result.textContent = ok ? "Correct." : "Not quite: the answer is " + q.dataset.answerLabel + ".";
    }
    result.className = "lpq-result " + (ok ? "lpq-right" : "lpq-wrong");
    if (explain) { explain.hidden = false; }
    var box = q.closest(".lossprep-selfcheck");
    var done = box.querySelectorAll(".lpq-right, .lpq-wrong").length;
    var right = box.querySelectorAll(".lpq-right").length;
    box.querySelector(".lpq-score").textContent = right + " of " + done + " answered correctly.";
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest(".lpq-check") : null;
    if (button) { grade(button.closest(".lpq")); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.matches && ev.target.matches(".lpq input[type=text]")) {
      ev.preventDefault(); grade(ev.target.closest(".lpq"));
    }
  });
})();
</script>"""

# Colours for the book's light and dark modes (pydata-sphinx-theme sets html[data-theme]), each
# at least 4.5:1 against the page (WCAG AA; tests/test_browser.py measures them): green and red
# on white, lighter green and red on the dark theme's near-black; the explanation in the
# theme's muted text colour (7.4:1 in both). Controls are in the theme's colours and
# at least 2em tall, a finger's target on a phone (tests/test_browser.py measures that too).
STYLE = """<style>
.lossprep-selfcheck { --lpq-right: #1a7f37; --lpq-wrong: #b3261e; --lpq-muted: var(--pst-color-text-muted, #48566b); }
html[data-theme="dark"] .lossprep-selfcheck { --lpq-right: #56d364; --lpq-wrong: #ff8a80; }
.lossprep-selfcheck .lpq { border-left: 3px solid var(--pst-color-border, #ccc); padding: 0.3em 0.8em; margin: 0.8em 0; }
.lossprep-selfcheck .lpq-choice { display: flex; align-items: baseline; gap: 0.5em; min-height: 2em; padding: 0.2em 0; cursor: pointer; }
.lossprep-selfcheck .lpq-choice input { flex: none; width: 1.1em; height: 1.1em; margin: 0; }
.lossprep-selfcheck .lpq-right { color: var(--lpq-right); font-weight: 600; }
.lossprep-selfcheck .lpq-wrong { color: var(--lpq-wrong); font-weight: 600; }
.lossprep-selfcheck .lpq-explain { color: var(--lpq-muted); margin-top: 0.3em; }
.lossprep-selfcheck input[type=text], .lossprep-selfcheck .lpq-check {
  font: inherit; min-height: 2.25em; padding: 0.2em 0.6em; border-radius: 0.25em;
  border: 1px solid var(--pst-color-border, #ccc); color: var(--pst-color-text-base, #222832);
  background: var(--pst-color-background, #fff);
}
.lossprep-selfcheck input[type=text] { width: 8em; }
.lossprep-selfcheck .lpq-check { margin: 0.3em 0.5em 0.3em 0; padding: 0.2em 1.2em; cursor: pointer; background: var(--pst-color-surface, #f3f4f5); }
</style>"""


def _fmt(x: float) -> str:
    return f"{x:.4g}"


LETTERS = "abcdef"


def mcq_order(card: Card) -> tuple[list[int], int]:
    """The order in which a multiple-choice card shows its choices (the same on every build,
    seeded by the card's id) and the position of the right one in that order."""
    assert card.answer is not None
    order = choice_order(card)
    return order, order.index(card.answer)


def numeric_instance(card: Card) -> tuple[str, float]:
    """A numeric card's question with its parameters drawn (seeded by the card's id) and the
    answer computed in Python."""
    assert card.generator is not None
    inst = fixed_instance(card.generator, card.id)
    return card.front.format_map(inst.params), inst.answer


def _question(card: Card, n: int) -> str:
    cid = html.escape(card.id)
    explain = f'<div class="lpq-explain" hidden>{to_html(card.back)}</div>' if card.back else ""
    button = (
        '<button type="button" class="lpq-check">Check</button> <span class="lpq-result" aria-live="polite"></span>'
    )
    if card.kind == "mcq":
        order, right = mcq_order(card)
        choices = "".join(
            f'<label class="lpq-choice"><input type="radio" name="lpq-{cid}" value="{pos}"> {LETTERS[pos]}) {to_html(card.choices[idx])}</label>'
            for pos, idx in enumerate(order)
        )
        return (
            f'<div class="lpq" id="lpq-{cid}" data-card="{cid}" data-kind="mcq" data-answer="{right}" '
            f'data-answer-label="{LETTERS[right]}"><p class="lpq-q"><strong>{n}.</strong> {to_html(card.front)}</p>'
            f"{choices}{button}{explain}</div>"
        )
    front, answer = numeric_instance(card)
    return (
        f'<div class="lpq" id="lpq-{cid}" data-card="{cid}" data-kind="numeric" data-answer="{answer!r}" '
        f'data-answer-label="{html.escape(_fmt(answer))}" data-rel="{card.tolerance!r}" data-abs="0.002">'
        f'<p class="lpq-q"><strong>{n}.</strong> {to_html(front)}</p>'
        f'<input type="text" inputmode="decimal" aria-label="your answer" autocomplete="off"> {button}{explain}</div>'
    )


DEFAULT_COUNT = 8


def select_cards(cards: list[Card], chapter: str, count: int = DEFAULT_COUNT) -> list[Card]:
    """At most ``count`` of the chapter's multiple-choice and numeric cards, in file order.

    The choice is the same on every build (seeded by the chapter's name) and keeps at least
    one numeric card when the chapter has any, so the short self-check mixes both kinds.
    """
    if count < 1:
        raise ValueError(f"Expected a count of at least 1, got {count}")
    eligible = [c for c in cards if c.kind in ("mcq", "numeric")]
    if not eligible:
        raise CardError(f"chapter {chapter!r} has no multiple-choice or numeric cards for a self-check")
    if len(eligible) <= count:
        return eligible
    picked = sorted(random.Random(chapter).sample(range(len(eligible)), count))
    numeric = [i for i, c in enumerate(eligible) if c.kind == "numeric"]
    if numeric and not any(eligible[i].kind == "numeric" for i in picked):
        picked = sorted([*picked[:-1], numeric[0]])
    return [eligible[i] for i in picked]


def render_selfcheck(cards: list[Card], chapter: str, count: int = DEFAULT_COUNT) -> str:
    """The self-check HTML (questions, style and inline script) for ``cards`` of ``chapter``:
    ``count`` questions chosen by :func:`select_cards`."""
    chosen = select_cards(cards, chapter, count)
    body = "".join(_question(c, i) for i, c in enumerate(chosen, 1))
    return (
        f'{STYLE}<div class="lossprep-selfcheck" data-chapter="{html.escape(chapter)}">'
        f'<p class="lpq-intro">{len(chosen)} questions from this chapter\'s quiz cards, checked in your browser. '
        f"Numbers are drawn afresh in <code>lossprep quiz</code>.</p>{body}"
        f'<p class="lpq-score" aria-live="polite"></p></div>{SCRIPT}'
    )


def render_selfcheck_markdown(cards: list[Card], chapter: str, count: int = DEFAULT_COUNT) -> str:
    """The same self-check as Jupyter markdown, for the chapter's notebook: the same questions,
    choices and drawn numbers as the book's page, each answer folded in a ``<details>``."""
    chosen = select_cards(cards, chapter, count)
    parts = [f"*{len(chosen)} questions from this chapter's quiz cards. Answer, then open the answer.*"]
    for n, card in enumerate(chosen, 1):
        if card.kind == "mcq":
            order, right = mcq_order(card)
            question = (
                card.front.strip()
                + "\n\n"
                + "\n".join(
                    f"{LETTERS[pos]}) {card.choices[idx].strip()}<br>" for pos, idx in enumerate(order)
                ).removesuffix("<br>")
            )
            answer = f"**{LETTERS[right]})** {card.choices[order[right]].strip()}"
        else:
            front, value = numeric_instance(card)
            question = front.strip()
            answer = f"**{_fmt(value)}** (within {card.tolerance * 100:g}%)"
        explain = f"\n\n{card.back.strip()}" if card.back.strip() else ""
        parts.append(f"**{n}.** {question}\n\n<details><summary>Answer</summary>\n\n{answer}{explain}\n\n</details>")
    return "\n\n".join(parts)


class SelfCheckDirective(SphinxDirective):
    """``{selfcheck} CHAPTER``: the chapter's multiple-choice and numeric cards, self-graded."""

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"class": directives.class_option, "count": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        chapter = self.arguments[0].strip()
        configured = self.config.selfcheck_cards_dir
        if configured:
            folder = Path(self.env.srcdir) / configured
        else:
            local = Path(self.env.srcdir) / "book" / "cards"
            folder = local if local.is_dir() else default_cards_dir()
        path = folder / f"{chapter}.yml"
        if not path.is_file():
            raise self.error(f"selfcheck: no card file {path}")
        self.env.note_dependency(str(path))
        try:
            html_text = render_selfcheck(load_file(path), chapter, self.options.get("count", DEFAULT_COUNT))
        except (CardError, ValueError) as exc:
            raise self.error(f"selfcheck: {exc}") from None
        return [nodes.raw("", html_text, format="html")]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("selfcheck_cards_dir", "", "env", types=[str])
    app.add_directive("selfcheck", SelfCheckDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
