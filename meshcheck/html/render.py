"""A `Page` (meshcheck/html/page.py) as one self-contained HTML file.

Everything the page shows is inside the file: one inline style sheet, the pictures as inline SVG
(the coverage charts drawn by traces/plot.py, the failures' timelines by
meshcheck/traces/timeline), the ITF traces as escaped JSON in `<details>` elements, which the
browser folds and unfolds without a script. The page loads nothing from the network and runs no
script, so it opens the same offline, as a mail attachment or as a CI artefact.

Every text that comes from a Page goes through `html.escape`. The SVG pictures are markup, so they
are inlined as they are, after two checks (`_inline_svg`): the text must be one well-formed `<svg>`
element with no script, `foreignObject` or `on...` handler (else it is shown as escaped text), and
its element ids and style rules are scoped to the picture (an inline `<style>` in HTML applies to
the whole document, and the timeline and the plot both style `text` and `.title`; two timelines
both define `id="head"`).

The output depends only on the Page: no clock, no random ids, rows in the Page's order (failing
summary rows first), so the same Page always gives the same bytes.
"""

from __future__ import annotations

import html
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from meshcheck import words
from meshcheck.exercise import VACUOUS
from meshcheck.html.page import CoveragePoint
from meshcheck.html.page import Failure
from meshcheck.html.page import Kill
from meshcheck.html.page import Page
from meshcheck.html.page import SummaryRow
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces import plot

BAD = ("FAIL", "error")  # the summary results that make a run fail
OPEN_ROWS = 40  # a summary of more rows, all passing, starts folded (the overview by kind shows it)

CSS = """
:root { --ink: #263238; --muted: #607d8b; --line: #cfd8dc; --pass: #e8f5e9; --pass-ink: #1b5e20;
  --fail: #ffebee; --fail-ink: #b71c1c; --error: #fff3e0; --error-ink: #e65100; --skip: #eceff1; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
  background: #fafafa; line-height: 1.4; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 8px; }
.generated { color: var(--muted); margin: 0 0 8px; font-size: 13px; }
ul.notes { margin: 4px 0 12px; padding-left: 20px; color: var(--muted); font-size: 14px; }
.verdict { display: inline-block; padding: 8px 14px; border-radius: 6px; font-weight: 600; }
.verdict.ok { background: var(--pass); color: var(--pass-ink); }
.verdict.bad { background: var(--fail); color: var(--fail-ink); }
nav.toc { margin: 10px 0 0; font-size: 14px; }
nav.toc a { margin-right: 14px; color: #1565c0; text-decoration: none; }
table { border-collapse: collapse; background: #ffffff; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: #eceff1; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.detail { max-width: 520px; overflow-wrap: anywhere; color: #455a64; }
td.result { font-weight: 700; text-align: center; white-space: nowrap; }
.r-pass { background: var(--pass); color: var(--pass-ink); }
.r-FAIL { background: var(--fail); color: var(--fail-ink); }
.r-error { background: var(--error); color: var(--error-ink); }
.r-skip { background: var(--skip); color: var(--muted); }
.r-vacuous { background: var(--error); color: var(--error-ink); }
tr.bad td { border-top: 2px solid #ef9a9a; border-bottom: 2px solid #ef9a9a; }
tfoot td { background: #eceff1; font-weight: 600; }
table.kills td.killed { background: var(--pass); color: var(--pass-ink); }
table.kills td.survived { background: #e53935; color: #ffffff; font-weight: 700; }
table.kills td.none { background: #f5f5f5; }
table.kills .meta { display: block; font-size: 11px; color: var(--muted); }
table.kills td.survived .meta { color: #ffebee; }
.empty { color: var(--muted); font-style: italic; }
.chart { margin: 12px 0 20px; overflow-x: auto; }
.chart svg { background: #ffffff; border: 1px solid var(--line); max-width: 100%; height: auto;
  display: block; box-sizing: border-box; }
article.failure { background: #ffffff; border: 1px solid var(--line); border-left: 6px solid #e53935;
  border-radius: 4px; padding: 14px 16px; margin: 16px 0; }
article.failure .count { color: var(--fail-ink); font-weight: 600; font-size: 13px; }
pre { background: #f5f5f5; border: 1px solid var(--line); padding: 8px 10px; overflow-x: auto;
  font-size: 12px; margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.itf { white-space: pre; max-height: 480px; overflow: auto; }
.replay code { background: #263238; color: #ffffff; padding: 3px 8px; border-radius: 3px;
  font-size: 13px; user-select: all; }
.timeline { overflow-x: auto; margin: 10px 0; }
.timeline svg { border: 1px solid var(--line); }
details summary { cursor: pointer; color: #1565c0; font-size: 14px; margin: 6px 0; }
table.by-kind { margin-bottom: 10px; }
table.by-kind td.num { min-width: 48px; }
"""


