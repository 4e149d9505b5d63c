"""The ``{selfcheck}`` Sphinx directive, built in a tiny Sphinx project (not the whole book)."""

from __future__ import annotations

import html
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lossprep.quiz.cards import load_bank
from lossprep.quiz.numeric import draw

ROOT = Path(__file__).resolve().parents[1]


def build(tmp_path: Path, body: str, *, cards: Path | None = None) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "conf.py").write_text(
        "project = 'selfcheck test'\n"
        "extensions = ['myst_parser', 'lossprep.book.selfcheck']\n"
        f"selfcheck_cards_dir = {str(cards or ROOT / 'book' / 'cards')!r}\n"
        "myst_enable_extensions = ['dollarmath']\n"
    )
    (src / "index.md").write_text(body)
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(src), str(tmp_path / "html")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("selfcheck")
    # every card, so the tests below can check each one; the chapters use the short default
    body = "# Chapter\n\nSome math $x^2$.\n\n## Self-check\n\n```{selfcheck} likelihoods\n:count: 100\n```\n"
    proc = build(tmp, body)
    assert proc.returncode == 0, proc.stderr
    return (tmp / "html" / "index.html").read_text()


def test_renders_every_mcq_and_numeric_card(page: str) -> None:
    cards = [c for c in load_bank().chapter("likelihoods") if c.kind in ("mcq", "numeric")]
    rendered = re.findall(r'<div class="lpq" id="lpq-([\w-]+)" data-card="[\w-]+" data-kind="(\w+)"', page)
    assert rendered == [(c.id, c.kind) for c in cards]
    assert page.count('class="lossprep-selfcheck"') == 1


def test_default_selection_is_short_stable_and_mixed() -> None:
    from lossprep.book.selfcheck import DEFAULT_COUNT, select_cards

    for chapter in ("likelihoods", "regression"):
        cards = load_bank().chapter(chapter)
        picked = select_cards(cards, chapter)
        assert len(picked) == DEFAULT_COUNT < len([c for c in cards if c.kind in ("mcq", "numeric")])
        assert [c.id for c in picked] == [c.id for c in select_cards(cards, chapter)]
        assert {c.kind for c in picked} == {"mcq", "numeric"}
        order = [c.id for c in cards]
        assert [order.index(c.id) for c in picked] == sorted(order.index(c.id) for c in picked)
        with pytest.raises(ValueError, match="at least 1"):
            select_cards(cards, chapter, 0)


def test_mcq_answers_point_at_the_right_choice(page: str) -> None:
    for card in (c for c in load_bank().chapter("likelihoods") if c.kind == "mcq"):
        block = re.search(rf'<div class="lpq" id="lpq-{card.id}".*?</div>', page, re.S).group(0)
        right = int(re.search(r'data-answer="(\d+)"', block).group(1))
        labels = re.findall(r'<input type="radio" name="lpq-[\w-]+" value="(\d+)"> [a-f]\) (.*?)</label>', block)
        assert [int(v) for v, _ in labels] == list(range(len(card.choices)))
        shown = html.unescape(re.sub(r"<[^>]+>", "", labels[right][1])).replace("\\(", "$").replace("\\)", "$")
        assert shown == card.choices[card.answer], card.id


def test_numeric_answers_are_computed_at_build_time(page: str) -> None:
    for card in (c for c in load_bank().chapter("likelihoods") if c.kind == "numeric"):
        block = re.search(rf'<div class="lpq" id="lpq-{card.id}".*?<input type="text"', page, re.S).group(0)
        answer = float(re.search(r'data-answer="([^"]+)"', block).group(1))
        inst = draw(card.generator, random.Random(card.id))
        assert math.isclose(answer, inst.answer, rel_tol=1e-12)
        for name, value in inst.params.items():
            if "{" + name + "}" in card.front:
                assert str(value) in html.unescape(block), (card.id, name)
        assert "{" not in re.search(r'<p class="lpq-q">(.*?)</p>', block, re.S).group(1), "unfilled template field"


def test_works_offline_inline_script_no_network(page: str) -> None:
    start = page.index('class="lossprep-selfcheck"')
    end = page.index("</script>", start)
    chunk = page[page.rindex("<style>", 0, start) : end]
    assert "window.lossprepSelfcheck" in chunk and "addEventListener" in chunk
    assert not re.search(r"https?://|//cdn|<script[^>]+src=|fetch\(|XMLHttpRequest|import\(", chunk)
    assert '<span class="math notranslate nohighlight">\\(' in chunk  # formulas for the book's MathJax


