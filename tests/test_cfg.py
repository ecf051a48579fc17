"""specs/tlc/cfg.py: .cfg files read as TLC 2.15 reads them, and errors located at line:column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.specs.tlc.cfg import ONE_WORKER_NOTE
from meshcheck.specs.tlc.cfg import Assignment
from meshcheck.specs.tlc.cfg import Substitution
from meshcheck.specs.tlc.cfg import checked_workers
from meshcheck.specs.tlc.cfg import parse_cfg
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.cfg import unsound_reduction


def test_every_keyword_and_both_kinds_of_constant() -> None:
    cfg = parse_cfg(
        """
        CONSTANTS
            N = 3
            Name = "s1"
            Servers = {s1, s2, {}}
            Debug = FALSE
            Quorum <- MCQuorum
            Op <- [Inner] Impl
            F(a, 2) = 7
        INIT Init
        NEXT Next
        INVARIANT TypeOK Safety
        INVARIANTS Agreement
        PROPERTY Liveness
        PROPERTIES Progress Termination
        CONSTRAINT Bound CONSTRAINTS Small
        ACTION_CONSTRAINT Steps
        ACTION_CONSTRAINTS MoreSteps
        SYMMETRY Perms
        VIEW View
        """
    )
    assert cfg.init == "Init" and cfg.next == "Next" and cfg.specification is None
    assert cfg.invariants == ("TypeOK", "Safety", "Agreement")
    assert cfg.properties == ("Liveness", "Progress", "Termination")
    assert cfg.constraints == ("Bound", "Small")
    assert cfg.action_constraints == ("Steps", "MoreSteps")
    assert cfg.symmetry == "Perms" and cfg.view == "View"
    assert cfg.values() == {
        "N": 3,
        "Name": "s1",
        "Servers": frozenset({"s1", "s2", frozenset()}),
        "Debug": False,
    }
    assert Assignment("F", 7, ("a", 2), line=9) in cfg.constants
    assert cfg.substitutions == (
        Substitution("Quorum", "MCQuorum", None, line=7),
        Substitution("Op", "Impl", "Inner", line=8),
    )
    assert cfg.model_values == {"s1", "s2", "a"}  # "s1" the string is not a model value, s1 is
    assert cfg.assigned() == {"N", "Name", "Servers", "Debug", "Quorum", "Op", "F"}


def test_comments_of_both_kinds_nest_and_hide_keywords() -> None:
    cfg = parse_cfg(
        "\\* INIT Hidden\nSPECIFICATION Spec (* a (* nested *) comment\n INVARIANT Hidden2 *)\n"
        'INVARIANT Inv \\* trailing INVARIANT Hidden3\nCONSTANT S = "(* not a comment *)"\n'
    )
    assert cfg.specification == "Spec"
    assert cfg.invariants == ("Inv",)
    assert cfg.values() == {"S": "(* not a comment *)"}


def test_string_escapes() -> None:
    assert parse_cfg(r'CONSTANT S = "a\"b\\c\nd"').values() == {"S": 'a"b\\c\nd'}


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("INIT Init\nINIT Other\n", "2:1", "INIT appears twice (first on line 1)"),
        ("INIT A B\n", "1:8", "INIT takes one name; found a second: B"),
        ("INIT\nNEXT Next\n", "2:1", "INIT needs the name of an operator, found 'NEXT'"),
        ("INVARIANT A, B\n", "1:12", "separated by spaces, not commas"),
        ("CONSTANTS A = 1, B = 2\n", "1:16", "separated by spaces, not commas"),
        ("CONSTANT N = -1\n", "1:14", "negative numbers"),
        ("CONSTANT N = <<1, 2>>\n", "1:14", "tuples"),
        ("CONSTANT N == 3\n", "1:12", "one ="),
        ("CONSTANT N 3\n", "1:12", "expected = or <- after N, found '3'"),
        ("CONSTANT N = 1\nCONSTANT N = 2\n", "2:10", "N is given a value twice"),
        ("CONSTANT N = {1, 2\n", "2:1", "expected , or } in a set, found the end of the file"),
        ("CONSTANT N = INIT\n", "1:14", "found the keyword INIT"),
        ('CONSTANT S = "abc\n', "1:14", "string never ends"),
        ("(* INIT Init\n", "1:1", "never ends"),
        ("INIT Init\nFOO Bar\n", "2:1", "expected a keyword"),
        ("CONSTANT N <- 7\n", "1:15", "expected an operator name after <-"),
    ],
)
def test_errors_name_the_place_and_the_problem(text: str, where: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_cfg(text, Path("model.cfg"))
    message = str(info.value)
    assert message.startswith(f"model.cfg:{where}: "), message
    assert words in message


def test_read_cfg_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model configuration .*Nope\.cfg not found"):
        read_cfg(tmp_path / "Nope.cfg")
    bad = tmp_path / "Bad.cfg"
    bad.write_bytes(b"INIT \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"cannot read .*Bad\.cfg"):
        read_cfg(bad)
    good = tmp_path / "Good.cfg"
    good.write_text("INIT Init NEXT Next\n")
    assert read_cfg(good).path == good


def test_agrees_with_tlcs_own_reader(tmp_path: Path) -> None:
    """The same file through TLC 2.15's ModelConfig: the same names and values."""
    from meshcheck.specs.tlc.runtime import TLCRuntime

    text = (
        'CONSTANTS N = 3 S = {a, b} Name = "x" Q <- MCQ\n'
        "INIT Init NEXT Next\nINVARIANTS I1 I2 INVARIANT I3\nPROPERTY P\n"
        "CONSTRAINT C ACTION_CONSTRAINT A VIEW V SYMMETRY Sym\n"
    )
    path = tmp_path / "M.cfg"
    path.write_text(text)
    ours = parse_cfg(text)
    rt = TLCRuntime()
    try:
        with rt.capture():
            theirs = rt.jclass("tlc2.tool.impl.ModelConfig")(
                str(path), rt.jclass("util.SimpleFilenameToStream")()
            )
            theirs.parse()
        assert str(theirs.getInit()) == ours.init and str(theirs.getNext()) == ours.next
        assert _names(theirs.getInvariants()) == ours.invariants
        assert _names(theirs.getProperties()) == ours.properties
        assert _names(theirs.getConstraints()) == ours.constraints
        assert _names(theirs.getActionConstraints()) == ours.action_constraints
        assert str(theirs.getView()) == ours.view and str(theirs.getSymmetry()) == ours.symmetry
        assert {str(k): str(v) for k, v in theirs.getOverrides().items()} == {"Q": "MCQ"}
        vect = theirs.getConstants()
        entries = [vect.elementAt(i) for i in range(vect.size())]
        constants = {str(c.elementAt(0)): str(c.elementAt(1)) for c in entries}
        assert constants == {"N": "3", "S": "{a, b}", "Name": '"x"'}
        assert set(ours.values()) == set(constants)
    finally:
        rt.close()


