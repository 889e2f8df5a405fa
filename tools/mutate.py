"""Mutation testing per package: each package's mutants against its own tests.

``make mutate`` (or ``python tools/mutate.py [package ...]``) runs mutmut once
per package in a scratch copy of the tree under ``.mutate/<package>/``, with a
``[tool.mutmut]`` section naming that package's files and the tests that
prove it (no broker: the codec's and spec's tests for the codec, the core's for
the core, the transport's fakes for the transport, the robust fake servers for
the robust layer). A package judged by every test that happens to reach it
would take hours: a publish mutant is reached by a thousand tests.

The scratch copies persist, so a re-run checks only what changed (``--recheck``
also checks the last run's survivors again, after tests were added). The table
printed at the end (``--report`` prints it alone) is the one in
``docs/mutation.md``; ``--survivors`` lists what no test caught.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutate"

#: package -> (files to mutate, test paths, share of mutants to catch)
PACKAGES: dict[str, tuple[list[str], list[str], float]] = {
    "codec": (["src/amqpio/codec/*"], ["tests/codec", "tests/spec"], 0.85),
    "sansio": (["src/amqpio/sansio/*"], ["tests/sansio"], 0.85),
    "transport": (["src/amqpio/transport/*"], ["tests/transport"], 0.75),
    "robust": (["src/amqpio/robust_*"], ["tests/robust"], 0.75),
}

# mutmut's exit codes (mutmut/stats.py): a failing or timed-out test run
# caught the mutant; 0 survived, 5/33 no test reached it (counted as survived)
CAUGHT = {1, 3, 24, -24, 36, 37, 152, 255}
MISSED = {0, 5, 33}

COPY = ["src", "tests", "tools", "amqp0-9-1.xml", "pyproject.toml"]

# mutmut's trampolines import threading, which the core's import check forbids
DESELECT = "tests/sansio/test_imports.py::test_importing_the_core_loads_no_io_module"


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def prepare(package: str) -> Path:
    """The scratch tree of ``package``, refreshed from the working tree."""
    files, tests, _ = PACKAGES[package]
    tree = WORK / package
    tree.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        source, target = ROOT / name, tree / name
        if source.is_dir():
            shutil.copytree(
                source,
                target,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy2(source, target)
    pyproject = (tree / "pyproject.toml").read_text()
    pyproject = pyproject.split("\n[tool.mutmut]")[0].rstrip() + "\n"
    pyproject += f"""
[tool.mutmut]
source_paths = ["src/amqpio"]
only_mutate = {_toml_list(files)}
pytest_add_cli_args_test_selection = {_toml_list(tests)}
pytest_add_cli_args = ["-q", "--timeout=20", "--deselect={DESELECT}"]
also_copy = ["amqp0-9-1.xml", "tools"]
"""
    (tree / "pyproject.toml").write_text(pyproject)
    return tree


def forget_survivors(package: str) -> int:
    """Mark the survivors of the last run unchecked (after tests were added,
    mutmut would otherwise keep their old verdict); return how many."""
    count = 0
    for meta in (WORK / package / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        verdicts = data["exit_code_by_key"]
        for name, code in verdicts.items():
            if code in MISSED:
                verdicts[name] = None
                count += 1
        meta.write_text(json.dumps(data))
    return count


def run(package: str, jobs: int, recheck: bool) -> int:
    tree = prepare(package)
    if recheck:
        print(f"{package}: {forget_survivors(package)} survivors to check again")
    print(f"== mutmut: {package} ({tree})", flush=True)
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)]
    return subprocess.call(command, cwd=tree)


def results(package: str) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    survivors: list[str] = []
    for meta in sorted((WORK / package / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code is None:
                counts["not run"] += 1
            elif code in CAUGHT:
                counts["caught"] += 1
            elif code in MISSED:
                counts["survived"] += 1
                survivors.append(name)
            else:  # segfault, suspicious: neither proven caught nor missed
                counts["other"] += 1
    return counts, survivors


def report(packages: list[str], list_survivors: bool) -> bool:
    """Print the score table; return True when every package meets its target."""
    print("| package | tests | mutants | caught | survived | score | target |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ok = True
    for package in packages:
        _, tests, target = PACKAGES[package]
        counts, _ = results(package)
        judged = counts["caught"] + counts["survived"]
        score = counts["caught"] / judged if judged else 0.0
        ok = ok and bool(judged) and score >= target and not counts["not run"]
        print(
            f"| {package} | {', '.join(tests)} | {sum(counts.values())} "
            f"| {counts['caught']} | {counts['survived']} | {score:.1%} "
            f"| {target:.0%} |"
        )
        if counts["not run"] or counts["other"]:
            print(f"  ({counts['not run']} not run, {counts['other']} other)")
    if list_survivors:
        for package in packages:
            for name in results(package)[1]:
                print(f"{package}\t{name}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help=f"of {', '.join(PACKAGES)}")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="only the table")
    parser.add_argument(
        "--recheck", action="store_true", help="check the survivors again"
    )
    parser.add_argument("--survivors", action="store_true", help="list survivors")
    args = parser.parse_args()
    packages = args.packages or list(PACKAGES)
    unknown = set(packages) - set(PACKAGES)
    if unknown:
        parser.error(f"unknown package(s): {', '.join(sorted(unknown))}")
    if not args.report:
        for package in packages:
            if run(package, args.jobs, args.recheck) != 0:
                print(f"mutmut failed on {package}", file=sys.stderr)
                return 1
    return 0 if report(packages, args.survivors) else 1


if __name__ == "__main__":
    sys.exit(main())
