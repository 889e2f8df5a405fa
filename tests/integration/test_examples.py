"""The seed's aio-pika 6.8.2 examples (``examples/``), run unchanged against amqpio.

Each scenario runs one example, or a consumer/producer pair, as subprocesses
through :mod:`tests.integration.example_runner` (``import aio_pika`` resolves
to amqpio, connections are routed to the session broker), feeds it what it
needs, and asserts on its output and on the broker's state, observed through
a separate amqpio connection. Every process a scenario starts is stopped at
the end (SIGINT, SIGTERM, SIGKILL). Queues and exchanges the examples use are
deleted before and after each scenario.

Two seed examples cannot run as printed whatever amqpio does
(:class:`SeedCodeError`); see ``examples/README.md``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import amqpio
from amqpio.exceptions import ChannelClosed
from amqpio.testing.rabbitmq import Broker, BrokerUnsupported

from .example_runner import (
    EXAMPLES,
    ROOT,
    ExampleProcess,
    MissingFeature,
    SeedCodeError,
    example_env,
    example_path,
    failure,
)

SEED = ROOT.parent / "shared" / "seed" / "aio-pika-6.8.2-docs.txt"
HEADER = "# aio-pika 6.8.2 documentation, "
#: Names the examples declare; deleted before and after every scenario.
QUEUES = (
    "hello",
    "task_queue",
    "rpc_queue",
    "test_queue",
    "test",
    "pool_queue",
    "my_task_name",
    "multiply",
)
EXCHANGES = ("logs", "topic_logs", "direct")


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class QueueState:
    messages: int
    consumers: int


class Examples:
    """What a scenario gets: example processes plus a view of the broker."""

    def __init__(self, broker: Broker, cwd: Path) -> None:
        self.broker = broker
        self.url = broker.url
        tls_url = broker.tls_url if broker.has_tls else None
        self.env = example_env(self.url, tls_url)
        self.cwd = cwd
        self.processes: list[ExampleProcess] = []

    # -- processes -----------------------------------------------------------------

    def start(self, name: str, *args: str) -> ExampleProcess:
        """Start ``examples/NAME.py ARGS`` (stopped at the end of the test)."""
        process = ExampleProcess(name, *args, env=self.env, cwd=self.cwd)
        self.processes.append(process)
        return process

    def run(self, name: str, *args: str, timeout: float = 30.0) -> ExampleProcess:
        """Run an example to completion; it must exit with status 0."""
        process = self.start(name, *args)
        process.wait(timeout)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    # -- the broker, through a separate amqpio connection ----------------------------

    def _call(self, function: Callable[[amqpio.Connection], Any]) -> Any:
        async def main() -> Any:
            connection = await amqpio.connect(self.url)
            try:
                return await function(connection)
            finally:
                await connection.close()

        return asyncio.run(main())

    @staticmethod
    async def _state(connection: amqpio.Connection, name: str) -> QueueState | None:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelClosed:
            return None
        result = queue.declaration_result
        await channel.close()
        return QueueState(result.message_count, result.consumer_count)

    def queue_state(self, name: str) -> QueueState | None:
        """Ready messages and consumers of a queue (``None``: no such queue)."""
        state: QueueState | None = self._call(lambda c: self._state(c, name))
        return state

    def wait_queue(
        self,
        name: str,
        *,
        consumers: int | None = None,
        messages: int | None = None,
        watch: Sequence[ExampleProcess] = (),
        timeout: float = 15.0,
    ) -> QueueState:
        """Wait until the queue exists with that many consumers/ready messages.

        The ``watch``ed processes must keep running meanwhile.
        """

        async def poll(connection: amqpio.Connection) -> QueueState | None:
            deadline = time.monotonic() + timeout
            state = None
            while time.monotonic() < deadline:
                for process in watch:
                    process.assert_running()
                state = await self._state(connection, name)
                if (
                    state is not None
                    and consumers in (None, state.consumers)
                    and messages in (None, state.messages)
                ):
                    return state
                await asyncio.sleep(0.05)
            return state

        state = self._call(poll)
        if (
            state is None
            or consumers not in (None, state.consumers)
            or messages not in (None, state.messages)
        ):
            for process in watch:
                process.assert_running()
            raise AssertionError(
                f"queue {name!r}: {state} after {timeout:g} s, expected "
                f"consumers={consumers} messages={messages}"
            )
        return state

    def bound_queues(self, exchange: str) -> list[dict[str, Any]] | None:
        """Bindings from ``exchange`` (management API); ``None`` without one."""
        try:
            bindings = self.broker.management_api(
                f"exchanges/%2F/{exchange}/bindings/source"
            )
        except BrokerUnsupported:
            return None
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise
        return [b for b in bindings if b["destination_type"] == "queue"]

    def wait_bindings(
        self,
        exchange: str,
        count: int,
        *,
        watch: Sequence[ExampleProcess] = (),
        timeout: float = 15.0,
    ) -> None:
        """Wait until ``count`` queue bindings leave ``exchange``."""
        deadline = time.monotonic() + timeout
        while True:
            for process in watch:
                process.assert_running()
            bindings = self.bound_queues(exchange)
            if bindings is None:  # no management API: give the consumers time
                time.sleep(3)
                return
            if len(bindings) >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(bindings)} bindings from {exchange!r} after {timeout:g} s, "
                    f"expected {count}"
                )
            time.sleep(0.1)

    def declare_queue(self, name: str, **kwargs: Any) -> None:
        async def declare(connection: amqpio.Connection) -> None:
            channel = await connection.channel()
            await channel.declare_queue(name, **kwargs)
            await channel.close()

        self._call(declare)

    def publish(self, routing_key: str, *bodies: bytes) -> None:
        async def publish(connection: amqpio.Connection) -> None:
            channel = await connection.channel()
            for body in bodies:
                await channel.default_exchange.publish(
                    amqpio.Message(body), routing_key=routing_key
                )
            await channel.close()

        self._call(publish)

    def drain(self, name: str) -> list[bytes]:
        """Get (and ack) every ready message of a queue."""

        async def drain(connection: amqpio.Connection) -> list[bytes]:
            channel = await connection.channel()
            queue = await channel.declare_queue(name, passive=True)
            bodies = []
            while (message := await queue.get(fail=False)) is not None:
                bodies.append(message.body)
                await message.ack()
            await channel.close()
            return bodies

        bodies: list[bytes] = self._call(drain)
        return bodies

    def cleanup(self) -> None:
        """Delete what the examples declare (server-named queues on ``logs`` too)."""
        generated = [
            binding["destination"]
            for exchange in EXCHANGES
            for binding in self.bound_queues(exchange) or ()
            if binding["destination"].startswith("amq.gen-")
        ]

        async def delete(connection: amqpio.Connection) -> None:
            for kind, name in [
                *(("queue", q) for q in (*QUEUES, *generated)),
                *(("exchange", e) for e in EXCHANGES),
            ]:
                channel = await connection.channel()
                try:
                    if kind == "queue":
                        await channel.queue_delete(name)
                    else:
                        await channel.exchange_delete(name)
                except ChannelClosed:
                    continue
                await channel.close()

        self._call(delete)


@pytest.fixture
def examples(rabbitmq: Broker, tmp_path: Path) -> Iterator[Examples]:
    context = Examples(rabbitmq, tmp_path)
    context.cleanup()
    try:
        yield context
    finally:
        context.stop_all()
        context.cleanup()


def lines(process: ExampleProcess) -> list[str]:
    return process.stdout.splitlines()


# --------------------------------------------------------------------------- scenarios


def quick_start_consumer_and_publisher(ex: Examples) -> None:
    """4.1.1 + 4.1.2: the consumer stops at the publisher's "Hello test_queue"."""
    consumer = ex.start("quick_start_simple_consumer")
    ex.wait_queue("test_queue", consumers=1, watch=[consumer])
    ex.run("quick_start_simple_publisher")
    consumer.wait_for(r"^b'Hello test_queue'$")
    consumer.wait(15)
    assert lines(consumer) == ["b'Hello test_queue'"]