def test_javascript_checker_grades_in_node(page: str, tmp_path: Path) -> None:
    """Run the inline checker in Node with a minimal DOM: right and wrong answers, both kinds."""
    node = subprocess.run(["which", "node"], capture_output=True, text=True).stdout.strip()
    if not node:
        pytest.skip("node is not installed")
    script = re.search(r"<script>(.*?)</script>", page[page.index('class="lossprep-selfcheck"') :], re.S).group(1)
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS.replace("/*SCRIPT*/", script))
    proc = subprocess.run([node, str(harness)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["right", "wrong", "pick", "right", "right", "wrong", "number", "score=3/5"]


HARNESS = r"""
// A DOM just large enough for the checker: elements with dataset, querySelector(All), closest.
function El(cls, attrs) { this.className = cls || ""; this.dataset = {}; this.children = []; this.parent = null;
  this.value = ""; this.checked = false; this.hidden = true; this.textContent = ""; Object.assign(this, attrs || {}); }
El.prototype.add = function (c) { c.parent = this; this.children.push(c); return c; };
El.prototype.all = function () { var out = []; this.children.forEach(function (c) { out.push(c); out = out.concat(c.all()); }); return out; };
El.prototype.is = function (sel) {
  if (sel === "input[type=radio]:checked") { return this.type === "radio" && this.checked; }
  if (sel === "input[type=text]") { return this.type === "text"; }
  if (sel === ".lpq input[type=text]") { return this.type === "text"; }
  if (sel === ".lpq-right, .lpq-wrong") { return / lpq-(right|wrong)/.test(" " + this.className); }
  if (sel[0] === ".") { return (" " + this.className + " ").indexOf(" " + sel.slice(1) + " ") >= 0; }
  return false; };
El.prototype.matches = El.prototype.is;
El.prototype.querySelector = function (s) { return this.all().filter(function (e) { return e.is(s); })[0] || null; };
El.prototype.querySelectorAll = function (s) { return this.all().filter(function (e) { return e.is(s); }); };
El.prototype.closest = function (s) { var e = this; while (e && !e.is(s)) { e = e.parent; } return e; };
var handlers = {};
global.window = {};
global.document = { addEventListener: function (t, f) { handlers[t] = f; } };
/*SCRIPT*/
var box = new El("lossprep-selfcheck");
function mcq(answer) { var q = box.add(new El("lpq")); q.dataset = { kind: "mcq", answer: String(answer), answerLabel: "b" };
  var radios = [0, 1, 2].map(function (i) { return q.add(new El("", { type: "radio", value: String(i) })); });
  var b = q.add(new El("lpq-check")); q.add(new El("lpq-result")); q.add(new El("lpq-explain")); return [q, radios, b]; }
function num(answer) { var q = box.add(new El("lpq")); q.dataset = { kind: "numeric", answer: String(answer), answerLabel: "x", rel: "0.01", abs: "0.002" };
  var input = q.add(new El("", { type: "text" })); var b = q.add(new El("lpq-check")); q.add(new El("lpq-result")); return [q, input, b]; }
box.add(new El("lpq-score"));
function click(b) { handlers.click({ target: b }); }
function result(q) { var r = q.querySelector(".lpq-result"); return / lpq-right/.test(" " + r.className) ? "right" : (/ lpq-wrong/.test(" " + r.className) ? "wrong" : r.textContent.indexOf("Pick") === 0 ? "pick" : "number"); }
var m1 = mcq(1); m1[1][1].checked = true; click(m1[2]); console.log(result(m1[0]));
var m2 = mcq(2); m2[1][0].checked = true; click(m2[2]); console.log(result(m2[0]));
var m3 = mcq(0); click(m3[2]); console.log(result(m3[0]));
var n1 = num(1.7719568); n1[1].value = "1.77"; click(n1[2]); console.log(result(n1[0]));
var n2 = num(-0.1680); n2[1].value = "\u22120.168"; click(n2[2]); console.log(result(n2[0]));
var n3 = num(0.5); n3[1].value = "0.6"; click(n3[2]); console.log(result(n3[0]));
var n4 = num(0.5); n4[1].value = "abc"; click(n4[2]); console.log(result(n4[0]));
console.log("score=" + box.querySelector(".lpq-score").textContent.replace(/^(\d+) of (\d+).*$/, "$1/$2"));
"""


def test_unknown_chapter_or_bad_cards_fail_the_build(tmp_path: Path) -> None:
    proc = build(tmp_path, "# C\n\n```{selfcheck} nochapter\n```\n")
    assert proc.returncode != 0 and "selfcheck: no card file" in proc.stderr
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "demo.yml").write_text(
        "chapter: demo\ncards:\n  - id: demo-a\n    kind: mcq\n    section: demo\n    front: q\n    choices: [x, y]\n    answer: 5\n"
    )
    proc = build(tmp_path, "# C\n\n```{selfcheck} demo\n```\n", cards=cards)
    assert proc.returncode != 0 and "demo-a" in proc.stderr and "field 'answer'" in proc.stderr
