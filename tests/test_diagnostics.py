"""specs/tlc/messages.py and diagnostics.py on output TLC 2.15 printed (captured verbatim from real runs).

Text in, errors out: no JVM except where the spec's operators are listed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import SpecError
from meshcheck.specs.tlc import diagnostics
from meshcheck.specs.tlc.messages import EC
from meshcheck.specs.tlc.messages import parse
from meshcheck.specs.tlc.messages import printed_trace
from meshcheck.specs.tlc.messages import stats


def framed(code: int, severity: int, text: str) -> str:
    return f"@!@!@STARTMSG {code}:{severity} @!@!@\n{text}\n@!@!@ENDMSG {code} @!@!@\n"


SPEC = Path("/specs/B.tla")
CFG = Path("/specs/B.cfg")

# ------------------------------------------------------------------------------------------- framing


def test_frames_nest_and_plain_text_stays_apart() -> None:
    text = (
        "Parsing file /specs/B.tla\n"
        "@!@!@STARTMSG 1000:1 @!@!@\nTLC threw an unexpected exception.\n"
        "The exception was a tlc2.tool.ConfigFileException\n"
        ": @!@!@STARTMSG 5001:0 @!@!@\n"
        "TLC encountered the following error when trying to read the configuration file M.cfg:\n"
        "File not found.\n@!@!@ENDMSG 5001 @!@!@\n@!@!@ENDMSG 1000 @!@!@\n"
        "Semantic processing of module B\n"
    )
    out = parse(text)
    assert [m.code for m in out.messages] == [1000]
    assert [m.code for m in out.all()] == [1000, 5001]
    outer = out.messages[0]
    assert outer.severity == 1 and "File not found." in outer.text  # the inner text reads in place
    assert "@!@!@" not in outer.text
    assert out.plain == "Parsing file /specs/B.tla\nSemantic processing of module B\n"


def test_unbalanced_frames_do_not_lose_text() -> None:
    out = parse("@!@!@ENDMSG 7 @!@!@\nloose\n@!@!@STARTMSG 2110:1 @!@!@\nInvariant I is violated.")
    assert out.plain == "loose\n"
    assert out.first(EC.TLC_INVARIANT_VIOLATED_BEHAVIOR) is not None
    assert out.messages[0].text == "Invariant I is violated."


def test_stats_and_depth() -> None:
    text = (
        framed(
            2200,
            0,
            "Progress(8) at 2026-11-21 00:07:37: 32,353 states generated (464,619 s/min), "
            "11,548 distinct states found (165,840 ds/min), 7,088 states left on queue.",
        )
        + framed(
            2199,
            0,
            "32353 states generated, 11548 distinct states found, 7088 states left on queue.",
        )
        + framed(2194, 0, "The depth of the complete state graph search is 9.")
    )
    s = stats(parse(text))
    assert (s.generated, s.distinct, s.queue, s.depth) == (32353, 11548, 7088, 9)
    only_progress = stats(
        parse(
            framed(
                2200,
                0,
                "Progress(8) at x: 1,234 states generated, "
                "1,000 distinct states found, 5 states left on queue.",
            )
        )
    )
    assert (only_progress.generated, only_progress.distinct, only_progress.depth) == (1234, 1000, 8)


# ------------------------------------------------------------------------------------------- traces

STATE1 = framed(2217, 4, '1: <Initial predicate>\n/\\ x = 0\n/\\ y = "a"\n')
STATE2 = framed(
    2217, 4, '2: <Inc line 5, col 8 to line 5, col 27 of module Counter>\n/\\ x = 1\n/\\ y = "a"\n'
)
STATE3 = framed(2217, 4, "3: <A line 5, col 6 to line 5, col 24 of module Loop>\nx = 2\n")


def test_printed_states_keep_action_location_and_text() -> None:
    trace = printed_trace(parse(framed(2110, 1, "Invariant Small is violated.") + STATE1 + STATE2))
    assert trace is not None and trace.loop is None and not trace.stuttering
    first, second = trace.states
    assert (first.number, first.action, first.location) == (1, None, None)
    assert first.text == '/\\ x = 0\n/\\ y = "a"'
    assert (second.number, second.action) == (2, "Inc")
    assert second.location == "line 5, col 8 to line 5, col 27 of module Counter"


def test_back_to_state_makes_a_lasso() -> None:
    back = framed(2122, 4, "2: Back to state: <B line 6, col 6 to line 6, col 20 of module Loop>\n")
    trace = printed_trace(parse(STATE1 + STATE2 + STATE3 + back))
    assert trace is not None
    assert trace.loop == 1 and not trace.stuttering and trace.loop_action == "B"


def test_stuttering_loops_on_the_last_state() -> None:
    trace = printed_trace(parse(STATE1 + STATE2 + framed(2218, 4, "3: Stuttering")))
    assert trace is not None
    assert trace.loop == 1 and trace.stuttering


def test_no_states_no_trace() -> None:
    assert printed_trace(parse(framed(2193, 0, "Model checking completed."))) is None


# ------------------------------------------------------------------------------------------- SANY

PARSE_ERROR = """Parsing file /specs/Top.tla
Parsing file /specs/Base.tla
***Parse Error***
Encountered "====" at line 6, column 1 and token "+"

