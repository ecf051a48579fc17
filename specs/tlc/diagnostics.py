"""What SANY and TLC print when the input is wrong, turned into errors a user can act on.

Two kinds of problems, two outcomes:

- Input problems, found before any state is explored: a TLA+ syntax error, an undefined operator, a module
  that cannot be found, a .cfg that names what the spec lacks or leaves a constant without a value. They
  raise: `SpecError` located at file, line and column when SANY gives a location, `ConfigError` naming
  the .cfg. `input_error` (for the model checker, on `-tool` output) and `load_error` (for the Stepper,
  on what a FastTool printed and the message of the exception it threw) find them.
- Evaluation errors, found while exploring (a function applied outside its domain, a failed Assert):
  they are results, not input errors. `evaluation_error` makes TLC's report one line with a location.

Everything here reads TLC 2.15's fixed phrases (the templates in `tlc2.output.MP` and SANY's reports);
the patterns are matched on message text, so they work with and without `-tool` framing.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from pathlib import Path

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import SpecError
from meshcheck.specs.tlc.messages import EC
from meshcheck.specs.tlc.messages import ERROR
from meshcheck.specs.tlc.messages import TRACE_CODES
from meshcheck.specs.tlc.messages import Message
from meshcheck.specs.tlc.messages import ToolOutput
from meshcheck.specs.tlc.messages import one_line
from meshcheck.specs.tlc.messages import parse

__all__ = [
    "config_error",
    "evaluation_error",
    "input_error",
    "load_error",
    "sany_error",
    "spec_operators",
]

# Codes of tlc2.output.EC that report a model configuration the spec does not fit.
CONFIG_CODES = frozenset(range(2222, 2244)) | {2146, 2280, 2281} | frozenset(range(5001, 5007))
# TLC's complaints about its own command line: meshcheck built it, so they are meshcheck's bugs.
PARAM_CODES = frozenset(range(3100, 3115)) | {1101, 1102}

# ------------------------------------------------------------------------------------------- SANY

_PARSING_FILE = re.compile(r"^Parsing file (.+?)\s*$", re.MULTILINE)
_PARSE_ERROR = re.compile(
    r"\*\*\*Parse Error\*\*\*\s*\n(?:\s*(Was expecting .*?)\s*\n)?\s*(Encountered .*? at line (\d+), "
    r"column (\d+).*?)\s*$",
    re.MULTILINE,
)
_LEXICAL = re.compile(r"Lexical error at line (\d+), column (\d+)\.\s*(.*?)\s*$", re.MULTILINE)
_COULD_NOT_PARSE = re.compile(r"Could not parse module (\w+)")
_SEMANTIC = re.compile(
    r"\*\*\* Errors: (\d+)\s*\n\s*\n\s*line (\d+), col (\d+) to line \d+, col \d+ of module (\w+)"
    r"\s*\n\s*\n(.+?)(?:\n\s*\n|\Z)",
    re.DOTALL,
)
_ABORT = re.compile(
    r"\*\*\* Abort messages: \d+\s*\n\s*\n\s*(.+?)\s*\n\s*\n(.+?)(?:\n\s*\n|\Z)", re.DOTALL
)
_LOCATION = re.compile(r"line (\d+), col (\d+) to line \d+, col \d+ of module (\w+)")
_IMPORTED_IN = re.compile(r"imported in module (\w+)")
_SANY_FAILED = "Parsing or semantic analysis failed"


def _module_files(plain: str, spec: Path) -> dict[str, str]:
    """Module name -> the file SANY parsed it from ("Parsing file ..." lines), the spec included."""
    files = {spec.stem: str(spec)}
    for path in _PARSING_FILE.findall(plain):
        files.setdefault(Path(path).stem, path)
    return files


def _file_of(module: str | None, files: dict[str, str], fallback: str) -> str:
    return files.get(module, fallback) if module is not None else fallback


def sany_error(plain: str, *, spec: Path) -> SpecError | None:
    """The first error SANY reported in `plain` (its unframed output), located; None if none."""
    files = _module_files(plain, spec)
    parsed = _PARSING_FILE.findall(plain)
    last_parsed = parsed[-1] if parsed else str(spec)
    m = _PARSE_ERROR.search(plain)
    if m is not None:
        failed = _COULD_NOT_PARSE.search(plain, m.end())
        file = _file_of(failed.group(1) if failed else None, files, last_parsed)
        text = f"parse error: {m.group(2)}"
        if m.group(1):
            text += f"; {m.group(1)[0].lower()}{m.group(1)[1:]}"
        return SpecError(one_line(text), file=file, line=int(m.group(3)), column=int(m.group(4)))
    m = _LEXICAL.search(plain)
    if m is not None:
        failed = _COULD_NOT_PARSE.search(plain, m.end())
        file = _file_of(failed.group(1) if failed else None, files, last_parsed)
        return SpecError(
            one_line(f"lexical error: {m.group(3)}"),
            file=file,
            line=int(m.group(1)),
            column=int(m.group(2)),
        )
    m = _SEMANTIC.search(plain)
    if m is not None:
        count = int(m.group(1))
        text = one_line(m.group(5))
        if count > 1:
            text += f" (and {count - 1} more error{'s' if count > 2 else ''})"
        return SpecError(
            text,
            file=_file_of(m.group(4), files, str(spec)),
            line=int(m.group(2)),
            column=int(m.group(3)),
        )
    m = _ABORT.search(plain)
    if m is not None:
        where, text = m.group(1).strip(), one_line(m.group(2))
        loc = _LOCATION.search(where)
        if loc is not None:
            return SpecError(
                text,
                file=_file_of(loc.group(3), files, str(spec)),
                line=int(loc.group(1)),
                column=int(loc.group(2)),
            )
        importer = _IMPORTED_IN.search(text)
        module = importer.group(1) if importer else where.removeprefix("In module ").strip()
        return SpecError(text, file=files.get(module, str(spec)))
    return None


# ------------------------------------------------------------------------------------------- config

_NOT_DEFINED = re.compile(
    r"The (.+?) (\S+) specified in the configuration file\s+is not defined in the specification"
)
_NOT_ASSIGNED = re.compile(
    r"The constant parameter (\S+) is not assigned a value by the configuration file"
)
_TAKES_ARGS = re.compile(r"TLC requires (.+?) not to take any argument, but one was given: (\S+)")
_NOT_STATE_PREDICATE = re.compile(r"The invariant (\S+) is not a state predicate")
_CFG_SYNTAX = re.compile(
    r"TLC found an error in the configuration file at line (\d+)\s+(.+?)\s*\Z", re.DOTALL
)
_CFG_UNREADABLE = re.compile(
    r"TLC encountered the following error when trying to read the configuration file (.+?):\s*(.+?)"
    r"\s*\Z",
    re.DOTALL,
)


def _cfg_line(config: Path | None, name: str) -> int | None:
    """The first line of the .cfg that mentions `name` outside a `\\*` comment (for the message)."""
    if config is None:
        return None
    try:
        lines = config.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    word = re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])")
    for i, line in enumerate(lines, 1):
        if word.search(line.split("\\*", 1)[0]):
            return i
    return None


def _where(config: Path | None, name: str | None = None) -> str:
    if config is None:
        return "the model configuration"
    line = _cfg_line(config, name) if name is not None else None
    return f"{config}:{line}" if line is not None else str(config)


def config_error(
    text: str,
    *,
    spec: Path,
    config: Path | None,
    code: int | None = None,
    operators: Callable[[], Sequence[str]] | None = None,
) -> ConfigError | None:
    """The ConfigError that TLC's message `text` (with its code, if known) reports; None if none."""
    m = _NOT_DEFINED.search(text)
    if m is not None:
        what, name = m.group(1), m.group(2)
        msg = f"{_where(config, name)}: the {what} {name} is not defined in {spec.name}"
        return ConfigError(msg + _defined_hint(name, operators))
    m = _NOT_ASSIGNED.search(text)
    if m is not None:
        name = m.group(1)
        return ConfigError(
            f"{_where(config)}: constant {name} of {spec.name} is not assigned a value "
            f"(add `{name} = <value>` or `{name} <- <operator>` under CONSTANTS)"
        )
    m = _TAKES_ARGS.search(text)
    if m is not None:
        what, name = m.group(1), m.group(2)
        return ConfigError(
            f"{_where(config, name)}: the {what} {name} takes arguments; "
            f"TLC needs an operator without arguments here"
        )
    m = _NOT_STATE_PREDICATE.search(text)
    if m is not None:
        name = m.group(1)
        return ConfigError(
            f"{_where(config, name)}: the invariant {name} is not a state predicate "
            f"(it has primes or temporal operators; a temporal formula goes under PROPERTY)"
        )
    m = _CFG_SYNTAX.search(text)
    if m is not None:
        where = f"{config}:{m.group(1)}" if config is not None else f"line {m.group(1)}"
        return ConfigError(f"{where}: {one_line(m.group(2))}")
    m = _CFG_UNREADABLE.search(text)
    if m is not None:
        reason = one_line(m.group(2)).rstrip(".")
        if reason == "File not found":
            return ConfigError(f"model configuration {config or m.group(1)} not found")
        return ConfigError(f"cannot read {config or m.group(1)}: {reason}")
    if code is not None and code in CONFIG_CODES:
        return ConfigError(f"{_where(config)}: {one_line(text)}")
    return None


