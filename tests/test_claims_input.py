"""Bad input to the `meshcheck claims` commands (meshcheck/claims/): one line on stderr and exit
status 2, each command and each of its options alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.cli import main


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("bft-compare", ["--sizes", "3"]),
        ("bft-compare", ["--sizes", "4,4"]),
        ("bft-compare", ["--sizes", "4,x"]),
        ("bft-compare", ["--sizes", "65"]),
        ("bft-compare", ["--requests", "0"]),
        ("bft-compare", ["--requests", "many"]),
        ("gossip", ["--sizes", "1"]),
        ("gossip", ["--sizes", "ten"]),
        ("gossip", ["--sizes", "10,10"]),
        ("gossip", ["--conditions", "drop5"]),
        ("gossip", ["--conditions", "loss100"]),
        ("gossip", ["--conditions", "loss1,loss1"]),
        ("gossip", ["--profiles", "moon"]),
        ("gossip", ["--seeds", "0"]),
        ("gossip", ["--agents", "1"]),
        ("gossip", ["--sizes", "none", "--agents", "0", "--detector-seeds", "0"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    command: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["claims", command, *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("meshcheck: ")


@pytest.mark.parametrize(("command", "sizes"), [("bft-compare", "4"), ("gossip", "10")])
def test_out_must_be_a_folder(
    command: str, sizes: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "file"
    f.write_text("")
    assert main(["claims", command, "--sizes", sizes, "--out", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err
