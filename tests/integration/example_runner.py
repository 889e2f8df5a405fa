"""Run the seed's aio-pika examples (``examples/``) unchanged against amqpio.

The example files are never edited: they ``import aio_pika`` and connect to
hard-coded URLs such as ``amqp://guest:guest@127.0.0.1/``. Only the environment
of the process that runs one changes (:func:`example_env`):

* ``PYTHONPATH`` starts with :data:`SHIM_DIR`, whose ``aio_pika`` package makes
  ``aio_pika`` and every ``aio_pika.X`` the very modules ``amqpio`` and
  ``amqpio.X`` (see ``aio_pika_shim/aio_pika/__init__.py``), even though the
  real aio-pika is installed in the same environment;
* ``AMQPIO_EXAMPLE_URL`` (and ``AMQPIO_EXAMPLE_TLS_URL`` for ``amqps://`` or
  ``ssl=True``) routes ``connect()``/``connect_robust()`` to the test broker's
  host and port, keeping the example's credentials, virtual host and query;
* ``PYTHONUNBUFFERED=1``, so that a test sees each ``print`` as it happens.

:class:`ExampleProcess` runs one example as a subprocess, collects its output
and stops it (SIGINT, then SIGTERM, then SIGKILL). A failure is classified
(:func:`failure`): :class:`MissingFeature` when the example needs what issue 5
(``connect_robust``/``Robust*``) or issue 6 (``patterns``, ``pool``) will
bring, :class:`SeedCodeError` when the seed's own code cannot run (a syntax
error, an undefined name), else ``AssertionError``.

By hand::

    python tests/integration/example_runner.py EXAMPLE [ARGS...]
    python tests/integration/example_runner.py --env   # the exports, for a shell

``--url``/``--tls-url`` (default: ``AMQP_URL``) name the broker; without one,
a throwaway local node is started on ``AMQPIO_TEST_PORT_BASE`` (default 5680)
for the duration of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHIM_DIR = Path(__file__).resolve().parent / "aio_pika_shim"
URL_ENV = "AMQPIO_EXAMPLE_URL"
TLS_URL_ENV = "AMQPIO_EXAMPLE_TLS_URL"

#: stderr of an example that needs issue 5 (robust) or issue 6 (patterns, pool).
MISSING_FEATURE = re.compile(
    r"ImportError: cannot import name '(connect_robust|Robust\w*)' from 'amqpio'"
    r"|AttributeError: module '(amqpio|aio_pika)' has no attribute "
    r"'(connect_robust|Robust\w*)'"
    r"|ModuleNotFoundError: No module named '(aio_pika|amqpio)\.(patterns|pool)\b"
    r"|ImportError: cannot import name '\w+' from '(aio_pika|amqpio)\.(patterns|pool)\b"
)
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+', re.MULTILINE)
_ERROR = re.compile(r"^(?P<error>[A-Za-z_][\w.]*)(?::|$)", re.MULTILINE)


class MissingFeature(Exception):
    """The example failed because amqpio lacks connect_robust/patterns/pool yet."""


class SeedCodeError(Exception):
    """The example failed because of a bug in the seed's code itself."""


