"""src/amqpio/spec/ is exactly what tools/gen_spec.py makes from amqp0-9-1.xml.

The drift check is exercised both ways: the committed tree passes, and a
copy with one change fails with a diff. The copies live under ``tmp_path``;
the real tree is only ever read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from amqpio import spec

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "gen_spec.py"
XML = ROOT / "amqp0-9-1.xml"
SPEC_DIR = ROOT / "src" / "amqpio" / "spec"
XML_SHA256 = hashlib.sha256(XML.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def gen_spec() -> Iterator[ModuleType]:
    """tools/gen_spec.py imported as a module (it is not a package)."""
    module_spec = importlib.util.spec_from_file_location("gen_spec", GENERATOR)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    # dataclasses resolve annotations through sys.modules[cls.__module__]
    sys.modules["gen_spec"] = module
    try:
        module_spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["gen_spec"]


@pytest.fixture
def real_tree_snapshot() -> Iterator[None]:
    """Fail if a test changed anything in the real src/amqpio/spec/."""
    before = {p.name: p.read_bytes() for p in SPEC_DIR.glob("*.py")}
    yield
    after = {p.name: p.read_bytes() for p in SPEC_DIR.glob("*.py")}
    assert after == before, "a test modified the real src/amqpio/spec/"


def generated_files() -> list[Path]:
    return sorted(SPEC_DIR.glob("*.py"))


def test_check_passes_on_the_committed_tree() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_generator_emits_exactly_the_committed_files(gen_spec: ModuleType) -> None:
    files = gen_spec.generate(XML.read_bytes())
    assert sorted(files) == [p.name for p in generated_files()]


def _alter_one_line(out: Path) -> list[str]:
    path = out / "methods.py"
    lines = path.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if 'NAME: ClassVar[str] = "' in line)
    original = lines[index]
    lines[index] = original.replace('"', "'")
    path.write_text("".join(lines))
    return [f"-{lines[index]}", f"+{original}"]


def _delete_a_file(out: Path) -> list[str]:
    path = out / "properties.py"
    first = path.read_text().splitlines(keepends=True)[0]
    path.unlink()
    return [f"--- {path} (on disk)\n", f"+{first}"]


def _add_a_file(out: Path) -> list[str]:
    (out / "extra.py").write_text("X = 1\n")
    return ["unexpected file in spec/: extra.py\n"]


@pytest.mark.parametrize(
    "mutate",
    [_alter_one_line, _delete_a_file, _add_a_file],
    ids=["altered-line", "deleted-file", "extra-file"],
)
def test_check_fails_with_a_diff_on_drift(
    gen_spec: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    real_tree_snapshot: None,
    mutate: Callable[[Path], list[str]],
) -> None:
    out = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, out, ignore=shutil.ignore_patterns("__pycache__"))
    # the untouched copy passes, so what fails below is the mutation
    assert gen_spec.main(["--check", "--xml", str(XML), "--out", str(out)]) == 0
    capsys.readouterr()

    expected_lines = mutate(out)
    assert gen_spec.main(["--check", "--xml", str(XML), "--out", str(out)]) == 1

    captured = capsys.readouterr()
    printed = captured.out.splitlines(keepends=True)
    for line in expected_lines:
        assert line in printed, captured.out
    assert "spec/ has drifted" in captured.err


def test_writing_into_an_empty_directory_reproduces_the_tree(
    gen_spec: ModuleType, tmp_path: Path, real_tree_snapshot: None
) -> None:
    out = tmp_path / "spec"
    assert gen_spec.main(["--xml", str(XML), "--out", str(out)]) == 0
    written = {p.name: p.read_bytes() for p in out.glob("*.py")}
    committed = {p.name: p.read_bytes() for p in generated_files()}
    assert written == committed


def test_generation_is_deterministic_and_path_free(gen_spec: ModuleType) -> None:
    xml = XML.read_bytes()
    first = gen_spec.generate(xml)
    assert gen_spec.generate(xml) == first
    for name, text in first.items():
        assert str(ROOT) not in text, name
        assert "\r" not in text, name
        assert text.endswith("\n") and not text.endswith("\n\n"), name


@pytest.mark.parametrize("path", generated_files(), ids=lambda p: p.name)
def test_line_one_marks_the_file_as_generated(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ")
    assert "tools/gen_spec.py" in first
    assert "amqp0-9-1.xml" in first
    assert XML_SHA256 in first
    assert "do not edit" in first


def test_spec_sha256_is_the_hash_of_the_xml() -> None:
    assert spec.SPEC_SHA256 == XML_SHA256


def test_generated_code_is_formatted_and_lint_clean() -> None:
    pytest.importorskip("ruff")
    for command in (["format", "--check"], ["check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, str(SPEC_DIR)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
