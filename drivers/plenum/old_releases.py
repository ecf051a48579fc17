"""What plenum 1.12.1 needs to import in .venv-plenum (built for 1.13.1), and nothing more.

1.12.1 is run from its sdist's packages copied apart (docs/plenum.md, "1.12.1"), ahead of 1.13.1 on
the path, with .venv-plenum's dependencies. Two of its imports are gone from them:

- `pip.get_installed_distributions` and `pip.utils.get_installed_distributions` (removed in pip
  10; 1.12.1 pins pip < 10), which plenum/__init__.py and notifier_plugin_manager.py call to find
  plugins: with no plugin enabled (ENABLED_PLUGINS is empty in its config) an empty list is what
  they would find;
- `indy_crypto` (python3-indy-crypto 0.4.5, BLS, wrapping a native library that Debian and PyPI
  do not package for 3.11), which 1.13.1 replaced with ursa: the simulated replicas sign and check
  nothing with BLS (MockBlsBftReplica; the genesis has no BLS keys, bls_free_pool.py), so a module
  whose every name raises when used stands in for it. A run that reached BLS would stop on it.

1.13.1 imports neither, so installing these changes nothing for it.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def _absent(name: str) -> type:
    """A name of indy_crypto: a class (1.12.1 subclasses and annotates with some) whose
    construction, and every class attribute asked of it, raises."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"indy_crypto.{name} is not installed (BLS is not simulated)")

    class Meta(type):
        def __getattr__(cls, attr: str) -> Any:
            if attr.startswith("__"):
                raise AttributeError(attr)
            return refuse

    return Meta(name, (), {"__init__": refuse})


def _stub(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def attribute(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _absent(attr)

    module.__getattr__ = attribute  # type: ignore[method-assign]
    module.__path__ = []  # a package: `indy_crypto.bls` imports
    return module


def install() -> None:
    import pip

    if not hasattr(pip, "get_installed_distributions"):
        pip.get_installed_distributions = list  # type: ignore[attr-defined]
    if not hasattr(pip, "utils"):  # notifier_plugin_manager.py asks pip.utils for the same
        utils = types.ModuleType("pip.utils")
        utils.get_installed_distributions = list  # type: ignore[attr-defined]
        pip.utils = utils  # type: ignore[attr-defined]
    try:
        import indy_crypto  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        for name in ("indy_crypto", "indy_crypto.bls"):
            sys.modules[name] = _stub(name)
