"""The built book as a reader meets it: headless Chromium, network blocked.

Every page of the book (the pages of ``_toc.yml`` plus Sphinx's index and search pages) is
served from ``_build/html`` by a local ``http.server`` on 127.0.0.1 and opened in Debian's
Chromium through Playwright. Every request that is not for that server is aborted, so a page
that needs a CDN (MathJax, require.js, fonts, thebe) fails here exactly as it would on a train.

Each page is visited once per session; the tests below assert on what that visit saw. The
visit also writes full-page screenshots at a phone width and a wide viewport into
``screenshots/`` (ignored by git).

Without Playwright or without Chromium (``/usr/bin/chromium``, or ``LOSSPREP_CHROMIUM``) the
tests are skipped with the reason; ``.ci/run`` installs Chromium from Debian's packages.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from lossprep.book import toc
from lossprep.book.notebooks import Repository

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = os.environ.get("LOSSPREP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_WIDTH = 390
WIDE_WIDTH = 1440
# The launch buttons open the repository and branch of _config.yml (a student edition names its own).
_REPO = Repository.from_config(ROOT)
REPOSITORY, BRANCH = _REPO.url, _REPO.branch
# Sphinx's own pages, served with the book: they must load offline too.
EXTRA_PAGES = ["genindex", "search"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def toc_pages() -> list[str]:
    """Every page of the table of contents, as docnames (``book/likelihoods``)."""
    return toc.pages(ROOT)


PAGES = toc_pages() + EXTRA_PAGES


def _playwright_or_skip() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"browser tests need the playwright Python package ({exc})")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
            ".ci/run installs it; or set LOSSPREP_CHROMIUM)"
        )
    return sync_playwright


# --------------------------------------------------------------------------- local server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Server:
    root: Path
    base: str  # "http://127.0.0.1:PORT/"

    def url(self, page: str) -> str:
        return f"{self.base}{page}.html"

    def local_path(self, url: str) -> Path | None:
        """The file a same-site URL serves, or None for another site."""
        if not url.startswith(self.base):
            return None
        path = unquote(urlsplit(url).path).lstrip("/")
        target = self.root / path
        if path == "" or path.endswith("/"):
            target = target / "index.html"
        return target


@pytest.fixture(scope="module")
def server(built_book: Path) -> Iterator[Server]:
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(built_book, f"http://127.0.0.1:{httpd.server_address[1]}/")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# --------------------------------------------------------------------------- one visit


@dataclass
class Visit:
    """What one page showed Chromium."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    mathjax_ok: bool = True
    math_elements: int = 0
    untypeset_math: list[str] = field(default_factory=list)
    math_errors: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    overflow: dict[int, dict[str, Any]] = field(default_factory=dict)
    figures: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    toggles: list[dict[str, Any]] = field(default_factory=list)
    selfcheck: dict[str, Any] | None = None
    error: str | None = None


# Text that looks like TeX a reader should never see: $...$ holding a TeX command, a
# sub/superscript or braces, a lone $x$, and the \( \[ delimiters Sphinx wraps math in.
RAW_TEX = re.compile(
    r"\$\$?[^$\n]{0,200}?(?:\\[A-Za-z]+|[_^{}])[^$\n]{0,200}?\$\$?"
    r"|\$[A-Za-z]\$"
    r"|\\\(|\\\)|\\\[|\\\]"
)

# JavaScript run in the page.
JS_MATH = """async () => {
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
    return {ok: false, total: document.querySelectorAll('.math').length, untypeset: [], errors: []};
  }
  await MathJax.startup.promise;
  const maths = [...document.querySelectorAll('span.math, div.math')];
  return {
    ok: true,
    total: maths.length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 120)),
    // a TeX error (merror) or an undefined macro, which MathJax shows in red instead
    errors: Array.from(MathJax.startup.document.math)
      .map(item => [item.math, MathJax.startup.toMML(item.root)])
      .filter(([tex, mml]) => mml.includes('<merror') || mml.includes('mathcolor="red"'))
      .map(([tex, mml]) => tex.slice(0, 120)),
  };
}"""

# Visible text outside code: a reader's view of the prose.
JS_PROSE = """() => {
  const article = document.querySelector('main') || document.body;
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, script, style, mjx-container, mjx-assistive-mml, .cell_input')
       .forEach(e => e.remove());
  return clone.innerText;
}"""

JS_IMAGES = """async () => {
  const imgs = [...document.querySelectorAll('img')];
  for (const img of imgs) {
    img.loading = 'eager';
    if (!img.complete) {
      await new Promise(resolve => { img.addEventListener('load', resolve); img.addEventListener('error', resolve); setTimeout(resolve, 5000); });
    }
  }
  return imgs.map(img => ({
    src: img.currentSrc || img.src,
    alt: (img.getAttribute('alt') || '').trim(),
    natural: img.naturalWidth,
    width: img.getBoundingClientRect().width,
    in_article: !!img.closest('article'),
  }));
}"""