def _defined_hint(name: str, operators: Callable[[], Sequence[str]] | None) -> str:
    if operators is None:
        return ""
    try:
        names = list(operators())
    except MeshcheckError:
        return ""
    if not names:
        return " (it defines no operator without arguments)"
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f" (its operators without arguments: {', '.join(names)}){hint}"


# ------------------------------------------------------------------------------------------- entry points


def input_error(
    out: ToolOutput,
    *,
    spec: Path,
    config: Path | None,
    operators: Callable[[], Sequence[str]] | None = None,
) -> MeshcheckError | None:
    """The input problem TLC's output reports (SANY errors, a .cfg that does not fit), or None.

    `operators` lists the spec's operators without arguments; it is called only when a .cfg names an
    operator the spec lacks, to show what the spec does define.
    """
    codes = out.codes()
    if (
        EC.TLC_PARSING_FAILED in codes
        or EC.TLC_PARSING_FAILED2 in codes
        or _SANY_FAILED in out.plain
    ):
        found = sany_error(out.plain, spec=spec)
        if found is not None:
            return found
        details = _details(out.plain)
        return SpecError(
            one_line(f"SANY could not parse or check the module: {details}")
            if details
            else "SANY could not parse or check the module",
            file=str(spec),
        )
    for m in out.all():
        found_cfg = config_error(m.text, spec=spec, config=config, code=m.code, operators=operators)
        if found_cfg is not None:
            return found_cfg
        if m.code in PARAM_CODES:
            return MeshcheckError(
                f"TLC rejected the command line meshcheck gave it: {one_line(m.text)}"
            )
    return None


