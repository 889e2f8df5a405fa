"""FastStream on amqpio: the same FastStream code on amqpio and on the real aio-pika.

What this proves: a FastStream (``faststream[rabbit]``) application that calls
``amqpio.install_as_aio_pika()`` before importing FastStream runs on amqpio,
and every check of ``faststream_checks.py`` (publishing, ack policies,
request/reply, exchanges, middleware and dependency injection,
``TestRabbitBroker``, broker life cycle and reconnection, ``get_one`` and
iteration) observes exactly what it observes on the real aio-pika, and what
``faststream_expected.py`` says it should.

``install_as_aio_pika()`` changes the whole process and this pytest process
compares amqpio against the real aio-pika elsewhere, so nothing here installs
it: every scenario runs in a child process (``faststream_scenarios.py``) once
per library, with a hard timeout and its own queue names. When a child has
exited, the test process looks at what it left in its queues with the real
aio-pika (a referee independent of amqpio) and deletes its queues and
exchanges. The children of all selected scenarios start at once, a few at a
time, when the first test needs one.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aio_pika.exceptions
import pytest

from amqpio.testing.rabbitmq import Broker
from helpers.reference import AIO_PIKA_10

from .faststream_expected import EXPECTED, LEFT_IN_BROKER

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).with_name("faststream_scenarios.py")
#: hard limit for one child process (a check bounds its own waits to seconds)
CHILD_TIMEOUT = 60.0
#: children running at once (each spends about a second importing FastStream)
PARALLEL = 4
RESULT = "RESULT "


@dataclass(frozen=True)
class Run:
    """One child process: a scenario on one library."""

    scenario: str
    lib: str
    aiormq_alias: bool = False

    def __str__(self) -> str:
        alias = " --aiormq-alias" if self.aiormq_alias else ""
        return f"{self.scenario} --lib {self.lib}{alias}"


@dataclass
class Outcome:
    """What a child reported, and what the referee found in its queues."""

    run: Run
    returncode: int | None
    stderr: str
    result: dict[str, Any] | None
    #: queue (prefix replaced by ``P``) -> messages left in it, for the
    #: queues that were not empty (or are missing: ``"absent"``)
    broker: dict[str, Any] = field(default_factory=dict)

    def report(self) -> str:
        tail = self.stderr[-6000:]
        return f"[{self.run}] exit status {self.returncode}; stderr (end):\n{tail}"

    def checks(self) -> dict[str, Any]:
        assert self.result is not None, self.report()
        checks: dict[str, Any] = self.result["checks"]
        return checks

    def value(self, check: str) -> Any:
        checks = self.checks()
        assert check in checks, f"{check!r} did not run\n{self.report()}"
        return checks[check]

    def left_in_broker(self, check: str) -> dict[str, Any]:
        prefix = f"P.{check}."
        return {q: m for q, m in self.broker.items() if q.startswith(prefix)}


def run_child(url: str, run: Run) -> Outcome:
    """Run one scenario in a child process, then referee and clean up."""
    prefix = f"compat.{uuid.uuid4().hex[:12]}.{run.lib}"
    args = [sys.executable, str(RUNNER), run.scenario, "--lib", run.lib]
    args += ["--url", url, "--prefix", prefix]
    if run.aiormq_alias:
        args.append("--aiormq-alias")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=env
        )
        returncode: int | None = done.returncode
        stdout, stderr = done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:  # the child was killed
        returncode = None
        stdout = _text(exc.stdout)
        stderr = _text(exc.stderr) + f"\nkilled after {CHILD_TIMEOUT:g} s"
    result = None
    for line in stdout.splitlines():
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT) :])
    outcome = Outcome(run, returncode, stderr, result)
    if result is not None:
        outcome.broker = asyncio.run(
            referee(url, prefix, result["queues"], result["exchanges"])
        )
    return outcome


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


async def referee(
    url: str, prefix: str, queues: list[str], exchanges: list[str]
) -> dict[str, Any]:
    """What is left in ``queues``, read with the real aio-pika; then delete all.

    A message is its body, or ``[body, reason, queue]`` when it was
    dead-lettered (from its first ``x-death`` entry). Empty queues are left
    out; a queue the child declared but that is gone is ``"absent"``.
    """
    assert aio_pika.__name__ == "aio_pika", "the referee must be the real aio-pika"
    state: dict[str, Any] = {}
    connection = await aio_pika.connect(url)
    async with connection:
        for name in dict.fromkeys(queues):
            key = name.replace(prefix, "P")
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                state[key] = "absent"
                continue
            messages = []
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                messages.append(_left(message, prefix))
            if messages:
                state[key] = sorted(messages, key=json.dumps)
            await queue.delete(if_unused=False, if_empty=False)
            await channel.close()
        channel = await connection.channel()
        for name in dict.fromkeys(exchanges):
            await channel.exchange_delete(name)
    return state


def _left(message: aio_pika.abc.AbstractIncomingMessage, prefix: str) -> Any:
    body = message.body.decode(errors="replace")
    deaths = (message.headers or {}).get("x-death")
    if not isinstance(deaths, list) or not deaths:
        return body
    death = deaths[0]
    assert isinstance(death, dict)
    return [body, str(death["reason"]), str(death["queue"]).replace(prefix, "P")]


class Runs:
    """The child processes of the selected scenarios, started on first use."""

    def __init__(self, url: str, runs: list[Run]) -> None:
        self.url = url
        self.pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="faststream")
        self.futures: dict[Run, Future[Outcome]] = {
            run: self.pool.submit(run_child, url, run) for run in runs
        }

    def get(self, run: Run) -> Outcome:
        if run not in self.futures:  # not foreseen from the collected tests
            self.futures[run] = self.pool.submit(run_child, self.url, run)
        return self.futures[run].result()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _selected_runs(items: list[pytest.Item]) -> list[Run]:
    runs: dict[Run, None] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or item.module is None or item.module.__name__ != __name__:
            continue
        for run in callspec.params.get("runs", ()):
            runs[run] = None
    return list(runs)


@pytest.fixture(scope="module")
def faststream_runs(rabbitmq: Broker, request: pytest.FixtureRequest) -> Iterator[Runs]:
    runs = Runs(rabbitmq.url, _selected_runs(request.session.items))
    try:
        yield runs
    finally:
        runs.close()


def pair(scenario: str, *, aiormq_alias: bool = False) -> tuple[Run, Run]:
    """The amqpio run and the aio-pika (reference) run of a scenario."""
    return Run(scenario, "amqpio", aiormq_alias), Run(scenario, "aio_pika")


def canonical(value: Any) -> str:
    """JSON text: unlike ``==``, tells ``True`` from ``1`` and ``1`` from ``1.0``."""
    return json.dumps(value, sort_keys=True)


def assert_same(observed: Any, expected: Any, what: str, outcome: Outcome) -> None:
    assert observed == expected, f"{what}\n{outcome.report()}"
    assert canonical(observed) == canonical(expected), f"{what} (types differ)"


# --------------------------------------------------------------------------- tests

#: (scenario, check) -> why amqpio fails it; each one is an amqpio bug
KNOWN_BUGS: dict[tuple[str, str], str] = {}
#: the same, with ``install_as_aio_pika(aiormq=True)``
KNOWN_BUGS_WITH_AIORMQ_ALIAS: dict[tuple[str, str], str] = {}
#: Scenarios compared only with ``install_as_aio_pika(aiormq=True)``: faststream
#: depends on the real aiormq, which ``install_as_aio_pika()`` leaves alone by
#: default, so ``aiormq.exceptions``/``aiormq.spec`` are then aiormq's own
#: classes (``test_default_install_leaves_the_real_aiormq_alone``).
ALIAS_ONLY = ("aiormq",)


def _marks(
    scenario: str, check: str, bugs: dict[tuple[str, str], str]
) -> list[pytest.MarkDecorator]:
    reason = bugs.get((scenario, check))
    return [] if reason is None else [pytest.mark.xfail(strict=True, reason=reason)]


CHECKS = [
    pytest.param(
        pair(scenario),
        check,
        id=f"{scenario}-{check}",
        marks=_marks(scenario, check, KNOWN_BUGS),
    )
    for scenario, checks in EXPECTED.items()
    if scenario not in ALIAS_ONLY
    for check in checks
]


@pytest.mark.parametrize(("runs", "check"), CHECKS)
def test_same_observations_as_aio_pika(
    faststream_runs: Runs, runs: tuple[Run, Run], check: str
) -> None:
    """amqpio observes what FastStream defines and what aio-pika observes."""
    amqpio_run, reference_run = runs
    amqpio, reference = (
        faststream_runs.get(amqpio_run),
        faststream_runs.get(reference_run),
    )
    expected = EXPECTED[amqpio_run.scenario][check]
    left = LEFT_IN_BROKER.get((amqpio_run.scenario, check), {})

    if not AIO_PIKA_10 and (
        reference.value(check) != expected or reference.left_in_broker(check) != left
    ):
        # aio-pika 9.6 (Python 3.10) fails this check (e.g. pamqp 3 cannot
        # encode every header type): amqpio is held to the expected values
        assert_same(amqpio.value(check), expected, "amqpio differs", amqpio)
        assert_same(
            amqpio.left_in_broker(check), left, "amqpio left in the broker", amqpio
        )
        return
    assert_same(
        reference.value(check), expected, "aio-pika (reference) differs", reference
    )
    assert_same(
        reference.left_in_broker(check), left, "aio-pika left in the broker", reference
    )
    assert_same(amqpio.value(check), reference.value(check), "amqpio differs", amqpio)
    assert_same(
        amqpio.left_in_broker(check),
        reference.left_in_broker(check),
        "amqpio left in the broker differs",
        amqpio,
    )


SCENARIOS = [pytest.param(pair(s), id=s) for s in EXPECTED if s not in ALIAS_ONLY]


@pytest.mark.parametrize("runs", SCENARIOS)
def test_every_check_is_asserted(faststream_runs: Runs, runs: tuple[Run, Run]) -> None:
    """The children ran exactly the checks that have expected values, cleanly."""
    for run in runs:
        outcome = faststream_runs.get(run)
        assert outcome.returncode == 0, outcome.report()
        assert sorted(outcome.checks()) == sorted(EXPECTED[run.scenario])
        unexpected = set(outcome.broker) - {
            queue
            for check in EXPECTED[run.scenario]
            for queue in LEFT_IN_BROKER.get((run.scenario, check), {})
        }
        assert not unexpected, f"messages left in {sorted(unexpected)}"


@pytest.mark.parametrize("runs", SCENARIOS)
def test_faststream_ran_on_the_library_chosen(
    faststream_runs: Runs, runs: tuple[Run, Run]
) -> None:
    """The amqpio child used amqpio for aio_pika and never loaded the real one."""
    amqpio_run, reference_run = runs
    alias = faststream_runs.get(amqpio_run).result
    assert alias is not None, faststream_runs.get(amqpio_run).report()
    assert alias["alias"]["aio_pika"] == "amqpio"
    assert alias["alias"]["raw_message_class"] == "amqpio.message.IncomingMessage"
    assert alias["alias"]["real_aio_pika_modules"] == []
    reference = faststream_runs.get(reference_run).result
    assert reference is not None, faststream_runs.get(reference_run).report()
    assert reference["alias"]["aio_pika"] == "aio_pika"
    assert reference["alias"]["raw_message_class"] == "aio_pika.message.IncomingMessage"
    assert reference["alias"]["amqpio_imported"] is False


@pytest.mark.parametrize("runs", SCENARIOS)
def test_no_warnings_where_aio_pika_logs_none(
    faststream_runs: Runs, runs: tuple[Run, Run]
) -> None:
    """Where aio-pika logs nothing at WARNING or above, amqpio logs nothing either."""
    amqpio_run, reference_run = runs
    amqpio = faststream_runs.get(amqpio_run)
    reference = faststream_runs.get(reference_run)
    assert amqpio.result is not None and reference.result is not None
    extra = {
        check: records
        for check, records in amqpio.result["client_log"].items()
        if records and not reference.result["client_log"].get(check)
    }
    assert extra == {}


#: the scenarios where FastStream or its users touch ``aiormq`` themselves
ALIAS_SCENARIOS = ("testbroker", "aiormq")
ALIAS_CHECKS = [
    pytest.param(
        pair(scenario, aiormq_alias=True),
        check,
        id=f"{scenario}-{check}",
        marks=_marks(scenario, check, KNOWN_BUGS_WITH_AIORMQ_ALIAS),
    )
    for scenario in ALIAS_SCENARIOS
    for check in EXPECTED[scenario]
]


@pytest.mark.parametrize(("runs", "check"), ALIAS_CHECKS)
def test_same_observations_with_aiormq_alias(
    faststream_runs: Runs, runs: tuple[Run, Run], check: str
) -> None:
    """``install_as_aio_pika(aiormq=True)``, for users without the real aiormq:
    TestRabbitBroker builds its fake deliveries with amqpio's
    ``aiormq.abc.DeliveredMessage``, and aiormq's names are amqpio's."""
    amqpio_run, reference_run = runs
    amqpio = faststream_runs.get(amqpio_run)
    assert amqpio.returncode == 0 and amqpio.result is not None, amqpio.report()
    alias = amqpio.result["alias"]
    assert (alias["aio_pika"], alias["aiormq"]) == ("amqpio", "amqpio._aiormq")
    assert alias["real_aio_pika_modules"] == alias["real_aiormq_modules"] == []
    expected = EXPECTED[amqpio_run.scenario][check]
    assert_same(amqpio.value(check), expected, "amqpio differs", amqpio)
    reference = faststream_runs.get(reference_run)
    assert_same(amqpio.value(check), reference.value(check), "amqpio differs", amqpio)
    assert_same(
        amqpio.left_in_broker(check),
        reference.left_in_broker(check),
        "amqpio left in the broker differs",
        amqpio,
    )


def test_default_install_leaves_the_real_aiormq_alone(faststream_runs: Runs) -> None:
    """Without ``aiormq=True`` the installed aiormq stays the real one."""
    outcome = faststream_runs.get(Run("pubsub", "amqpio"))
    assert outcome.result is not None, outcome.report()
    assert outcome.result["alias"]["aiormq"] == "aiormq"
