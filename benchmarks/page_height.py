"""Measure how long each chapter page is on a phone: ``document.documentElement.scrollHeight``.

Opens the built book (``_build/html``, from ``make book``) in Debian's Chromium through
Playwright, with every request outside the file itself blocked, waits for MathJax to typeset,
and prints the page height in CSS pixels at each width. Run from the repository root:

    .venv/bin/python benchmarks/page_height.py [--width 390] [--width 1440] [--html _build/html]

A page that reads well on a phone is short enough to study from: the regression chapter was
about 27,000 px at 390 px before issue 9 cut it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lossprep.book import toc  # noqa: E402

CHROMIUM = os.environ.get("LOSSPREP_CHROMIUM", "/usr/bin/chromium")


def heights(html: Path, pages: list[str], widths: list[int]) -> dict[tuple[str, int], int]:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": 844})
            page.route("http*://**", lambda route: route.abort())
            for name in pages:
                page.goto((html / f"{name}.html").as_uri())
                page.wait_for_load_state("load")
                page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise")
                page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
                out[(name, width)] = int(page.evaluate("document.documentElement.scrollHeight"))
            page.close()
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, action="append", help="viewport width in px (repeatable; default 390)")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built book")
    args = parser.parse_args()
    if not (args.html / "index.html").is_file():
        sys.exit(f"no built book at {args.html}: run `make book` first")
    pages = [p for p in toc.pages(ROOT) if (args.html / f"{p}.html").is_file()]
    widths = args.width or [390]
    result = heights(args.html, pages, widths)
    for width in widths:
        for name in pages:
            print(f"{name:<22} {width:>5} px wide: {result[(name, width)]:>7,} px tall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
