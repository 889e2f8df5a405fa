"""Enforce the import layers of STYLE.md section 3 by parsing every module with ast.

Everything is table-driven: ``LAYER_OF`` assigns each top-level module or package
of amqpio to a layer, ``RULES`` says which layers that layer may import and which
stdlib modules it must not touch. A module that no row of ``LAYER_OF`` matches
fails the test, so a new layer is checked from the day it appears. Imports inside
functions and ``if TYPE_CHECKING:`` blocks count too: an upward import is a
design smell even when it is only used for annotations.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
SRC: Final = ROOT / "src"
PACKAGE: Final = "amqpio"

# First component below ``amqpio`` (fnmatch pattern) -> layer. ``""`` is the
# package itself (``amqpio/__init__.py``, the aio-pika-compatible facade).
LAYER_OF: Final[tuple[tuple[str, str], ...]] = (
    ("", "facade"),
    ("codec", "codec"),
    ("spec", "spec"),
    ("sansio", "sansio"),
    ("exceptions", "exceptions"),
    ("transport", "transport"),
    ("abc", "api"),
    ("connection", "api"),
    ("channel", "api"),
    ("exchange", "api"),
    ("queue", "api"),
    ("message", "api"),
    ("transaction", "api"),
    ("_url", "api"),
    ("_url_object", "api"),
    ("_install", "api"),
    ("_aiormq", "api"),
    ("tools", "api"),
    ("log", "api"),
    ("_version", "api"),
    ("robust_*", "robust"),
    ("_topology", "robust"),
    ("patterns", "patterns"),
    ("pool", "pool"),
    # test support shipped in the package (throwaway brokers): stdlib only
    ("testing", "testing"),
)

# Layers whose modules form the public API (STYLE.md section 2). Private modules
# (a path component starting with "_") of these layers are not public.
PUBLIC_LAYERS: Final = frozenset(
    {"facade", "exceptions", "api", "robust", "patterns", "pool"}
)

# Things a program below the transport must never do: I/O, clocks, logging.
NO_IO: Final = frozenset({"asyncio", "socket", "ssl", "time", "logging"})


@dataclass(frozen=True)
class Rule:
    may_import: frozenset[str]
    forbidden_stdlib: frozenset[str] = frozenset()
    #: only public modules of ``may_import`` layers (``patterns``, ``pool``)
    public_only: bool = False


RULES: Final[dict[str, Rule]] = {
    "codec": Rule(frozenset({"codec"}), NO_IO),
    "spec": Rule(frozenset({"spec", "codec"}), NO_IO),
    "sansio": Rule(frozenset({"sansio", "spec", "codec"}), NO_IO),
    "exceptions": Rule(frozenset({"exceptions", "spec"})),
    "transport": Rule(
        frozenset({"transport", "sansio", "spec", "codec", "exceptions"})
    ),
    "api": Rule(
        frozenset({"api", "transport", "sansio", "spec", "codec", "exceptions"})
    ),
    "robust": Rule(frozenset({"robust", "api", "exceptions"})),
    "patterns": Rule(PUBLIC_LAYERS, public_only=True),
    "pool": Rule(PUBLIC_LAYERS, public_only=True),
    # re-exports only, and only what is public
    "facade": Rule(PUBLIC_LAYERS),
    # imports nothing else from amqpio, and no layer may import it
    "testing": Rule(frozenset({"testing"})),
}

# Scripts that must run with nothing but the standard library.
STDLIB_ONLY_SCRIPTS: Final = ("tools/gen_spec.py",)


def _runtime_dependencies() -> frozenset[str]:
    """Import names of ``project.dependencies`` (the only allowed third party)."""
    text = (ROOT / "pyproject.toml").read_text()
    if sys.version_info >= (3, 11):
        import tomllib

        requirements = tomllib.loads(text)["project"].get("dependencies", [])
    else:  # no tomllib: the array is a flat list of strings
        match = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
        requirements = re.findall(
            r"[\"']([^\"']+)[\"']", match.group(1) if match else ""
        )
    names = set()
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert match is not None, requirement
        names.add(match.group().lower().replace("-", "_").replace(".", "_"))
    return frozenset(names)


THIRD_PARTY_ALLOWED: Final = _runtime_dependencies()

# Optional third-party imports: (module, import name), each only inside a
# ``try: ... except ImportError:`` that provides the fallback.
OPTIONAL_IMPORTS: Final = frozenset({("amqpio._url_object", "yarl")})
STDLIB: Final = frozenset(sys.stdlib_module_names)


# -- the checker ---------------------------------------------------------------


def layer_of(module: str) -> str | None:
    """The layer of a dotted ``amqpio...`` module name, or None if unassigned."""
    parts = module.split(".")
    assert parts[0] == PACKAGE, module
    first = parts[1] if len(parts) > 1 else ""
    for pattern, layer in LAYER_OF:
        if (pattern == "" and first == "") or (
            pattern and fnmatch.fnmatchcase(first, pattern)
        ):
            return layer
    return None


def is_private(module: str) -> bool:
    return any(
        part.startswith("_") and not part.startswith("__")
        for part in module.split(".")[1:]
    )


def _imported(
    tree: ast.Module, module: str, is_package: bool, known: frozenset[str]
) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``tree``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                if node.level > len(parts):
                    found.append((node.lineno, "<relative import beyond the top>"))
                    continue
                base = ".".join(parts[: len(parts) - node.level + 1])
                if node.module:
                    base = f"{base}.{node.module}"
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                # ``from amqpio import transport`` imports the subpackage, while
                # ``from amqpio import connect`` imports a name of the facade
                if candidate in known or (
                    base == PACKAGE
                    and alias.name != "*"
                    and layer_of(candidate) not in (None, "facade")
                ):
                    found.append((node.lineno, candidate))
                else:
                    found.append((node.lineno, base))
    return found


def check_module(
    module: str,
    source: str,
    *,
    is_package: bool = False,
    known: frozenset[str] = frozenset(),
) -> list[str]:
    """Layer violations of one amqpio module, as human-readable strings."""
    layer = layer_of(module)
    if layer is None:
        return [f"{module}: not assigned to a layer; add it to LAYER_OF"]
    rule = RULES[layer]
    errors = []
    tree = ast.parse(source)
    guarded = _guarded_lines(tree)
    for line, target in _imported(tree, module, is_package, known):
        where = f"{module}:{line}: {layer} imports {target}"
        top = target.partition(".")[0]
        if target.startswith("<"):
            errors.append(f"{where}")
        elif top == PACKAGE:
            target_layer = layer_of(target)
            if target_layer is None:
                errors.append(f"{where}, which is not assigned to a layer")
            elif target_layer not in rule.may_import:
                errors.append(f"{where} ({target_layer} layer)")
            elif rule.public_only and (
                target_layer not in PUBLIC_LAYERS or is_private(target)
            ):
                errors.append(f"{where}, which is not public API")
        elif top in rule.forbidden_stdlib:
            errors.append(f"{where}, which is reserved for the transport")
        elif (module, top) in OPTIONAL_IMPORTS and line in guarded:
            continue
        elif top not in STDLIB and top not in THIRD_PARTY_ALLOWED:
            errors.append(f"{where}, which is not a runtime dependency")
    return errors


def _guarded_lines(tree: ast.AST) -> frozenset[int]:
    """Lines of the imports in a ``try`` body whose handler catches ImportError."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        names = {
            name.id
            for handler in node.handlers
            if handler.type is not None
            for name in ast.walk(handler.type)
            if isinstance(name, ast.Name)
        }
        if names & {"ImportError", "ModuleNotFoundError"}:
            for statement in node.body:
                for inner in ast.walk(statement):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        lines.add(inner.lineno)
    return frozenset(lines)


