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
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from lossprep.book import toc

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
REPOSITORY = "https://github.com/lossprep/lossprep"
BRANCH = "main"
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
    # beside its .md source; tests/test_notebooks.py keeps it current), on the main branch.
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
