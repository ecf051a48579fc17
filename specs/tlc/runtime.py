"""TLC inside this Python process: one JVM, and one isolated copy of TLC's classes per use.

Why a class loader per use. TLC keeps much of its state in static fields (the variable list of
`TLCState`, the location of each variable in `UniqueString`, the model checker in `TLCGlobals`, ...).
Measured here: running TLC four times in one JVM on two specs with different variables (A, B, A, B)
gave a wrong result on the fourth run. Loading `tla2tools.jar` through a fresh `URLClassLoader` for each
check or stepper gives each its own copy of those statics: the same four runs gave the right answer every
time, at 0.23 to 0.4 s a check after the first, against about 0.4 s more for starting a JVM in a new
process. So: one JVM per process (started on first use), one `TLCRuntime` (class loader) per check and per
`Stepper`; several runtimes may live side by side.

TLC's scratch files (its `states/` metadir and the standard modules it unpacks when it parses) go under
one temporary folder per process, removed at exit; nothing is written into the user's tree.

The JVM's own options can be extended through MESHCHECK_JVM_OPTIONS (jvm_options below). `make test`
sets `-XX:TieredStopAtLevel=1` there: HotSpot's optimizing compiler (C2) pays off on a long model check,
but each check loads TLC's classes anew, so its compiled code is thrown away with the class loader, and
the test suite runs hundreds of checks of seconds each. Measured on the 2-core machine, quiet: the spec
and lockstep test files of Raft, PBFT, gossip and HotStuff (72 tests) took 3 min 17 s of CPU and
1 min 49 s with C2, 1 min 38 s and 1 min 9 s without; one model check of 25 s (`Raft.cfg`) is the
other way round, 53 s of CPU with C2 and 78 s without, so `meshcheck check` and `make verify` keep the
JVM's default.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from meshcheck.impl.base.errors import JavaError
from meshcheck.specs.tlc.java import find_jar
from meshcheck.specs.tlc.java import find_java

_lock = threading.Lock()
_scratch: Path | None = None


def scratch_root() -> Path:
    """This process's temporary folder for everything TLC writes."""
    global _scratch
    with _lock:
        if _scratch is None:
            _scratch = Path(tempfile.mkdtemp(prefix="meshcheck-"))
            atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
        return _scratch


JVM_OPTIONS = "MESHCHECK_JVM_OPTIONS"
# the options `java -version` took, for this process and its children
_ACCEPTED = "MESHCHECK_JVM_OPTIONS_ACCEPTED"


def jvm_options() -> list[str]:
    """The options MESHCHECK_JVM_OPTIONS adds to the JVM's, split as a shell would: JavaError when
    one is not an option or the JVM refuses them. A JVM started in this process with options it
    refuses would end the process itself ("Error occurred during initialization of VM", exit 1), so
    they are tried first on `java -version` (0.1 s), once: the child processes inherit the verdict."""
    raw = os.environ.get(JVM_OPTIONS, "")
    try:
        words = shlex.split(raw)
    except ValueError as exc:
        raise JavaError(f"{JVM_OPTIONS}={raw!r}: {exc}") from None
    for word in words:
        if not word.startswith("-"):
            raise JavaError(f"{JVM_OPTIONS}: {word!r} is not a JVM option (each starts with '-')")
    if words and os.environ.get(_ACCEPTED) != raw:
        java = find_java().home / "bin" / "java"
        tried = subprocess.run(
            [str(java), *words, "-version"], capture_output=True, text=True, check=False
        )
        if tried.returncode != 0:
            # The JVM says what it refuses in a line of its own among its "Error..." lines.
            said = [line for line in (tried.stderr + tried.stdout).splitlines() if line.strip()]
            why = next((line for line in said if not line.startswith("Error")), None)
            why = why or (said[0] if said else f"exit {tried.returncode}")
            raise JavaError(f"{JVM_OPTIONS}={raw}: the JVM refuses them ({why})")
        os.environ[_ACCEPTED] = raw
    return words