JS_LINKS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)"""

JS_OVERFLOW = """() => {
  const doc = document.documentElement;
  const article = document.querySelector('article.bd-article') || document.querySelector('article');
  const limit = (article ? article.getBoundingClientRect().right - parseFloat(getComputedStyle(article).paddingRight) : window.innerWidth) + 1;
  // an element sticking out of the text column is clipped unless a scroll box holds it
  const scrolls = e => {
    for (let a = e.parentElement; a && a !== article; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const wide = [...document.querySelectorAll('article img, article figure, article code, article mjx-container, article table')]
    .filter(e => e.getBoundingClientRect().right > limit && !scrolls(e))
    .map(e => (e.getAttribute('alt') || e.tagName + ': ' + e.textContent).slice(0, 80));
  return {scroll_width: doc.scrollWidth, client_width: doc.clientWidth, wide_figures: wide};
}"""

# Every image in the article's figures and cell outputs as shown at the current width, once
# the rendering the width picks (a <picture> source) has loaded: its natural and displayed
# size, where it sits, any box that clips it (overflow other than visible, narrower than the
# image), and the smallest text in it as lossprep.plots measured it (data-min-font-pt).
JS_FIGURES = """async () => {
  const article = document.querySelector('article.bd-article') || document.querySelector('article');
  if (!article) return [];
  const imgs = [...article.querySelectorAll('figure img, .cell_output img')];
  for (const img of imgs) {
    img.loading = 'eager';
    if (!img.complete || !img.naturalWidth) {
      await new Promise(resolve => { img.addEventListener('load', resolve, {once: true}); img.addEventListener('error', resolve, {once: true}); setTimeout(resolve, 5000); });
    }
  }
  const column = article.getBoundingClientRect().width - parseFloat(getComputedStyle(article).paddingLeft) - parseFloat(getComputedStyle(article).paddingRight);
  return imgs.map(img => {
    const r = img.getBoundingClientRect();
    const clipped = [];
    for (let a = img.parentElement; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') {
        const b = a.getBoundingClientRect();
        if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1) {
          clipped.push(a.tagName.toLowerCase() + '.' + [...a.classList].join('.'));
        }
      }
    }
    const picture = img.closest('picture');
    return {
      alt: (img.getAttribute('alt') || img.currentSrc).slice(0, 60),
      src: img.currentSrc.split('/').pop(),
      natural: [img.naturalWidth, img.naturalHeight],
      shown: [r.width, r.height],
      left: r.left, right: r.right,
      viewport: document.documentElement.clientWidth,
      column: column,
      clipped: clipped,
      min_font_pt: picture && picture.dataset.minFontPt ? parseFloat(picture.dataset.minFontPt) : null,
    };
  });
}"""

# Open every closed <details> toggle in the article (sphinx-design dropdowns, hidden code
# cells, hints) and report whether its hidden content became visible.
JS_TOGGLES = """async () => {
  const out = [];
  const toggles = [...document.querySelectorAll('article details')].filter(d => !d.open);
  for (const d of toggles) {
    const summary = d.querySelector(':scope > summary');
    const body = [...d.children].find(c => c.tagName !== 'SUMMARY');
    const seen = () => !!body && body.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})
                       && body.getBoundingClientRect().height > 0;
    const before = seen();
    summary.scrollIntoView();
    summary.click();
    await new Promise(r => setTimeout(r, 50));
    out.push({label: summary.innerText.trim().slice(0, 60), open: d.open, before, after: seen()});
  }
  return out;
}"""


def _untypeset_prose(text: str) -> list[str]:
    return sorted({m.group(0)[:80] for m in RAW_TEX.finditer(text)})


SELFCHECK = ".lossprep-selfcheck"  # lossprep.book.selfcheck, the {selfcheck} directive


def _answer_selfcheck(page: Any) -> dict[str, Any] | None:
    """Answer the first question of the page's self-check (the ``{selfcheck}`` widget) twice,
    wrongly then rightly, and report the feedback shown after each: None without a widget."""
    if page.locator(SELFCHECK).count() == 0:
        return None
    question = page.locator(f"{SELFCHECK} .lpq").first
    question.scroll_into_view_if_needed()
    kind = question.get_attribute("data-kind")
    answer = question.get_attribute("data-answer") or ""
    result = question.locator(".lpq-result")
    feedback = {"kind": kind, "before": result.inner_text()}
    for attempt in ("wrong", "right"):
        if kind == "mcq":
            radios = question.locator("input[type=radio]")
            values = [radios.nth(i).get_attribute("value") for i in range(radios.count())]
            pick = answer if attempt == "right" else next(v for v in values if v != answer)
            question.locator(f"input[type=radio][value='{pick}']").check()
        else:
            typed = answer if attempt == "right" else repr(float(answer) * 3 + 7)
            question.locator("input[type=text]").fill(typed)
        question.locator(".lpq-check").click()
        feedback[attempt] = result.inner_text()
        feedback[f"{attempt}_class"] = result.get_attribute("class") or ""
    explain = question.locator(".lpq-explain")
    feedback["explained"] = explain.count() == 0 or explain.first.is_visible()
    feedback["score"] = page.locator(f"{SELFCHECK} .lpq-score").first.inner_text()
    numeric = page.locator(f"{SELFCHECK} .lpq[data-kind=numeric]")
    if numeric.count():
        # "4,667": a thousands separator or a decimal comma? Refused, never read as 4667.
        box = numeric.first
        box.locator("input[type=text]").fill("4,667")
        box.locator(".lpq-check").click()
        feedback["comma"] = box.locator(".lpq-result").inner_text()
        feedback["comma_class"] = box.locator(".lpq-result").get_attribute("class") or ""
    return feedback


class Site:
    """The served book, one Chromium, each page visited at most once."""

    def __init__(self, server: Server, browser: Any) -> None:
        self.server = server
        self.browser = browser
        self.visits: dict[str, Visit] = {}

    def visit(self, name: str) -> Visit:
        if name not in self.visits:
            self.visits[name] = self._visit(name)
        visit = self.visits[name]
        if visit.error:
            pytest.fail(f"{name}: the visit itself failed: {visit.error}", pytrace=False)
        return visit

    def _visit(self, name: str) -> Visit:
        visit = Visit(name)
        context = self.browser.new_context(viewport={"width": WIDE_WIDTH, "height": 900}, service_workers="block")
        base = self.server.base

        def route(r: Any) -> None:
            if r.request.url.startswith(base):
                r.continue_()
            else:
                visit.blocked_requests.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: visit.console_errors.append(f"uncaught: {e}"))
        page.on(
            "requestfailed",
            lambda r: visit.failed_requests.append(f"{r.url} ({r.failure})"),
        )
        page.on(
            "response",
            lambda r: visit.failed_requests.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None,
        )
        try:
            page.goto(self.server.url(name), wait_until="load")
            math = page.evaluate(JS_MATH)
            visit.mathjax_ok = math["ok"] or math["total"] == 0
            visit.math_elements = math["total"]
            visit.untypeset_math = math["untypeset"]
            visit.math_errors = math["errors"]
            visit.raw_tex = _untypeset_prose(page.evaluate(JS_PROSE))
            visit.images = page.evaluate(JS_IMAGES)
            visit.links = page.evaluate(JS_LINKS)
            stem = name.replace("/", "-")
            for width in (WIDE_WIDTH, PHONE_WIDTH):
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(200)
                visit.figures[width] = page.evaluate(JS_FIGURES)
                visit.overflow[width] = page.evaluate(JS_OVERFLOW)
                out = SCREENSHOTS / f"{width}px" / f"{stem}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
            page.set_viewport_size({"width": WIDE_WIDTH, "height": 900})
            visit.toggles = page.evaluate(JS_TOGGLES)
            visit.selfcheck = _answer_selfcheck(page)
            page.wait_for_timeout(100)
        except Exception as exc:
            visit.error = f"{type(exc).__name__}: {exc}"
        finally:
            context.close()
        return visit


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    sync_playwright = _playwright_or_skip()  # before the book is built: skip fast
    server: Server = request.getfixturevalue("server")
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield Site(server, browser)
        finally:
            browser.close()


# --------------------------------------------------------------------------- helpers


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, b""


def source_of(page: str) -> Path | None:
    for suffix in (".md", ".ipynb"):
        path = ROOT / f"{page}{suffix}"
        if path.is_file():
            return path
    return None


def is_notebook_page(page: str) -> bool:
    """A MyST markdown notebook (has a kernelspec) or an .ipynb chapter."""
    src = source_of(page)
    if src is None:
        return False
    return src.suffix == ".ipynb" or "kernelspec:" in src.read_text(encoding="utf-8")[:2000]


# --------------------------------------------------------------------------- tests


def test_every_built_book_page_is_tested(built_book: Path) -> None:
    built = {
        p.relative_to(built_book).with_suffix("").as_posix()
        for p in built_book.rglob("*.html")
        if not p.relative_to(built_book).parts[0].startswith("_")
    }
    built.discard("index")  # the root redirect, checked below
    assert built <= set(PAGES), f"pages built but not browser-tested: {sorted(built - set(PAGES))}"


def test_root_redirects_to_the_landing_page(site: Site) -> None:
    context = site.browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.server.base + "index.html")
        page.wait_for_url(re.compile(re.escape(site.server.url(toc_pages()[0]))), timeout=10000)
    finally:
        context.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_offline_without_errors(site: Site, name: str) -> None:
    visit = site.visit(name)
    assert visit.blocked_requests == [], f"{name} asks the network for {visit.blocked_requests}"
    assert visit.failed_requests == [], f"{name}: failed requests {visit.failed_requests}"
    assert visit.console_errors == [], f"{name}: console errors {visit.console_errors}"


@pytest.mark.parametrize("name", PAGES)
def test_every_formula_is_typeset(site: Site, name: str) -> None:
    visit = site.visit(name)
    assert visit.mathjax_ok, f"{name} has {visit.math_elements} formulas but MathJax did not start"
    assert visit.untypeset_math == [], f"{name}: formulas MathJax left alone: {visit.untypeset_math}"
    assert visit.math_errors == [], f"{name}: TeX errors {visit.math_errors}"
    assert visit.raw_tex == [], f"{name}: raw TeX visible in the text: {visit.raw_tex}"


@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads_and_has_alt_text(site: Site, name: str) -> None:
    visit = site.visit(name)
    broken = [i["src"] for i in visit.images if i["natural"] <= 0]
    no_alt = [i["src"] for i in visit.images if not i["alt"]]
    assert broken == [], f"{name}: images that did not load: {broken}"
    assert no_alt == [], f"{name}: images without alt text: {no_alt}"


@pytest.mark.parametrize("name", PAGES)
def test_pages_fit_a_phone_and_a_wide_screen(site: Site, name: str) -> None:
    visit = site.visit(name)
    for width, seen in visit.overflow.items():
        assert seen["scroll_width"] <= seen["client_width"] + 1, (
            f"{name} at {width}px is {seen['scroll_width']}px wide: something overflows (see screenshots/{width}px/)"
        )
        assert seen["wide_figures"] == [], f"{name} at {width}px: sticks out of the text column: {seen['wide_figures']}"
    for width in (PHONE_WIDTH, WIDE_WIDTH):
        shot = SCREENSHOTS / f"{width}px" / f"{name.replace('/', '-')}.png"
        assert shot.is_file() and shot.stat().st_size > 1000, f"no screenshot {shot}"


@pytest.mark.parametrize("name", PAGES)
def test_toggles_and_quizzes_work_when_clicked(site: Site, name: str) -> None:
    visit = site.visit(name)
    for toggle in visit.toggles:
        assert not toggle["before"], f"{name}: toggle {toggle['label']!r} shows its content closed"
        assert toggle["open"], f"{name}: toggle {toggle['label']!r} did not open"
        assert toggle["after"], f"{name}: toggle {toggle['label']!r} opened but shows nothing"
    check = visit.selfcheck
    if check is not None:
        assert check["before"] == "", f"{name}: self-check feedback before any answer: {check}"
        assert "lpq-wrong" in check["wrong_class"] and check["wrong"].startswith("Not quite"), (
            f"{name}: a wrong self-check answer got no 'not quite' feedback: {check}"
        )
        assert "lpq-right" in check["right_class"] and check["right"] == "Correct.", (
            f"{name}: the right self-check answer was not accepted: {check}"
        )
        assert check["explained"], f"{name}: the explanation stayed hidden after answering"
        assert check["score"] == "1 of 1 answered correctly.", f"{name}: score line {check['score']!r}"
        if "comma" in check:
            assert "without commas" in check["comma"], f"{name}: '4,667' was not refused: {check['comma']!r}"
            assert "lpq-wrong" not in check["comma_class"] and "lpq-right" not in check["comma_class"], check


def test_the_book_has_hints_to_toggle(site: Site) -> None:
    toggles = sum(len(site.visit(name).toggles) for name in toc_pages())
    assert toggles > 0, "no chapter has a dropdown or hidden cell to open"


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_resolve(site: Site, name: str) -> None:
    visit = site.visit(name)
    broken: list[str] = []
    for href in sorted(set(visit.links)):
        url, fragment = urldefrag(href)
        target = site.server.local_path(url)
        if target is None:
            continue
        status, _ = fetch(url)
        if status != 200:
            broken.append(f"{href} (HTTP {status})")
        elif fragment and target.suffix == ".html" and unquote(fragment) not in anchors_of(target):
            broken.append(f"{href} (no anchor #{fragment})")
    assert broken == [], f"{name}: broken internal links {broken}"


@pytest.mark.parametrize("name", [p for p in toc_pages() if is_notebook_page(p)])
def test_download_and_launch_buttons(site: Site, name: str) -> None:
    visit = site.visit(name)
    # Download as .ipynb: served next to the page, a notebook with the chapter's cells.
    ipynb = [u for u in visit.links if u.startswith(site.server.base) and u.endswith(".ipynb")]
    own = site.server.base + f"_sources/{name}.ipynb"
    assert own in ipynb, f"{name}: no .ipynb download button (links: {ipynb})"
    status, body = fetch(own)
    assert status == 200
    notebook = json.loads(body)
    assert notebook["nbformat"] == 4 and any(c["cell_type"] == "code" for c in notebook["cells"])
    # Binder and Colab open the chapter's generated notebook (book/<chapter>.ipynb, committed
    # beside its .md source; tests/test_notebooks.py keeps it current), on the configured branch.
    src = source_of(name)
    assert src is not None
    notebook_file = src.with_suffix(".ipynb")
    assert notebook_file.is_file(), f"{name}: the launch buttons would open a missing {notebook_file.name}"
    rel = notebook_file.relative_to(ROOT).as_posix()
    org_repo = REPOSITORY.removeprefix("https://github.com/")
    binder = f"https://mybinder.org/v2/gh/{org_repo}/{BRANCH}?urlpath=lab/tree/{rel}"
    colab = f"https://colab.research.google.com/github/{org_repo}/blob/{BRANCH}/{rel}"
    assert binder in visit.links, f"{name}: no Binder button to {binder}"
    assert colab in visit.links, f"{name}: no Colab button to {colab}"
    assert not [u for u in visit.links if ("colab" in u or "mybinder" in u) and u.endswith(".md")]


def test_exercise_download_links_serve_the_notebooks(site: Site) -> None:
    pages = [p for p in toc_pages() if Path(p).name == "exercises"]
    if not pages:
        pytest.skip("the book has no exercises page yet")
    for name in pages:
        visit = site.visit(name)
        links = sorted(
            {
                u
                for u in visit.links
                if u.startswith(site.server.base)
                and u.endswith(".ipynb")
                and not u.startswith(site.server.base + "_sources/")
            }
        )
        assert links, f"{name} links no exercise notebook to download"
        for url in links:
            status, body = fetch(url)
            assert status == 200, f"{url}: HTTP {status}"
            notebook = json.loads(body)
            assert notebook["nbformat"] == 4, f"{url} is not a notebook"
            filename = Path(unquote(urlsplit(url).path)).name
            released = ROOT / "exercises" / Path(filename).stem / filename
            if released.is_file():
                assert body == released.read_bytes(), f"{url} differs from {released}"


def test_book_reads_from_files_without_a_server(site: Site) -> None:
    """A reader opens _build/html/index.html from disk (file://): same checks, no server."""
    root = site.server.root
    context = site.browser.new_context()
    problems: list[str] = []
    context.route(
        "**/*",
        lambda r: (
            r.continue_()
            if r.request.url.startswith("file://")
            else (problems.append(f"network: {r.request.url}"), r.abort())
        ),
    )
    try:
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.goto((root / "index.html").as_uri())
        page.wait_for_url(f"**/{toc_pages()[0]}.html", timeout=10000)
        for name in toc_pages():
            page.goto((root / f"{name}.html").as_uri(), wait_until="load")
            math = page.evaluate(JS_MATH)
            assert math["ok"] or math["total"] == 0, f"{name}: MathJax did not start from file://"
            assert math["untypeset"] == [] and math["errors"] == [], f"{name} from file://: {math}"
    finally:
        context.close()
    assert problems == [], f"opened from file://: {problems}"


# --------------------------------------------------------------------------- figures

MIN_FIGURE_TEXT_PX = 9.0
"""The smallest text a figure may show, in CSS px, at a phone's width and a wide screen's.

The rule, measurable in the page: the book's figures are SVG sized in points, so at its natural
size a figure's text of ``s`` pt is ``s * 4/3`` CSS px, and the browser scales it by displayed
width / natural width. ``lossprep.plots`` records the smallest ``s`` of each figure in the
``<picture>``'s ``data-min-font-pt``."""


def figure_problems(figures: list[dict[str, Any]], width: int) -> list[str]:
    """What is wrong with the figures one page shows at ``width``: cut off, squeezed, off the
    screen or with text too small to read."""
    problems = []
    for fig in figures:
        where = f"{width}px, {fig['alt']!r} ({fig['src']})"
        (natural_w, natural_h), (shown_w, shown_h) = fig["natural"], fig["shown"]
        if min(natural_w, natural_h, shown_w, shown_h) <= 0:
            problems.append(f"{where}: not shown")
            continue
        if abs((shown_w / shown_h) / (natural_w / natural_h) - 1) > 0.015:
            problems.append(f"{where}: drawn {natural_w}x{natural_h}, shown {shown_w:.0f}x{shown_h:.0f} (squeezed)")
        if fig["left"] < -0.5 or fig["right"] > fig["viewport"] + 0.5 or shown_w > fig["column"] + 0.5:
            problems.append(
                f"{where}: spans x {fig['left']:.0f}..{fig['right']:.0f}, past the text column or the screen"
            )
        if fig["clipped"]:
            problems.append(f"{where}: cut off by {fig['clipped']}")
        if fig["min_font_pt"] is None:
            problems.append(f"{where}: not drawn by lossprep.plots (call plots.apply_style() in the setup cell)")
        elif fig["min_font_pt"] * 4 / 3 * shown_w / natural_w < MIN_FIGURE_TEXT_PX:
            px = fig["min_font_pt"] * 4 / 3 * shown_w / natural_w
            problems.append(f"{where}: its {fig['min_font_pt']:g} pt text shows at {px:.1f} px")
    return problems


@pytest.mark.parametrize("name", PAGES)
def test_figures_show_all_their_content_legibly(site: Site, name: str) -> None:
    visit = site.visit(name)
    problems = [p for width, figures in sorted(visit.figures.items()) for p in figure_problems(figures, width)]
    assert problems == [], f"{name}: figures that do not read well (see screenshots/):\n" + "\n".join(problems)


def test_the_book_has_figures_to_check(site: Site) -> None:
    for width in (PHONE_WIDTH, WIDE_WIDTH):
        shown = [f for name in toc_pages() for f in site.visit(name).figures[width]]
        assert shown, f"no figure measured at {width}px"
        assert len({f["src"] for f in shown}) == len(shown), f"at {width}px two figures show the same file"
    # at least one figure is drawn differently for a phone (panels stacked)
    assert any(
        f390["src"] != f1440["src"]
        for name in toc_pages()
        for f390, f1440 in zip(site.visit(name).figures[PHONE_WIDTH], site.visit(name).figures[WIDE_WIDTH], strict=True)
    ), "no figure has a phone rendering"


# --------------------------------------------------------------------------- a phone in hand

PHONE_HEIGHT = 844


@contextmanager
def phone_page(site: Site) -> Iterator[tuple[Any, list[str]]]:
    """A page in a touch-screen phone's browser (390 x 844 CSS px), network blocked, and the
    console errors it logs."""
    context = site.browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
        service_workers="block",
    )
    errors: list[str] = []
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(site.server.base) else r.abort())
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        yield page, errors
    finally:
        context.close()