def quick_start_asynchronous_message_processing(ex: Examples) -> None:
    """4.1.3: messages processed concurrently (prefetch 100, 1 s each), acked."""
    consumer = ex.start("quick_start_asynchronous_message_processing")
    ex.wait_queue("test_queue", consumers=1, watch=[consumer])
    bodies = [f"task {i}".encode() for i in range(5)]
    started = time.monotonic()
    ex.publish("test_queue", *bodies)
    consumer.wait_for(r"^b'task \d'$", count=5, timeout=10)
    assert sorted(lines(consumer)) == sorted(repr(b) for b in bodies)
    # acked after its 1 s sleep each, all at once rather than one after another
    ex.wait_queue("test_queue", messages=0, consumers=1, watch=[consumer])
    assert time.monotonic() - started < 4.5
    consumer.stop()


def quick_start_transactions(ex: Examples) -> None:
    """4.1.4: 10 + 1 committed messages reach the queue, the rolled back one not."""
    ex.declare_queue("test_queue", auto_delete=True)
    ex.run("quick_start_rabbitmq_transactions")
    expected = [f"Hello #{i}".encode() for i in range(10)] + [b"Hello test_queue"]
    assert ex.drain("test_queue") == expected


def quick_start_get_single_message(ex: Examples) -> None:
    """4.1.5: publish, get, ack, unbind, delete: nothing left behind."""
    process = ex.run("quick_start_get_single_message")
    assert process.stdout == ""
    assert ex.queue_state("test_queue") is None