def e(text: object) -> str:
    """Text as HTML: every `<`, `>`, `&` and quote escaped."""
    return html.escape(str(text), quote=True)


def render(page: Page) -> str:
    """The page as one HTML document (text)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(page.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        *_header(page),
        *_summary(page.summary),
        *_kills(page.kills),
        *_coverage(page.coverage),
        *_failures(page.failures),
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def write(page: Page, path: str | Path) -> Path:
    """Write the page to `path`, whole or not at all; a path that cannot be written is a
    MeshcheckError (one line, exit 2)."""
    path = Path(path)
    text = render(page)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise MeshcheckError(
            f"{path}: cannot write the HTML report: {err.strerror or err}"
        ) from None
    return path


# -- header ---------------------------------------------------------------------------------------


def _header(page: Page) -> list[str]:
    out = ["<header>", f"<h1>{e(page.title)}</h1>"]
    if page.generated:
        out.append(f'<p class="generated">{e(page.generated)}</p>')
    if page.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in page.notes) + "</ul>")
    out.append(_verdict(page))
    links = [
        ("summary", "Summary", bool(page.summary)),
        ("kills", "Kill matrix", bool(page.kills)),
        ("coverage", "Coverage", bool(page.coverage)),
        ("failures", f"Failures ({len(page.failures)})", True),
    ]
    out.append(
        '<nav class="toc">' + "".join(f'<a href="#{k}">{e(t)}</a>' for k, t, _ in links) + "</nav>"
    )
    out.append("</header>")
    return out


def _verdict(page: Page) -> str:
    bad = [r for r in page.summary if r.result in BAD]
    survivors = [k for k in page.kills if not k.killed_by]
    problems = []
    if bad:
        problems.append(f"{len(bad)} of {words.count(len(page.summary), 'check')} failed")
    if survivors:
        problems.append(f"{len(survivors)} of {words.count(len(page.kills), 'mutant')} survived")
    if page.failures and not bad:
        problems.append(f"{words.count(len(page.failures), 'failure')}")
    if problems:
        return f'<p class="verdict bad" id="verdict">FAIL: {e("; ".join(problems))}</p>'
    what = []
    if page.summary:
        what.append(f"all {words.count(len(page.summary), 'check')} passed")
    if page.kills:
        what.append(f"all {words.count(len(page.kills), 'mutant')} killed")
    return f'<p class="verdict ok" id="verdict">pass: {e("; ".join(what) or "nothing failed")}</p>'


# -- summary table --------------------------------------------------------------------------------


def _num(n: float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def _seconds(s: float) -> str:
    return f"{s:,.1f}" if s >= 10 else f"{s:.2f}"


def _table(klass: str, head: str, body: Sequence[str], foot: str = "") -> list[str]:
    """A table of class `klass`: a header row of the cells `head`, the rows `body`, and a footer
    row of the cells `foot` when there are any."""
    out = [
        f'<table class="{klass}">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *body,
        "</tbody>",
    ]
    if foot:
        out.append(f"<tfoot><tr>{foot}</tr></tfoot>")
    return [*out, "</table>"]


def ordered(rows: Sequence[SummaryRow]) -> list[SummaryRow]:
    """The summary rows, failed and errored first, each group in the Page's order."""
    return [r for r in rows if r.result in BAD] + [r for r in rows if r.result not in BAD]