# Which of the elements a selector finds are on screen: rendered, not empty, horizontally
# within the viewport and starting above its bottom.
JS_ON_SCREEN = """(selector) => [...document.querySelectorAll(selector)].map(e => {
  const r = e.getBoundingClientRect();
  return {
    href: e.href || '',
    on_screen: e.checkVisibility({visibilityProperty: true, opacityProperty: true}) && r.width > 0 && r.height > 0
               && r.left >= -1 && r.right <= innerWidth + 1 && r.top < innerHeight,
  };
})"""


def _tap_outside(page: Any, dialog: Any) -> None:
    """Tap the dimmed page beside an open sidebar dialog, as a reader closes it."""
    box = dialog.bounding_box()
    assert box is not None
    right_gap = PHONE_WIDTH - (box["x"] + box["width"])
    x = box["x"] + box["width"] + right_gap / 2 if right_gap > box["x"] else box["x"] / 2
    page.touchscreen.tap(x, PHONE_HEIGHT / 2)
    page.wait_for_timeout(300)


def _open_with_tap(page: Any, button: str, dialog_id: str, links: str) -> tuple[Any, list[dict[str, Any]]]:
    toggles = page.locator(button)
    visible = [toggles.nth(i) for i in range(toggles.count()) if toggles.nth(i).is_visible()]
    assert len(visible) == 1, f"{len(visible)} visible {button} buttons at {PHONE_WIDTH}px"
    visible[0].tap()
    page.wait_for_timeout(400)
    dialog = page.locator(f"#{dialog_id}")
    assert page.evaluate(f"() => document.getElementById('{dialog_id}').open"), f"tapping {button} opened nothing"
    return dialog, page.evaluate(JS_ON_SCREEN, f"#{dialog_id} {links}")