def quick_start_tornado(ex: Examples) -> None:
    """4.1.6: POST /publish then GET /subscribe returns the body (port 8888)."""
    pytest.importorskip("tornado")
    tornado_round_trip(ex, ex.start("quick_start_tornado"))


def quick_start_tornado_with_its_name_fixed(ex: Examples) -> None:
    """4.1.6 with its one wrong name corrected (``QUEUE.put`` for the seed's
    ``Queue.put``): amqpio on tornado's event loop, end to end."""
    pytest.importorskip("tornado")
    source = example_path("quick_start_tornado").read_text()
    assert source.count("queue.consume(Queue.put,") == 1
    fixed = ex.cwd / "quick_start_tornado_fixed.py"
    fixed.write_text(
        source.replace("queue.consume(Queue.put,", "queue.consume(QUEUE.put,")
    )
    tornado_round_trip(ex, ex.start(fixed))


def tornado_round_trip(ex: Examples, server: ExampleProcess) -> None:
    ex.wait_queue("test", consumers=1, watch=[server])
    deadline = time.monotonic() + 10
    while True:
        server.assert_running()
        try:
            request = urllib.request.Request(
                "http://127.0.0.1:8888/publish", data=b"tornado", method="POST"
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.read() == b"OK"
            break
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with urllib.request.urlopen("http://127.0.0.1:8888/subscribe", timeout=5) as r:
        assert r.read() == b"tornado"


def quick_start_external_credentials(ex: Examples) -> None:
    """4.1.7: TLS with the client certificate files in the working directory."""
    if not ex.broker.has_tls:
        pytest.skip(f"the {ex.broker.kind} broker has no TLS listener")
    shutil.copy(ex.broker.ca_file, ex.cwd / "cacert.pem")
    shutil.copy(ex.broker.client_cert, ex.cwd / "cert.pem")
    shutil.copy(ex.broker.client_key, ex.cwd / "key.pem")
    ex.declare_queue("test_queue", auto_delete=True)
    ex.run("quick_start_external_credentials")
    assert ex.drain("test_queue") == [b"Hello test_queue"]


def quick_start_connection_pooling(ex: Examples) -> None:
    """4.1.8: 10000 publishes through a channel pool, consumed and printed."""
    process = ex.start("quick_start_connection_pooling")
    process.wait_for(r"^IncomingMessage:", count=10000, timeout=60)


def patterns_master_worker(ex: Examples) -> None:
    """4.2.1: 2000 tasks, each rejected or nacked without requeue by the worker."""
    worker = ex.start("patterns_worker")
    ex.wait_queue("my_task_name", consumers=1, watch=[worker])
    ex.run("patterns_master", timeout=60)
    ex.wait_queue("my_task_name", messages=0, consumers=1, watch=[worker])
    assert worker.stdout == ""  # every task_id is even or odd: nothing printed


def patterns_rpc(ex: Examples) -> None:
    """4.2.2: 2000 calls of the callee's multiply, results printed by the caller."""
    callee = ex.start("patterns_rpc_callee")
    ex.wait_queue("multiply", consumers=1, watch=[callee])
    caller = ex.run("patterns_rpc_caller", timeout=60)
    assert lines(caller) == [str(100 * i) for i in range(1000)] * 2
    callee.assert_running()


def patterns_extending(ex: Examples) -> None:
    """4.2.3: the module defining JsonMaster/JsonRPC/JsonGZipRPC runs."""
    process = ex.run("patterns_extending")
    assert process.stdout == ""


def tutorial_1_hello_world(ex: Examples) -> None:
    """send.py -> "hello" -> receive.py, whose callback sleeps 5 s."""
    receiver = ex.start("tutorial_1_hello_world_receive")
    receiver.wait_for(r"^ \[\*\] Waiting for messages\. To exit press CTRL\+C$")
    ex.wait_queue("hello", consumers=1, watch=[receiver])
    sender = ex.run("tutorial_1_hello_world_send")
    assert lines(sender) == [" [x] Sent 'Hello World!'"]
    receiver.wait_for(r"^ \[x\] Received message IncomingMessage:")
    receiver.wait_for(r"^Message body is: b'Hello World!'\nBefore sleep!$")
    receiver.wait_for(r"^After sleep!$", timeout=10)
    assert re.search(r"'routing_key': 'hello'", receiver.stdout)
    assert ex.queue_state("hello") == QueueState(messages=0, consumers=1)


def tutorial_2_work_queues(ex: Examples) -> None:
    """new_task.py x4 -> durable "task_queue" -> two worker.py, round-robin."""
    workers = [ex.start("tutorial_2_work_queues_worker") for _ in range(2)]
    ex.wait_queue("task_queue", consumers=2, watch=workers)
    tasks = ["First message.", "Second message..", "Third message...", "Fourth...."]
    for task in tasks:
        sender = ex.run("tutorial_2_work_queues_new_task", *task.split())
        sent = sender.stdout  # the Message's repr: its info() dict, no body
        assert sent.startswith(" [x] Sent Message:"), sent
        assert f"'body_size': {len(task)}," in sent
        assert "'delivery_mode': <DeliveryMode.PERSISTENT: 2>," in sent
    body = r"^      Message body is: (b'.*')$"
    received: list[str] = []
    deadline = time.monotonic() + 10
    while len(received) < len(tasks) and time.monotonic() < deadline:
        received = [m[1] for w in workers for m in re.finditer(body, w.stdout, re.M)]
        time.sleep(0.05)
    assert sorted(received) == sorted(repr(t.encode()) for t in tasks)
    for worker in workers:  # round-robin: both got some
        assert re.search(body, worker.stdout, re.M), worker.report()
    ex.wait_queue("task_queue", messages=0, consumers=2, watch=workers)


def tutorial_3_publish_subscribe(ex: Examples) -> None:
    """emit_log.py -> fanout "logs" -> two receive_logs.py (both get it)."""
    receivers = [
        ex.start("tutorial_3_publish_subscribe_receive_logs") for _ in range(2)
    ]
    ex.wait_bindings("logs", 2, watch=receivers)
    emitter = ex.run("tutorial_3_publish_subscribe_emit_log", "info:", "it", "works")
    assert emitter.stdout.startswith(" [x] Sent Message:")
    for receiver in receivers:
        receiver.wait_for(r"^\[x\] b'info: it works'$")


def tutorial_4_routing(ex: Examples) -> None:
    """emit_log_direct.py -> direct "logs" -> receivers by severity."""
    errors = ex.start("tutorial_4_routing_receive_logs_direct", "warning", "error")
    infos = ex.start("tutorial_4_routing_receive_logs_direct", "info")
    ex.wait_bindings("logs", 3, watch=[errors, infos])
    emitter = ex.run(
        "tutorial_4_routing_emit_log_direct", "error", "Run. Run. Or it will explode."
    )
    assert lines(emitter) == [" [x] Sent b'Run. Run. Or it will explode.'"]
    errors.wait_for(r"^ \[x\] 'error':b'Run\. Run\. Or it will explode\.'$")
    ex.run("tutorial_4_routing_emit_log_direct", "info", "Just", "saying")
    infos.wait_for(r"^ \[x\] 'info':b'Just saying'$")
    assert "'info'" not in errors.stdout
    assert "'error'" not in infos.stdout


def tutorial_5_topics(ex: Examples) -> None:
    """emit_log_topic.py -> topic "topic_logs" -> "kern.*" and "*.critical"."""
    receiver = ex.start("tutorial_5_topics_receive_logs_topic", "kern.*", "*.critical")
    ex.wait_queue("task_queue", consumers=1, watch=[receiver])
    for key, text in [
        ("kern.critical", "A critical kernel error"),
        ("cron.info", "not for this receiver"),
        ("user.critical", "A critical user error"),
    ]:
        emitter = ex.run("tutorial_5_topics_emit_log_topic", key, *text.split())
        assert emitter.stdout.startswith(" [x] Sent Message:")
    receiver.wait_for(r"^ \[x\] 'user\.critical':b'A critical user error'$")
    assert lines(receiver) == [
        " [*] Waiting for messages. To exit press CTRL+C",
        " [x] 'kern.critical':b'A critical kernel error'",
        " [x] 'user.critical':b'A critical user error'",
    ]


def tutorial_6_rpc(ex: Examples) -> None:
    """rpc_client.py asks rpc_server.py for fib(30) through "rpc_queue"."""
    server = ex.start("tutorial_6_rpc_server")
    ex.wait_queue("rpc_queue", consumers=1, watch=[server])
    client = ex.run("tutorial_6_rpc_client")
    assert lines(client) == [" [x] Requesting fib(30)", " [.] Got 832040"]
    server.wait_for(r"^ \[\.\] fib\(30\)\nRequest complete$")
    ex.wait_queue("rpc_queue", messages=0, consumers=1, watch=[server])


SCENARIOS = [
    quick_start_consumer_and_publisher,
    quick_start_asynchronous_message_processing,
    quick_start_transactions,
    quick_start_get_single_message,
    pytest.param(
        quick_start_tornado,
        marks=pytest.mark.xfail(
            strict=True,  # stays an xfail: the seed's code is wrong
            raises=SeedCodeError,
            reason="the seed's own NameError: make_app() passes Queue.put for "
            "QUEUE.put",
        ),
    ),
    quick_start_tornado_with_its_name_fixed,
    quick_start_external_credentials,
    pytest.param(
        quick_start_connection_pooling,
        marks=pytest.mark.xfail(
            strict=True,
            raises=SeedCodeError,
            reason="the seed's code does not compile (unbalanced ')' in publish()) "
            "and passes coroutines to asyncio.wait (TypeError on Python >= 3.11)",
        ),
    ),
    patterns_master_worker,
    patterns_rpc,
    patterns_extending,
    tutorial_1_hello_world,
    tutorial_2_work_queues,
    tutorial_3_publish_subscribe,
    tutorial_4_routing,
    tutorial_5_topics,
    tutorial_6_rpc,
]


@pytest.mark.integration
@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=lambda s: getattr(s, "__name__", str(s))
)
def test_example(scenario: Callable[[Examples], None], examples: Examples) -> None:
    scenario(examples)


