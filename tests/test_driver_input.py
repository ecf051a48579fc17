"""Bad input to `meshcheck driver conform` and `meshcheck driver run` (meshcheck/drivers/,
meshcheck/driver_cmd.py): one line on stderr, naming what is wrong, and exit status 2."""

from __future__ import annotations

import pytest

from meshcheck.cli import main


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        ("conform", [], "give the driver's command"),
        ("conform", ["/no/such/driver"], "cannot start '/no/such/driver'"),
        ("conform", ["--timeout", "0", "node", "x.js"], "--timeout: expected seconds above 0"),
        ("run", ["--seeds", "0", "x"], "--seeds 0: expected 1 to 10000"),
        ("run", ["--nodes", "three", "x"], "--nodes three: not a whole number"),
        ("run", [], "driver run: give the driver's command"),
        ("run", ["/no/such/driver"], "cannot start '/no/such/driver'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    command: str, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", command, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
