"""MkDocs hook (mkdocs.yml `hooks`): docs/reference/cli.md's marker replaced by every command's help,
written from meshcheck's own argparse parser (meshcheck/cli.py `build_parser`), so the reference
is never written twice; and the example report page docs/report.md shows, report-example.html,
drawn at build time by meshcheck/html/render.py from meshcheck/html/example.py's page, so the site
shows what the renderer draws now and no drawn copy is kept in the tree."""

from __future__ import annotations

import argparse
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File
from mkdocs.structure.files import Files

MARKER = "<!-- cli-reference -->"
EXAMPLE = "report-example.html"  # as docs/report.md links to it


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str]]:
    """(command line, its help text) for `parser` and every subcommand under it."""
    out = [(prefix, parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _commands(sub, f"{prefix} {name}")
    return out


def on_files(files: Files, config: MkDocsConfig, **kwargs: Any) -> Files:
    from meshcheck.html import example
    from meshcheck.html.render import render

    files.append(File.generated(config, EXAMPLE, content=render(example.page())))
    return files


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from meshcheck.cli import build_parser

    parser = build_parser()
    parser.prog = "meshcheck"
    sections = []
    for command, text in _commands(parser, "meshcheck")[1:]:
        sections.append(f"## `{command}`\n\n```text\n{text.rstrip()}\n```\n")
    return markdown.replace(MARKER, "\n".join(sections))
