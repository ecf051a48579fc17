"""TLC run by its own command line in a new JVM, as a user runs tla2tools.jar: the reference the
tests of meshcheck's own TLC runs (specs/tlc/) compare with."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from meshcheck.specs.tlc.java import find_jar
from meshcheck.specs.tlc.java import find_java


def run_tlc_alone(
    folder: Path, *args: str, timeout: float, java_options: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`java JAVA_OPTIONS -cp tla2tools.jar tlc2.TLC -workers 1 ARGS` in `folder` (its states in
    folder/states), its output captured: ARGS are TLC's options, then the spec."""
    java = find_java().home / "bin" / "java"
    tlc = [str(java), *java_options, "-XX:+UseParallelGC", "-cp", str(find_jar()), "tlc2.TLC"]
    command = [*tlc, "-workers", "1", "-metadir", str(folder / "states"), *args]
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=timeout, check=False
    )