# --------------------------------------------------------------------------- the shim


@pytest.mark.integration
def test_shim_aliases_amqpio_and_routes_connections(
    rabbitmq: Broker, tmp_path: Path
) -> None:
    """aio_pika is amqpio (same module objects) and connect() reaches the test broker."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import asyncio, sys\n"
        "import aio_pika, aio_pika.abc, aio_pika.message, amqpio, amqpio.abc\n"
        "from aio_pika.exceptions import AMQPError\n"
        "assert aio_pika is amqpio and aio_pika.abc is amqpio.abc\n"
        "assert aio_pika.message is sys.modules['amqpio.message']\n"
        "assert amqpio.abc.__spec__.name == 'amqpio.abc'\n"
        "assert 'site-packages' not in aio_pika.__file__\n"
        "async def main():\n"
        "    for kwargs in ({'url': 'amqp://guest:guest@localhost:1/?heartbeat=7'},\n"
        "                   {'host': 'example.invalid', 'port': 1}):\n"
        "        connection = await aio_pika.connect(**kwargs)\n"
        "        print(connection.transport is not None)\n"
        "        await connection.close()\n"
        "asyncio.run(main())\n"
    )
    process = ExampleProcess(script, env=example_env(rabbitmq.url), cwd=tmp_path)
    process.wait(30)
    assert lines(process) == ["True", "True"]


def test_missing_modules_stay_missing(tmp_path: Path) -> None:
    """aio_pika.X is importable exactly when amqpio.X is (no real aio-pika leaks)."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import importlib.util\n"
        "for name in ('abc', 'patterns', 'pool', 'robust_connection', 'nonexistent'):\n"
        "    try:\n"
        "        __import__('aio_pika.' + name)\n"
        "        ours = True\n"
        "    except ModuleNotFoundError:\n"
        "        ours = False\n"
        "    print(name, ours == (importlib.util.find_spec('amqpio.' + name) is not None))\n"
    )
    process = ExampleProcess(script, env=example_env(None), cwd=tmp_path)
    process.wait(30)
    assert all(line.endswith(" True") for line in lines(process)), process.report()


