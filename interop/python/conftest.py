"""Fixtures for the interop suite: the demo app as a child process, and
autobahn-python (asyncio flavour) as the client.

The demo binary is `$SERVERWAMP_DEMO` if set, else
`target/release/examples/demo` under the repository root; `scripts/test`
builds it before running this suite (the fixtures never build).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import txaio

# autobahn-python's asyncio flavour; chosen before any autobahn module binds
# txaio's functions.
txaio.use_asyncio()

# autobahn imports `bjdata` (UBJSON), which prints a long, harmless NumPy
# ABI complaint to stderr on import here. Import the serializers once with
# that message swallowed; anything else printed is passed through.
_captured = io.StringIO()
with contextlib.redirect_stderr(_captured):
    import autobahn.wamp.serializer  # noqa: F401
if _captured.getvalue() and "NumPy" not in _captured.getvalue():
    sys.stderr.write(_captured.getvalue())

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0

# Every serializer/transport variant autobahn-python speaks over WebSocket
# that the demo contract lists. The ids name the serializer.
SERIALIZERS = ["json", "msgpack", "cbor", "json.batched", "msgpack.batched"]


def demo_path() -> Path:
    configured = os.environ.get("SERVERWAMP_DEMO")
    path = Path(configured) if configured else REPO_ROOT / "target/release/examples/demo"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


class DemoProcess:
    """One running demo app: its ws URL, its log, and a clean stop."""

    def __init__(self, *args: str) -> None:
        path = demo_path()
        if not path.is_file():
            raise RuntimeError(
                f"demo binary {path} not found: run "
                "`cargo build --release --example demo` (scripts/test does) "
                "or set SERVERWAMP_DEMO"
            )
        self.args = [str(path), "--listen", "127.0.0.1:0", *args]
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.url = self._line("listening on ", "ws://")
            if "--rawsocket" in args:
                address = self._line("rawsocket on ", "tcp://").removeprefix("tcp://")
                host, port = address.rsplit(":", 1)
                self.rawsocket_host, self.rawsocket_port = host, int(port)
        except BaseException:
            self.kill()
            raise
        self.host, port = self.url.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
        self.port = int(port)
        self.http_url = f"http://{self.host}:{self.port}"

    def _pump(self) -> None:
        # Keep draining stdout so the demo can never block on it.
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def _line(self, prefix: str, scheme: str) -> str:
        """The next stdout line, which must read `prefix` + `scheme`...;
        returns it without the prefix."""
        try:
            line = self.lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(
                f"demo printed no {prefix!r} line within {STARTUP_TIMEOUT} s\n{self.log_text()}"
            ) from None
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith(prefix + scheme):
            raise RuntimeError(
                f"demo printed {text!r}, expected '{prefix}{scheme}...'\n{self.log_text()}"
            )
        return text[len(prefix):]

    def log_text(self) -> str:
        self.log.seek(0)
        return "--- demo stderr ---\n" + self.log.read().decode("utf-8", "replace")

    def terminate(self, timeout: float = SHUTDOWN_TIMEOUT) -> int:
        """SIGTERM, then the exit code (killing it if it overstays)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"demo did not exit within {timeout} s of SIGTERM\n{self.log_text()}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop_and_check(self) -> None:
        code = self.terminate()
        assert code == 0, f"demo exited {code} after SIGTERM\n{self.log_text()}"


@contextlib.contextmanager
def running_demo(*args: str):
    demo = DemoProcess(*args)
    try:
        yield demo
    except BaseException:
        demo.kill()
        raise
    demo.stop_and_check()


def pytest_configure(config):
    # passlib (needed by autobahn's WAMP-SCRAM client) imports the stdlib's
    # deprecated `crypt` module; harmless here.
    config.addinivalue_line(
        "filterwarnings", "ignore:'crypt' is deprecated:DeprecationWarning"
    )


@pytest.fixture(scope="session")
def demo():
    """The shared demo app (default realm on); teardown checks SIGTERM → 0."""
    with running_demo() as d:
        yield d


@pytest.fixture(scope="session")
def demo_url(demo) -> str:
    return demo.url


@pytest.fixture(scope="session")
def demo_no_default_realm():
    """A demo app started with `--no-default-realm`."""
    with running_demo("--no-default-realm") as d:
        yield d


@pytest.fixture
def fresh_demo():
    """A demo app of the test's own, for tests that stop it themselves."""
    demo = DemoProcess()
    try:
        yield demo
    finally:
        demo.kill()


@pytest.fixture(params=SERIALIZERS)
def serializer(request) -> str:
    return request.param
