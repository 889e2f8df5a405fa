"""URL objects: ``make_url()``, ``Connection.url`` and amqpio's yarl stand-in.

``amqpio.connection.make_url`` is compared with aio-pika's on the same
arguments; :class:`SimpleURL` (used when yarl is not installed) is compared
with ``yarl.URL`` on every reading and building operation aio-pika users use;
``connect()`` hands a custom ``connection_class`` what aio-pika hands it.
A child interpreter with yarl hidden proves the fallback is what users get.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from typing import Any

import aio_pika
import aio_pika.connection
import pytest
from yarl import URL as YarlURL

import amqpio
from amqpio._url_object import URL, SimpleURL, to_url
from amqpio.connection import Connection, make_url
from helpers.reference import needs_aio_pika_10

URLS = [
    "amqp://guest:guest@localhost/",
    "amqp://guest:guest@localhost:5672//",
    "amqps://us%40er:p%3Aw@host:5999/v%2Fh?a=1&b=x%20y",
    "amqp://h",
    "amqp://u@h/vh",
    "amqp://u:p@[::1]:5673/v",
    "amqp://u:p@h1,h2:5673/v?heartbeat=5",
    "AMQP://User:Pw@HOST:1/Vh?Name=My%20Conn",
    "amqp://h/?a=1&a=2",
]


def readings(url: Any) -> dict[str, Any]:
    return {
        "str": str(url),
        "scheme": url.scheme,
        "user": url.user,
        "password": url.password,
        "host": url.host,
        "port": url.port,
        "path": url.path,
        "query": dict(url.query),
        "query_string": url.query_string,
    }


@pytest.mark.parametrize("text", URLS)
def test_simple_url_reads_as_yarl_does(text: str) -> None:
    assert readings(SimpleURL(text)) == readings(YarlURL(text))


BUILDS: list[dict[str, Any]] = [
    {"scheme": "amqp", "host": "localhost", "port": 5672, "path": "//"},
    {
        "scheme": "amqps",
        "host": "h",
        "port": 1,
        "user": "gu@st",
        "password": "p/w:x",
        "path": "/vh",
        "query": {"a": 1, "b": "x y", "c": 1.5},
    },
    {"scheme": "amqp", "host": "::1", "port": 1, "path": "/"},
    {"scheme": "amqp", "host": "h", "user": "u", "path": "/a b"},
]


@pytest.mark.parametrize("parts", BUILDS)
def test_simple_url_builds_as_yarl_does(parts: dict[str, Any]) -> None:
    assert readings(SimpleURL.build(**parts)) == readings(YarlURL.build(**parts))


CHANGES: list[tuple[str, Any]] = [
    ("with_user", None),
    ("with_user", "someone"),
    ("with_password", None),
    ("with_password", "******"),
    ("with_password", "new/secret@"),
    ("with_host", "other"),
    ("with_port", 8),
    ("with_path", "/x"),
    ("with_scheme", "amqps"),
    ("with_query", {"b": 2}),
    ("with_query", None),
    ("update_query", {"b": 2, "a": 3}),
    ("update_query", {"f": 1.5, "i": 7, "s": "x y"}),
    ("update_query", "c=3"),
]


@pytest.mark.parametrize("text", URLS[:4] + URLS[7:])
@pytest.mark.parametrize(("method", "argument"), CHANGES)
def test_simple_url_changes_as_yarl_does(text: str, method: str, argument: Any) -> None:
    ours = getattr(SimpleURL(text), method)(argument)
    theirs = getattr(YarlURL(text), method)(argument)
    assert readings(ours) == readings(theirs)


@pytest.mark.parametrize("value", [True, None, object()])
def test_simple_url_refuses_what_yarl_refuses_in_a_query(value: Any) -> None:
    with pytest.raises(TypeError):
        YarlURL("amqp://h/").update_query({"a": value})
    with pytest.raises(TypeError):
        SimpleURL("amqp://h/").update_query({"a": value})


def test_simple_url_equality_hash_and_repr() -> None:
    url = SimpleURL("amqp://u:p@h/vh")
    assert url == SimpleURL("amqp://u:p@h/vh")
    assert url == "amqp://u:p@h/vh"
    assert url == YarlURL("amqp://u:p@h/vh")
    assert url != SimpleURL("amqp://u:p@h/other")
    assert hash(url) == hash(SimpleURL("amqp://u:p@h/vh"))
    assert repr(url) == "URL('amqp://u:p@h/vh')"
    assert url.with_password("******").human_repr() == "amqp://u:******@h/vh"


def test_url_is_yarl_when_yarl_is_installed() -> None:
    assert URL is YarlURL
    assert isinstance(make_url(), YarlURL)
    assert to_url(SimpleURL("amqp://h/")) == YarlURL("amqp://h/")


MAKE_URL_CASES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    (("amqp://u:p@h/vh",), {}),
    ((YarlURL("amqp://u:p@h/vh?x=1"),), {"heartbeat": 5, "flag": True}),
    (
        (),
        {
            "host": "broker",
            "port": 5999,
            "login": "us@er",
            "password": "p:w/x",
            "virtualhost": "vh",
            "ssl": True,
            "ssl_options": {"cafile": "/ca.pem", "no_verify_ssl": False},
            "client_properties": {"connection_name": "me"},
            "name": None,
            "reconnect_interval": 1.5,
        },
    ),
    (("amqps://h/",), {"ssl_options": {"cert_reqs": ssl.CERT_NONE}}),
]


@needs_aio_pika_10  # 9.6 ignores the keywords when given a URL
@pytest.mark.parametrize(("args", "kwargs"), MAKE_URL_CASES)
def test_make_url_equals_aio_pikas(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours = make_url(*args, **kwargs)
    theirs = aio_pika.connection.make_url(*args, **kwargs)
    assert type(ours) is type(theirs)
    assert ours == theirs


class Recorder:
    """A connection_class that records what connect() passes it."""

    calls: list[tuple[Any, dict[str, Any]]]

    def __init__(self, url: Any, **kwargs: Any) -> None:
        type(self).calls.append((url, kwargs))

    async def connect(self, timeout: Any = None) -> None:
        type(self).calls.append(("connect", {"timeout": timeout}))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (
            (),
            {
                "host": "broker",
                "port": 5999,
                "login": "u",
                "password": "p",
                "virtualhost": "vh",
                "ssl": True,
                "ssl_options": {"cafile": "/ca.pem"},
                "timeout": 3,
                "client_properties": {"connection_name": "me"},
                "reconnect_interval": 2,
            },
        ),
        (("amqp://u:p@h/vh?heartbeat=5",), {"name": "x"}),
    ],
)
@needs_aio_pika_10
async def test_connect_hands_connection_class_what_aio_pika_hands_it(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    records = []
    for connect in (amqpio.connect, aio_pika.connect):
        recorder = type("R", (Recorder,), {"calls": []})
        await connect(*args, connection_class=recorder, **kwargs)
        (url, passed), connected = recorder.calls
        passed.pop("loop")
        records.append((str(url), type(url), passed, connected))
    assert records[0] == records[1]


async def test_connection_url_is_the_url_object() -> None:
    connection = Connection(make_url(host="h", port=1, password="secret"))
    assert isinstance(connection.url, YarlURL)
    assert connection.url.password == "secret"
    assert str(connection) == "amqp://guest:******@h:1/%2F"
    assert Connection("amqp://u:p@h:2/vh").url == YarlURL("amqp://u:p@h:2/vh")
    assert Connection().url.host == "localhost"


def test_without_yarl_make_url_and_connection_url_are_simple_urls() -> None:
    """In an interpreter where yarl cannot be imported: amqpio's own object."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["yarl"] = None  # import yarl -> ImportError
        from amqpio.connection import Connection, make_url
        from amqpio._url_object import SimpleURL
        url = make_url(host="h", port=1, virtualhost="vh", heartbeat=5)
        assert type(url) is SimpleURL, type(url)
        assert str(url) == "amqp://guest:guest@h:1/vh?heartbeat=5", str(url)
        connection = Connection(url)
        assert type(connection.url) is SimpleURL
        assert connection.url.with_password("******") == (
            "amqp://guest:******@h:1/vh?heartbeat=5"
        )
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
