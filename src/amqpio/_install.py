"""``amqpio.install_as_aio_pika()``: let third-party code import amqpio as aio_pika.

``import amqpio as aio_pika`` changes only the file it is written in. A library
built on aio-pika (FastStream, a task queue, an RPC layer) imports ``aio_pika``
itself; PyMySQL's ``install_as_MySQLdb()`` set the convention for that case.
After :func:`install_as_aio_pika`:

* ``import aio_pika`` gives the ``amqpio`` module, and ``aio_pika.X``
  (``aio_pika.abc``, ``aio_pika.connection``, ``aio_pika.patterns`` ...) the
  very module object ``amqpio.X``: one copy of every class, so ``isinstance``
  and ``except`` work across both names; ``aio_pika.X`` is missing exactly
  when ``amqpio.X`` is;
* when the real aiormq is not installed, ``import aiormq`` gives the names
  aio-pika users import from it (:mod:`amqpio._aiormq`: the exception
  classes, ``aiormq.exceptions`` = ``amqpio.exceptions``, ``aiormq.abc``,
  ``aiormq.spec`` = ``amqpio.spec``).

The aliases are a meta-path finder, first on ``sys.meta_path``; nothing is
copied and amqpio's own modules keep their names and specs.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType

__all__ = ["install_as_aio_pika"]

#: alias package -> real package
_ALIASES: Mapping[str, str] = {"aio_pika": "amqpio"}
#: aiormq's names, used when the real aiormq is not installed
_AIORMQ_ALIASES: Mapping[str, str] = {
    "aiormq": "amqpio._aiormq",
    "aiormq.abc": "amqpio._aiormq.abc",
    "aiormq.exceptions": "amqpio.exceptions",
    "aiormq.spec": "amqpio.spec",
}


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias as the already (or newly) imported real module."""

    def __init__(self, real_name: str) -> None:
        self.real_name = real_name
        self.real_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.real_name)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system has just set module.__spec__ to the alias's spec:
        # the real module keeps its own
        module.__spec__ = self.real_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Resolves alias module names to amqpio's modules; nothing else."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.packages: dict[str, str] = dict(_ALIASES)

    def real_name(self, fullname: str) -> str | None:
        if fullname in self.exact:
            return self.exact[fullname]
        package, dot, rest = fullname.partition(".")
        real = self.packages.get(package)
        if real is None:
            return None
        return real + dot + rest

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        real_name = self.real_name(fullname)
        if real_name is None:
            return None
        real_spec = importlib.util.find_spec(real_name)
        if real_spec is None:
            return None  # ModuleNotFoundError: No module named 'aio_pika.X'
        return importlib.util.spec_from_loader(
            fullname,
            _AliasLoader(real_name),
            origin=real_spec.origin,
            is_package=real_spec.submodule_search_locations is not None,
        )


def _finder() -> _AliasFinder | None:
    for finder in sys.meta_path:
        if isinstance(finder, _AliasFinder):
            return finder
    return None


def _imported(package: str) -> list[str]:
    return [name for name in sys.modules if name.partition(".")[0] == package]


def _installed(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def install_as_aio_pika(*, aiormq: bool | None = None) -> None:
    """Make ``import aio_pika`` (and ``aio_pika.X``) import amqpio.

    Call it once at start-up, before anything imports aio-pika (FastStream's
    ``faststream.rabbit``, for example). ``aiormq``: ``None`` (the default)
    aliases ``aiormq`` to amqpio's stand-in only when the real aiormq is not
    installed; ``True`` always does (the real one is then hidden); ``False``
    never does.

    Raises ``RuntimeError`` when the real aio-pika (or, for an aiormq alias,
    the real aiormq) was imported already: its classes are in use and cannot
    be replaced. Calling it again is harmless.
    """
    amqpio = importlib.import_module("amqpio")
    finder = _finder()
    if finder is None:
        real = [
            name for name in _imported("aio_pika") if sys.modules[name] is not amqpio
        ]
        if real:
            raise RuntimeError(
                "install_as_aio_pika() must run before aio_pika is imported, "
                f"but {sorted(real)[0]!r} is imported already"
            )
        finder = _AliasFinder()
        sys.meta_path.insert(0, finder)
    if aiormq is None:
        aiormq = "aiormq" not in finder.exact and not _installed("aiormq")
    if aiormq and "aiormq" not in finder.exact:
        if _imported("aiormq"):
            raise RuntimeError(
                "install_as_aio_pika(aiormq=True) must run before aiormq is imported"
            )
        finder.exact.update(_AIORMQ_ALIASES)
    sys.modules["aio_pika"] = amqpio