def test_failures_are_classified(tmp_path: Path) -> None:
    env = example_env(None)
    missing = [  # the errors as Python prints them, whatever amqpio has today
        "ImportError(\"cannot import name 'connect_robust' from 'amqpio' (x)\")",
        "AttributeError(\"module 'amqpio' has no attribute 'RobustQueue'\")",
        "ModuleNotFoundError(\"No module named 'aio_pika.pool'\")",
        "ImportError(\"cannot import name 'RPC' from 'amqpio.patterns' (x)\")",
    ]
    cases: dict[str, type[Exception]] = {
        **{f"raise {error}\n": MissingFeature for error in missing},
        "x = (1))\n": SeedCodeError,
        "def f():\n    return Queue.put\nf()\n": SeedCodeError,
        "raise ValueError('amqpio bug')\n": AssertionError,
    }
    for number, (code, expected) in enumerate(cases.items()):
        script = tmp_path / f"case{number}.py"
        script.write_text(code)
        process = ExampleProcess(script, env=env, cwd=tmp_path)
        process.wait(30, expect_rc=None)
        assert type(failure("failed", process)) is expected, process.report()


# --------------------------------------------------------------------------- verbatim


def _normalized(text: str) -> list[str]:
    markers = {"```", "(continues on next page)", "(continued from previous page)"}
    return [
        s
        for s in (line.strip() for line in text.splitlines())
        # a bare number: an empty line of tutorial 6's numbered listings
        if s and s not in markers and not re.fullmatch(r"\d{1,2}", s)
    ]


