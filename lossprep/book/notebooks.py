"""The chapters as plain Jupyter notebooks, for Colab, Binder and a local JupyterLab.

Each chapter is written once, as a MyST markdown notebook (``book/<name>.md``). This module
turns it into ``book/<name>.ipynb`` beside it, committed to the repository, which is what the
book's launch buttons open: sphinx-book-theme links Binder and Colab to the ``.ipynb`` of a
page when one exists next to its source. Colab cannot open a MyST ``.md`` at all, and Binder
would need jupytext to.

The notebook is the chapter's own cells and text, with three changes:

- a setup cell after the chapter's opening: on Colab it installs the ``lossprep`` package
  from the repository named in ``_config.yml``; where ``lossprep`` is importable (Binder, a
  clone) it does nothing;
- the MyST markup that Jupyter does not know is rewritten into markdown it renders: targets
  become HTML anchors, ``{ref}`` the section's title, ``{dropdown}`` a ``<details>`` block,
  ``{literalinclude}`` the code it includes, ``{glue:text}`` the glued name, the
  ``{selfcheck}`` the same questions with their answers folded away, the book's MathJax macros their
  expansion, and an escaped dollar ``\\$`` the word USD (Jupyter's MathJax would pair it);
- no outputs and deterministic cell ids, so a regenerated notebook is byte-identical when
  its chapter did not change (``tests/test_notebooks.py`` checks the committed ones).

Unknown MyST syntax is an error naming the file and the construct, never left raw.

``lossprep notebooks`` writes them; ``lossprep notebooks --check`` only reports stale ones.
As a Sphinx extension (``_config.yml``: ``sphinx: extra_extensions``) it makes the book build
warn, and fail under ``-W``, when a chapter's notebook is missing or stale.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossprep.book.toc import ROOT, chapter_sources

__all__ = [
    "NotebookError",
    "Repository",
    "build_notebook",
    "chapter_sources",
    "notebook_path",
    "render",
    "setup_cell_source",
    "stale_notebooks",
    "write_notebooks",
]


# The extra that brings what a chapter imports beyond the package itself (myst_nb's glue).
BOOK_EXTRA = "book"


class NotebookError(ValueError):
    """A chapter that cannot be turned into a notebook; the message names file and line."""


@dataclass(frozen=True)
class Repository:
    """Where the course lives, read from ``_config.yml``: the install cell and the launch
    buttons use the same repository and branch."""

    url: str
    branch: str
    macros: dict[str, str]

    @property
    def requirement(self) -> str:
        return f"lossprep[{BOOK_EXTRA}] @ git+{self.url}@{self.branch}"

    @classmethod
    def from_config(cls, root: Path = ROOT) -> Repository:
        import yaml

        path = root / "_config.yml"
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise NotebookError(f"{path}: cannot read the book's configuration: {exc}") from None
        repo = config.get("repository") or {}
        url = str(repo.get("url") or "").rstrip("/")
        if not url.startswith("https://"):
            raise NotebookError(f"{path}: repository.url must be the repository's https address, got {url!r}")
        macros = (
            ((config.get("sphinx") or {}).get("config") or {})
            .get("mathjax3_config", {})
            .get("tex", {})
            .get("macros", {})
        )
        for name, value in macros.items():
            if not isinstance(value, str):
                raise NotebookError(
                    f"{path}: MathJax macro \\{name} takes arguments; lossprep.book.notebooks expands only plain macros"
                )
        return cls(url=url, branch=str(repo.get("branch") or "main"), macros=dict(macros))


def setup_cell_source(repo: Repository) -> str:
    return (
        "# Setup. On Colab this installs the course's package from GitHub (about a minute);\n"
        "# on Binder or in a clone of the repository lossprep is installed and nothing happens.\n"
        "import importlib\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("lossprep") is None:\n'
        "    subprocess.run(\n"
        '        [sys.executable, "-m", "pip", "install", "--quiet",\n'
        f'         "{repo.requirement}"],\n'
        "        check=True,\n"
        "    )\n"
        "    importlib.invalidate_caches()\n"
    )


def _setup_note(md_name: str) -> str:
    return (
        "**Running this notebook.** It is generated from "
        f"`book/{md_name}` in the course's repository: edit that file, not this one. The next "
        "cell installs the `lossprep` package when it is missing (on Colab) and does nothing "
        "elsewhere. The demos use a GPU when the runtime has one (on Colab: *Runtime → Change "
        "runtime type*). The book fills its text with numbers computed by the cells "
        '(`glue("name", value)`); here the text shows those `names` instead.'
    )


# ---------------------------------------------------------------------------------------------
# MyST -> Jupyter markdown

_TARGET = re.compile(r"^\(([\w-]+)\)=\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$")
_TITLE = re.compile(r"^#\s+(.+?)\s*$")
_ROLE = re.compile(r"\{([a-z][\w:-]*)\}`([^`]*)`")
_FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*?)\s*$")
_DIRECTIVES = {"dropdown", "literalinclude", "selfcheck"}
_ROLES = {"glue:text", "ref"}


@dataclass(frozen=True)
class _Target:
    chapter: str  # the chapter's file stem
    chapter_title: str
    title: str  # the heading the target names


def _targets(sources: list[Path]) -> dict[str, _Target]:
    """Every ``(label)=`` of the chapters, with the title of the heading it names."""
    found: dict[str, _Target] = {}
    for source in sources:
        lines = source.read_text(encoding="utf-8").splitlines()
        chapter_title = next((m[1] for m in map(_TITLE.match, lines) if m), source.stem)
        for i, line in enumerate(lines):
            match = _TARGET.match(line)
            if not match:
                continue
            heading = next((_HEADING.match(nxt) for nxt in lines[i + 1 :] if nxt.strip()), None)
            if heading is None:
                raise NotebookError(f"{source}:{i + 1}: target ({match[1]})= is not followed by a heading")
            found[match[1]] = _Target(source.stem, chapter_title, heading[1])
    return found


class _Converter:
    def __init__(self, source: Path, repo: Repository, targets: dict[str, _Target]):
        self.source = source
        self.repo = repo
        self.targets = targets

    def fail(self, message: str) -> NotebookError:
        return NotebookError(f"{self.source}: {message}")

    def markdown(self, text: str) -> str:
        """A markdown cell for Jupyter: the MyST constructs rewritten, then the math once."""
        return self.math(self.structure(text))

    def structure(self, text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            target = _TARGET.match(line)
            if target:
                out.append(f'<a id="{target[1]}"></a>')
                i += 1
                continue
            fence = _FENCE_OPEN.match(line)
            if fence:
                end = self._closing(lines, i, fence["name"], fence["fence"])
                body = lines[i + 1 : end]
                out.extend(self.directive(fence["name"], fence["arg"], fence["indent"], body))
                i = end + 1
                continue
            out.append(self.inline(line))
            i += 1
        return "\n".join(out)

    def _closing(self, lines: list[str], start: int, name: str, fence: str) -> int:
        for j in range(start + 1, len(lines)):
            if lines[j].strip() == fence:
                return j
        raise self.fail(f"the {{{name}}} block that opens with {lines[start].strip()!r} is never closed")

    def directive(self, name: str, arg: str, indent: str, body: list[str]) -> list[str]:
        if name not in _DIRECTIVES:
            raise self.fail(
                f"the notebook generator does not know the directive {{{name}}}; "
                "teach lossprep/notebooks.py to render it, or write the text without it"
            )
        options = {}
        while body and re.match(r"^\s*:[\w-]+:", body[0]):
            key, _, value = body.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        if name == "dropdown":
            if options:
                raise self.fail(f"{{dropdown}} options {sorted(options)} are not supported in notebooks")
            inner = self.structure("\n".join(line[len(indent) :] if line.startswith(indent) else line for line in body))
            block = [f"<details><summary>{arg or 'Show'}</summary>", "", *inner.split("\n"), "", "</details>"]
            return [indent + line if line else "" for line in block]
        if name == "literalinclude":
            return [indent + line if line else "" for line in self.literalinclude(arg, options)]
        return [indent + line if line else "" for line in self.selfcheck(arg, options).split("\n")]

    def selfcheck(self, arg: str, options: dict[str, str]) -> str:
        """The book's self-check as markdown: the same cards, answers folded away."""
        from lossprep.book.selfcheck import DEFAULT_COUNT, render_selfcheck_markdown
        from lossprep.quiz.cards import CardError, load_file

        unknown = set(options) - {"count"}
        if unknown:
            raise self.fail(f"{{selfcheck}} options {sorted(unknown)} are not supported in notebooks")
        chapter = arg.strip()
        path = self.source.parent / "cards" / f"{chapter}.yml"
        try:
            count = int(options.get("count", DEFAULT_COUNT))
            return render_selfcheck_markdown(load_file(path), chapter, count)
        except (CardError, ValueError, OSError) as exc:
            raise self.fail(f"{{selfcheck}} {chapter}: {exc}") from None

    def literalinclude(self, arg: str, options: dict[str, str]) -> list[str]:
        unknown = set(options) - {"pyobject", "language"}
        if unknown:
            raise self.fail(f"{{literalinclude}} options {sorted(unknown)} are not supported in notebooks")
        path = (self.source.parent / arg).resolve()
        try:
            code = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise self.fail(f"{{literalinclude}} {arg}: {exc.strerror or exc}") from None
        if "pyobject" in options:
            try:
                found = _python_object(code, options["pyobject"])
            except SyntaxError as exc:
                raise self.fail(f"{{literalinclude}} {arg}: not valid Python: {exc}") from None
            if found is None:
                raise self.fail(
                    f"{{literalinclude}} {arg}: no function or class {options['pyobject']!r} for :pyobject:"
                )
            code = found
        language = options.get("language") or ("python" if path.suffix == ".py" else "")
        return [f"```{language}", *code.rstrip("\n").split("\n"), "```"]

    def inline(self, line: str) -> str:
        def role(match: re.Match[str]) -> str:
            name, content = match[1], match[2]
            if name not in _ROLES:
                raise self.fail(
                    f"the notebook generator does not know the role {{{name}}} (in {match[0]!r}); "
                    "teach lossprep/notebooks.py to render it, or write the text without it"
                )
            if name == "glue:text":
                return f"`{content.split(':', 1)[0]}`"
            label = re.sub(r"^.*<(.+)>$", r"\1", content)  # {ref}`text <label>`
            target = self.targets.get(label)
            if target is None:
                raise self.fail(f"{{ref}}`{content}`: no target ({label})= in the chapters")
            text = content.split("<", 1)[0].strip() if "<" in content else target.title
            if target.chapter == self.source.stem:
                return f"[{text}](#{label})"
            return f"*{text}* in *{target.chapter_title}*"

        return _ROLE.sub(role, line)

    def math(self, text: str) -> str:
        # MyST's escaped dollar: JupyterLab hands MathJax a bare "$" (as it would "&#36;"),
        # which pairs it with the next formula's "$". "USD" reads the same and is never math.
        text = text.replace("\\$", "USD ")
        for name, value in self.repo.macros.items():
            text = re.sub(r"\\" + re.escape(name) + r"(?![A-Za-z])", lambda _m, v=value: v, text)
        return text