Residual stack trace follows:
ExtendableExpr starting at line 6, column 1.
Definition starting at line 5, column 1.


Fatal errors while parsing TLA+ spec in file Top

tla2sany.semantic.AbortException
*** Abort messages: 1

In module Base

Could not parse module Base from file Base.tla


"""

SYNTAX_ERROR = """Parsing file /specs/Syn.tla
***Parse Error***
Was expecting "==== or more Module body"
Encountered "1" at line 5, column 20 and token "+"

Residual stack trace follows:
Module definition starting at line 1, column 1.


Fatal errors while parsing TLA+ spec in file Syn
"""

LEXICAL_ERROR = """Parsing file /specs/Lex.tla
Lexical error at line 3, column 17.  Encountered: "\\n" (10), after : "\\"abc"

Fatal errors while parsing TLA+ spec in file Lex
"""

SEMANTIC_ERRORS = """Parsing file /specs/Multi.tla
Parsing file /tmp/x/Naturals.tla
Semantic processing of module Naturals
Semantic processing of module Multi
Semantic errors:

*** Errors: 2

line 4, col 13 to line 4, col 15 of module Multi

Unknown operator: `Bar'.


line 5, col 14 to line 5, col 16 of module Multi

Unknown operator: `Baz'.


"""

MISSING_MODULE = """File does not exist: /specs/Missing.tla while looking in these directories: ...

Fatal errors while parsing TLA+ spec in file Ext

tla2sany.semantic.AbortException
*** Abort messages: 1

Unknown location

Cannot find source file for module Missing imported in module Ext.


"""


def sany(plain: str) -> SpecError:
    out = parse(plain + framed(3002, 1, "Parsing or semantic analysis failed."))
    error = diagnostics.input_error(out, spec=Path("/specs/Top.tla"), config=None)
    assert isinstance(error, SpecError)
    return error


def test_parse_error_in_an_extended_module_points_at_that_module() -> None:
    e = sany(PARSE_ERROR)
    assert (e.file, e.line, e.column) == ("/specs/Base.tla", 6, 1)
    assert e.message == 'parse error: Encountered "====" at line 6, column 1 and token "+"'


def test_parse_error_keeps_what_sany_expected() -> None:
    e = sany(SYNTAX_ERROR)
    assert (e.file, e.line, e.column) == ("/specs/Syn.tla", 5, 20)
    assert e.message.endswith('; was expecting "==== or more Module body"')
    assert str(e).startswith("/specs/Syn.tla:5:20: parse error: Encountered")


def test_lexical_error() -> None:
    e = sany(LEXICAL_ERROR)
    assert (e.file, e.line, e.column) == ("/specs/Lex.tla", 3, 17)
    assert e.message.startswith("lexical error: Encountered:")


def test_first_semantic_error_with_the_count_of_the_rest() -> None:
    e = sany(SEMANTIC_ERRORS)
    assert (e.file, e.line, e.column) == ("/specs/Multi.tla", 4, 13)
    assert e.message == "Unknown operator: `Bar'. (and 1 more error)"


def test_missing_module_blames_the_importer() -> None:
    e = sany("Parsing file /specs/Ext.tla\n" + MISSING_MODULE)
    assert e.file == "/specs/Ext.tla" and e.line is None
    assert "Cannot find source file for module Missing" in e.message


def test_unrecognised_sany_failure_still_raises_with_its_words() -> None:
    e = sany("Something new SANY says\n")
    assert e.file == "/specs/Top.tla" and "Something new SANY says" in e.message


# ------------------------------------------------------------------------------------------- config


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    p = tmp_path / "B.cfg"
    p.write_text(
        "CONSTANT N = 3\nINIT Init\nNEXT Next\n\\* Safe in a comment\nINVARIANT TypeOK Safe\n"
    )
    return p


def config(text: str, code: int, cfg: Path, ops: list[str] | None = None) -> ConfigError:
    out = parse(framed(code, 1, text))
    error = diagnostics.input_error(
        out,
        spec=Path("/specs/B.tla"),
        config=cfg,
        operators=(lambda: ops) if ops is not None else None,
    )
    assert isinstance(error, ConfigError)
    return error


def test_undefined_invariant_lists_what_the_spec_defines(cfg_file: Path) -> None:
    e = config(
        "The invariant Safe specified in the configuration file\nis not defined in the specification.",
        2229,
        cfg_file,
        ops=["Init", "Next", "TypeOK", "Safety"],
    )
    assert str(e) == (
        f"{cfg_file}:5: the invariant Safe is not defined in B.tla "
        "(its operators without arguments: Init, Next, TypeOK, Safety); did you mean Safety?"
    )


def test_unassigned_constant_is_named(cfg_file: Path) -> None:
    e = config(
        "The constant parameter M is not assigned a value by the configuration file.",
        2222,
        cfg_file,
    )
    assert str(e).startswith(f"{cfg_file}: constant M of B.tla is not assigned a value")


def test_cfg_syntax_error_from_tlc_keeps_the_line(cfg_file: Path) -> None:
    text = (
        "TLC threw an unexpected exception.\nThe exception was a tlc2.tool.ConfigFileException\n: "
        + framed(
            5006,
            0,
            "TLC found an error in the configuration file at line 4\n"
            "It was expecting a keyword, but did not find it.",
        )
    )
    e = config(text, 1000, cfg_file)
    assert str(e) == f"{cfg_file}:4: It was expecting a keyword, but did not find it."


def test_other_config_codes_still_raise(cfg_file: Path) -> None:
    e = config(
        "The configuration file cannot specify both INIT/NEXT and SPECIFICATION fields.",
        2227,
        cfg_file,
    )
    assert "cannot specify both" in str(e)


def test_evaluation_errors_are_not_input_errors() -> None:
    out = parse(framed(2147, 1, "TLC was unable to fingerprint."))
    assert diagnostics.input_error(out, spec=SPEC, config=CFG) is None


def test_load_error_reads_unframed_exception_messages(cfg_file: Path) -> None:
    """What the Stepper gets from FastTool without -tool: no codes, only TLC's phrases."""
    e = diagnostics.load_error(
        "Starting... (2026-11-21 00:08:20)\n",
        "util.Assert$TLCRuntimeException: The constant parameter N is not assigned a value by the "
        "configuration file.",
        spec=SPEC,
        config=cfg_file,
        operators=lambda: [],
    )
    assert isinstance(e, ConfigError) and "constant N of B.tla" in str(e)
    e2 = diagnostics.load_error(
        SEMANTIC_ERRORS,
        "util.Assert$TLCRuntimeException: Parsing or semantic analysis failed.",
        spec=Path("/specs/Multi.tla"),
        config=cfg_file,
        operators=lambda: [],
    )
    assert isinstance(e2, SpecError) and (e2.line, e2.column) == (4, 13)
    e3 = diagnostics.load_error(
        "", "java.lang.RuntimeException: something odd", spec=SPEC, config=cfg_file
    )
    assert isinstance(e3, SpecError) and e3.message == "something odd"