def _summary(rows: Sequence[SummaryRow]) -> list[str]:
    out = ['<section id="summary">', "<h2>Summary</h2>"]
    if not rows:
        return [*out, '<p class="empty">No checks in this report.</p>', "</section>"]
    out += _by_kind(rows)
    bad = sum(r.result in BAD for r in rows)
    opened = " open" if bad or len(rows) <= OPEN_ROWS else ""
    said = f"all {words.count(len(rows), 'check')}" + (f", the {bad} failed first" if bad else "")
    out.append(f'<details class="checks"{opened}><summary>{e(said)}</summary>')
    body = []
    for r in ordered(rows):
        count = f"{_num(r.count)} {e(r.unit)}".strip() if r.count is not None else ""
        klass = ' class="bad"' if r.result in BAD else ""
        body.append(
            f'<tr{klass} data-kind="{e(r.kind)}" data-result="{e(r.result)}">'
            f"<td>{e(r.kind)}</td><td>{e(r.name)}</td>"
            f'<td class="result r-{_css(r.result)}">{e(r.result)}</td>'
            f'<td class="num">{count}</td><td class="num">{_seconds(r.seconds)}</td>'
            f'<td class="num cpu">{_seconds(r.cpu) if r.cpu is not None else ""}</td>'
            f'<td class="kills">{_row_kills(r)}</td>'
            f'<td class="detail">{e(r.detail)}</td></tr>'
        )
    head = (
        "<th>check</th><th>name</th><th>result</th><th>count</th><th>seconds</th>"
        "<th>CPU s</th><th>kills</th><th>detail</th>"
    )
    foot = f'<td colspan="8" id="totals">{e(totals(rows))}</td>'
    return [*out, *_table("summary", head, body, foot), "</details>", "</section>"]


def _row_kills(r: SummaryRow) -> str:
    """The mutants a row's check has killed: how many, and which (the row's own protocol's by
    mutant name alone)."""
    if not r.kills:
        return ""
    own = r.name.split("/", 1)[0] if r.kind == "tests" else r.name
    names = [k.removeprefix(f"{own}:") for k in r.kills]
    return f"{len(names)}: {e(', '.join(names))}"


def _by_kind(rows: Sequence[SummaryRow]) -> list[str]:
    """The checks counted per kind and result, one line per kind: the table at a glance."""
    kinds = list(dict.fromkeys(r.kind for r in rows))
    results: tuple[str, ...] = ("pass", "FAIL", "error", "skip")
    if any(r.result == VACUOUS for r in rows):  # a column of its own, as verify's summary has
        results += (VACUOUS,)
    head = (
        "<th>check</th>"
        + "".join(f"<th>{r}</th>" for r in results)
        + "<th>seconds</th><th>CPU s</th><th>kills</th>"
    )
    body = []
    for kind in kinds:
        mine = [r for r in rows if r.kind == kind]
        cells = []
        for result in results:
            n = sum(r.result == result for r in mine)
            klass = f"num r-{result}" if n else "num"
            cells.append(f'<td class="{klass}">{n if n else ""}</td>')
        seconds = _seconds(sum(r.seconds for r in mine))
        measured = [r.cpu for r in mine if r.cpu is not None]
        cpu = _seconds(sum(measured)) if measured else ""
        killed = len({k for r in mine for k in r.kills})
        body.append(
            f'<tr data-kind="{e(kind)}"><th>{e(kind)}</th>{"".join(cells)}'
            f'<td class="num">{seconds}</td><td class="num">{cpu}</td>'
            f'<td class="num">{killed if killed else ""}</td></tr>'
        )
    return _table("by-kind", head, body)


_OF_KILLED = re.compile(r"of (\d+) killed")  # a mutants row's unit (meshcheck/verify.py)


