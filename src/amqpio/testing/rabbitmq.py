"""Throwaway RabbitMQ brokers for integration tests, ``make demo``, benchmarks and CI.

Test support shipped in the package: standard library only, imports nothing else
from amqpio, and nothing in the library imports it.

* :class:`RabbitNode` starts a node from a local ``rabbitmq-server`` install (the
  Debian package puts the real scripts in ``/usr/lib/rabbitmq/bin``; the
  ``/usr/sbin`` wrapper switches user and cannot be used), in its own directory
  (data, logs, config, Erlang cookie in ``HOME``), on loopback only, optionally
  with a TLS listener (CA, server and client certificates made at start with the
  ``openssl`` CLI), SASL EXTERNAL (``rabbitmq_auth_mechanism_ssl``, login from the
  client certificate's CN ``extuser``) and the management plugin.
* :class:`RabbitCluster` starts several such nodes sharing an Erlang cookie and
  joins them with ``rabbitmqctl stop_app / join_cluster / start_app``.
* :func:`find_broker` is what test fixtures call: ``AMQP_URL`` when set, else a
  local node, else Docker when an engine answers, else :class:`BrokerNotFound`
  with instructions.
* ``python -m amqpio.testing.rabbitmq start|cluster`` runs a node or a cluster in
  the foreground until SIGINT/SIGTERM (for ``make demo`` and manual work).

Ports. Every node uses: the AMQP port, an optional TLS port, an optional
management port, an Erlang distribution port (default ``port + 20000``), and
its *own* epmd (default port ``dist_port + 1``, started and stopped by the
harness, so the shared system epmd on 4369 is never started or touched) plus a
small port range for the ``rabbitmqctl`` CLI's own distribution listener
(default ``dist_port + 2 .. dist_port + 3``). Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import glob
import hashlib
import importlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "DOCKER_IMAGE",
    "EXTERNAL_USER",
    "PROTOCOL_HEADER",
    "Broker",
    "BrokerError",
    "BrokerNotFound",
    "BrokerStartError",
    "BrokerUnsupported",
    "DockerBroker",
    "ExternalBroker",
    "RabbitCluster",
    "RabbitNode",
    "RabbitmqctlError",
    "TLSFiles",
    "find_broker",
    "find_rabbitmq_sbin",
    "generate_certificates",
    "main",
    "port_is_open",
    "probe_amqp",
    "start_docker_broker",
]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
DEFAULT_START_TIMEOUT = 60.0
DOCKER_IMAGE = "rabbitmq:3-management"
EXTERNAL_USER = "extuser"
LOOPBACK = "127.0.0.1"
SBIN_ENV = "AMQPIO_RABBITMQ_SBIN"
_SBIN_CANDIDATES = (
    "/usr/lib/rabbitmq/bin",  # Debian / Ubuntu package
    "/opt/homebrew/opt/rabbitmq/sbin",  # Homebrew (Apple silicon)
    "/usr/local/opt/rabbitmq/sbin",  # Homebrew (Intel)
)
_EPMD_CANDIDATES = (
    "/usr/lib/erlang/erts-*/bin/epmd",
    "/usr/local/lib/erlang/erts-*/bin/epmd",
    "/opt/homebrew/lib/erlang/erts-*/bin/epmd",
)
HOW_TO_GET_A_BROKER = """\
No RabbitMQ broker is available for amqpio's integration tests. Any of these works:
  * install RabbitMQ locally; the harness starts its own throwaway node from it
    (the system service need not run):
        sudo apt-get update && sudo apt-get install -y rabbitmq-server
    (Debian/Ubuntu; elsewhere set {sbin_env} to the directory holding the real
    rabbitmq-server and rabbitmqctl scripts);
  * point the tests to a running broker:
        AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ make test
  * run a Docker engine: the harness then starts the {image} image.
Looked for a local install in: {searched}; Docker: {docker}."""


class BrokerError(RuntimeError):
    """Base class of the harness's errors."""


class BrokerStartError(BrokerError):
    """A node or cluster failed to start; the message ends with the log tail."""


class BrokerNotFound(BrokerError):
    """No way to get a broker: the message says how to get one."""


class BrokerUnsupported(BrokerError):
    """The broker at hand cannot do this (e.g. rabbitmqctl on an AMQP_URL broker)."""


class RabbitmqctlError(BrokerError):
    """``rabbitmqctl`` failed or timed out."""

    def __init__(self, args: Sequence[str], returncode: int | None, output: str):
        self.command = list(args)
        self.returncode = returncode
        self.output = output
        status = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(f"rabbitmqctl {' '.join(args)} {status}:\n{output.strip()}")


# --------------------------------------------------------------------------- helpers


def find_rabbitmq_sbin() -> Path | None:
    """Directory of the real ``rabbitmq-server``/``rabbitmqctl`` scripts, or None.

    ``$AMQPIO_RABBITMQ_SBIN`` wins when set; then the usual install locations.
    """
    override = os.environ.get(SBIN_ENV)
    candidates = [override] if override else list(_SBIN_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate)
        if (path / "rabbitmq-server").is_file() and (path / "rabbitmqctl").is_file():
            return path
    return None


