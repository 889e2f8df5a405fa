"""Issue 3, item 8: the core imports nothing but the stdlib, spec and codec."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import amqpio.sansio

FORBIDDEN = {"asyncio", "socket", "ssl", "time", "logging", "selectors", "threading"}
SANSIO = pathlib.Path(amqpio.sansio.__file__).parent


def imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_sansio_imports_only_spec_codec_and_stdlib() -> None:
    modules = sorted(SANSIO.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for level, name in imported_modules(path):
            top = name.split(".")[0]
            if level == 0:
                assert top not in FORBIDDEN, (path.name, name)
                assert top != "amqpio", (path.name, name)
            elif level == 2:
                assert top in {"spec", "codec"}, (path.name, name)
            else:
                assert level == 1, (path.name, name)


def test_importing_the_core_loads_no_io_module() -> None:
    # ``time`` is loaded by the interpreter itself (zipimport): compare with
    # what was there before the import.
    # The package facade (amqpio/__init__.py) loads the asyncio API on purpose;
    # a bare package module stands in for it so only the core is measured.
    package_dir = str(SANSIO.parent)
    code = (
        "import sys, types\n"
        "before = set(sys.modules)\n"
        "package = types.ModuleType('amqpio')\n"
        f"package.__path__ = [{package_dir!r}]\n"
        "sys.modules['amqpio'] = package\n"
        "import amqpio.sansio\n"
        f"bad = {sorted(FORBIDDEN)!r}\n"
        "print([m for m in bad if m in set(sys.modules) - before])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