def totals(rows: Sequence[SummaryRow]) -> str:
    """One line: checks by result, what the passing checks counted (per unit), seconds."""
    by: dict[str, int] = {}
    for r in rows:
        by[r.result] = by.get(r.result, 0) + 1
    results = ", ".join(f"{n} {result}" for result, n in by.items())
    units: dict[str, int] = {}
    killed = mutants = 0
    for r in rows:
        of = _OF_KILLED.fullmatch(r.unit)
        if r.kind == "mutants" and of is not None:
            killed, mutants = killed + (r.count or 0), mutants + int(of.group(1))
        elif r.count is not None and r.unit and r.kind != "coverage":
            units[r.unit] = units.get(r.unit, 0) + r.count
    counted = "; ".join(f"{n:,} {unit}" for unit, n in units.items())
    if mutants:
        counted += (
            "; " if counted else ""
        ) + f"{killed} of {words.count(mutants, 'mutant')} killed"
    seconds = sum(r.seconds for r in rows if r.kind != "coverage")
    parts = [f"{words.count(len(rows), 'check')}: {results}"]
    if counted:
        parts.append(counted)
    parts.append(f"{_seconds(seconds)} s")
    return "; ".join(parts)


def _css(word: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", word)


# -- kill matrix ----------------------------------------------------------------------------------


def _kills(kills: Sequence[Kill]) -> list[str]:
    out = ['<section id="kills">', "<h2>Mutant kill matrix</h2>"]
    if not kills:
        return [*out, '<p class="empty">No mutants were run.</p>', "</section>"]
    protocols = list(dict.fromkeys(k.protocol for k in kills))
    mutants = list(dict.fromkeys(k.mutant for k in kills))
    cell = {(k.protocol, k.mutant): k for k in kills}
    head = "<th>mutant</th>" + "".join(f'<th data-protocol="{e(p)}">{e(p)}</th>' for p in protocols)
    body = []
    for m in mutants:
        tds = []
        for p in protocols:
            k = cell.get((p, m))
            where = f'data-protocol="{e(p)}" data-mutant="{e(m)}"'
            if k is None:
                tds.append(f'<td class="none" {where}></td>')
            elif k.killed_by:
                tds.append(f'<td class="killed" {where}>{e(k.killed_by)}{_kill_meta(k)}</td>')
            else:
                tds.append(f'<td class="survived" {where}>survived{_kill_meta(k)}</td>')
        body.append(f"<tr><th>{e(m)}</th>{''.join(tds)}</tr>")
    foot = []
    for p in protocols:
        mine = [k for k in kills if k.protocol == p]
        killed = sum(bool(k.killed_by) for k in mine)
        foot.append(f'<td class="num">{killed} of {len(mine)} killed</td>')
    return [*out, *_table("kills", head, body, f"<td>killed</td>{''.join(foot)}"), "</section>"]


def _kill_meta(k: Kill) -> str:
    parts = []
    if k.seconds:
        parts.append(f"{_seconds(k.seconds)} s")
    if k.steps is not None:
        parts.append(f"{words.count(k.steps, 'step')}")
    return f'<span class="meta">{e(", ".join(parts))}</span>' if parts else ""


# -- coverage charts ------------------------------------------------------------------------------


def _coverage(points: Sequence[CoveragePoint]) -> list[str]:
    out = ['<section id="coverage">', "<h2>Coverage as it grew</h2>"]
    if not points:
        return [*out, '<p class="empty">No coverage was recorded.</p>', "</section>"]
    protocols = list(dict.fromkeys(p.protocol for p in points))
    for protocol in protocols:
        mine = [p for p in points if p.protocol == protocol]
        svg = coverage_svg(protocol, mine)
        out.append(
            f'<div class="chart" data-protocol="{e(protocol)}">'
            f"{_inline_svg(svg, f'cov-{_css(protocol)}')}</div>"
        )
    return [*out, "</section>"]


def coverage_svg(protocol: str, points: Sequence[CoveragePoint]) -> str:
    """One protocol's coverage against examples (or seconds, when no example was counted): spec
    actions fired (and rare conditions hit) in one panel, distinct abstract states in the other."""
    by_examples = any(p.examples for p in points)
    xlabel = "examples" if by_examples else "seconds"

    def x(p: CoveragePoint) -> float:
        return float(p.examples if by_examples else p.seconds)

    last = points[-1]
    fired = plot.Series(
        f"spec actions fired (of {last.actions_total})",
        [(x(p), float(p.actions)) for p in points],
        markers=True,
    )
    series = [fired]
    marks = [plot.Mark(float(last.actions_total), f"{last.actions_total} actions", axis="y")]
    if last.rare_total:
        series.append(
            plot.Series(
                f"rare conditions hit (of {last.rare_total})",
                [(x(p), float(p.rare)) for p in points],
                markers=True,
                dashed=True,
            )
        )
    states = plot.Series(
        "distinct abstract states", [(x(p), float(p.states)) for p in points], markers=True
    )
    panels = [
        plot.Panel("actions and rare conditions", xlabel, "count", series, marks=marks),
        plot.Panel("distinct abstract states", xlabel, "states", [states]),
    ]
    note = (
        f"at {_seconds(last.seconds)} s: {words.count(last.examples, 'example', commas=True)}, "
        f"actions {last.actions}/{last.actions_total}, states {last.states:,}"
        + (f", rare conditions {last.rare}/{last.rare_total}" if last.rare_total else "")
    )
    return plot.render(panels, title=f"{protocol}: coverage", note=note)


# -- failures -------------------------------------------------------------------------------------


def _failures(failures: Sequence[Failure]) -> list[str]:
    out = ['<section id="failures">', f"<h2>Failures ({len(failures)})</h2>"]
    if not failures:
        return [*out, '<p class="empty">No failures.</p>', "</section>"]
    for k, f in enumerate(failures, start=1):
        count = f' <span class="count">&times; {f.count}</span>' if f.count != 1 else ""
        out += [
            f'<article class="failure" id="failure-{k}">',
            f"<h3>{e(f.title)}{count}</h3>",
            f'<pre class="message">{e(f.message)}</pre>',
        ]
        if f.replay:
            out.append(f'<p class="replay">Replay: <code>{e(f.replay)}</code></p>')
        if f.timeline_svg:
            out.append(f'<div class="timeline">{_inline_svg(f.timeline_svg, f"tl{k}")}</div>')
        if f.itf:
            out += [
                '<details class="itf">',
                f"<summary>ITF trace ({len(f.itf.encode('utf-8')):,} bytes)</summary>",
                f'<pre class="itf">{e(f.itf)}</pre>',
                "</details>",
            ]
        out.append("</article>")
    return [*out, "</section>"]


# -- inline SVG -----------------------------------------------------------------------------------

_SVG = "{http://www.w3.org/2000/svg}"
_DECLARATION = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def unsafe(svg: str) -> str:
    """Why `svg` may not be inlined ("" when it may): not one well-formed <svg> element, or
    something in it that runs code or embeds other markup."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as err:
        return f"not well-formed: {err}"
    if root.tag not in (f"{_SVG}svg", "svg"):
        return f"not an <svg> element but <{root.tag}>"
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        if tag in ("script", "foreignobject", "iframe", "object", "embed"):
            return f"it contains <{tag}>"
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or "javascript:" in value.lower().replace(" ", ""):
                return f"it has the attribute {local}"
    return ""


def _inline_svg(svg: str, scope: str) -> str:
    """`svg` ready to sit in the page: its ids prefixed with `scope`, its style rules limited to
    it (the `<div>` around it carries the id `scope`); or, if it is not safe to inline, a note and its text escaped."""
    svg = _DECLARATION.sub("", svg, count=1).strip()
    why = unsafe(svg)
    if why:
        return (
            f'<p class="empty">picture not shown ({e(why)}); its text:</p>'
            f'<pre class="itf">{e(svg)}</pre>'
        )
    svg = re.sub(r'(?<![\w:-])id="([^"]*)"', lambda m: f'id="{scope}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]*)\)", lambda m: f"url(#{scope}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]*)"', lambda m: f'href="#{scope}-{m.group(1)}"', svg)
    svg = re.sub(
        r"(<style[^>]*>)(.*?)(</style>)",
        lambda m: m.group(1) + _scoped_css(m.group(2), scope) + m.group(3),
        svg,
        flags=re.DOTALL,
    )
    return f'<div class="picture" id="{scope}">{svg}</div>'


def _scoped_css(css: str, scope: str) -> str:
    """Each rule of a flat style sheet limited to the element `#scope` and what is inside it."""

    def rule(m: re.Match[str]) -> str:
        selectors = [s.strip() for s in m.group(1).split(",") if s.strip()]
        return ", ".join(f"#{scope} {s}" for s in selectors) + " {" + m.group(2) + "}"

    return _RULE.sub(rule, css)