@pytest.mark.parametrize("name", toc_pages())
def test_phone_menu_buttons_open_and_close_the_sidebars(site: Site, name: str) -> None:
    with phone_page(site) as (page, errors):
        page.goto(site.server.url(name), wait_until="load")

        # ☰: the chapter list
        dialog, shown = _open_with_tap(page, ".primary-toggle", "pst-primary-sidebar-modal", "nav a[href]")
        on_screen = {urldefrag(s["href"])[0] for s in shown if s["on_screen"]}
        missing = [p for p in toc_pages() if site.server.url(p) not in on_screen]
        assert missing == [], f"{name}: the ☰ menu does not show the chapters {missing}"
        _tap_outside(page, dialog)
        assert not page.evaluate("() => document.getElementById('pst-primary-sidebar-modal').open")
        assert not any(s["on_screen"] for s in page.evaluate(JS_ON_SCREEN, ".bd-docs-nav a[href]")), (
            f"{name}: the chapter list stays on screen after closing the ☰ menu"
        )

        # the page's contents
        sections = page.evaluate(
            "() => [...document.querySelectorAll('article section > h2')].map(h => h.parentElement.id)"
        )
        if not sections and not is_notebook_page(name):
            return  # a page with no sections has no contents to show
        assert sections, f"{name}: a chapter without sections"
        dialog, shown = _open_with_tap(page, ".secondary-toggle", "pst-secondary-sidebar-modal", "nav.page-toc a[href]")
        targets = {urldefrag(s["href"])[1] for s in shown if s["on_screen"]}
        missing = [s for s in sections if s not in targets]
        assert missing == [], f"{name}: the contents button does not list the sections {missing}"
        _tap_outside(page, dialog)
        assert not page.evaluate("() => document.getElementById('pst-secondary-sidebar-modal').open")
        assert not any(s["on_screen"] for s in page.evaluate(JS_ON_SCREEN, "nav.page-toc a[href]")), (
            f"{name}: the contents stay on screen after closing them"
        )
    assert errors == [], f"{name}: console errors while using the phone menus: {errors}"