# ------------------------------------------------------------------------------------------- evaluation


def test_evaluation_error_is_one_line_with_the_innermost_location() -> None:
    text = framed(
        1000,
        1,
        "TLC threw an unexpected exception.\nThis was probably caused by an error in the "
        "spec or model.\nSee the User Output or TLC Console for clues to what happened.\n"
        "The exception was a tlc2.tool.EvalException\n: "
        + framed(
            2132,
            0,
            'The first argument of Assert evaluated to FALSE; the second argument was:\n"x too big"',
        ),
    ) + framed(
        2103,
        1,
        "The error occurred when TLC was evaluating the nested\nexpressions at the following "
        "positions:\n0. Line 7, column 9 to line 7, column 58 in B\n1. Line 7, column 32 to line 7, "
        "column 58 in B\n",
    )
    message = diagnostics.evaluation_error(parse(text), spec=SPEC)
    assert message == (
        'The first argument of Assert evaluated to FALSE; the second argument was: "x too big" '
        "(at /specs/B.tla:7:32)"
    )


def test_fingerprint_error_gives_its_reason() -> None:
    text = framed(
        2147,
        1,
        "TLC was unable to fingerprint.\n\nFingerprint Stack Trace:\n0) line 5, col 34 to "
        "line 5, col 41 of module B\n\nReason:\nAttempted to apply tuple\n<<1, 2>>\nto integer 3 "
        "which is out of domain.",
    )
    message = diagnostics.evaluation_error(parse(text), spec=SPEC)
    assert (
        message
        == "Attempted to apply tuple <<1, 2>> to integer 3 which is out of domain. (at /specs/B.tla:5:34)"
    )


# ------------------------------------------------------------------------------------------- operators


def test_spec_operators_lists_the_users_own(tmp_path: Path) -> None:
    (tmp_path / "Base.tla").write_text(
        "---- MODULE Base ----\nEXTENDS Naturals\nVARIABLE x\nTypeOK == x \\in Nat\nLOCAL Hidden == 1\n====\n"
    )
    (tmp_path / "Top.tla").write_text(
        "---- MODULE Top ----\nEXTENDS Base, TLC\nInit == x = 0\nNext == x' = x + 1\nMax(a, b) == a\n====\n"
    )
    assert diagnostics.spec_operators(tmp_path / "Top.tla") == ["TypeOK", "Init", "Next"]
