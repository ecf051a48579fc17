"""The HTML report (meshcheck/html): `render` on hand-built pages (escaping, empty sections, the same
bytes for the same page), verify's rows turned into a page (meshcheck/html/from_verify.py), and
what headless Chromium shows when it opens the file: the DOM it built, not the text we wrote."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.html import example
from meshcheck.html import from_verify
from meshcheck.html.page import CoveragePoint
from meshcheck.html.page import Failure
from meshcheck.html.page import Kill
from meshcheck.html.page import Page
from meshcheck.html.page import SummaryRow
from meshcheck.html.render import render
from meshcheck.html.render import unsafe
from meshcheck.html.render import write
from meshcheck.traces import itf
from meshcheck.traces import timeline
from meshcheck.traces.timeline.svg import render as draw
from meshcheck.verify import project_root
from tests.command import verify_argv

ROOT = project_root()
TRACE = ROOT / "traces" / "raft" / "commit_previous_term.itf.json"
CHROMIUM = Path("/usr/bin/chromium")


def sample_page() -> Page:
    return example.page()


# -- render on hand-built pages -------------------------------------------------------------------


def test_the_same_page_gives_the_same_bytes() -> None:
    assert render(sample_page()) == render(sample_page())


def test_the_docs_show_the_example_page_as_it_is_drawn() -> None:
    """The site's build (docs/hooks.py) adds the example page, drawn now, where docs/report.md
    links to it; no drawn copy is kept in the tree to go stale."""
    from mkdocs.config import load_config
    from mkdocs.structure.files import Files

    config = load_config(str(ROOT / "mkdocs.yml"))
    (shown,) = config.plugins.on_files(Files([]), config=config)
    assert shown.content_string == render(example.page())
    assert f"]({shown.src_uri})" in (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    assert not (ROOT / "docs" / shown.src_uri).exists()


def test_text_from_the_page_is_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script>"
    page = Page(
        title=evil,
        generated=evil,
        notes=(evil,),
        summary=(SummaryRow("tests", evil, "FAIL", 1, evil, 0.1, evil),),
        kills=(Kill(evil, evil, evil), Kill("p", "m", "")),
        coverage=(CoveragePoint(evil, 0.0, 0, 0, 3, 0), CoveragePoint(evil, 1.0, 5, 2, 3, 7)),
        failures=(Failure(evil, evil, evil, itf=f'{{"x": "{evil}"}}'),),
    )
    text = render(page)
    assert "<script" not in text.lower()
    assert text.count(html.escape(evil)) >= 9  # title (twice), notes, row, kill, failure ...


def test_an_unsafe_picture_is_shown_as_text_not_inlined() -> None:
    bad = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    handler = '<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="alert(1)"/></svg>'
    assert unsafe(bad) == "it contains <script>"
    assert unsafe(handler) == "it has the attribute onclick"
    assert unsafe("<div>not svg</div>").startswith("not an <svg>")
    assert unsafe("<svg").startswith("not well-formed")
    assert unsafe(draw(timeline.timeline_of(itf.read(TRACE)))) == ""
    for svg in (bad, handler):
        text = render(Page("t", "g", failures=(Failure("f", "m", "r", timeline_svg=svg),)))
        assert "<script>" not in text and "<rect onclick" not in text
        assert "picture not shown" in text


def test_empty_sections_say_so() -> None:
    text = render(Page("nothing", ""))
    for said in (
        "No checks in this report.",
        "No mutants were run.",
        "No coverage was recorded.",
        "No failures.",
    ):
        assert said in text
    assert 'class="verdict ok"' in text


def test_failures_first_survivors_red_and_the_verdict() -> None:
    text = render(sample_page())
    results = re.findall(r'<tr(?: class="bad")? data-kind="[^"]*" data-result="([^"]*)"', text)
    assert results == ["FAIL", "FAIL", "pass", "pass", "pass", "skip"]
    assert 'class="survived" data-protocol="raft" data-mutant="forget_voted_for"' in text
    assert 'class="verdict bad"' in text and "2 of 6 checks failed" in text
    assert "1 of 3 mutants survived" in text
    assert "6 checks: 4 pass, 2 FAIL" not in text  # results in the order first met
    assert "6 checks: 1 pass" not in text
    assert "6 checks: 3 pass, 2 FAIL, 1 skip; 41,150 states; 12 obligations; 500 examples; " in text
    assert "; 9 of 10 mutants killed; 60.5 s" in text


def test_each_picture_keeps_its_ids_and_styles_to_itself() -> None:
    text = render(sample_page())
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "an id used twice: a url(#id) would find the wrong one"
    assert 'marker-end="url(#tl1-head)"' in text and 'id="tl1-head"' in text
    for style in re.findall(r"<style>(.*?)</style>", text, re.DOTALL)[1:]:  # the SVGs' own
        for selectors in re.findall(r"([^{}]+)\{", style):
            assert all(s.strip().startswith("#") for s in selectors.split(",")), selectors


def test_write_refuses_an_unwritable_path(tmp_path: Path) -> None:
    from meshcheck.impl.base.errors import MeshcheckError

    (tmp_path / "file").write_text("")
    with pytest.raises(MeshcheckError, match="cannot write the HTML report"):
        write(sample_page(), tmp_path / "file" / "r.html")
    out = write(sample_page(), tmp_path / "a" / "r.html")
    assert out.read_text(encoding="utf-8") == render(sample_page())


# -- verify's rows as a page ----------------------------------------------------------------------


def test_kill_cells_from_verify_mutant_rows() -> None:
    rows = (
        SummaryRow("mutants", "raft", "FAIL", 2, "of 3 killed", 9.0, "survived: c"),
        SummaryRow("mutants", "pbft", "pass", 2, "of 2 killed", 5.0, "killed by lockstep 2"),
        SummaryRow(
            "mutants", "hybrid", "pass", 2, "of 2 killed", 5.0, "killed by stored traces 1, b_c 1"
        ),
        SummaryRow("mutants", "gossip", "error", None, "", 0.0, "could not load"),
    )
    names = {"raft": ("a", "b", "c"), "pbft": ("x", "y"), "hybrid": ("h1", "h2")}
    kills = from_verify.kills_of_rows(rows, lambda p: names.get(p, ()))
    assert [(k.protocol, k.mutant, k.killed_by) for k in kills] == [
        ("raft", "a", "killed"),
        ("raft", "b", "killed"),
        ("raft", "c", ""),
        ("pbft", "x", "lockstep"),
        ("pbft", "y", "lockstep"),
        ("hybrid", "h1", "stored traces or b_c"),
        ("hybrid", "h2", "stored traces or b_c"),
    ]


def test_kill_cells_from_the_real_catalogue() -> None:
    from meshcheck import mutants_cmd

    bugs, _ = mutants_cmd.catalogue("raft")
    survivor = next(iter(bugs))
    row = SummaryRow("mutants", "raft", "FAIL", 0, "", 0.0, f"survived: {survivor}")
    kills = from_verify.kills_of_rows((row,))
    assert [k.mutant for k in kills] == list(bugs)
    assert [k.mutant for k in kills if not k.killed_by] == [survivor]


def test_coverage_points_from_verify_rows() -> None:
    rows = (
        SummaryRow("tests", "raft/test_a::t", "pass", 40, "examples", 2.0),
        SummaryRow("tests", "raft/test_b::t", "pass", 1, "tests", 1.0),
        SummaryRow("tests", "pbft/test_a::t", "pass", 99, "examples", 5.0),
        SummaryRow(
            "coverage",
            "raft",
            "pass",
            321,
            "states",
            0.1,
            "actions 9/12; states 321 (lockstep 300, free runs 21); rare conditions 2/5",
        ),
        SummaryRow("coverage", "raft elections", "pass", 4, "runs", 0.1, "actions of"),
    )
    points = from_verify.coverage_of(rows)
    assert points == (
        CoveragePoint("raft", 0.0, 0, 0, 12, 0, 0, 5),
        CoveragePoint("raft", 3.0, 40, 9, 12, 321, 2, 5),
    )


def test_a_failed_test_row_finds_its_counterexample(tmp_path: Path) -> None:
    from meshcheck.property_tests.record import file_name

    name = "raft/test_lockstep::test_lockstep[3]"
    shutil.copy(TRACE, tmp_path / file_name(name))
    row = SummaryRow("tests", name, "FAIL", 5, "examples", 1.0, "left the spec")
    found = from_verify.failure_of(row, [tmp_path / "missing", tmp_path])
    assert found.itf == TRACE.read_text(encoding="utf-8")
    assert found.replay.startswith("meshcheck trace replay ") and "--recorded-bugs" in found.replay
    assert found.timeline_svg.startswith("<svg") and unsafe(found.timeline_svg) == ""
    assert found.message.startswith("FAIL: left the spec")
    tlc = from_verify.failure_of(SummaryRow("tlc", "Raft", "FAIL", 1, "states", 1.0), [tmp_path])
    assert (tlc.replay, tlc.itf, tlc.timeline_svg) == ("meshcheck check Raft", "", "")


# -- in the browser ---------------------------------------------------------------------------------


def chromium() -> Path:
    """Debian's chromium, installed through the Makefile (`make chromium`) when it is missing;
    the test is skipped, saying why, only when it cannot be installed."""
    if not CHROMIUM.exists():
        proc = subprocess.run(
            ["make", "-s", "chromium"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if not CHROMIUM.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
            pytest.skip(f"chromium is not installed and `make chromium` could not: {tail}")
    return CHROMIUM


def browse(page: Path, profile: Path, *extra: str) -> str:
    """What headless Chromium shows for the file (`--dump-dom`: the DOM after parsing)."""
    proc = subprocess.run(
        [
            str(chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _dom(page: Path, tmp_path: Path) -> str:
    dom = browse(page, tmp_path / "chromium", "--dump-dom")
    assert dom.lstrip().startswith(("<!DOCTYPE html>", "<html")), dom[:200]
    return dom


def test_chromium_shows_the_report(tmp_path: Path) -> None:
    page = write(sample_page(), tmp_path / "report.html")
    dom = _dom(page, tmp_path)
    # the summary: every row, the failures first, the FAIL cell coloured by its class
    rows = re.findall(r'<tr(?: class="bad")? data-kind="([^"]+)" data-result="([^"]+)"', dom)
    assert [r for _, r in rows] == ["FAIL", "FAIL", "pass", "pass", "pass", "skip"]
    assert '<td class="result r-FAIL">FAIL</td>' in dom
    assert "<h1>meshcheck verify &lt;sample&gt;</h1>" in dom  # the title stayed text
    # the kill matrix: a survivor marked, the killers named
    assert re.search(
        r'<td class="survived" data-protocol="raft" data-mutant="forget_voted_for">'
        r"survived",
        dom,
    )
    assert (
        '<td class="killed" data-protocol="raft" data-mutant="commit_previous_term">lockstep' in dom
    )
    # coverage: an inline SVG chart per protocol, with its series
    for protocol in ("raft", "pbft"):
        chart = re.search(
            rf'<div class="chart" data-protocol="{protocol}">(.*?)</div></div>', dom, re.S
        )
        assert chart is not None and "<svg" in chart.group(1)
        assert 'data-label="distinct abstract states"' in chart.group(1)
    # the failure: its replay line, its timeline drawn inline, its trace folded
    assert (
        "<code>meshcheck trace replay traces/raft/commit_previous_term.itf.json "
        "--recorded-bugs</code>" in dom
    )
    tl = re.search(r'<div class="timeline"><div class="picture" id="tl1">(.*?)</svg>', dom, re.S)
    assert tl is not None and 'class="lane"' in tl.group(1) and 'class="messages"' in tl.group(1)
    assert '<details class="itf">' in dom and "&quot;#meta&quot;" not in dom
    assert '"#meta"' in dom or "#meta" in dom


def test_chromium_screenshot_is_drawn(tmp_path: Path) -> None:
    page = write(sample_page(), tmp_path / "report.html")
    shot = tmp_path / "report.png"
    browse(page, tmp_path / "chromium", f"--screenshot={shot}", "--window-size=1280,2400")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


TINY = textwrap.dedent(
    """
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=5, database=None)
    @given(st.integers(0, 10))
    def test_always_fails(n):
        assert n < 0
    """
)
COUNTER = """---- MODULE Counter ----
EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == x < 3 /\\ x' = x + 1
Small == x < 2
====
"""


def test_verify_html_end_to_end_in_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`meshcheck verify --html` on a small project: a TLC model whose invariant fails, a property
    test that fails and whose counterexample (a real trace, planted where pytest's recorder writes
    it) is drawn; Chromium shows both rows and the failure."""
    from meshcheck.property_tests.record import file_name

    root = tmp_path / "p"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "Counter.tla").write_text(COUNTER)
    (root / "specs" / "Counter.cfg").write_text("INIT Init\nNEXT Next\nINVARIANT Small\n")
    (root / "traces").mkdir()
    (root / "property_tests").mkdir()
    (root / "property_tests" / "test_tiny.py").write_text(TINY)
    failures = root / "reports" / "failures"
    failures.mkdir(parents=True)
    shutil.copy(TRACE, failures / file_name("test_tiny::test_always_fails"))
    out = tmp_path / "out" / "verify.html"
    code = main(
        [
            # one process: the page is drawn from the rows, which a run on 2 workers lists the
            # same (tests/test_verify.py, test_a_parallel_run_lists_the_rows_of_a_serial_run)
            *verify_argv(root, "tlc", "tests", workers="1"),
            "--html",
            str(out),
            "--json",
            str(tmp_path / "v.json"),
            "--junit",
            str(tmp_path / "v.xml"),
        ]
    )
    assert code == 1
    printed = capsys.readouterr().out
    assert f"html: {out}" in printed
    dom = _dom(out, tmp_path)
    cells = r'data-kind="([^"]+)" data-result="([^"]+)"><td>[^<]*</td><td>([^<]*)</td>'
    assert sorted(re.findall(cells, dom)) == [
        ("tests", "FAIL", "test_tiny::test_always_fails"),
        ("tlc", "FAIL", "Counter"),
    ]
    assert "invariant Small violated" in dom
    # the page's line for the TLC failure is the command the terminal printed for it
    (tlc_again,) = [
        line.removeprefix("  again: ")
        for line in printed.splitlines()
        if line.startswith("  again: meshcheck check ")
    ]
    assert tlc_again.endswith("specs/Counter.cfg")
    assert f"<code>{tlc_again}</code>" in dom
    assert re.search(r"<code>meshcheck trace replay \S+test_tiny.test_always_fails.itf.json", dom)
    assert '<div class="timeline"><div class="picture" id="tl2"><svg' in dom
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["exit"] == 1


def test_verify_html_unwritable_path_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    code = main(["verify", "--only", "z3", "--html", str(tmp_path / "file" / "r.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"meshcheck: {tmp_path / 'file' / 'r.html'}: cannot write the HTML")
    fresh = tmp_path / "new" / "r.html"
    from_verify.check_writable(fresh)  # a path that can be written: nothing is left behind
    assert not fresh.exists()


def test_verify_html_empty_path_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`--html ""` names no file: refused before the run, not silently ignored."""
    assert main(["verify", "--only", "z3", "--html", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a folder, not a file for the HTML report" in err[0]