def test_wide_screen_menu_button_hides_and_shows_the_chapter_list(site: Site) -> None:
    context = site.browser.new_context(viewport={"width": WIDE_WIDTH, "height": 900})
    try:
        page = context.new_page()
        page.goto(site.server.url(toc_pages()[1]), wait_until="load")
        sidebar = page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible()
        page.locator(".primary-toggle").click()
        page.wait_for_timeout(600)  # the sidebar slides away
        assert not sidebar.is_visible(), "☰ does not hide the chapter list on a wide screen"
        page.locator(".primary-toggle").click()
        page.wait_for_timeout(600)
        assert sidebar.is_visible(), "☰ does not bring the chapter list back"
    finally:
        context.close()


# --------------------------------------------------------------------------- dark mode

MIN_CONTRAST = 4.5  # WCAG 2 AA, normal text

# Contrast (WCAG 2) of every visible piece of text inside `selector` against what is really
# behind it: the background colours of the element and its ancestors composited over white,
# up to the first opaque one, with the text colour's own alpha composited over that.
JS_CONTRAST = """(selector) => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((bg, c) => over(c, bg), [255, 255, 255, 1]);
  };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [hi, lo] = [lum(a), lum(b)].sort((p, q) => q - p); return (hi + 0.05) / (lo + 0.05); };
  const out = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (el.closest('mjx-assistive-mml')) continue;  // MathJax's copy for screen readers, never painted
      const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
      if (!text || !el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
      const bg = background(el);
      const fg = over(parse(getComputedStyle(el).color), bg);
      const owner = el.closest('[class*="lpq-"]');
      out.push({where: owner ? owner.className : el.tagName.toLowerCase(), text: text.slice(0, 40), ratio: ratio(fg, bg)});
    }
  }
  return out;
}"""

