"""The throwaway-broker harness (amqpio.testing.rabbitmq), checked with raw sockets."""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import types
import urllib.parse
from pathlib import Path

import pytest

from amqpio.testing import rabbitmq as harness
from amqpio.testing.rabbitmq import (
    EXTERNAL_USER,
    PROTOCOL_HEADER,
    Broker,
    BrokerNotFound,
    BrokerStartError,
    BrokerUnsupported,
    ExternalBroker,
    RabbitCluster,
    RabbitNode,
    find_broker,
    find_rabbitmq_sbin,
    generate_certificates,
    probe_amqp,
)

FRAME_METHOD = 1
FRAME_END = b"\xce"
CONNECTION_START = struct.pack("!HH", 10, 10)  # class connection, method start


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"connection closed after {len(data)} of {size} bytes"
        data += chunk
    return data


def _connection_start(sock: socket.socket) -> bytes:
    """Send the protocol header; return the Connection.Start payload that comes back."""
    sock.settimeout(10)
    sock.sendall(PROTOCOL_HEADER)
    frame_type, channel, size = struct.unpack("!BHI", _recv_exactly(sock, 7))
    payload = _recv_exactly(sock, size)
    assert _recv_exactly(sock, 1) == FRAME_END
    assert (frame_type, channel) == (FRAME_METHOD, 0)
    assert payload[:4] == CONNECTION_START
    assert payload[4:6] == b"\x00\x09"  # version-major 0, version-minor 9
    return payload


def _start_ok_then_next_method(
    sock: socket.socket, mechanism: bytes, response: bytes
) -> bytes:
    """Answer Connection.Start with StartOk; return the next method's class/method."""
    payload = (
        struct.pack("!HH", 10, 11)  # Connection.StartOk
        + struct.pack("!I", 0)  # client-properties: empty table
        + bytes([len(mechanism)])
        + mechanism
        + struct.pack("!I", len(response))
        + response
        + b"\x05en_US"
    )
    sock.sendall(
        struct.pack("!BHI", FRAME_METHOD, 0, len(payload)) + payload + FRAME_END
    )
    frame_type, _channel, size = struct.unpack("!BHI", _recv_exactly(sock, 7))
    reply = _recv_exactly(sock, size + 1)
    assert frame_type == FRAME_METHOD
    return reply[:4]


CONNECTION_TUNE = struct.pack("!HH", 10, 30)


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


# --------------------------------------------------------------- against the broker


@pytest.mark.integration
def test_protocol_header_gets_connection_start(rabbitmq: Broker) -> None:
    with socket.create_connection(_host_port(rabbitmq.url), timeout=10) as sock:
        payload = _connection_start(sock)
    assert b"PLAIN" in payload


