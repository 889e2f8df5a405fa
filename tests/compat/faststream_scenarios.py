"""Run one FastStream scenario in this process, over amqpio or the real aio-pika.

    python tests/compat/faststream_scenarios.py SCENARIO --lib amqpio|aio_pika \\
        --url URL --prefix NAME_PREFIX [--aiormq-alias]

With ``--lib amqpio`` the process calls ``amqpio.install_as_aio_pika()``
before anything imports ``aio_pika``, so FastStream runs on amqpio; with
``--lib aio_pika`` it runs on the real aio-pika, the reference. The checks of
the scenario (``faststream_checks.py``) run one after the other; a failing
check records its error and the others still run. Queue and exchange names
start with ``NAME_PREFIX``. The last line of stdout is ``RESULT `` and a JSON
object::

    {"lib": ..., "alias": {...}, "checks": {check: value},
     "client_log": {check: [[level, logger, message], ...]},
     "queues": [...], "exchanges": [...]}

``alias`` proves which library FastStream used: ``aio_pika``'s module name,
the class FastStream's ``RabbitMessage`` wraps, the modules of the real
aio-pika (and aiormq) packages that were loaded. The amqpio run exits with
status 3 if the alias did not take effect. ``client_log`` holds what the
client libraries logged at WARNING or above during each check.
``--aiormq-alias`` (amqpio only) also replaces ``aiormq`` with amqpio's
stand-in (``install_as_aio_pika(aiormq=True)``), as for a FastStream user
without the real aiormq.

Every wait inside a check is bounded; the test suite also kills the process
after a hard timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

RESULT = "RESULT "
#: bound for one check; the test suite's hard timeout for the process is longer
CHECK_TIMEOUT = 15.0


def installed_package(package: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    for entry in sys.path:
        candidate = Path(entry or ".") / package / "__init__.py"
        if candidate.is_file():
            return candidate.parent.resolve()
    return None


def loaded_from(directory: Path | None) -> list[str]:
    if directory is None:
        return []
    loaded = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(directory):
            loaded.append(name)
    return sorted(loaded)


def alias_report() -> dict[str, Any]:
    aio_pika = sys.modules["aio_pika"]
    message = importlib.import_module("faststream.rabbit.message")
    wrapped = message.RabbitMessage.__orig_bases__[0].__args__[0]
    aiormq = sys.modules.get("aiormq")
    return {
        "aio_pika": aio_pika.__name__,
        "raw_message_class": f"{wrapped.__module__}.{wrapped.__qualname__}",
        "real_aio_pika_modules": loaded_from(installed_package("aio_pika")),
        "real_aiormq_modules": loaded_from(installed_package("aiormq")),
        "amqpio_imported": "amqpio" in sys.modules,
        "aiormq": None if aiormq is None else aiormq.__name__,
    }


class ClientLog(logging.Handler):
    """WARNING and above from the AMQP client libraries, per check."""

    CLIENTS = frozenset({"aio_pika", "aiormq", "amqpio", "pamqp"})

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.partition(".")[0] in self.CLIENTS:
            first_line = record.getMessage().partition("\n")[0][:200]
            self.records.append([record.levelname, record.name, first_line])


async def run_checks(scenario: str, url: str, prefix: str) -> dict[str, Any]:
    checks = importlib.import_module("faststream_checks")
    queues: list[str] = []
    exchanges: list[str] = []
    results: dict[str, Any] = {}
    logs: dict[str, Any] = {}
    failures: list[str] = []
    client_log = ClientLog()
    logging.getLogger().addHandler(client_log)
    for name, fn in checks.SCENARIOS[scenario].items():
        run = checks.Run(url, prefix, name, queues, exchanges)
        client_log.records = logs[name] = []
        try:
            results[name] = run.norm(await asyncio.wait_for(fn(run), CHECK_TIMEOUT))
        except Exception as exc:
            failures.append(f"--- check {scenario}.{name} failed:\n")
            failures.append(traceback.format_exc())
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    # the tracebacks last, where the test's report shows the end of stderr
    print("".join(failures), file=sys.stderr, end="")
    return {
        "checks": results,
        "client_log": logs,
        "queues": queues,
        "exchanges": exchanges,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--lib", choices=("amqpio", "aio_pika"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--aiormq-alias", action="store_true")
    args = parser.parse_args(argv)

    if args.lib == "amqpio":
        amqpio = importlib.import_module("amqpio")
        amqpio.install_as_aio_pika(aiormq=True if args.aiormq_alias else None)
    elif args.aiormq_alias:
        parser.error("--aiormq-alias needs --lib amqpio")

    result: dict[str, Any] = {"lib": args.lib}
    result.update(asyncio.run(run_checks(args.scenario, args.url, args.prefix)))
    result["alias"] = alias = alias_report()
    print(RESULT + json.dumps(result, sort_keys=True), flush=True)

    if args.lib == "amqpio" and (
        alias["aio_pika"] != "amqpio"
        or alias["real_aio_pika_modules"]
        or (args.aiormq_alias and alias["real_aiormq_modules"])
    ):
        print(f"install_as_aio_pika() did not take effect: {alias}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