# Answer every question of the page's self-checks, alternately wrong and right, so that every
# kind of feedback and every explanation is on the page.
JS_ANSWER_ALL = """() => {
  document.querySelectorAll('.lossprep-selfcheck .lpq').forEach((q, i) => {
    const right = i % 2 === 1;
    if (q.dataset.kind === 'mcq') {
      const radios = [...q.querySelectorAll('input[type=radio]')];
      radios.find(r => (r.value === q.dataset.answer) === right).checked = true;
    } else {
      q.querySelector('input[type=text]').value = right ? q.dataset.answer : String(parseFloat(q.dataset.answer) * 3 + 7);
    }
    q.querySelector('.lpq-check').click();
  });
}"""

SELFCHECK_PAGES = [p for p in toc_pages() if (src := source_of(p)) is not None and "{selfcheck}" in src.read_text()]


def switch_theme(page: Any, mode: str) -> None:
    """Press the theme button (light, dark, auto, ...) until the page shows ``mode``."""
    for _ in range(4):
        if page.evaluate("() => document.documentElement.dataset.theme") == mode:
            return
        page.locator(".theme-switch-button").first.click()
        page.wait_for_timeout(100)
    pytest.fail(f"the theme button never switched to {mode} mode", pytrace=False)


def test_some_pages_have_a_selfcheck() -> None:
    assert SELFCHECK_PAGES, "no chapter has a {selfcheck}: the contrast test checks nothing"