def load_error(
    output: str,
    message: str,
    *,
    spec: Path,
    config: Path | None,
    operators: Callable[[], Sequence[str]] | None = None,
) -> MeshcheckError:
    """The error for a spec TLC could not load (the Stepper's FastTool threw): never None.

    `output` is what TLC printed while loading (framed or not), `message` the Java exception's message
    (its class name in front is ignored). Falls back to a SpecError carrying TLC's words.
    """
    message = re.sub(r"^[\w.$]+(?:Exception|Error):\s*", "", message.strip())
    out = parse(output)
    said = parse(message)
    combined = ToolOutput(out.messages + said.messages, out.plain + "\n" + said.plain)
    if operators is None:
        operators = lambda: spec_operators(spec)  # noqa: E731
    found = input_error(combined, spec=spec, config=config, operators=operators)
    if found is not None:
        return found
    # Without -tool framing the config phrases arrive as plain text: try them there too.
    cfg = config_error(combined.plain, spec=spec, config=config, operators=operators)
    if cfg is not None:
        return cfg
    text = one_line(" ".join(m.text for m in said.all()) or said.plain) or "TLC could not load it"
    return SpecError(text, file=str(spec))


def _details(plain: str) -> str:
    noise = ("Parsing file", "Semantic processing", "Starting", "Fatal errors while parsing")
    return " ".join(
        line.strip()
        for line in plain.splitlines()
        if line.strip() and not line.startswith(noise) and "AbortException" not in line
    )