def _python_object(code: str, name: str) -> str | None:
    """The source of ``name`` (``func`` or ``Class.method``) in ``code``, decorators included."""
    tree = ast.parse(code)
    scope: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in name.split("."):
        node = next(
            (
                n
                for n in scope
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        scope = getattr(node, "body", [])
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = code.splitlines()[first - 1 : node.end_lineno]
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)


# ---------------------------------------------------------------------------------------------
# chapters -> notebooks


def notebook_path(source: Path) -> Path:
    return source.with_suffix(".ipynb")


def build_notebook(source: Path, repo: Repository, targets: dict[str, _Target] | None = None) -> Any:
    """The notebook for one chapter (an ``nbformat`` node, no outputs)."""
    import jupytext
    import nbformat

    try:
        text = source.read_text(encoding="utf-8")
        parsed = jupytext.reads(text, fmt="md:myst")
    except OSError as exc:
        raise NotebookError(f"{source}: {exc.strerror or exc}") from None
    except Exception as exc:  # jupytext raises several types for malformed MyST
        raise NotebookError(f"{source}: not a MyST notebook jupytext can read: {exc}") from None
    if "kernelspec" not in parsed.metadata:
        raise NotebookError(f"{source}: no kernelspec in the front matter; only chapters become notebooks")

    converter = _Converter(source, repo, targets if targets is not None else _targets([source]))
    cells = []
    setup_done = False
    for cell in parsed.cells:
        if cell.cell_type == "code" and not setup_done:
            cells.append(nbformat.v4.new_markdown_cell(_setup_note(source.name)))
            cells.append(nbformat.v4.new_code_cell(setup_cell_source(repo)))
            setup_done = True
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(converter.markdown(cell.source)))
        elif cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source)
            tags = cell.metadata.get("tags")
            if tags:
                new.metadata["tags"] = list(tags)
            cells.append(new)
        else:
            cells.append(nbformat.v4.new_raw_cell(cell.source))
    if not setup_done:
        raise NotebookError(f"{source}: a chapter without code cells needs no notebook")
    for i, cell in enumerate(cells):
        cell["id"] = f"{source.stem}-{i:03d}"[-64:]

    kernelspec = dict(parsed.metadata["kernelspec"])
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": kernelspec,
            "language_info": {"name": kernelspec.get("language", "python")},
            "colab": {"name": f"{source.stem}.ipynb", "provenance": []},
        },
    )
    nbformat.validate(notebook)
    return notebook