def _names(vect: Any) -> tuple[str, ...]:
    """A tlc2.util.Vect of names as a tuple of str."""
    return tuple(str(vect.elementAt(i)) for i in range(vect.size()))


# ------------------------------------------------------------------------------------------- soundness


@pytest.mark.parametrize(
    ("text", "asked", "workers", "note"),
    [
        ("SPECIFICATION Spec\nPROPERTY Live\n", 4, 1, ONE_WORKER_NOTE),
        ("SPECIFICATION Spec\nPROPERTY Live\n", 1, 1, ""),
        ("SPECIFICATION Spec\nINVARIANT Inv\n", 4, 4, ""),
        ("SPECIFICATION Spec\nINVARIANT Inv\nVIEW V\n", 2, 2, ""),
    ],
)
def test_a_property_means_one_worker(text: str, asked: int, workers: int, note: str) -> None:
    assert checked_workers(parse_cfg(text), asked) == (workers, note)


def test_a_property_under_symmetry_or_view_is_unsound_in_one_line(tmp_path: Path) -> None:
    assert unsound_reduction(parse_cfg("SPECIFICATION S\nPROPERTY P\n")) is None
    assert unsound_reduction(parse_cfg("SPECIFICATION S\nINVARIANT I\nVIEW V SYMMETRY Y\n")) is None
    path = tmp_path / "M.cfg"
    path.write_text("SPECIFICATION S\nVIEW V\nSYMMETRY Y\nPROPERTIES P Q\n")
    why = unsound_reduction(read_cfg(path))
    assert why is not None and "\n" not in why
    assert why.startswith(f"{path}: PROPERTIES P Q with SYMMETRY Y and VIEW V: ")
    assert "tlaplus/tlaplus#59" in why