# ------------------------------------------------------------------------------------------- evaluation

_BOILERPLATE = (
    "TLC threw an unexpected exception.",
    "This was probably caused by an error in the spec or model.",
    "See the User Output or TLC Console for clues to what happened.",
)
_EXCEPTION_WAS = re.compile(r"The exception was a [\w.$]+\s*\n?:?\s*")
_POSITION = re.compile(
    r"[Ll]ine (\d+), col(?:umn)? (\d+) to line \d+, col(?:umn)? \d+ (?:of module|in) (\w+)"
)


def _clean(text: str) -> str:
    for line in _BOILERPLATE:
        text = text.replace(line, "")
    return _EXCEPTION_WAS.sub("", text).strip()


def evaluation_error(out: ToolOutput, *, spec: Path) -> str:
    """TLC's report of an error during exploration, short: what went wrong and where (file:line:col).

    The location is the innermost expression TLC names (the last of its "nested expressions" or
    fingerprint stack), in the module's file when SANY said where it parsed it.
    """
    files = _module_files(out.plain, spec)
    reasons: list[str] = []
    where: tuple[str, int, int] | None = None
    for m in out.messages:
        if m.severity != ERROR or m.code in TRACE_CODES:
            continue
        text = _reason(m)
        positions = _POSITION.findall(m.text)
        if m.code in (EC.TLC_NESTED_EXPRESSION, EC.TLC_FINGERPRINT_EXCEPTION) and positions:
            line, col, module = positions[-1]
            where = (
                files.get(module, str(Path(spec.parent, module + ".tla"))),
                int(line),
                int(col),
            )
        if text and text not in reasons:
            reasons.append(text)
    message = "; ".join(reasons) or "TLC stopped with an error"
    if where is not None:
        file, line, col = where
        message += f" (at {_relative(file)}:{line}:{col})"
    return message


def _reason(m: Message) -> str:
    if m.code == EC.TLC_NESTED_EXPRESSION:
        return ""  # only a location
    if m.code == EC.TLC_FINGERPRINT_EXCEPTION:
        reason = m.text.split("Reason:", 1)
        return one_line(reason[1]) if len(reason) == 2 else ""
    return one_line(_clean(m.text))


def _relative(file: str) -> str:
    try:
        rel = os.path.relpath(file)
    except ValueError:
        return file
    return file if rel.startswith("..") else rel


# ------------------------------------------------------------------------------------------- operators


def spec_operators(spec: Path, *, runtime_jar: Path | None = None) -> list[str]:
    """The operators without arguments the spec defines, in its own modules (not the standard ones).

    Parses with SANY in a fresh TLC runtime (this is an error path: the 0.3 s it costs buy a message
    that lists what the user may have meant). Modules count as the user's when their file lies in the
    spec's folder; LOCAL definitions are left out. Empty if SANY cannot parse the spec.
    """
    from meshcheck.specs.tlc.runtime import TLCRuntime

    rt = TLCRuntime(runtime_jar)
    try:
        folder = str(spec.parent)
        rt.jclass("util.ToolIO").setUserDir(folder)
        with rt.capture() as cap:
            # relative to the user directory: SANY prefixes it even to an absolute path
            obj = rt.jclass("tla2sany.modanalyzer.SpecObj")(
                spec.name, rt.jclass("util.SimpleFilenameToStream")(folder)
            )
            status = rt.jclass("tla2sany.drivers.SANY").frontEndMain(obj, spec.name, cap.stream)
        root = obj.getRootModule()
        if status != 0 or root is None:
            return []
        user = {
            Path(p).stem for p in _PARSING_FILE.findall(cap.text()) if Path(p).parent == spec.parent
        }
        user.add(spec.stem)
        kind = rt.jclass("tla2sany.semantic.ASTConstants").UserDefinedOpKind
        return _dedup(
            str(op.getName())
            for op in root.getOpDefs()
            if op.getArity() == 0
            and op.getKind() == kind
            and not op.isLocal()
            and str(op.getLocation().source()) in user
        )
    except Exception:  # a JException or a missing class: the hint is optional
        return []
    finally:
        rt.close()


def _dedup(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
