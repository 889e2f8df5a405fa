"""amqpio._url: broker URLs and connect() keywords into ConnectParams."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import aiormq
import pytest
from yarl import URL

from amqpio._url import (
    DEFAULT_HEARTBEAT,
    ConnectParams,
    parse_hosts,
    parse_url,
)
from amqpio.sansio.config import ConnectionConfig

DER = bytes(range(256)) * 3  # any bytes: base64 of it contains "+" and "/"


def test_defaults() -> None:
    params = parse_url()
    assert (params.host, params.port, params.ssl) == ("localhost", 5672, False)
    assert params.timeout is None
    assert params.config == ConnectionConfig(
        username="guest",
        password="guest",
        virtualhost="/",
        heartbeat=DEFAULT_HEARTBEAT,
    )
    assert DEFAULT_HEARTBEAT == 60
    assert params.extra == {}


def test_params_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_url().host = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://h", "/"),
        ("amqp://h/", "/"),
        ("amqp://h/%2f", "/"),
        ("amqp://h/%2F", "/"),
        ("amqp://h//", "/"),
        ("amqp://h/vh", "vh"),
        ("amqp://h/v%2Fh", "v/h"),
        ("amqp://h/with%20space", "with space"),
        ("amqp://h/a/b", "a/b"),
        ("amqp://h/vh?heartbeat=5", "vh"),
        ("amqp://h?heartbeat=5", "/"),
    ],
)
def test_virtual_host(url: str, vhost: str) -> None:
    assert parse_url(url).config.virtualhost == vhost
    assert parse_url(URL(url)).config.virtualhost == vhost


URLS_LIKE_AIORMQ = [
    "amqp://h",
    "amqp://h/",
    "amqp://h/%2f",
    "amqp://h//",
    "amqp://h/vh",
    "amqp://u:p@h:5673/vh?heartbeat=10",
    "amqps://u:p@h/vh",
    "amqp://us%40er:pa%3Ass@[::1]:1234/x%20y",
    "amqp://guest:guest@127.0.0.1/?name=conn",
]


@pytest.mark.parametrize("url", URLS_LIKE_AIORMQ)
async def test_same_reading_as_aiormq(url: str) -> None:
    theirs = aiormq.Connection(url)
    ours = parse_url(url)
    assert ours.config.virtualhost == theirs.vhost
    assert ours.port == theirs.url.port
    assert ours.host == theirs.url.host
    assert ours.config.username == (theirs.url.user or "guest")
    assert ours.config.password == (theirs.url.password or "guest")
    assert ours.config.heartbeat == theirs.heartbeat_timeout
    assert ours.config.connection_name == theirs.connection_name


def test_credentials_are_percent_decoded() -> None:
    params = parse_url("amqp://us%40er:p%40ss%3Aw%2Frd@host/")
    assert params.config.username == "us@er"
    assert params.config.password == "p@ss:w/rd"


def test_empty_credentials_mean_guest() -> None:
    params = parse_url("amqp://:@host/")
    assert params.config.username == "guest"
    assert params.config.password == "guest"
    assert parse_url("amqp://user@host/").config.password == "guest"


def test_password_is_not_in_repr() -> None:
    params = parse_url("amqp://user:secret@host/")
    assert "secret" not in repr(params)
    assert params.safe_url == "amqp://user:******@host:5672/%2F"


def test_url_round_trips() -> None:
    params = parse_url("amqps://us%40er:p%3Aw@[::1]:5999/v%2Fh?heartbeat=5")
    assert params.url == "amqps://us%40er:p%3Aw@[::1]:5999/v%2Fh"
    again = parse_url(params.url)
    assert again.config.username == "us@er"
    assert again.config.password == "p:w"
    assert again.config.virtualhost == "v/h"
    assert (again.host, again.port, again.ssl) == ("::1", 5999, True)


def test_ssl_options_property() -> None:
    assert parse_url("amqps://h/").ssl_options == {}
    params = parse_url(
        "amqps://h/?cafile=/ca.pem&certfile=/c.pem&keyfile=/k.pem&no_verify_ssl=yes"
    )
    assert params.ssl_options == {
        "cafile": "/ca.pem",
        "certfile": "/c.pem",
        "keyfile": "/k.pem",
        "no_verify_ssl": True,
    }


@pytest.mark.parametrize(
    ("url", "port", "ssl"),
    [
        ("amqp://h", 5672, False),
        ("amqps://h", 5671, True),
        ("AMQPS://h", 5671, True),
        ("amqp://h:1234", 1234, False),
        ("amqps://h:5672", 5672, True),
    ],
)
def test_ports_and_tls(url: str, port: int, ssl: bool) -> None:
    params = parse_url(url)
    assert (params.port, params.ssl, params.scheme) == (
        port,
        ssl,
        "amqps" if ssl else "amqp",
    )


def test_ipv6_host_in_brackets() -> None:
    params = parse_url("amqp://[::1]:5673/vh")
    assert (params.host, params.port) == ("::1", 5673)
    assert parse_url("amqps://[fe80::1]").port == 5671
    assert parse_url("amqp://[::1]").safe_url == "amqp://guest:******@[::1]:5672/%2F"


def test_yarl_url_objects() -> None:
    url = URL.build(
        scheme="amqps",
        host="broker.example",
        port=5999,
        user="a user",
        password="p@ss/word",
        path="/my vhost",
        query={"heartbeat": "15", "name": "my conn"},
    )
    params = parse_url(url)
    assert params.host == "broker.example"
    assert params.port == 5999
    assert params.ssl
    assert params.config.username == "a user"
    assert params.config.password == "p@ss/word"
    assert params.config.virtualhost == "my vhost"
    assert params.config.heartbeat == 15
    assert params.config.connection_name == "my conn"


def test_query_parameters() -> None:
    params = parse_url(
        "amqps://h/?name=my+app&heartbeat=0&connection_timeout=2.5"
        "&cafile=/ca.pem&capath=/certs&keyfile=/k.pem&certfile=/c.pem"
        "&no_verify_ssl=1&auth=external&frame_max=131072&channel_max=100"
        "&interleave=1&happy_eyeballs_delay=0.25"
    )
    assert params.config.connection_name == "my app"
    assert params.config.heartbeat == 0
    assert params.timeout == 2.5
    assert params.cafile == "/ca.pem"
    assert params.capath == "/certs"
    assert params.keyfile == "/k.pem"
    assert params.certfile == "/c.pem"
    assert params.no_verify_ssl is True
    assert params.config.auth_mechanism == "EXTERNAL"
    assert params.config.frame_max == 131072
    assert params.config.channel_max == 100
    assert params.interleave == 1
    assert params.happy_eyeballs_delay == 0.25


@pytest.mark.parametrize(
    ("auth", "mechanism"),
    [("plain", "PLAIN"), ("AMQPLAIN", "AMQPLAIN"), ("External", "EXTERNAL")],
)
def test_auth_mechanisms(auth: str, mechanism: str) -> None:
    assert parse_url(f"amqp://h/?auth={auth}").config.auth_mechanism == mechanism
    assert parse_url("amqp://h/").config.auth_mechanism is None


def test_handshake_timeout_forms() -> None:
    # default: 10 s (RabbitMQ's own handshake_timeout)
    assert parse_url("amqp://h/").handshake_timeout == 10.0
    assert parse_url("amqp://h/?handshake_timeout=").handshake_timeout == 10.0
    assert parse_url("amqp://h/?handshake_timeout=0.5").handshake_timeout == 0.5
    assert parse_url(handshake_timeout=2).handshake_timeout == 2.0
    # the keyword wins over the query, None included (which disables it)
    assert parse_url("amqp://h/?handshake_timeout=3", handshake_timeout=1) == (
        parse_url("amqp://h/", handshake_timeout=1)
    )
    assert parse_url(handshake_timeout=None).handshake_timeout is None
    disabled = parse_url("amqp://h/?handshake_timeout=3", handshake_timeout=None)
    assert disabled.handshake_timeout is None
    # 0 disables it too (what a URL can say)
    assert parse_url("amqp://h/?handshake_timeout=0").handshake_timeout is None
    assert parse_url(handshake_timeout=0).handshake_timeout is None
    # independent of timeout / connection_timeout, and not an "extra"
    params = parse_url("amqp://h/?connection_timeout=4&handshake_timeout=1")
    assert (params.timeout, params.handshake_timeout) == (4.0, 1.0)
    assert "handshake_timeout" not in params.extra


def test_frame_max_defaults_to_the_client_ceiling() -> None:
    assert parse_url("amqp://h/").config.frame_max == 131072
    assert parse_url("amqp://h/?frame_max=").config.frame_max == 131072
    # 0 is "no preference": the default ceiling, never "no limit"
    assert parse_url("amqp://h/?frame_max=0").config.frame_max == 131072
    assert parse_url("amqp://h/?frame_max=1048576").config.frame_max == 1 << 20


def test_timeout_forms_and_precedence() -> None:
    assert parse_url("amqp://h/?timeout=3").timeout == 3.0
    assert parse_url("amqp://h/?connection_timeout=4&timeout=3").timeout == 4.0
    assert parse_url("amqp://h/?timeout=3", timeout=7).timeout == 7.0
    assert parse_url(timeout=1.5).timeout == 1.5


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("0", False), ("false", False)],
)
def test_no_verify_ssl_values(value: str, expected: bool) -> None:
    assert parse_url(f"amqps://h/?no_verify_ssl={value}").no_verify_ssl is expected


def test_cadata_base64_der_and_pem() -> None:
    encoded = base64.b64encode(DER).decode()
    assert "+" in encoded
    # a literal "+" in a query string reads back as a space: still decoded
    assert parse_url(f"amqps://h/?cadata={encoded}").cadata == DER
    assert parse_url(f"amqps://h/?cadata={encoded.replace('+', '%2B')}").cadata == DER
    assert parse_url(URL("amqps://h/").with_query(cadata=encoded)).cadata == DER
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert parse_url("amqps://h/", ssl_options={"cadata": pem}).cadata == pem
    with pytest.raises(ValueError, match="cadata"):
        parse_url("amqps://h/?cadata=not*base64")


def test_ca_certs_is_an_alias_of_cafile() -> None:
    assert parse_url("amqps://h/?ca_certs=/ca.pem").cafile == "/ca.pem"


def test_keyword_form_like_make_url() -> None:
    params = parse_url(
        host="rabbit",
        port=5673,
        login="user",
        password="pw",
        virtualhost="vh",
    )
    assert (params.host, params.port, params.ssl) == ("rabbit", 5673, False)
    assert params.config.username == "user"
    assert params.config.password == "pw"
    assert params.config.virtualhost == "vh"
    assert parse_url(virtualhost="/").config.virtualhost == "/"
    assert parse_url(virtualhost="").config.virtualhost == "/"


def test_keyword_ssl_defaults_to_the_tls_port() -> None:
    params = parse_url(host="rabbit", ssl=True)
    assert (params.port, params.ssl) == (5671, True)
    assert parse_url(host="rabbit", ssl=True, port=5672).port == 5672


def test_url_wins_over_address_keywords() -> None:
    # as aio-pika's make_url: host/login/... are ignored when a URL is given
    params = parse_url("amqp://u:p@h:1111/vh", host="other", login="x", port=2)
    assert (params.host, params.port, params.config.username) == ("h", 1111, "u")


def test_keywords_override_the_query() -> None:
    params = parse_url(
        "amqps://h/?heartbeat=5&cafile=/url.pem&name=url",
        heartbeat=30,
        ssl_options={"cafile": "/kw.pem", "no_verify_ssl": 1},
        name="kw",
    )
    assert params.config.heartbeat == 30
    assert params.cafile == "/kw.pem"
    assert params.no_verify_ssl is True
    assert params.config.connection_name == "kw"


def test_client_properties_and_connection_name() -> None:
    params = parse_url("amqp://h/?name=from-url", client_properties={"product": "mine"})
    assert params.config.client_properties == {"product": "mine"}
    assert params.config.connection_name == "from-url"
    params = parse_url(
        "amqp://h/?name=from-url",
        client_properties={"connection_name": "from-properties"},
    )
    assert params.config.connection_name == "from-properties"


def test_unknown_parameters_are_kept_as_text() -> None:
    params = parse_url(
        "amqp://h/?reconnect_interval=3&x=y", fail_fast=False, cert_reqs=None
    )
    assert params.extra == {"reconnect_interval": "3", "x": "y", "fail_fast": "0"}


def test_ssl_context_is_passed_through() -> None:
    context = object()
    params = parse_url("amqps://h/", ssl_context=context)  # type: ignore[arg-type]
    assert params.ssl_context is context


def test_first_query_value_wins() -> None:
    assert parse_url("amqp://h/?heartbeat=1&heartbeat=2").config.heartbeat == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h/", "amqp:// or amqps://"),
        ("h:5672", "amqp:// or amqps://"),
        ("amqp://h:0/", "port"),
        ("amqp://h:65536/", "port"),
        ("amqp://h:http/", "port"),
        ("amqp://h/?heartbeat=often", "heartbeat"),
        ("amqp://h/?heartbeat=-1", "heartbeat"),
        ("amqp://h/?heartbeat=70000", "heartbeat"),
        ("amqp://h/?frame_max=100", "frame_max"),
        ("amqp://h/?channel_max=x", "channel_max"),
        ("amqp://h/?auth=kerberos", "auth"),
        ("amqp://h/?timeout=soon", "timeout"),
        ("amqp://h/?connection_timeout=-1", "connection_timeout"),
        ("amqp://h/?handshake_timeout=-1", "handshake_timeout"),
        ("amqp://h/?handshake_timeout=soon", "handshake_timeout"),
        ("amqp://h/?handshake_timeout=inf", "handshake_timeout"),
        ("amqp://h/?frame_max=4095", "frame_max"),
        ("amqp://h/?frame_max=4294967296", "frame_max"),
        ("amqp://h/?no_verify_ssl=maybe", "no_verify_ssl"),
        ("amqp://[::1/", "IPv6"),
        ("amqp://[::1]x/", "after"),
        ("amqp://::1/", "brackets"),
    ],
)
def test_bad_urls_are_value_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_bad_keywords_are_value_errors() -> None:
    with pytest.raises(ValueError, match="port"):
        parse_url(port=70000)
    with pytest.raises(ValueError, match="timeout"):
        parse_url(timeout=-1)
    with pytest.raises(ValueError, match="heartbeat"):
        parse_url(heartbeat="x")


def test_error_messages_hide_the_password() -> None:
    with pytest.raises(ValueError) as info:
        parse_url("amqp://user:secret@h:99999/")
    assert "secret" not in str(info.value)
    assert "user:******@" in str(info.value)


# -- several brokers ------------------------------------------------------------------


def test_multi_host_url() -> None:
    hosts = parse_hosts("amqp://u:p@h1:5672,h2:5673,[::1]/vh?heartbeat=7")
    assert [(p.host, p.port) for p in hosts] == [
        ("h1", 5672),
        ("h2", 5673),
        ("::1", 5672),
    ]
    assert all(p.config is hosts[0].config for p in hosts)
    assert hosts[0].config.virtualhost == "vh"
    assert hosts[0].config.heartbeat == 7


def test_multi_host_url_default_port_follows_the_scheme() -> None:
    assert [p.port for p in parse_hosts("amqps://h1,h2:1")] == [5671, 1]


def test_list_of_urls() -> None:
    hosts = parse_hosts(["amqp://a/", URL("amqps://b:1/"), "amqp://c,d/"], heartbeat=3)
    assert [(p.host, p.port, p.ssl) for p in hosts] == [
        ("a", 5672, False),
        ("b", 1, True),
        ("c", 5672, False),
        ("d", 5672, False),
    ]
    assert all(p.config.heartbeat == 3 for p in hosts)


def test_parse_hosts_of_a_single_url_and_of_keywords() -> None:
    assert parse_hosts("amqp://h/") == [parse_url("amqp://h/")]
    assert parse_hosts(host="x") == [parse_url(host="x")]


def test_parse_url_refuses_several_hosts() -> None:
    with pytest.raises(ValueError, match="parse_hosts"):
        parse_url("amqp://u:secret@h1,h2/")


def test_empty_list_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no broker URL"):
        parse_hosts([])


def test_connect_params_can_be_built_directly() -> None:
    params = ConnectParams(host="h", port=1)
    assert params.config == ConnectionConfig()
    assert params.safe_url == "amqp://guest:******@h:1/%2F"


@pytest.mark.parametrize("kwargs", [{"heartbeat": 10}, {"frame_max": 8192}])
def test_integer_keywords(kwargs: dict[str, Any]) -> None:
    config = parse_url(**kwargs).config
    for name, value in kwargs.items():
        assert getattr(config, name) == value