@pytest.mark.parametrize("name", SELFCHECK_PAGES)
def test_selfcheck_text_is_readable_in_light_and_dark_mode(site: Site, name: str) -> None:
    context = site.browser.new_context(viewport={"width": WIDE_WIDTH, "height": 900})
    try:
        page = context.new_page()
        page.goto(site.server.url(name), wait_until="load")
        page.evaluate(JS_ANSWER_ALL)
        for mode in ("light", "dark"):
            switch_theme(page, mode)
            measured = page.evaluate(JS_CONTRAST, SELFCHECK)
            kinds = " ".join(m["where"] for m in measured)
            for kind in ("lpq-wrong", "lpq-right", "lpq-explain", "lpq-q"):
                assert kind in kinds, f"{name} ({mode}): no visible {kind} text to measure"
            low = sorted(
                {f"{m['where']} {m['text']!r}: {m['ratio']:.2f}:1" for m in measured if m["ratio"] < MIN_CONTRAST}
            )
            assert low == [], f"{name} in {mode} mode: self-check text under {MIN_CONTRAST}:1 contrast: {low}"
    finally:
        context.close()


MIN_TARGET_PX = 24  # WCAG 2.2 target size (minimum), in CSS px


@pytest.mark.parametrize("name", SELFCHECK_PAGES)
def test_phone_selfcheck_controls_are_finger_sized(site: Site, name: str) -> None:
    with phone_page(site) as (page, errors):
        page.goto(site.server.url(name), wait_until="load")
        sizes = page.evaluate(
            "(sel) => [...document.querySelectorAll(sel)].map(e => { const r = e.getBoundingClientRect();"
            " return {what: e.className || e.tagName, w: r.width, h: r.height}; })",
            f"{SELFCHECK} .lpq-check, {SELFCHECK} .lpq-choice, {SELFCHECK} input[type=text]",
        )
        assert sizes, f"{name}: no self-check controls"
        small = [s for s in sizes if min(s["w"], s["h"]) < MIN_TARGET_PX]
        assert small == [], f"{name}: self-check controls smaller than {MIN_TARGET_PX} px at {PHONE_WIDTH}px: {small}"
        # a tap anywhere on a choice's text picks it
        question = page.locator(f"{SELFCHECK} .lpq[data-kind=mcq]").first
        choice = question.locator(".lpq-choice").last
        choice.scroll_into_view_if_needed()
        box = choice.bounding_box()
        assert box is not None
        page.touchscreen.tap(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        assert choice.locator("input").is_checked(), f"{name}: tapping a choice's text does not pick it"
        question.locator(".lpq-check").tap()
        result = question.locator(".lpq-result").inner_text()
        assert result == "Correct." or result.startswith("Not quite"), f"{name}: tapping Check gave {result!r}"
    assert errors == [], f"{name}: console errors: {errors}"


# --------------------------------------------------------------------------- search

# Text that is TeX, not prose: a command, a math delimiter or a dollar sign.
TEX_IN_TEXT = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$")
SEARCH_TERMS = ["huber", "gradient", "likelihood", "sigmoid"]


def _search(page: Any, url: str) -> list[dict[str, str]]:
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => /found|did not match/.test(document.querySelector('.search-summary')?.innerText || '')"
    )
    page.wait_for_timeout(500)  # excerpts arrive one by one after the list
    return page.evaluate(
        "() => [...document.querySelectorAll('#search-results ul.search li')].map(li => ({"
        "title: li.querySelector('a').innerText, href: li.querySelector('a').href,"
        "excerpt: li.querySelector('p.context')?.innerText || ''}))"
    )