def _as_amqpio(line: str) -> str:
    # issue 4: the examples differ from the seed in their import lines only,
    # which name amqpio instead of aio_pika
    if line == "import aio_pika":
        return "import amqpio as aio_pika"
    if line.startswith("from aio_pika"):
        return "from amqpio" + line[len("from aio_pika") :]
    return line


def _same(doc_line: str, example_line: str) -> bool:
    # tutorial 6's listings carry Sphinx line numbers ("10        return 1")
    doc_line = _as_amqpio(re.sub(r"^\d{1,2}\s+", "", doc_line))
    return doc_line == example_line


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_is_the_seed_code(path: Path) -> None:
    """Apart from the header, the file is the seed's code line for line.

    Leading whitespace is compared loosely: the seed's text lost indentation
    at page breaks, which the files restore (see examples/README.md).
    """
    if not SEED.exists():
        pytest.skip(f"{SEED} not found")
    header, *body = path.read_text().splitlines()
    assert header.startswith(HEADER)
    code = _normalized("\n".join(body))
    doc = _normalized(SEED.read_text())
    assert code
    assert any(
        all(_same(doc[start + i], line) for i, line in enumerate(code))
        for start in range(len(doc) - len(code) + 1)
    ), f"{path.name} is not a verbatim block of {SEED.name}"


def test_every_example_is_documented() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for path in EXAMPLE_FILES:
        assert f"`{path.name}`" in readme, path.name