@pytest.mark.integration
@pytest.mark.parametrize("client_cert", [False, True], ids=["server-auth", "mutual"])
def test_tls_connection_start_verified_against_generated_ca(
    rabbitmq_tls: Broker, client_cert: bool
) -> None:
    context = ssl.create_default_context(cafile=str(rabbitmq_tls.ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    if client_cert:
        context.load_cert_chain(
            str(rabbitmq_tls.client_cert), str(rabbitmq_tls.client_key)
        )
    with (
        socket.create_connection(_host_port(rabbitmq_tls.tls_url), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        peer = sock.getpeercert()
        payload = _connection_start(sock)
    assert peer is not None
    assert (("commonName", "localhost"),) in peer["subject"]
    assert b"EXTERNAL" in payload  # rabbitmq_auth_mechanism_ssl is on


@pytest.mark.integration
def test_plain_login_as_guest(rabbitmq: Broker) -> None:
    parts = urllib.parse.urlsplit(rabbitmq.url)
    user = urllib.parse.unquote(parts.username or "guest").encode()
    password = urllib.parse.unquote(parts.password or "guest").encode()
    with socket.create_connection(_host_port(rabbitmq.url), timeout=10) as sock:
        _connection_start(sock)
        reply = _start_ok_then_next_method(
            sock, b"PLAIN", b"\0" + user + b"\0" + password
        )
    assert reply == CONNECTION_TUNE


@pytest.mark.integration
def test_external_login_with_client_certificate(rabbitmq_tls: Broker) -> None:
    context = rabbitmq_tls.ssl_context(client_cert=True)
    with (
        socket.create_connection(_host_port(rabbitmq_tls.tls_url), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        _connection_start(sock)
        reply = _start_ok_then_next_method(sock, b"EXTERNAL", b"")
    assert reply == CONNECTION_TUNE  # logged in as extuser (the certificate's CN)


@pytest.mark.integration
def test_tls_is_really_verified(rabbitmq_tls: Broker) -> None:
    context = ssl.create_default_context()  # system CAs only: must not trust the node
    with (
        socket.create_connection(_host_port(rabbitmq_tls.tls_url), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="localhost")


@pytest.mark.integration
def test_rabbitmqctl_lists_extuser(rabbitmq_ctl: Broker) -> None:
    assert EXTERNAL_USER in rabbitmq_ctl.rabbitmqctl("list_users")
    assert {"guest", EXTERNAL_USER} <= set(rabbitmq_ctl.list_users())


@pytest.mark.integration
def test_management_api(rabbitmq: Broker) -> None:
    if rabbitmq.management_url is None:
        pytest.skip("no management plugin on this broker")
    overview = rabbitmq.management_api("overview")
    assert overview["rabbitmq_version"]


@pytest.mark.integration
def test_stop_app_and_start_app(rabbitmq_ctl: Broker) -> None:
    host, port = _host_port(rabbitmq_ctl.url)
    rabbitmq_ctl.stop_app()
    try:
        assert probe_amqp(host, port) == b""
    finally:
        rabbitmq_ctl.start_app()
    assert probe_amqp(host, port)[:1] == b"\x01"


@pytest.mark.integration
@pytest.mark.cluster
def test_cluster_of_three(rabbitmq_cluster: RabbitCluster) -> None:
    names = sorted(node.node_name for node in rabbitmq_cluster.nodes)
    assert len(set(names)) == 3
    assert sorted(rabbitmq_cluster.running_nodes()) == names
    for url in rabbitmq_cluster.urls:
        with socket.create_connection(_host_port(url), timeout=10) as sock:
            _connection_start(sock)

    stopped = rabbitmq_cluster.nodes[2]
    rabbitmq_cluster.stop_node(2)
    assert not stopped.is_running
    assert probe_amqp(*_host_port(stopped.url)) == b""
    assert sorted(rabbitmq_cluster.running_nodes()) == names[:2]

    rabbitmq_cluster.start_node(2)
    assert sorted(rabbitmq_cluster.running_nodes()) == names
    with socket.create_connection(_host_port(stopped.url), timeout=10) as sock:
        _connection_start(sock)


# --------------------------------------------------------------- without a broker


def test_find_broker_uses_amqp_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMQP_URL", "amqp://u:p@broker.invalid:5999/v")
    broker = find_broker()
    assert isinstance(broker, ExternalBroker)
    assert broker.url == "amqp://u:p@broker.invalid:5999/v"
    assert not broker.has_tls
    assert not broker.can_control
    with pytest.raises(BrokerUnsupported):
        broker.rabbitmqctl("list_users")
    with pytest.raises(BrokerUnsupported):
        _ = broker.ca_file
    broker.close()


def test_find_broker_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.setenv("AMQPIO_RABBITMQ_SBIN", str(tmp_path))  # no install there
    with pytest.raises(BrokerNotFound) as info:
        find_broker(use_docker=False)
    message = str(info.value)
    assert "apt-get install -y rabbitmq-server" in message
    assert "AMQP_URL=" in message


def _handshake(
    client: ssl.SSLObject, server: ssl.SSLObject, bios: list[ssl.MemoryBIO]
) -> None:
    c_in, c_out, s_in, s_out = bios
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("TLS handshake did not finish")


def test_generated_certificates_pass_strict_mutual_verification(tmp_path: Path) -> None:
    files = generate_certificates(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(files.server_cert), str(files.server_key))
    server_context.load_verify_locations(cafile=str(files.ca_file))
    server_context.verify_mode = ssl.CERT_REQUIRED
    server_context.verify_flags |= ssl.VERIFY_X509_STRICT
    client_context = ssl.create_default_context(cafile=str(files.ca_file))
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    client_context.load_cert_chain(str(files.client_cert), str(files.client_key))
    for hostname in ("localhost", "127.0.0.1"):
        bios = [ssl.MemoryBIO() for _ in range(4)]
        client = client_context.wrap_bio(bios[0], bios[1], server_hostname=hostname)
        server = server_context.wrap_bio(bios[2], bios[3], server_side=True)
        _handshake(client, server, bios)
        peer = server.getpeercert()
        assert peer is not None
        assert (("commonName", EXTERNAL_USER),) in peer["subject"]


def test_busy_port_is_reported_before_anything_starts() -> None:
    if find_rabbitmq_sbin() is None:
        pytest.skip("no local RabbitMQ install")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        node = RabbitNode("amqpio-busy", port=port)
        with pytest.raises(
            BrokerStartError, match=rf"port\(s\) \[{port}\] already in use"
        ):
            node.start()
        assert node.pid is None
        node.close()
    assert not node.directory.exists()


class _FakeContainer:
    def __init__(self) -> None:
        self.stopped = False

    def exec_run(self, cmd: list[str]) -> tuple[int, bytes]:
        return 0, " ".join(cmd).encode()

    def stop(self, timeout: int) -> None:
        self.stopped = True


class _FakeDockerClient:
    def __init__(self) -> None:
        self.closed = False
        self.container = _FakeContainer()
        self.run_kwargs: dict[str, object] = {}
        self.containers = self

    def ping(self) -> bool:
        return True

    def run(self, image: str, **kwargs: object) -> _FakeContainer:
        self.run_kwargs = {"image": image, **kwargs}
        return self.container

    def close(self) -> None:
        self.closed = True


def test_docker_fallback_glue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Docker path with a fake engine (no real engine runs where this was written)."""
    client = _FakeDockerClient()
    fake = types.ModuleType("docker")
    fake.from_env = lambda timeout: client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "docker", fake)
    monkeypatch.setattr(harness, "_docker_socket_answers", lambda: True)
    monkeypatch.setattr(harness.DockerBroker, "wait_ready", lambda self, timeout: None)
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.setenv("AMQPIO_RABBITMQ_SBIN", str(tmp_path))

    broker = find_broker(port=5999, management_port=15999)
    assert isinstance(broker, harness.DockerBroker)
    assert client.run_kwargs["image"] == harness.DOCKER_IMAGE
    assert client.run_kwargs["ports"] == {
        "5672/tcp": ("127.0.0.1", 5999),
        "15672/tcp": ("127.0.0.1", 15999),
    }
    assert broker.url == "amqp://guest:guest@127.0.0.1:5999/"
    assert broker.rabbitmqctl("list_users") == "rabbitmqctl list_users"
    broker.close()
    assert client.container.stopped
    assert client.closed