def test_search_excerpts_show_formulas_as_text_not_tex(site: Site) -> None:
    context = site.browser.new_context(viewport={"width": WIDE_WIDTH, "height": 900})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        excerpts = []
        for term in SEARCH_TERMS:
            results = _search(page, f"{site.server.base}search.html?q={term}")
            assert results, f"searching {term!r} found nothing"
            assert all(r["excerpt"] for r in results), f"{term!r}: results without an excerpt: {results}"
            excerpts += [r["excerpt"] for r in results]
        raw = [e for e in excerpts if TEX_IN_TEXT.search(e)]
        assert raw == [], f"search excerpts show TeX: {raw}"
        # the search did meet formulas: some excerpts hold their symbols, as text
        assert any(re.search("[α-ωΑ-Ω∂≤≥ŷ]|\u0302", e) for e in excerpts), f"no excerpt shows a formula: {excerpts}"
        converted = page.evaluate(
            "(cases) => cases.map(lossprepTexToText)",
            [
                r"\(\delta\)",
                r"\(\frac{\partial L}{\partial \hat y} = \sigmoid(z) - y\)",
                r"\[\mathrm{MSE} \le \E[e^2]\]",
            ],
        )
        assert converted == ["δ", "(∂ L)/(∂ ŷ) = σ(z) - y", "MSE ≤ 𝔼[e^2]"]
    finally:
        context.close()
    assert errors == [], f"console errors while searching: {errors}"


def test_search_from_files_lists_results_quietly(site: Site) -> None:
    """Opened from disk the browser refuses the excerpts' fetch: titles only, a note, no error."""
    context = site.browser.new_context()
    problems: list[str] = []
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
    try:
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        results = _search(page, (site.server.root / "search.html").as_uri() + "?q=huber")
        assert results and all(r["href"].startswith("file://") for r in results), results
        note = page.locator(".lossprep-search-note")
        assert note.is_visible() and "python -m http.server" in note.inner_text()
    finally:
        context.close()
    assert problems == [], f"search opened from a file: {problems}"