def check_stdlib_only(name: str, source: str) -> list[str]:
    errors = []
    for line, target in _imported(
        ast.parse(source), "amqpio._script", False, frozenset()
    ):
        top = target.partition(".")[0]
        if top == PACKAGE or target.startswith("<") or top not in STDLIB:
            errors.append(f"{name}:{line}: imports {target}, not standard library only")
    return errors


def _module_name(path: Path) -> tuple[str, bool]:
    relative = path.relative_to(SRC).with_suffix("")
    parts = list(relative.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


MODULES: Final = sorted(
    (*_module_name(path), path) for path in (SRC / PACKAGE).rglob("*.py")
)
KNOWN: Final = frozenset(name for name, _, _ in MODULES)
PACKAGES: Final = frozenset(name for name, is_package, _ in MODULES if is_package)


# -- the current tree -------------------------------------------------------------


def test_the_tree_has_the_lower_layers() -> None:
    layers = {layer_of(name) for name, _, _ in MODULES}
    assert {"facade", "codec", "spec"} <= layers
    assert "amqpio.codec.frames" in KNOWN
    assert "amqpio.spec.methods" in KNOWN


@pytest.mark.parametrize(
    ("module", "is_package", "path"), MODULES, ids=[name for name, _, _ in MODULES]
)
def test_module_respects_the_layers(module: str, is_package: bool, path: Path) -> None:
    assert (
        check_module(module, path.read_text(), is_package=is_package, known=KNOWN) == []
    )


@pytest.mark.parametrize("script", STDLIB_ONLY_SCRIPTS)
def test_script_uses_only_the_standard_library(script: str) -> None:
    path = ROOT / script
    source = path.read_text()
    assert "import" in source
    assert check_stdlib_only(script, source) == []


def test_every_layer_has_a_rule() -> None:
    assert {layer for _, layer in LAYER_OF} == set(RULES)
    for layer, rule in RULES.items():
        assert rule.may_import <= set(RULES), layer


# -- the checker flags violations ----------------------------------------------------

VIOLATIONS: Final = [
    ("amqpio.codec.values", "from ..spec import constants"),
    ("amqpio.codec.values", "from amqpio.spec.constants import ReplyCode"),
    ("amqpio.codec.values", "import amqpio.sansio.connection"),
    ("amqpio.codec.values", "from .. import spec"),
    ("amqpio.codec.values", "from amqpio import connect"),
    ("amqpio.codec.values", "import time"),
    ("amqpio.codec.values", "def f():\n    from ..spec import methods\n"),
    ("amqpio.spec.methods", "from ..sansio.events import DeliveryReceived"),
    ("amqpio.spec.methods", "from ..exceptions import AMQPError"),
    ("amqpio.spec.methods", "import asyncio"),
    ("amqpio.sansio.connection", "import asyncio"),
    ("amqpio.sansio.connection", "import socket"),
    ("amqpio.sansio.connection", "import ssl"),
    ("amqpio.sansio.connection", "from time import monotonic"),
    ("amqpio.sansio.connection", "import logging"),
    ("amqpio.sansio.connection", "from ..transport.protocol import Protocol"),
    ("amqpio.sansio.connection", "from ..exceptions import ChannelClosed"),
    ("amqpio.sansio.connection", "from ..channel import Channel"),
    (
        "amqpio.sansio.connection",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..transport import protocol\n",
    ),
    ("amqpio.exceptions", "from .sansio.errors import ProtocolError"),
    ("amqpio.exceptions", "from .codec import errors"),
    ("amqpio.transport.protocol", "from ..connection import Connection"),
    ("amqpio.transport.protocol", "from ..robust_connection import RobustConnection"),
    ("amqpio.transport.protocol", "from ..patterns import RPC"),
    ("amqpio.transport.protocol", "from .. import pool"),
    ("amqpio.connection", "from .robust_connection import RobustConnection"),
    ("amqpio.channel", "from .pool import Pool"),
    ("amqpio.robust_connection", "from .patterns.rpc import RPC"),
    ("amqpio.robust_connection", "from .transport.protocol import Protocol"),
    ("amqpio._topology", "from .pool import Pool"),
    ("amqpio.patterns.rpc", "from ..transport.protocol import Protocol"),
    ("amqpio.patterns.rpc", "from ..sansio.connection import Connection"),
    ("amqpio.patterns.rpc", "from ..spec import Basic"),
    ("amqpio.patterns.rpc", "from .._url import parse_url"),
    ("amqpio.patterns.rpc", "from .._topology import Topology"),
    ("amqpio.pool", "from .codec import encode_table"),
    ("amqpio.pool", "from amqpio import _url"),
    ("amqpio", "from .codec import FrameReader"),
    ("amqpio", "from .transport.protocol import Protocol"),
    ("amqpio.codec.values", "import numpy"),
    ("amqpio.connection", "import yarl"),
    ("amqpio.codec.values", "from .... import x"),
    ("amqpio.sansio.connection", "import logging"),
    ("amqpio.testing.rabbitmq", "from ..codec import frames"),
    ("amqpio.testing.rabbitmq", "from amqpio import connect"),
    ("amqpio.sansio.connection", "from ..testing.rabbitmq import RabbitNode"),
    ("amqpio.connection", "from .testing import rabbitmq"),
    ("amqpio", "from .testing.rabbitmq import find_broker"),
]


@pytest.mark.parametrize(("module", "source"), VIOLATIONS)
def test_checker_flags_violation(module: str, source: str) -> None:
    errors = check_module(module, source, is_package=module in PACKAGES, known=KNOWN)
    assert len(errors) == 1, errors
    assert errors[0].startswith(module)


ALLOWED: Final = [
    ("amqpio.codec.values", "import struct\nimport datetime\nimport decimal"),
    ("amqpio.codec.table", "from .values import LONG\nfrom . import errors"),
    ("amqpio.codec.table", "from amqpio.codec.errors import EncodeError"),
    ("amqpio.spec.methods", "from ..codec.table import decode_table"),
    (
        "amqpio.spec.methods",
        "from amqpio.codec import errors\nfrom . import properties",
    ),
    (
        "amqpio.sansio.connection",
        "import enum\nfrom ..spec import Basic\nfrom ..codec import FrameReader",
    ),
    ("amqpio.exceptions", "from .spec import ReplyCode"),
    (
        "amqpio.transport.protocol",
        "import asyncio\nimport ssl\nimport socket\nimport time",
    ),
    (
        "amqpio.transport.protocol",
        "from ..sansio.connection import Connection\nfrom ..exceptions import AMQPConnectionError",
    ),
    (
        "amqpio.connection",
        "from .transport.protocol import Protocol\nfrom .sansio.events import ChannelOpened",
    ),
    ("amqpio._url", "from .sansio.config import ConnectionConfig"),
    (
        "amqpio.robust_connection",
        "from .connection import Connection\nfrom ._topology import Topology",
    ),
    (
        "amqpio.robust_channel",
        "from .exceptions import ChannelClosed\nfrom .abc import AbstractChannel",
    ),
    (
        "amqpio.patterns.rpc",
        "from ..abc import AbstractChannel\nfrom ..message import Message",
    ),
    (
        "amqpio.patterns.rpc",
        "from amqpio import connect\nfrom ..exceptions import DeliveryError",
    ),
    (
        "amqpio.patterns.master",
        "from .base import Base\nfrom ..robust_channel import RobustChannel",
    ),
    ("amqpio.pool", "from .abc import AbstractConnection\nimport asyncio"),
    ("amqpio", "from .connection import connect\nfrom . import patterns, pool"),
    ("amqpio.testing.rabbitmq", "import socket\nimport subprocess\nfrom . import x"),
]


@pytest.mark.parametrize(("module", "source"), ALLOWED)
def test_checker_accepts_allowed_imports(module: str, source: str) -> None:
    assert (
        check_module(module, source, is_package=module in PACKAGES, known=KNOWN) == []
    )


def test_relative_imports_resolve_against_the_package_of_an_init() -> None:
    # in amqpio/codec/__init__.py, "." is amqpio.codec itself
    assert (
        check_module("amqpio.codec", "from .errors import DecodeError", is_package=True)
        == []
    )
    assert check_module("amqpio.codec", "from ..spec import Basic", is_package=True)
    # in amqpio/codec/values.py, ".." is amqpio
    assert check_module("amqpio.codec.values", "from ..codec import errors") == []


def test_stdlib_only_checker_flags_amqpio_and_third_party() -> None:
    assert (
        check_stdlib_only("gen", "import xml.etree.ElementTree as ET\nimport difflib")
        == []
    )
    assert check_stdlib_only("gen", "from amqpio.spec import methods")
    assert check_stdlib_only("gen", "import amqpio")
    assert check_stdlib_only("gen", "import jinja2")
    assert check_stdlib_only("gen", "def main():\n    import yaml\n")
