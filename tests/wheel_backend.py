"""A PEP 517 build backend of a few lines (https://peps.python.org/pep-0517/#in-tree-build-backends),
copied as backend.py into the packages tests/outside.py installs: it zips a pyproject.toml's
top-level packages into a wheel with the [project] table's name, version, dependencies and entry
points. The project's environment has no `wheel` package (setuptools 65's bdist_wheel needs it),
and these tests download nothing, so setuptools cannot build them."""

from __future__ import annotations

import base64
import hashlib
import pathlib
import tomllib
import zipfile
from typing import Any


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    project = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]
    dist, version = project["name"].replace("-", "_"), project["version"]
    info = f"{dist}-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {r}\n" for r in project.get("dependencies", ()))
    points = "".join(
        f"[{group}]\n" + "".join(f"{name} = {ref}\n" for name, ref in entries.items())
        for group, entries in project.get("entry-points", {}).items()
    )
    files = {
        path.as_posix(): path.read_text()
        for top in sorted(pathlib.Path().iterdir())
        if (top / "__init__.py").is_file()
        for path in sorted(top.rglob("*.py"))
    }
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n{requires}"
    )
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = points
    name = f"{dist}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return name