def example_env(
    url: str | None,
    tls_url: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment that runs an example against amqpio and ``url``."""
    env = dict(os.environ if base is None else base)
    paths = [str(SHIM_DIR), str(ROOT / "src")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop(URL_ENV, None)
    env.pop(TLS_URL_ENV, None)
    if url:
        env[URL_ENV] = url
    if tls_url:
        env[TLS_URL_ENV] = tls_url
    return env


def example_path(name: str | os.PathLike[str]) -> Path:
    """``examples/NAME.py`` for a bare name, else the path as given."""
    path = Path(name)
    if path.suffix != ".py":
        path = EXAMPLES / f"{name}.py"
    return path


def failure(what: str, process: ExampleProcess) -> Exception:
    """The exception that reports ``process`` failing at ``what``."""
    text = f"{process.name}: {what}\n{process.report()}"
    if MISSING_FEATURE.search(process.stderr):
        return MissingFeature(text)
    if _seed_code_error(process):
        return SeedCodeError(text)
    return AssertionError(text)


def _seed_code_error(process: ExampleProcess) -> bool:
    """A SyntaxError/IndentationError/NameError raised by the example's own code."""
    stderr = process.stderr
    frames = list(_FRAME.finditer(stderr))
    if not frames:
        return False
    last = frames[-1]
    error = _ERROR.search(stderr, last.end())
    return (
        error is not None
        and Path(last["file"]) == process.path
        and error["error"] in {"SyntaxError", "IndentationError", "NameError"}
    )


class ExampleProcess:
    """One example running as a subprocess, with its output collected."""

    def __init__(
        self,
        name: str | os.PathLike[str],
        *args: str,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = example_path(name)
        self.name = " ".join([self.path.stem, *args])
        self._lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, str(self.path), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,  # its own process group: killed as a whole
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(
                target=self._read, args=(stream, key), daemon=True, name=key
            )
            for key, stream in (
                ("stdout", self.proc.stdout),
                ("stderr", self.proc.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, key: str) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            with self._changed:
                self._lines[key].append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()
        stream.close()  # type: ignore[attr-defined]
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self._lines["stdout"])

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self._lines["stderr"])

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def report(self, tail: int = 60) -> str:
        """Exit status and the last lines of both streams, for failure messages."""
        out = self.stdout.splitlines()[-tail:]
        err = self.stderr.splitlines()[-tail:]
        return (
            f"  exit status: {self.proc.poll()}\n"
            "  --- stdout (tail) ---\n    " + "\n    ".join(out) + "\n"
            "  --- stderr (tail) ---\n    " + "\n    ".join(err)
        )

    def wait_for(
        self, pattern: str, timeout: float = 15.0, *, count: int = 1
    ) -> list[re.Match[str]]:
        """Wait until ``pattern`` (a regex) matched ``count`` times in stdout.

        Raises (see :func:`failure`) when the process ends first or time runs out.
        """
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matches = list(regex.finditer("".join(self._lines["stdout"])))
                if len(matches) >= count:
                    return matches
                readers_done = not any(r.is_alive() for r in self._readers)
                if readers_done and self.proc.poll() is not None:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.2))
        state = "ended" if self.proc.poll() is not None else "still running"
        raise failure(
            f"expected {count} x {pattern!r} in stdout within {timeout:g} s "
            f"(found {len(matches)}; the process is {state})",
            self,
        )

    def wait(self, timeout: float = 30.0, *, expect_rc: int | None = 0) -> int:
        """Wait for the process to end; check its exit status (``None``: any)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise failure(f"did not end within {timeout:g} s", self) from None
        for reader in self._readers:
            reader.join(5)
        if expect_rc is not None and rc != expect_rc:
            raise failure(f"exit status {rc}, expected {expect_rc}", self)
        return rc

    def assert_running(self) -> None:
        if self.proc.poll() is not None:
            raise failure("ended early", self)

    def stop(self) -> int:
        """SIGINT (Ctrl-C), then SIGTERM, then SIGKILL; return the exit status."""
        for sig, grace in ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0)):
            if self.proc.poll() is not None:
                break
            self._signal(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(5)
        for reader in self._readers:
            reader.join(5)
        return self.proc.returncode

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)  # its own group (start_new_session)

    def __enter__(self) -> ExampleProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run an aio-pika example from examples/ unchanged against amqpio."
    )
    parser.add_argument("--url", default=os.environ.get("AMQP_URL"))
    parser.add_argument("--tls-url", default=None)
    parser.add_argument("--env", action="store_true", help="print the exports")
    parser.add_argument("example", nargs="?")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)

    if options.env:
        env = example_env(options.url, options.tls_url, base={})
        for key in ("PYTHONPATH", "PYTHONUNBUFFERED", URL_ENV, TLS_URL_ENV):
            if key in env:
                print(f"export {key}={env[key]!r}")
        return 0
    if not options.example:
        parser.error("name an example (e.g. tutorial_1_hello_world_send)")

    broker = None
    url, tls_url = options.url, options.tls_url
    if not url:
        from amqpio.testing.rabbitmq import find_broker

        port = int(os.environ.get("AMQPIO_TEST_PORT_BASE", "5680"))
        print(f"starting a throwaway RabbitMQ node on port {port}", file=sys.stderr)
        broker = find_broker(name="amqpio-examples", port=port, tls_port=port + 1)
        url = broker.url
        tls_url = broker.tls_url if broker.has_tls else None
    try:
        command = [sys.executable, str(example_path(options.example)), *options.args]
        completed = subprocess.run(command, env=example_env(url, tls_url), check=False)
        return completed.returncode
    except KeyboardInterrupt:
        return 130
    finally:
        if broker is not None:
            broker.close()


if __name__ == "__main__":
    sys.exit(main())
