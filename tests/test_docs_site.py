"""The documentation site (mkdocs.yml, `make docs`): it builds with --strict; its command reference
holds every command the parser has, written from the parser; and a page with a broken link fails
the build, so a link that stops working fails `make test`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meshcheck.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
         str(root / "mkdocs.yml"), "-d", str(site)],
        capture_output=True, text=True, check=False, cwd=root, env=ENV,
    )  # fmt: skip


def _commands() -> list[str]:
    out = []
    for action in build_parser()._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            out += list(choices)
    return out


def test_the_site_builds_strictly_with_every_command_in_its_reference(tmp_path: Path) -> None:
    built = _build(ROOT, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    reference = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    missing = [c for c in _commands() if f"meshcheck {c}" not in reference]
    assert len(_commands()) >= 15 and missing == [], missing
    assert "--client-pause" in reference  # an option, as the parser has it
    assert "Changelog" in (tmp_path / "site" / "changelog" / "index.html").read_text()


def _settings(name: str) -> str:
    """mkdocs.yml's top-level setting `name` as written there, with its indented lines."""
    found = re.search(rf"^{name}:.*\n(?:[ -].*\n)*", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert found, f"mkdocs.yml has no {name}"
    return found.group(0)


@pytest.mark.parametrize(
    ("link", "fails"), [("page.md", False), ("no-such-page.md", True), ("page.md#nowhere", True)]
)
def test_a_broken_link_fails_the_build(tmp_path: Path, link: str, fails: bool) -> None:
    """The site's own `strict` and `validation` settings, on a site of two pages: a link to a
    page or an anchor that does not exist fails the build and the error names it; a good link
    builds. (The strict build above shows the real pages pass; rebuilding all of them to break
    one link cost 17 s of `make test`.)"""
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs" / "index.md").write_text(f"# Home\n\nSee [the page]({link}).\n")
    (site / "docs" / "page.md").write_text("# Page\n\nText.\n")
    config = f"site_name: t\ndocs_dir: docs\n{_settings('strict')}{_settings('validation')}"
    config += "nav:\n  - index.md\n  - page.md\n"
    (site / "mkdocs.yml").write_text(config)
    built = _build(site, tmp_path / "out")
    assert (built.returncode != 0) == fails, built.stderr
    if fails:
        assert link in built.stderr, built.stderr


def test_the_readme_is_a_short_front_door_whose_links_resolve() -> None:
    """The README is outside the site (GitHub shows it): its relative links, into the docs and the
    tree, must name files that exist, and it stays short (issue [15]: about 250 lines)."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) >= 20, local
    assert [link for link in local if not (ROOT / link).exists()] == []
    assert len(readme.splitlines()) <= 250


def _help_texts() -> list[str]:
    """Every help text of the command line: each command's and each option's."""
    import argparse

    out: list[str] = []
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        out.append(parser.description or "")
        for action in parser._actions:
            out.append(action.help or "")
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
                out += [a.help or "" for a in action._choices_actions]
    return out


def test_the_user_pages_cite_no_internal_issue_numbers() -> None:
    """ "issue [12]", "[13]'s code": a number that means nothing to a reader. The pages (docs/,
    the README) and the command line's help say what was meant instead; a link or a subscript
    (`x[1]`, `](page.md)`) is not a citation."""
    cited = re.compile(r"(?<![\w\]\[`'\":,])\[\d{1,3}\](?![(:\w])|\bissues? \[\d")
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [
        f"{page.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
        for page in pages
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if cited.search(line)
    ]
    found += [f"--help: {text}" for text in _help_texts() if cited.search(text)]
    assert found == []
