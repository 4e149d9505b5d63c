"""The feedback page a student gets (``nbgrader generate_feedback``), opened from a file in
headless Chromium with every request aborted: its formulas are typeset by the MathJax it
carries, and nothing is fetched from a network. Screenshots go to ``screenshots/feedback/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from grading_helpers import nbgrader_round_trip
from test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _playwright_or_skip

from autograder import SOLUTIONS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JS_MATH = """async () => {
  if (!window.MathJax || !MathJax.startup) return {loaded: false};
  await MathJax.startup.promise;
  const prose = Array.from(document.querySelectorAll('.text_cell_render')).map(e => e.innerText).join('\\n');
  return {loaded: true, typeset: document.querySelectorAll('mjx-container').length,
          errors: document.querySelectorAll('mjx-merror').length,
          raw: (prose.match(/\\$\\$|\\\\frac|\\\\sum|\\\\sigma/g) || []).length};
}"""


def test_feedback_typesets_every_formula_offline(tmp_path: Path) -> None:
    sync_playwright = _playwright_or_skip()
    name = "medical_loss"
    course, scores, _ = nbgrader_round_trip(tmp_path, name, {"alice": SOLUTIONS / name / f"{name}.ipynb"})
    assert scores == {"alice": 12.0}
    page_path = course / "feedback" / "alice" / name / f"{name}.html"
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.route(
            "**/*",
            lambda r: (
                r.continue_() if r.request.url.startswith("file:") else (blocked.append(r.request.url), r.abort())
            ),
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri(), wait_until="load")
        math = page.evaluate(JS_MATH)
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            out = SCREENSHOTS / "feedback" / f"{width}px-{name}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        browser.close()
    assert math["loaded"], "MathJax did not load from the page itself"
    assert math["typeset"] >= 5 and math["errors"] == 0 and math["raw"] == 0, math
    assert not blocked and not errors, (blocked, errors)