def ensure_jvm() -> None:
    """Start the JVM once per process (JavaError if Java is missing or older than 11)."""
    import jpype
    import jpype.config

    if jpype.isJVMStarted():
        return
    java = find_java()
    extra = jvm_options()
    tmp = scratch_root() / "java-tmp"
    tmp.mkdir(exist_ok=True)
    with _lock:
        if jpype.isJVMStarted():
            return
        # TLC leaves a non-daemon thread behind (RMI Reaper) that would keep the JVM, and so this
        # process, alive at exit; nothing of TLC's needs a clean JVM shutdown.
        jpype.config.destroy_jvm = False
        try:
            jpype.startJVM(
                str(java.libjvm),
                f"-Djava.io.tmpdir={tmp}",
                "-XX:+UseParallelGC",
                "-Xss16m",  # TLC recurses deeply when it evaluates large values
                # signals are Python's: without -Xrs the JVM catches SIGTERM and, through JPype,
                # calls into Python from its signal thread, which crashed the process (hs_err_pid*.log)
                "-Xrs",
                *extra,
                convertStrings=False,
                # Ctrl-C must reach Python (a check stops TLC and cleans up), not end the JVM at once.
                interrupt=False,
            )
        except Exception as exc:
            raise JavaError(f"cannot start the JVM at {java.libjvm}: {exc}") from None
        atexit.register(_stop_reference_queue)


def _stop_reference_queue() -> None:
    """Stop JPype's reference queue before Python finalizes.

    Measured: a process that ran TLC aborted at exit ("FATAL: exception not rethrown", exit 134) in
    almost every run. JPype's reference-queue thread wakes on the JVM's garbage collections and takes
    the GIL; during finalization Python ends such threads with pthread_exit, whose unwinding through
    Java frames aborts the process. Stopping the queue first (atexit runs this before JPype's own hook,
    registered earlier) made 6 of 6 runs exit 0.
    """
    import jpype

    if jpype.isJVMStarted():
        with contextlib.suppress(Exception):
            jpype.JClass("org.jpype.ref.JPypeReferenceQueue").getInstance().stop()


class TLCRuntime:
    """One copy of TLC's classes, loaded by its own class loader, with its own static state."""

    def __init__(self, jar: Path | None = None) -> None:
        ensure_jvm()
        import jpype

        self.jar = jar if jar is not None else find_jar()
        File = jpype.JClass("java.io.File")
        URL = jpype.JClass("java.net.URL")
        URLClassLoader = jpype.JClass("java.net.URLClassLoader")
        ClassLoader = jpype.JClass("java.lang.ClassLoader")
        urls = jpype.JArray(URL)([File(str(self.jar)).toURI().toURL()])
        self._loader = URLClassLoader(urls, ClassLoader.getPlatformClassLoader())
        self._classes: dict[str, Any] = {}
        self.scratch = Path(tempfile.mkdtemp(prefix="tlc-", dir=scratch_root()))

    def jclass(self, name: str) -> Any:
        """The class `name` as this runtime loaded it (cached)."""
        cls = self._classes.get(name)
        if cls is None:
            import jpype

            cls = jpype.JClass(name, loader=self._loader)
            self._classes[name] = cls
        return cls

    @contextlib.contextmanager
    def capture(self) -> Iterator[Capture]:
        """Route what TLC prints (this runtime's `util.ToolIO` and the JVM's System.out/err) to a buffer.

        System.out is shared by the whole JVM: hold the capture only around TLC calls of this thread.
        """
        import jpype

        System = jpype.JClass("java.lang.System")
        ToolIO = self.jclass("util.ToolIO")
        cap = Capture()
        old = (System.out, System.err, ToolIO.out, ToolIO.err)
        System.setOut(cap.stream)
        System.setErr(cap.stream)
        ToolIO.out = cap.stream
        ToolIO.err = cap.stream
        try:
            yield cap
        finally:
            System.setOut(old[0])
            System.setErr(old[1])
            ToolIO.out, ToolIO.err = old[2], old[3]

    def close(self) -> None:
        """Drop the classes and the scratch folder of this runtime."""
        self._classes.clear()
        with contextlib.suppress(Exception):
            self._loader.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class Capture:
    """A Java PrintStream whose bytes can be read back as text."""

    def __init__(self) -> None:
        import jpype

        self._buffer = jpype.JClass("java.io.ByteArrayOutputStream")()
        self.stream = jpype.JClass("java.io.PrintStream")(self._buffer, True, "UTF-8")

    def text(self) -> str:
        return str(self._buffer.toString("UTF-8"))

    def size(self) -> int:
        return int(self._buffer.size())