def render(notebook: Any) -> str:
    import nbformat

    return nbformat.writes(notebook) + "\n"


def _rendered(root: Path) -> dict[Path, str]:
    repo = Repository.from_config(root)
    sources = chapter_sources(root)
    targets = _targets(sources)
    return {notebook_path(s): render(build_notebook(s, repo, targets)) for s in sources}


def _stale(root: Path) -> tuple[int, dict[Path, str]]:
    """How many chapters there are, and the new text of each notebook that is missing or
    differs from what its chapter generates."""
    rendered = _rendered(root)
    stale = {p: t for p, t in rendered.items() if not p.is_file() or p.read_text(encoding="utf-8") != t}
    return len(rendered), stale


def stale_notebooks(root: Path = ROOT) -> list[Path]:
    """Chapter notebooks that are missing or differ from what their chapter generates."""
    return list(_stale(root)[1])


def write_notebooks(root: Path = ROOT) -> list[Path]:
    """Write the chapter notebooks that are missing or stale (the student edition's, for its
    own repository); the ones written."""
    stale = _stale(root)[1]
    for path, text in stale.items():
        path.write_text(text, encoding="utf-8")
    return list(stale)


# ---------------------------------------------------------------------------------------------
# ``lossprep notebooks``


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the notebooks that are missing or out of date",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    try:
        count, stale = _stale(root)
    except NotebookError as exc:
        print(f"lossprep notebooks: {exc}", file=sys.stderr)
        return 2
    if not stale:
        print(f"{count} chapter notebooks are up to date")
        return 0
    for path, text in stale.items():
        if args.check:
            print(f"{path.relative_to(root)} is out of date: run `lossprep notebooks`", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(root)}")
    return 1 if args.check else 0


# ---------------------------------------------------------------------------------------------
# Sphinx: a stale notebook is a build warning (an error under -W)


def _check_build(app: Any) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    root = Path(app.srcdir)
    if not (root / "_toc.yml").is_file():
        return
    try:
        stale = stale_notebooks(root)
    except NotebookError as exc:
        logger.warning(str(exc), type="lossprep", subtype="notebooks")
        return
    for path in stale:
        logger.warning(
            f"{path.relative_to(root)} is missing or out of date with its chapter: run `lossprep notebooks` "
            "(the launch buttons open this notebook)",
            type="lossprep",
            subtype="notebooks",
        )


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _check_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
