"""The quiz card bank: size per chapter, schema errors, sections, generators, formulas."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest

from lossprep.book import toc
from lossprep.quiz.cards import CardError, cloze_answers, cloze_blanks, load_bank, load_file
from lossprep.quiz.numeric import GENERATORS, draw, is_close
from lossprep.quiz.render import latex_to_unicode, to_anki, to_html, to_terminal

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "book" / "cards"
MIN_CARDS = 25


def toc_chapters() -> list[str]:
    return [page.removeprefix("book/") for page in toc.pages(ROOT) if page.startswith("book/")]


def existing_chapters() -> list[str]:
    return toc.chapters(ROOT)


def heading_slugs(markdown: str) -> set[str]:
    """MyST heading anchors (levels 1-3, ``myst_heading_anchors: 3``), outside code fences."""
    from docutils.nodes import make_id
    from mdit_py_plugins.anchors.index import slugify

    slugs: set[str] = set()
    fence: str | None = None
    for line in markdown.splitlines():
        m = re.match(r"^(`{3,}|~{3,})", line.strip())
        if m:
            if fence is None:
                fence = m.group(1)
            elif line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
            continue
        if fence is not None:
            continue
        h = re.match(r"^(#{1,3})\s+(.*?)\s*#*\s*$", line)
        if h:
            text = re.sub(r"`([^`]*)`", r"\1", h.group(2))  # code spans keep their text
            text = re.sub(r"\$[^$]*\$", lambda m: m.group(0).strip("$"), text)
            # the id the HTML page has: docutils normalises MyST's slug (no underscores)
            slugs.add(make_id(slugify(text)))
    return slugs


def test_every_existing_chapter_has_enough_cards() -> None:
    bank = load_bank(CARDS)
    chapters = existing_chapters()
    assert chapters, "no chapter of _toc.yml exists under book/"
    for chapter in chapters:
        n = len(bank.chapter(chapter))
        assert n >= MIN_CARDS, (
            f"chapter {chapter!r} has {n} quiz cards in book/cards/{chapter}.yml; it needs at least {MIN_CARDS}"
        )


def test_every_card_file_is_a_chapter_of_the_toc() -> None:
    chapters = set(toc_chapters())
    for path in CARDS.glob("*.yml"):
        assert path.stem in chapters, f"{path} is not a chapter of _toc.yml"


def test_sections_point_at_existing_headings() -> None:
    bank = load_bank(CARDS)
    slugs = {c: heading_slugs((ROOT / "book" / f"{c}.md").read_text()) for c in existing_chapters()}
    for card in bank.cards:
        assert card.page in toc_chapters(), f"{card.id}: page {card.page!r} is not in _toc.yml"
        assert card.page in slugs, f"{card.id}: book/{card.page}.md does not exist"
        if card.anchor is not None:
            assert card.anchor in slugs[card.page], (
                f"{card.id}: no heading with anchor #{card.anchor} in book/{card.page}.md (have {sorted(slugs[card.page])})"
            )


def test_heading_slugs_follow_myst() -> None:
    md = "# Title\n```python\n# not a heading\n```\n## Huber loss\n### `smooth_l1_loss` is not `huber_loss`\n## Pinball (quantile) loss\n"
    assert heading_slugs(md) == {"title", "huber-loss", "smooth-l1-loss-is-not-huber-loss", "pinball-quantile-loss"}


def test_ids_are_stable() -> None:
    """Ids recorded in tests/data/quiz_card_ids.txt must never disappear: history keys on them."""
    recorded = (ROOT / "tests" / "data" / "quiz_card_ids.txt").read_text().split()
    current = {c.id for c in load_bank(CARDS).cards}
    missing = [i for i in recorded if i not in current]
    assert not missing, f"card ids removed or renamed (this orphans review history and Anki notes): {missing}"


def test_bank_has_every_kind() -> None:
    for chapter in existing_chapters():
        kinds = {c.kind for c in load_bank(CARDS).chapter(chapter)}
        assert kinds == {"recall", "mcq", "numeric", "cloze"}, (chapter, kinds)


def test_mcq_answers_are_not_always_in_the_same_position_in_the_session() -> None:
    # The files put the right answer anywhere; the session and the book shuffle anyway.
    bank = load_bank(CARDS)
    assert all(c.answer is not None and c.answer < len(c.choices) for c in bank.cards if c.kind == "mcq")


# --- atomic cards whose back says why (issue 9, section 5) -----------------------------------

MIN_WHY_WORDS = 12
"""A back explains when its prose, formulas and code spans left out, has at least this many
words: enough for a clause that says why, more than a restated answer ("Mean of the squares.",
"$p_1 - y_1$ with $p = softmax(z)$")."""


def prose_words(text: str) -> list[str]:
    """The words of a card's text outside its formulas, code spans and cloze markers."""
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\{\{c\d+::.*?\}\}", " ", text, flags=re.S)
    return re.findall(r"[A-Za-z][A-Za-z'-]*", text)


