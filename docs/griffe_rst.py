"""A griffe extension for the API reference: the reStructuredText bits of seqmodels' docstrings
(roles such as :class:`Recurrent`, :math:`h_t`, ``.. math::`` blocks, simple tables and
``Example::`` blocks) rewritten as the Markdown that mkdocstrings renders.

The docstrings stay as they are in the code (they read well in ``help()`` and in an editor);
only the documentation site sees the rewritten text. Loaded by ``mkdocs.yml``
(``extensions: [docs/griffe_rst.py]``).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc|const):`(?P<target>[^`]+)`")
MATH_ROLE = re.compile(r":math:`(?P<expr>[^`]+)`")
BORDER = re.compile(r"^(?P<indent>\s*)=+(?:\s+=+)+\s*$")
LITERAL_BLOCK = re.compile(r"^(?P<indent>\s*)(?P<title>Example|Examples)::\s*$")


def role_text(match: re.Match[str]) -> str:
    """``:class:`~pkg.mod.Name``` -> ```Name```; ``:meth:`title <target>``` -> ```title```."""
    target = match["target"]
    titled = re.fullmatch(r"(?P<title>.+?)\s*<[^>]+>", target)
    if titled:
        text = titled["title"]
    elif target.startswith("~"):
        text = target[1:].rsplit(".", 1)[-1]
    else:
        text = target
    return f"`{text}`"


def math_blocks(lines: list[str]) -> list[str]:
    """``.. math::`` and its indented block -> a display-math block ``\\[ ... \\]``."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        directive = re.match(r"^(?P<indent>\s*)\.\. math::\s*(?P<inline>.*)$", lines[i])
        if not directive:
            out.append(lines[i])
            i += 1
            continue
        indent = directive["indent"]
        body = [directive["inline"]] if directive["inline"] else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        math = textwrap.dedent("\n".join(body)).strip("\n")
        display = [f"{indent}\\[", *[indent + line for line in math.splitlines()], f"{indent}\\]"]
        out += ["", *display, ""]
    return out


def simple_tables(lines: list[str]) -> list[str]:
    """An RST simple table (columns under ``====  ====`` borders) -> a Markdown table."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        border = BORDER.match(lines[i])
        if not border:
            out.append(lines[i])
            i += 1
            continue
        spans = [m.span() for m in re.finditer(r"=+", lines[i])]
        end = i + 1
        while end < len(lines) and not BORDER.match(lines[end]):
            end += 1
        # a header: a second border closes it, and a third one the table
        header_rows: list[list[str]] = []
        rows: list[list[str]] = []
        body_end = end
        if end + 1 < len(lines):
            following = end + 1
            while following < len(lines) and not BORDER.match(lines[following]):
                following += 1
            if following < len(lines) and all(lines[k].strip() for k in range(end + 1, following)):
                header_rows = cells(lines[i + 1 : end], spans)
                rows = cells(lines[end + 1 : following], spans)
                body_end = following
        if not header_rows:
            rows = cells(lines[i + 1 : end], spans)
            header_rows = [[""] * len(spans)]
        indent = border["indent"]
        table = [header_rows[0], ["---"] * len(spans), *rows]
        out += ["", *[indent + "| " + " | ".join(row) + " |" for row in table], ""]
        i = body_end + 1
    return out


def cells(lines: list[str], spans: list[tuple[int, int]]) -> list[list[str]]:
    """The rows of a simple table's body; a line with an empty first column continues a row."""
    rows: list[list[str]] = []
    starts = [start for start, _ in spans]
    for line in lines:
        if not line.strip():
            continue
        parts = []
        for k, start in enumerate(starts):
            stop = starts[k + 1] if k + 1 < len(starts) else None
            parts.append(line[start:stop].strip())
        if parts[0] or not rows:
            rows.append(parts)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], parts, strict=True)]
    return rows


def literal_blocks(lines: list[str]) -> list[str]:
    """``Example::`` and its indented block -> ``Example:`` and a fenced Python block."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        title = LITERAL_BLOCK.match(lines[i])
        if not title:
            out.append(lines[i])
            i += 1
            continue
        indent = title["indent"]
        i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        code = textwrap.dedent("\n".join(body)).strip("\n")
        fenced = ["```pycon", *code.splitlines(), "```"]
        out += [f"{indent}{title['title']}:", "", *[indent + line for line in fenced], ""]
    return out


def markdown(text: str) -> str:
    text = MATH_ROLE.sub(lambda m: f"\\({m['expr']}\\)", text)
    text = ROLE.sub(role_text, text)
    lines = text.splitlines()
    lines = literal_blocks(simple_tables(math_blocks(lines)))
    return "\n".join(lines)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring of the loaded package once its object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