def _find_epmd() -> str:
    found = shutil.which("epmd")
    if found:
        return found
    for pattern in _EPMD_CANDIDATES:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    raise BrokerStartError("epmd (part of Erlang) not found on PATH")


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_amqp(host: str, port: int, timeout: float = 2.0) -> bytes:
    """Send the AMQP 0-9-1 protocol header; return the first bytes back (or b"")."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(PROTOCOL_HEADER)
            return sock.recv(4096)
    except OSError:
        return b""


def _wait_for_amqp(
    host: str,
    port: int,
    timeout: float,
    *,
    alive: Callable[[], bool],
    describe: Callable[[], str],
    what: str,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if probe_amqp(host, port, timeout=2.0):
            return
        if not alive():
            raise BrokerStartError(f"{what} exited before it was ready\n{describe()}")
        if time.monotonic() >= deadline:
            raise BrokerStartError(
                f"{what} did not answer on {host}:{port} within {timeout:.0f} s\n{describe()}"
            )
        time.sleep(0.1)


def _wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not port_is_open(host, port):
        if time.monotonic() >= deadline:
            raise BrokerStartError(f"{what}: nothing listens on {host}:{port}")
        time.sleep(0.1)


def _excerpt(path: Path, lines: int = 30, errors: int = 12) -> str:
    """The first error lines and the last lines of a log, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"--- {path}: (missing)"
    first_errors = [line for line in text if "[error]" in line][:errors]
    parts = [f"--- {path}:"]
    if first_errors:
        parts += ["first errors:", *first_errors, "last lines:"]
    parts += text[-lines:]
    return "\n".join(parts)


def _password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256`` format, for definitions files."""
    salt = secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def _random_cookie() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(32))


# Every process the harness started and has not stopped yet: stopped at exit.
_LIVE: dict[int, Callable[[], None]] = {}
_LIVE_LOCK = threading.Lock()


def _register(obj: object, stop: Callable[[], None]) -> None:
    with _LIVE_LOCK:
        _LIVE[id(obj)] = stop


def _unregister(obj: object) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(id(obj), None)


@atexit.register
def _stop_everything() -> None:
    with _LIVE_LOCK:
        stops = list(_LIVE.values())
    for stop in reversed(stops):
        with contextlib.suppress(Exception):
            stop()


def _group_alive(pgid: int) -> bool:
    """Is a live (non-zombie) process left in group ``pgid``?

    Zombies are ignored: orphans are reaped by PID 1, which in containers may
    take seconds, and a zombie holds no port.
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():  # not Linux
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields after "(comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _terminate_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Stop a process started with ``start_new_session`` and its whole group."""
    pgid = proc.pid
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait()
    # The leader is gone; make sure no member of its group (beam.smp) outlives it.
    deadline = time.monotonic() + grace
    while True:
        if not _group_alive(pgid):
            return
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            return
        time.sleep(0.1)