def explanation_problem(card) -> str | None:
    """Why ``card``'s back is not an explanation, or None when it is one."""
    words = prose_words(card.back)
    if len(words) < MIN_WHY_WORDS:
        return f"back has {len(words)} words of explanation, fewer than {MIN_WHY_WORDS}: say why, not only what"
    if card.kind == "mcq" and card.back.strip().rstrip(".").lower() == card.choices[card.answer].strip().lower():
        return "back only repeats the right choice"
    return None


def test_every_back_says_why_its_answer_is_right() -> None:
    bad = {c.id: explanation_problem(c) for c in load_bank(CARDS).cards if explanation_problem(c)}
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_every_front_asks_one_question() -> None:
    bad = [c.id for c in load_bank(CARDS).cards if c.front.count("?") > 1]
    assert not bad, f"cards asking more than one question (split them): {bad}"


def test_the_card_rules_catch_bad_cards(tmp_path: Path) -> None:
    bad = """\
chapter: demo
cards:
  - id: demo-terse
    kind: numeric
    section: demo
    generator: mse_three
    front: Errors {e1}, {e2}, {e3}. MSE?
    back: Mean of the squares.
  - id: demo-formula-only
    kind: recall
    section: demo
    front: What is the gradient of CE with respect to the first logit?
    back: $p_1 - y_1$ with $p = \\mathrm{softmax}(z)$.
  - id: demo-two-questions
    kind: recall
    section: demo
    front: What is MAE's gradient, and what does it mean for training?
    back: The sign of the error, so every example pulls with force one; training needs a decaying rate.
"""
    cards = {c.id: c for c in load_file(write(tmp_path, bad))}
    assert explanation_problem(cards["demo-terse"]) and explanation_problem(cards["demo-formula-only"])
    assert explanation_problem(cards["demo-two-questions"]) is None
    good_front = "What is MAE's gradient with respect to the prediction?"
    assert good_front.count("?") == 1 and cards["demo-two-questions"].front.count("?") == 1
    two = "What is MAE's gradient? What does it mean for training?"
    assert two.count("?") > 1  # the rule of test_every_front_asks_one_question


@pytest.mark.parametrize("chapter", existing_chapters())
def test_mcq_answers_vary_in_position_in_the_files(chapter: str) -> None:
    """Issue 12: the right answer was 'a)' on 14 of 15 cards; Anki and printed decks keep file order."""
    answers = [c.answer for c in load_bank(CARDS).chapter(chapter) if c.kind == "mcq"]
    if len(answers) < 4:
        pytest.skip(f"{chapter} has {len(answers)} multiple-choice cards")
    most = max(answers.count(a) for a in set(answers))
    assert most <= 0.5 * len(answers), f"{chapter}: {most} of {len(answers)} answers in one position"


def test_class_indices_in_numeric_cards_are_zero_based_and_say_so() -> None:
    for card in load_bank(CARDS).cards:
        # a class index drawn into the question ("true class {k}", "classes ({t0}, ...)")
        if card.kind == "numeric" and re.search(r"\bclass(es)?\s+\(?\{", card.front):
            assert "0-based" in card.front, f"{card.id}: say that classes are numbered from 0, as in PyTorch"
    rng = random.Random(0)
    ks = {draw("softmax_ce", rng).params["k"] for _ in range(50)}
    assert ks == {0, 1, 2}


