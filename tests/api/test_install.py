"""``amqpio.install_as_aio_pika()``: third-party ``import aio_pika`` gets amqpio.

The alias changes the whole interpreter, and this test process imports the
real aio-pika for other tests: every check runs in a child interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: In the child: make ``import aiormq`` fail as if it were not installed.
HIDE_AIORMQ = """
import importlib.abc, sys
class _NoAiormq(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "aiormq" or name.startswith("aiormq."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoAiormq())
"""


def run(code: str, *, hide_aiormq: bool = False) -> str:
    source = (HIDE_AIORMQ if hide_aiormq else "") + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_aio_pika_and_its_submodules_are_amqpios_modules() -> None:
    assert (
        run(
            """
            import amqpio
            amqpio.install_as_aio_pika()
            import aio_pika
            import aio_pika.abc
            import aio_pika.patterns.rpc
            from aio_pika.connection import make_url
            from aio_pika.message import IncomingMessage, encode_expiration
            from aio_pika.exceptions import ChannelClosed
            from aio_pika import Message, connect_robust
            import amqpio.connection, amqpio.patterns.rpc

            assert aio_pika is amqpio
            assert aio_pika.abc is amqpio.abc
            assert aio_pika.patterns.rpc is amqpio.patterns.rpc
            assert make_url is amqpio.connection.make_url
            assert IncomingMessage is amqpio.IncomingMessage
            assert ChannelClosed is amqpio.exceptions.ChannelClosed
            assert Message is amqpio.Message and connect_robust is amqpio.connect_robust
            # amqpio's own modules keep their names and specs
            assert amqpio.__spec__.name == "amqpio"
            assert amqpio.abc.__spec__.name == "amqpio.abc"
            assert aio_pika.connection.__name__ == "amqpio.connection"
            try:
                import aio_pika.no_such_module
            except ModuleNotFoundError as error:
                assert error.name == "aio_pika.no_such_module", error.name
            else:
                raise AssertionError("aio_pika.no_such_module imported")
            amqpio.install_as_aio_pika()  # again: harmless
            print("ok")
            """
        )
        == "ok"
    )


def test_aiormq_names_resolve_to_amqpio_when_aiormq_is_missing() -> None:
    out = run(
        """
        import amqpio
        amqpio.install_as_aio_pika()
        import aiormq
        import aiormq.abc
        import aiormq.spec
        from aiormq.exceptions import ChannelInvalidStateError, DeliveryError
        from aiormq import AMQPConnectionError, ChannelNotFoundEntity

        exceptions = amqpio.exceptions
        assert ChannelInvalidStateError is exceptions.ChannelInvalidStateError
        assert DeliveryError is exceptions.DeliveryError
        assert AMQPConnectionError is exceptions.AMQPConnectionError
        assert ChannelNotFoundEntity is exceptions.ChannelNotFoundEntity
        assert aiormq.exceptions is exceptions
        assert aiormq.spec.Basic.Ack is amqpio.spec.Basic.Ack
        delivered = aiormq.abc.DeliveredMessage(
            delivery=amqpio.spec.Basic.Deliver("tag", 3, False, "ex", "rk"),
            header=type("H", (), {"properties": amqpio.spec.BasicProperties()})(),
            body=b"x",
            channel=None,
        )
        message = amqpio.IncomingMessage(delivered)
        assert (message.delivery_tag, message.routing_key) == (3, "rk")
        assert delivered.consumer_tag == "tag"
        try:
            import aiormq.connection
        except ModuleNotFoundError:
            pass
        else:
            raise AssertionError("aiormq.connection imported")
        print("ok")
        """,
        hide_aiormq=True,
    )
    assert out == "ok"


def test_the_real_aiormq_is_left_alone_unless_asked() -> None:
    out = run(
        """
        import amqpio
        amqpio.install_as_aio_pika()
        import aiormq.exceptions
        print(aiormq.exceptions.__name__, aiormq.__name__)
        """
    )
    assert out == "aiormq.exceptions aiormq"
    out = run(
        """
        import amqpio
        amqpio.install_as_aio_pika(aiormq=True)
        import aiormq.exceptions
        print(aiormq.exceptions.__name__, aiormq.__name__)
        """
    )
    assert out == "amqpio.exceptions amqpio._aiormq"


@pytest.mark.parametrize(
    ("imported", "call", "message"),
    [
        ("import aio_pika", "install_as_aio_pika()", "aio_pika"),
        ("import aiormq", "install_as_aio_pika(aiormq=True)", "aiormq is imported"),
    ],
)
def test_installing_after_the_real_library_was_imported_is_refused(
    imported: str, call: str, message: str
) -> None:
    out = run(
        f"""
        {imported}
        import amqpio
        try:
            amqpio.{call}
        except RuntimeError as error:
            print(error)
        """
    )
    assert message in out
    assert "before" in out


def test_third_party_code_importing_aio_pika_runs_on_amqpio() -> None:
    """A module written for aio-pika, imported after the install, uses amqpio."""
    out = run(
        """
        import sys, types
        import amqpio
        amqpio.install_as_aio_pika()
        library = types.ModuleType("some_framework")
        exec(
            "import aio_pika\\n"
            "from aio_pika.abc import AbstractRobustConnection\\n"
            "def kind():\\n"
            "    return aio_pika.RobustConnection.__module__, "
            "issubclass(aio_pika.RobustConnection, AbstractRobustConnection)\\n",
            library.__dict__,
        )
        print(*library.kind())
        """
    )
    assert out == "amqpio.robust_connection True"