class _Epmd:
    """A private epmd on its own port, so the harness never uses the system one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def ensure(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = None
        if port_is_open(LOOPBACK, self.port):
            return  # an epmd someone else started on this port: share it
        proc = subprocess.Popen(
            [_find_epmd(), "-address", LOOPBACK, "-port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._proc = proc
        _register(self, self.stop)
        deadline = time.monotonic() + 10.0
        while not port_is_open(LOOPBACK, self.port):
            if proc.poll() is not None or time.monotonic() >= deadline:
                self.stop()
                raise BrokerStartError(f"epmd failed to listen on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        _unregister(self)
        if proc is not None:
            _terminate_group(proc, grace=5.0)


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TLSFiles:
    """PEM files made by :func:`generate_certificates`."""

    ca_file: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_name: str = EXTERNAL_USER


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = amqpio test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def _openssl(openssl: str, *args: str) -> None:
    result = subprocess.run(
        [openssl, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BrokerStartError(
            f"openssl {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stderr.strip()}"
        )


def generate_certificates(
    directory: str | os.PathLike[str],
    *,
    client_name: str = EXTERNAL_USER,
    days: int = 30,
    openssl: str = "openssl",
) -> TLSFiles:
    """Make a CA, a server certificate and a client certificate with the openssl CLI.

    Server: CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth.
    Client: CN=``client_name``, clientAuth (the EXTERNAL login name). ECDSA P-256,
    SHA-256, extensions strict enough for ``ssl.VERIFY_X509_STRICT``.
    """
    if shutil.which(openssl) is None:
        raise BrokerStartError(f"{openssl!r} not found: install openssl")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    config = out / "openssl.cnf"
    config.write_text(_OPENSSL_CONFIG)
    files = TLSFiles(
        ca_file=out / "ca.pem",
        ca_key=out / "ca.key",
        server_cert=out / "server.pem",
        server_key=out / "server.key",
        client_cert=out / "client.pem",
        client_key=out / "client.key",
        client_name=client_name,
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    common = ["-config", str(config), *new_key, "-sha256"]
    _openssl(
        openssl, "req", "-x509", "-new", *common, "-days", str(days),
        "-extensions", "ca", "-subj", "/CN=amqpio test CA",
        "-keyout", str(files.ca_key), "-out", str(files.ca_file),
    )  # fmt: skip
    for section, cn, cert, key in (
        ("server", "localhost", files.server_cert, files.server_key),
        ("client", client_name, files.client_cert, files.client_key),
    ):
        csr = out / f"{section}.csr"
        _openssl(
            openssl, "req", "-new", *common, "-subj", f"/CN={cn}",
            "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        _openssl(
            openssl, "x509", "-req", "-in", str(csr), "-CA", str(files.ca_file),
            "-CAkey", str(files.ca_key), "-set_serial", str(secrets.randbits(63)),
            "-days", str(days), "-sha256", "-extfile", str(config),
            "-extensions", section, "-out", str(cert),
        )  # fmt: skip
        csr.unlink()
    for key in (files.ca_key, files.server_key, files.client_key):
        key.chmod(0o600)
    return files


# --------------------------------------------------------------------------- brokers


class Broker:
    """What a test fixture gets: a URL, and what the broker at hand can do.

    Subclasses: :class:`RabbitNode` (local throwaway node: everything),
    :class:`ExternalBroker` (``AMQP_URL``: the URL only), :class:`DockerBroker`.
    Capabilities a broker lacks raise :class:`BrokerUnsupported`; check
    :attr:`has_tls` and :attr:`can_control` first (and skip the test).
    """

    kind: ClassVar[str] = "broker"
    host: str = LOOPBACK

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def has_tls(self) -> bool:
        return False

    @property
    def can_control(self) -> bool:
        """True when :meth:`rabbitmqctl` and the helpers built on it work."""
        return False

    @property
    def management_url(self) -> str | None:
        return None

    def _no(self, what: str) -> BrokerUnsupported:
        return BrokerUnsupported(f"{what} is not available on this {self.kind} broker")

    @property
    def tls_url(self) -> str:
        raise self._no("TLS")

    @property
    def external_url(self) -> str:
        raise self._no("TLS")

    @property
    def ca_file(self) -> Path:
        raise self._no("TLS")

    @property
    def client_cert(self) -> Path:
        raise self._no("TLS")

    @property
    def client_key(self) -> Path:
        raise self._no("TLS")

    @property
    def server_cert(self) -> Path:
        raise self._no("TLS")

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """A client context verifying the broker against the generated CA."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if client_cert:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def rabbitmqctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl ARGS`` against this broker; return its stdout."""
        raise self._no("rabbitmqctl")

    def wait_ready(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        _wait_for_amqp(
            self.host,
            urllib.parse.urlsplit(self.url).port or 5672,
            timeout,
            alive=lambda: True,
            describe=lambda: "",
            what=f"{self.kind} broker",
        )

    # -- helpers on top of rabbitmqctl
    def add_user(self, name: str, password: str, *, tags: Sequence[str] = ()) -> None:
        self.rabbitmqctl("add_user", name, password)
        if tags:
            self.rabbitmqctl("set_user_tags", name, *tags)

    def delete_user(self, name: str) -> None:
        self.rabbitmqctl("delete_user", name)

    def add_vhost(self, name: str) -> None:
        self.rabbitmqctl("add_vhost", name)

    def delete_vhost(self, name: str) -> None:
        self.rabbitmqctl("delete_vhost", name)

    def set_permissions(
        self,
        user: str,
        vhost: str = "/",
        configure: str = ".*",
        write: str = ".*",
        read: str = ".*",
    ) -> None:
        self.rabbitmqctl("set_permissions", "-p", vhost, user, configure, write, read)

    def list_users(self) -> list[str]:
        out = self.rabbitmqctl("list_users", "--quiet", "--no-table-headers")
        return [line.split("\t")[0] for line in out.splitlines() if line.strip()]

    def set_memory_watermark(self, fraction: float) -> None:
        """``0`` raises the memory alarm (connection.blocked); ``0.4`` clears it."""
        self.rabbitmqctl("set_vm_memory_high_watermark", f"{fraction:g}")

    def close_all_connections(self, reason: str = "closed by the test harness") -> None:
        self.rabbitmqctl("close_all_connections", reason)

    def stop_app(self) -> None:
        """Stop the RabbitMQ application (the node stays up; AMQP port closes)."""
        self.rabbitmqctl("stop_app")

    def start_app(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.rabbitmqctl("start_app", timeout=timeout)
        self.wait_ready(timeout)

    def restart(self) -> None:
        raise self._no("restart")

    def management_api(
        self,
        path: str,
        *,
        user: str = "guest",
        password: str = "guest",
        timeout: float = 10.0,
    ) -> Any:
        """GET ``/api/<path>`` from the management plugin; the decoded JSON."""
        base = self.management_url
        if base is None:
            raise self._no("the management API")
        request = urllib.request.Request(base.rstrip("/") + "/api/" + path.lstrip("/"))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def close(self) -> None:
        """Release the broker (stop what the harness started)."""

    def __enter__(self) -> Broker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ExternalBroker(Broker):
    """A broker given by URL (``AMQP_URL``): nothing but the URL is known."""

    kind = "external"

    def __init__(self, url: str) -> None:
        self._url = url
        self.host = urllib.parse.urlsplit(url).hostname or LOOPBACK

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"ExternalBroker({self._url!r})"


class RabbitNode(Broker):
    """One throwaway RabbitMQ node from the local install.

    ``name`` becomes ``name@localhost``. The node keeps its state in
    ``directory`` (a new temp dir by default, removed by :meth:`close`), so
    :meth:`stop` + :meth:`start` (or :meth:`restart`) keeps queues and users.
    ``tls_port`` enables a TLS listener with generated certificates and, with
    ``external_auth``, SASL EXTERNAL for the client certificate's CN
    (:data:`EXTERNAL_USER`, created with full permissions on ``/``).
    """

    kind = "local"

    def __init__(
        self,
        name: str = "amqpio",
        *,
        port: int = 5672,
        dist_port: int | None = None,
        tls_port: int | None = None,
        management_port: int | None = None,
        epmd_port: int | None = None,
        ctl_ports: tuple[int, int] | None = None,
        directory: str | os.PathLike[str] | None = None,
        cookie: str | None = None,
        external_auth: bool = True,
        plugins: Sequence[str] = (),
        extra_config: Sequence[str] = (),
        start_timeout: float = DEFAULT_START_TIMEOUT,
        sbin: str | os.PathLike[str] | None = None,
        manage_epmd: bool = True,
    ) -> None:
        self.node_name = name if "@" in name else f"{name}@localhost"
        self.port = port
        self.dist_port = dist_port if dist_port is not None else port + 20000
        self.tls_port = tls_port
        self.management_port = management_port
        self.epmd_port = epmd_port if epmd_port is not None else self.dist_port + 1
        self.ctl_ports = (
            ctl_ports
            if ctl_ports is not None
            else (self.dist_port + 2, self.dist_port + 3)
        )
        self.external_auth = external_auth and tls_port is not None
        self.plugins = tuple(plugins)
        self.extra_config = tuple(extra_config)
        self.start_timeout = start_timeout
        found = Path(sbin) if sbin is not None else find_rabbitmq_sbin()
        if found is None:
            raise BrokerNotFound(
                f"no local RabbitMQ install found (looked in {', '.join(_SBIN_CANDIDATES)};"
                f" set {SBIN_ENV}): apt-get install -y rabbitmq-server"
            )
        self.sbin = found
        self._own_dir = directory is None
        # Data is thrown away at close: kill instead of a graceful stop.
        self._disposable = self._own_dir
        self.directory = (
            Path(tempfile.mkdtemp(prefix=f"amqpio-rabbit-{name.split('@')[0]}-"))
            if directory is None
            else Path(directory).absolute()
        )
        self._cookie = cookie
        self._epmd = _Epmd(self.epmd_port) if manage_epmd else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._tls: TLSFiles | None = None
        self._launched_at = 0.0
        #: Seconds the last start took (launch to AMQP port answering).
        self.startup_seconds: float | None = None

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running else "stopped"
        return f"RabbitNode({self.node_name!r}, port={self.port}, {state})"

    # -- paths and URLs
    @property
    def log_file(self) -> Path:
        return self.directory / "log" / f"{self.node_name}.log"

    @property
    def output_file(self) -> Path:
        return self.directory / "output.log"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{LOOPBACK}:{self.port}/"

    @property
    def has_tls(self) -> bool:
        return self.tls_port is not None

    @property
    def can_control(self) -> bool:
        return True

    def _tls_files(self) -> TLSFiles:
        if self._tls is None:
            raise self._no("TLS (no tls_port, or not started yet)")
        return self._tls

    @property
    def tls_url(self) -> str:
        self._tls_files()
        return f"amqps://guest:guest@{LOOPBACK}:{self.tls_port}/"

    @property
    def external_url(self) -> str:
        """amqps URL with the CA, client certificate and ``auth=external``."""
        tls = self._tls_files()
        query = urllib.parse.urlencode(
            {
                "auth": "external",
                "cafile": str(tls.ca_file),
                "certfile": str(tls.client_cert),
                "keyfile": str(tls.client_key),
            }
        )
        return f"amqps://{LOOPBACK}:{self.tls_port}/?{query}"

    @property
    def ca_file(self) -> Path:
        return self._tls_files().ca_file

    @property
    def client_cert(self) -> Path:
        return self._tls_files().client_cert

    @property
    def client_key(self) -> Path:
        return self._tls_files().client_key

    @property
    def server_cert(self) -> Path:
        return self._tls_files().server_cert

    @property
    def management_url(self) -> str | None:
        if self.management_port is None:
            return None
        return f"http://{LOOPBACK}:{self.management_port}/"

    @property
    def pid(self) -> int | None:
        """PID of the ``rabbitmq-server`` script (leader of the node's process group)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def beam_pid(self) -> int | None:
        """PID of the Erlang VM, from the node's pid file (None before it is written)."""
        try:
            return int((self.directory / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- files
    def _write_files(self) -> None:
        d = self.directory
        for sub in ("mnesia", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        cookie = d / ".erlang.cookie"
        if self._cookie is not None or not cookie.exists():
            if cookie.exists():
                cookie.chmod(0o600)
            cookie.write_text(self._cookie or _random_cookie())
            cookie.chmod(0o400)
        (d / "rabbitmq-env.conf").write_text("")  # never read /etc/rabbitmq's
        (d / "advanced.config").write_text("[].\n")
        plugins = list(self.plugins)
        if self.management_port is not None:
            plugins.append("rabbitmq_management")
        if self.external_auth:
            plugins.append("rabbitmq_auth_mechanism_ssl")
        (d / "enabled_plugins").write_text(f"[{','.join(dict.fromkeys(plugins))}].\n")
        if self.tls_port is not None and self._tls is None:
            tls = d / "tls"
            existing = TLSFiles(
                ca_file=tls / "ca.pem",
                ca_key=tls / "ca.key",
                server_cert=tls / "server.pem",
                server_key=tls / "server.key",
                client_cert=tls / "client.pem",
                client_key=tls / "client.key",
            )
            if all(
                p.exists()
                for p in (existing.ca_file, existing.server_key, existing.client_key)
            ):
                self._tls = existing  # reuse the certificates of a kept directory
            else:
                self._tls = generate_certificates(tls)
        users: list[dict[str, object]] = [
            {
                "name": "guest",
                "password_hash": _password_hash("guest"),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"],
            }
        ]
        if self.external_auth:
            users.append(
                {
                    "name": EXTERNAL_USER,
                    "password_hash": _password_hash(secrets.token_hex(16)),
                    "hashing_algorithm": "rabbit_password_hashing_sha256",
                    "tags": [],
                }
            )
        definitions = {
            "users": users,
            "vhosts": [{"name": "/"}],
            "permissions": [
                {
                    "user": u["name"],
                    "vhost": "/",
                    "configure": ".*",
                    "write": ".*",
                    "read": ".*",
                }
                for u in users
            ],
        }
        (d / "definitions.json").write_text(json.dumps(definitions, indent=1))
        (d / "rabbitmq.conf").write_text("\n".join(self._config_lines()) + "\n")

    def _config_lines(self) -> list[str]:
        d = self.directory
        lines = [
            f"listeners.tcp.default = {LOOPBACK}:{self.port}",
            f"load_definitions = {d / 'definitions.json'}",
            "log.console = false",
            "log.file.level = info",
            "disk_free_limit.absolute = 10MB",
        ]
        if self._tls is not None:
            lines += [
                f"listeners.ssl.default = {LOOPBACK}:{self.tls_port}",
                f"ssl_options.cacertfile = {self._tls.ca_file}",
                f"ssl_options.certfile = {self._tls.server_cert}",
                f"ssl_options.keyfile = {self._tls.server_key}",
                "ssl_options.verify = verify_peer",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        if self.external_auth:
            lines += [
                "auth_mechanisms.1 = PLAIN",
                "auth_mechanisms.2 = AMQPLAIN",
                "auth_mechanisms.3 = EXTERNAL",
                "ssl_cert_login_from = common_name",
            ]
        if self.management_port is not None:
            lines += [
                f"management.tcp.port = {self.management_port}",
                f"management.tcp.ip = {LOOPBACK}",
                "collect_statistics_interval = 1000",
            ]
        lines += self.extra_config
        return lines

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RABBITMQ_", "ERL_"))
        }
        d = self.directory
        loopback_dist = "-kernel inet_dist_use_interface {127,0,0,1}"
        env.update(
            HOME=str(d),
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_NODENAME=self.node_name,
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_PID_FILE=str(d / "rabbitmq.pid"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
            RABBITMQ_CTL_DIST_PORT_MIN=str(self.ctl_ports[0]),
            RABBITMQ_CTL_DIST_PORT_MAX=str(self.ctl_ports[1]),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=loopback_dist,
            RABBITMQ_CTL_ERL_ARGS=loopback_dist,
        )
        return env

    # -- lifecycle
    def start(self) -> RabbitNode:
        """Start the node and wait until it answers on the AMQP port."""
        if not self.is_running:
            try:
                self.launch()
                self.wait_ready(self.start_timeout)
            except BaseException:
                self.kill()
                if self._epmd is not None:
                    self._epmd.stop()
                raise
        return self

    def launch(self) -> None:
        """Spawn the node without waiting for it (see :meth:`wait_ready`)."""
        if self.is_running:
            return
        self._reap()
        busy = [p for p in self._ports() if port_is_open(LOOPBACK, p)]
        if busy:
            raise BrokerStartError(
                f"cannot start {self.node_name}: port(s) {busy} already in use on "
                f"{LOOPBACK} (a node left over from an earlier run? check `ps`)"
            )
        self._write_files()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "rabbitmq.pid").unlink()
        if self._epmd is not None:
            self._epmd.ensure()
        self._output = open(self.output_file, "ab")  # noqa: SIM115 - closed in _reap
        self._launched_at = time.monotonic()
        self.startup_seconds = None
        self._proc = subprocess.Popen(
            [str(self.sbin / "rabbitmq-server")],
            env=self._env(),
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _register(self, self.close)

    def describe(self) -> str:
        """Log tails for error messages."""
        return _excerpt(self.output_file, 15) + "\n" + _excerpt(self.log_file, 30)

    def wait_ready(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Wait until the AMQP port answers the protocol header (and TLS/management)."""
        if self._proc is None:
            raise BrokerError(f"{self.node_name} was not started")
        _wait_for_amqp(
            LOOPBACK,
            self.port,
            timeout,
            alive=lambda: self.is_running,
            describe=self.describe,
            what=f"RabbitMQ node {self.node_name}",
        )
        if self.startup_seconds is None:  # first readiness since launch()
            self.startup_seconds = time.monotonic() - self._launched_at
        for extra, what in (
            (self.tls_port, "TLS"),
            (self.management_port, "management"),
        ):
            if extra is not None:
                _wait_for_port(
                    LOOPBACK, extra, 30.0, f"{self.node_name} {what} listener"
                )

    def rabbitmqctl(self, *args: str, timeout: float = 60.0, check: bool = True) -> str:
        command = [str(self.sbin / "rabbitmqctl"), "-n", self.node_name, *args]
        try:
            result = subprocess.run(
                command,
                env=self._env(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.output.decode(errors="replace") if exc.output else ""
            raise RabbitmqctlError(args, None, output) from None
        if check and result.returncode != 0:
            raise RabbitmqctlError(
                args, result.returncode, result.stdout + result.stderr
            )
        return result.stdout

    def stop(self, timeout: float = 30.0) -> None:
        """``rabbitmqctl stop``, wait for the process; signals if that fails."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                self.rabbitmqctl("stop", timeout=timeout)
            except BrokerError:
                pass  # hung or half-started node: signals below
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout)
            _terminate_group(proc, grace=10.0)
        self._reap()
        if self._epmd is not None:
            self._epmd.stop()

    def kill(self) -> None:
        """SIGKILL the node's whole process group (crash simulation)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _terminate_group(proc, grace=10.0)
        self._reap()

    def _ports(self) -> list[int]:
        ports = [self.port, self.dist_port, self.tls_port, self.management_port]
        return [p for p in ports if p is not None]

    def _reap(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                return
            self._proc = None
            # A killed multi-threaded VM shows as a zombie a moment before its
            # last thread has closed the listening sockets: wait for them.
            deadline = time.monotonic() + 5.0
            while any(port_is_open(LOOPBACK, p, 0.2) for p in self._ports()):
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        _unregister(self)
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self) -> None:
        """Stop and start again, keeping data, users and certificates."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop, and remove the directory if the harness created it.

        A node in a harness-made temp dir is killed rather than stopped: its data
        is deleted anyway, and a graceful stop takes seconds (about 7 s with the
        management plugin). A node in a directory you gave is stopped cleanly.
        Nodes still running when the interpreter exits are closed by atexit.
        """
        if self._disposable:
            self.kill()
            if self._epmd is not None:
                self._epmd.stop()
        else:
            self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RabbitNode:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise


class RabbitCluster:
    """``size`` local nodes sharing one Erlang cookie and epmd, joined in a cluster.

    Node ``i`` (0-based) is ``{name}{i+1}@localhost`` on AMQP port ``port + i``
    and distribution port ``dist_port + i`` (default ``port + 20000 + i``); the
    shared epmd is on ``dist_port + size`` and rabbitmqctl uses the two ports
    after it. With the defaults and ``port=5684`` this is 5684-5686 and
    25684-25689.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        name: str = "amqpio-c",
        port: int = 5672,
        dist_port: int | None = None,
        management_port: int | None = None,
        epmd_port: int | None = None,
        ctl_ports: tuple[int, int] | None = None,
        directory: str | os.PathLike[str] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        sbin: str | os.PathLike[str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        dist = dist_port if dist_port is not None else port + 20000
        epmd = epmd_port if epmd_port is not None else dist + size
        ctl = ctl_ports if ctl_ports is not None else (epmd + 1, epmd + 2)
        if sbin is None and find_rabbitmq_sbin() is None:
            raise BrokerNotFound(
                "a cluster needs a local RabbitMQ install: apt-get install -y rabbitmq-server"
            )
        self._own_dir = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix=f"amqpio-cluster-{name}-"))
            if directory is None
            else Path(directory).absolute()
        )
        self.start_timeout = start_timeout
        self._epmd = _Epmd(epmd)
        cookie = _random_cookie()
        self.nodes = [
            RabbitNode(
                f"{name}{i + 1}",
                port=port + i,
                dist_port=dist + i,
                management_port=None
                if management_port is None
                else management_port + i,
                epmd_port=epmd,
                ctl_ports=ctl,
                directory=self.directory / f"node{i + 1}",
                cookie=cookie,
                start_timeout=start_timeout,
                sbin=sbin,
                manage_epmd=False,
            )
            for i in range(size)
        ]
        for node in self.nodes:
            node._disposable = self._own_dir
        #: Seconds the last :meth:`start` took: (all nodes up, cluster joined).
        self.startup_seconds: tuple[float, float] | None = None

    def __repr__(self) -> str:
        return f"RabbitCluster({[n.node_name for n in self.nodes]!r})"

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> RabbitCluster:
        """Start every node in parallel, then join nodes 2..n to node 1."""
        began = time.monotonic()
        self._epmd.ensure()
        try:
            for node in self.nodes:
                node.launch()
            _register(self, self.close)  # after the nodes: at exit it runs first
            for node in self.nodes:
                node.wait_ready(self.start_timeout)
            booted = time.monotonic() - began
            first = self.nodes[0].node_name
            for index, node in enumerate(self.nodes[1:], start=1):
                if not self._own_dir and first in self.running_nodes(index):
                    continue  # already a member (kept directory reused)
                node.rabbitmqctl("stop_app")
                node.rabbitmqctl("join_cluster", first)
                node.start_app(self.start_timeout)
        except BaseException:
            for node in self.nodes:
                node.kill()
            self._epmd.stop()
            raise
        self.startup_seconds = (booted, time.monotonic() - began)
        return self

    def cluster_status(self, node: int = 0) -> dict[str, Any]:
        """``rabbitmqctl cluster_status --formatter json`` as seen by ``node``."""
        out = self.nodes[node].rabbitmqctl("cluster_status", "--formatter", "json")
        status: dict[str, Any] = json.loads(out)
        return status

    def running_nodes(self, node: int = 0) -> list[str]:
        return list(self.cluster_status(node).get("running_nodes", []))

    def stop_node(self, index: int) -> None:
        self.nodes[index].stop()

    def start_node(self, index: int) -> None:
        self._epmd.ensure()
        self.nodes[index].start()

    def stop(self) -> None:
        """Stop every node, the first one last (so it can be started first), then epmd."""
        _unregister(self)
        for node in reversed(self.nodes):
            node.stop()
        self._epmd.stop()

    def close(self) -> None:
        """Stop (kill, for a harness-made temp dir) and remove the temp dir."""
        _unregister(self)
        if self._own_dir:
            for node in self.nodes:
                node.kill()
            self._epmd.stop()
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            self.stop()

    def __enter__(self) -> RabbitCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- Docker
# UNTESTED: no Docker engine runs where this harness was written. Kept small on
# purpose; it only matters on machines without a local RabbitMQ install.


class DockerBroker(Broker):
    """A ``rabbitmq:3-management`` container (UNTESTED fallback)."""

    kind = "docker"

    def __init__(
        self, client: Any, container: Any, port: int, management_port: int | None
    ) -> None:
        self._client = client
        self._container = container
        self.port = port
        self.management_port = management_port

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{LOOPBACK}:{self.port}/"

    @property
    def management_url(self) -> str | None:
        if self.management_port is None:
            return None
        return f"http://{LOOPBACK}:{self.management_port}/"

    @property
    def can_control(self) -> bool:
        return True

    def rabbitmqctl(self, *args: str, timeout: float = 60.0) -> str:
        code, output = self._container.exec_run(["rabbitmqctl", *args])
        text = (
            output.decode(errors="replace")
            if isinstance(output, bytes)
            else str(output)
        )
        if code != 0:
            raise RabbitmqctlError(args, int(code), text)
        return text

    def close(self) -> None:
        _unregister(self)
        with contextlib.suppress(Exception):
            self._container.stop(timeout=10)
        with contextlib.suppress(Exception):
            self._client.close()


def _docker_socket_answers() -> bool:
    """Cheap check first: the docker package leaks a socket when no engine is there."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return True  # tcp:// or ssh://: let the docker package find out
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(host[len("unix://") :])
    except OSError:
        return False
    return True


def start_docker_broker(
    *, port: int, management_port: int | None, timeout: float = DEFAULT_START_TIMEOUT
) -> DockerBroker | None:
    """Start a container when the ``docker`` package is there and an engine answers."""
    if not _docker_socket_answers():
        return None
    try:
        docker = importlib.import_module("docker")
        client = docker.from_env(timeout=5)
    except Exception:
        return None
    try:
        client.ping()
    except Exception:
        client.close()
        return None
    ports: dict[str, tuple[str, int]] = {"5672/tcp": (LOOPBACK, port)}
    if management_port is not None:
        ports["15672/tcp"] = (LOOPBACK, management_port)
    try:
        container = client.containers.run(
            DOCKER_IMAGE, detach=True, auto_remove=True, ports=ports
        )
    except BaseException:
        client.close()
        raise
    broker = DockerBroker(client, container, port, management_port)
    _register(broker, broker.close)
    try:
        broker.wait_ready(timeout)
    except BaseException:
        broker.close()
        raise
    return broker


# --------------------------------------------------------------------------- discovery


def find_broker(
    *,
    name: str = "amqpio",
    port: int = 5672,
    tls_port: int | None = None,
    management_port: int | None = None,
    dist_port: int | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    use_docker: bool = True,
) -> Broker:
    """The broker for a test session; the caller must :meth:`~Broker.close` it.

    1. ``AMQP_URL`` set: an :class:`ExternalBroker` (nothing is started);
    2. a local ``rabbitmq-server`` install: a started :class:`RabbitNode`;
    3. ``use_docker`` and a Docker engine answers: a :class:`DockerBroker`;
    4. else :class:`BrokerNotFound`, whose message says how to get a broker.
    """
    url = os.environ.get("AMQP_URL")
    if url:
        return ExternalBroker(url)
    if find_rabbitmq_sbin() is not None:
        node = RabbitNode(
            name,
            port=port,
            tls_port=tls_port,
            management_port=management_port,
            dist_port=dist_port,
            start_timeout=start_timeout,
        )
        try:
            return node.start()
        except BaseException:
            node.close()
            raise
    docker_state = "not tried"
    if use_docker:
        broker = start_docker_broker(
            port=port, management_port=management_port, timeout=start_timeout
        )
        if broker is not None:
            return broker
        docker_state = "no engine answered (or the docker package is missing)"
    raise BrokerNotFound(
        HOW_TO_GET_A_BROKER.format(
            sbin_env=SBIN_ENV,
            image=DOCKER_IMAGE,
            searched=os.environ.get(SBIN_ENV) or ", ".join(_SBIN_CANDIDATES),
            docker=docker_state,
        )
    )


# --------------------------------------------------------------------------- CLI


def _serve(
    started: Callable[[], Sequence[RabbitNode]], stop: Callable[[], None]
) -> int:
    """Run until SIGINT/SIGTERM or until a node dies; always clean up."""
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        nodes = started()
        print(f"# running; stop with Ctrl-C or `kill {os.getpid()}`", file=sys.stderr)
        while not done.wait(1.0):
            dead = [n.node_name for n in nodes if not n.is_running]
            if dead:
                print(f"node(s) {dead} exited unexpectedly", file=sys.stderr)
                return 1
        return 0
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stop()
        print("# stopped", file=sys.stderr)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_vars(pairs: Sequence[tuple[str, object]]) -> None:
    for key, value in pairs:
        print(f"{key}={value}")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amqpio.testing.rabbitmq",
        description="Run a throwaway RabbitMQ node or cluster in the foreground.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="one node; prints AMQP_URL=... and PID=...")
    start.add_argument("--name", default="amqpio")
    start.add_argument("--port", type=int, default=5672)
    start.add_argument("--tls-port", type=int)
    start.add_argument("--management-port", type=int)
    start.add_argument("--dist-port", type=int)
    start.add_argument("--epmd-port", type=int)
    start.add_argument("--dir", help="state directory (kept); default: a temp dir")
    start.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT)
    cluster = sub.add_parser("cluster", help="a local cluster; prints AMQP_URLS=...")
    cluster.add_argument("--name", default="amqpio-c")
    cluster.add_argument("--size", type=int, default=3)
    cluster.add_argument("--port", type=int, default=5672)
    cluster.add_argument("--management-port", type=int)
    cluster.add_argument("--dist-port", type=int)
    cluster.add_argument("--dir", help="state directory (kept); default: a temp dir")
    cluster.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT)
    args = parser.parse_args(argv)

    if args.command == "start":
        node = RabbitNode(
            args.name,
            port=args.port,
            tls_port=args.tls_port,
            management_port=args.management_port,
            dist_port=args.dist_port,
            epmd_port=args.epmd_port,
            directory=args.dir,
            start_timeout=args.timeout,
        )

        def start_node() -> Sequence[RabbitNode]:
            node.start()
            pairs: list[tuple[str, object]] = [("AMQP_URL", node.url)]
            if node.has_tls:
                pairs += [
                    ("AMQPS_URL", node.tls_url),
                    ("AMQP_CA_FILE", node.ca_file),
                    ("AMQP_CLIENT_CERT", node.client_cert),
                    ("AMQP_CLIENT_KEY", node.client_key),
                ]
            if node.management_url:
                pairs.append(("MANAGEMENT_URL", node.management_url))
            pairs += [
                ("RABBITMQ_NODE", node.node_name),
                ("PID", os.getpid()),
                ("NODE_PID", node.pid),
                ("BEAM_PID", node.beam_pid),
                ("DIR", node.directory),
                ("STARTUP_SECONDS", f"{node.startup_seconds:.1f}"),
            ]
            _print_vars(pairs)
            return [node]

        return _serve(start_node, node.close)

    rc = RabbitCluster(
        args.size,
        name=args.name,
        port=args.port,
        dist_port=args.dist_port,
        management_port=args.management_port,
        directory=args.dir,
        start_timeout=args.timeout,
    )

    def start_cluster() -> Sequence[RabbitNode]:
        rc.start()
        assert rc.startup_seconds is not None
        _print_vars(
            [
                ("AMQP_URLS", " ".join(rc.urls)),
                ("RABBITMQ_NODES", " ".join(n.node_name for n in rc.nodes)),
                ("PID", os.getpid()),
                ("NODE_PIDS", " ".join(str(n.pid) for n in rc.nodes)),
                ("DIR", rc.directory),
                ("STARTUP_SECONDS", f"{rc.startup_seconds[1]:.1f}"),
            ]
        )
        return rc.nodes

    return _serve(start_cluster, rc.close)


if __name__ == "__main__":
    sys.exit(main())