GOOD = """\
chapter: demo
cards:
  - id: demo-one
    kind: mcq
    section: demo#a-heading
    front: Which?
    choices: [a, b]
    answer: 1
"""


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    folder = tmp_path / "cards"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("answer: 1", "answer: 2", "field 'answer' must be the index"),
        ("kind: mcq", "kind: essay", "field 'kind' must be one of"),
        ("    section: demo#a-heading\n", "", "missing field 'section'"),
        ("section: demo#a-heading", "section: 'Demo: A heading'", "field 'section' must look like"),
        ("choices: [a, b]", "choices: [a]", "field 'choices' must be a list of 2 to 6"),
        ("    answer: 1\n", "    answer: 1\n    colour: red\n", "unknown field(s) for a mcq card: colour"),
        ("front: Which?", "front: Which $x?", "unbalanced '$'"),
    ],
)
def test_schema_rejects_a_malformed_card_naming_file_and_card(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(CardError) as info:
        load_file(path)
    text = str(info.value)
    assert str(path) in text and "'demo-one'" in text and message in text, text


def test_schema_accepts_the_good_card(tmp_path: Path) -> None:
    (card,) = load_file(write(tmp_path, GOOD))
    assert (card.id, card.kind, card.answer, card.choices) == ("demo-one", "mcq", 1, ("a", "b"))
    assert card.from_dict(card.to_dict()) == card


def test_schema_rejects_bad_ids_generators_cloze_and_duplicates(tmp_path: Path) -> None:
    cases = {
        "id: Demo One": "field 'id' must be lowercase words",
        "kind: numeric\n    generator: nope\n    front: x": "unknown generator 'nope'",
        "kind: numeric\n    generator: bce_positive\n    front: p = {q}": "uses q, which generator 'bce_positive' does not draw",
        "kind: cloze\n    front: no blanks here": "needs at least one {{c1::...}}",
    }
    for _i, (body, message) in enumerate(cases.items()):
        text = (
            f"chapter: demo\ncards:\n  - {'' if body.startswith('id') else 'id: demo-x' + chr(10) + '    '}{body}\n    section: demo\n"
            + ("    front: q\n    back: a\n    kind: recall\n" if body.startswith("id") else "")
        )
        path = write(tmp_path, text, "demo")
        with pytest.raises(CardError, match=re.escape(message)) as info:
            load_file(path)
        assert str(path) in str(info.value)
    dup = GOOD + GOOD.split("cards:\n", 1)[1]
    with pytest.raises(CardError, match="card 'demo-one': duplicate id"):
        load_file(write(tmp_path, dup))
    with pytest.raises(CardError, match=r"demo.yml: not valid YAML \(line"):
        load_file(write(tmp_path, "chapter: demo\ncards: [\n"))
    with pytest.raises(CardError, match="field 'chapter' must be the file's name 'demo'"):
        load_file(write(tmp_path, GOOD.replace("chapter: demo", "chapter: other")))


def test_load_bank_chapter_filter(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    assert [c.id for c in load_bank(tmp_path / "cards", chapters=["demo"]).cards] == ["demo-one"]
    with pytest.raises(CardError, match="no card file for chapter\\(s\\) nope"):
        load_bank(tmp_path / "cards", chapters=["nope"])


# --- numeric generators against the course's PyTorch code ------------------------------------


def torch_answer(name: str, p: dict) -> float:
    import torch
    import torch.nn.functional as F

    from lossprep.losses import log_cosh_loss, pinball_loss

    t = lambda v: torch.tensor([float(v)], dtype=torch.float64)  # noqa: E731
    if name == "bce_positive":
        return F.binary_cross_entropy(t(p["p"]), t(1)).item()
    if name == "bce_negative":
        return F.binary_cross_entropy(t(p["p"]), t(0)).item()
    if name == "bce_from_logit":
        return F.binary_cross_entropy_with_logits(t(p["z"]), t(1)).item()
    if name == "bce_logit_grad":
        z = t(p["z"]).requires_grad_()
        F.binary_cross_entropy_with_logits(z, t(p["y"])).backward()
        return z.grad.item()
    if name in ("softmax_ce", "softmax_ce_grad"):
        z = torch.tensor([[p["z0"], p["z1"], p["z2"]]], dtype=torch.float64, requires_grad=True)
        loss = F.cross_entropy(z, torch.tensor([p["k"]]))  # 0-based class index, as the cards say
        if name == "softmax_ce":
            return loss.item()
        loss.backward()
        return z.grad[0, 0].item()
    if name == "gaussian_nll":
        var = t(p["s"] ** 2)
        return F.gaussian_nll_loss(t(p["yhat"]), t(p["y"]), var, full=True).item()
    if name == "sample_quantile":
        values = torch.tensor([float(v) for v in p["values"].split(",")], dtype=torch.float64)
        grid = torch.linspace(0, 60, 60_001, dtype=torch.float64)
        losses = torch.stack([pinball_loss(torch.full_like(values, c.item()), values, q=p["q"]) for c in grid[::10]])
        return grid[::10][losses.argmin()].item()
    if name == "mse_three":
        return F.mse_loss(
            torch.tensor([p["e1"], p["e2"], p["e3"]], dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
        ).item()
    if name == "mae_three":
        return F.l1_loss(
            torch.tensor([p["e1"], p["e2"], p["e3"]], dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
        ).item()
    if name == "huber":
        return F.huber_loss(t(0), t(p["e"]), delta=p["delta"]).item()
    if name == "smooth_l1":
        return F.smooth_l1_loss(t(0), t(p["e"]), beta=p["beta"]).item()
    if name == "huber_grad":
        yhat = t(p["yhat"]).requires_grad_()
        F.huber_loss(yhat, t(p["y"]), delta=p["delta"]).backward()
        return yhat.grad.item()
    if name == "log_cosh":
        return log_cosh_loss(t(p["e"]), t(0)).item()
    if name == "pinball":
        return pinball_loss(t(p["yhat"]), t(p["y"]), q=p["q"]).item()
    if name == "outlier_share":
        reg = torch.full((p["n_reg"],), float(p["a"]), dtype=torch.float64)
        out = torch.full((p["n_out"],), float(p["b"]), dtype=torch.float64)
        return 100 * (out**2).sum().item() / ((reg**2).sum() + (out**2).sum()).item()
    if name == "log_error":
        return F.mse_loss(torch.log(t(p["yhat"])), torch.log(t(p["y"]))).item()
    raise AssertionError(f"no PyTorch reference for generator {name!r}; add one here")


# The classification chapters' generators are checked in tests/test_classification_quiz.py.
CHECKED_ELSEWHERE = ("cls_", "imb_")


@pytest.mark.parametrize("name", sorted(n for n in GENERATORS if not n.startswith(CHECKED_ELSEWHERE)))
def test_generator_matches_the_course_pytorch_code(name: str) -> None:
    rng = random.Random(1234)
    draws = 5 if name == "sample_quantile" else 40
    seen = set()
    for _ in range(draws):
        inst = draw(name, rng)
        seen.add(tuple(sorted(inst.params.items())))
        want = torch_answer(name, inst.params)
        assert math.isclose(inst.answer, want, rel_tol=1e-9, abs_tol=1e-9), (name, inst.params, inst.answer, want)
    assert len(seen) > 1, f"{name} draws the same parameters every time"


def test_draw_unknown_and_grading_rule() -> None:
    with pytest.raises(ValueError, match="Expected a generator in"):
        draw("nope", random.Random(0))
    assert is_close(1.77, 1.7719568) and not is_close(1.70, 1.7719568)
    assert is_close(0.05, 0.0502) and not is_close(float("nan"), 0.0)


# --- formulas ----------------------------------------------------------------------------------


def test_terminal_formulas_are_readable() -> None:
    assert to_terminal(r"MSE $\frac{1}{N}\sum_i (y_i - \hat y_i)^2$") == "MSE (1/N) Σᵢ (yᵢ − ŷᵢ)²"  # never "1/N Σ"
    assert latex_to_unicode(r"\delta \to \infty") == "δ → ∞"
    assert latex_to_unicode(r"\log\cosh(e) \approx |e| - \log 2") == "log cosh(e) ≈ |e| − log 2"
    assert latex_to_unicode(r"\sigma(z) - y") == "σ(z) − y"
    assert "\\" not in "".join(
        to_terminal(c.front) + to_terminal(c.back) for c in load_bank(CARDS).cards if "$" in c.front + c.back
    ), "a card's formula keeps a LaTeX command in the terminal"


def test_anki_formulas_use_mathjax_delimiters() -> None:
    assert (
        to_anki(r"inline $x^2$ and display $$\sum_i e_i$$ and 1 < 2")
        == r"inline \(x^2\) and display \[\sum_i e_i\] and 1 &lt; 2"
    )
    assert to_anki(r"{{c1::$\frac{1}{2}$}}") == r"{{c1::\(\frac{1}{2}\)}}"
    # code spans are code, escaped, in Anki and in the book's self-check
    assert to_anki("as `F.mse_loss`, 1 < 2") == "as <code>F.mse_loss</code>, 1 &lt; 2"
    assert (
        to_html("`a<b` and $x$") == '<code>a&lt;b</code> and <span class="math notranslate nohighlight">\\(x\\)</span>'
    )


def test_cloze_helpers() -> None:
    text = "a {{c1::b}} c {{c2::d::hint}}"
    assert cloze_answers(text) == ["b", "d"]
    assert cloze_blanks(text) == "a [...] c [hint]"
    assert cloze_blanks(text, reveal=True) == "a b c d"
