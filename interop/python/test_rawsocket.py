"""WAMP over RawSocket: autobahn-python's asyncio RawSocket client against
the demo app started with `--rawsocket`, once per serializer (JSON,
MessagePack, CBOR; RawSocket has no batched variants).

The demo binary is `$SERVERWAMP_DEMO` if set, else
`target/release/examples/demo` (build it first with
`cargo build --release --example demo`). This module starts its own demo
with `--listen 127.0.0.1:0 --rawsocket 127.0.0.1:0`, reads both address
lines it prints, and stops it with SIGTERM, expecting exit code 0.
"""

from __future__ import annotations

import asyncio
import math
import signal
from pathlib import Path

import pytest
import txaio

txaio.use_asyncio()

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory  # noqa: E402
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import (  # noqa: E402
    CBORSerializer,
    JsonSerializer,
    MsgPackSerializer,
)
from autobahn.wamp.types import CallOptions, CallResult, ComponentConfig  # noqa: E402
from conftest import DemoProcess  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
TEST_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0

# RawSocket handshake serializer IDs: 1 JSON, 2 MessagePack, 3 CBOR.
SERIALIZERS = {
    "json": (JsonSerializer, 1),
    "msgpack": (MsgPackSerializer, 2),
    "cbor": (CBORSerializer, 3),
}


class RawSocketDemo(DemoProcess):
    """The demo app serving WebSocket and RawSocket, as a child process."""

    def __init__(self) -> None:
        super().__init__("--rawsocket", "127.0.0.1:0")
        self.ws_url = self.url
        self.host, self.port = self.rawsocket_host, self.rawsocket_port


@pytest.fixture(scope="module")
def rawsocket_demo():
    """One demo for the module; teardown checks SIGTERM → exit 0."""
    demo = RawSocketDemo()
    try:
        yield demo
    except BaseException:
        demo.kill()
        raise
    demo.stop_and_check()


@pytest.fixture(params=list(SERIALIZERS))
def rawsocket_serializer(request) -> str:
    return request.param


class Session(ApplicationSession):
    """An autobahn session that reports when it joins and goes away."""

    def __init__(self, config: ComponentConfig) -> None:
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.joined: asyncio.Future = loop.create_future()
        self.gone: asyncio.Future = loop.create_future()

    def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def onLeave(self, details):
        if not self.joined.done():
            self.joined.set_exception(AssertionError(f"session refused: {details}"))
        return super().onLeave(details)

    def onDisconnect(self):
        if not self.joined.done():
            self.joined.set_exception(AssertionError("disconnected before WELCOME"))
        if not self.gone.done():
            self.gone.set_result(True)


async def join(demo: RawSocketDemo, serializer: str, realm: str = "realm1") -> Session:
    """Connects over RawSocket with `serializer` and joins `realm`."""
    cls, rawsocket_id = SERIALIZERS[serializer]
    ser = cls()
    assert ser.RAWSOCKET_SERIALIZER_ID == rawsocket_id
    created: list[Session] = []

    def make_session() -> Session:
        session = Session(ComponentConfig(realm=realm))
        created.append(session)
        return session

    factory = WampRawSocketClientFactory(make_session, serializer=ser)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(
        loop.create_connection(factory, demo.host, demo.port), CONNECT_TIMEOUT
    )
    # autobahn creates the session once the RawSocket handshake succeeded.
    deadline = loop.time() + CONNECT_TIMEOUT
    while not created:
        assert loop.time() < deadline, "no RawSocket handshake reply in time"
        await asyncio.sleep(0.01)
    session = created[0]
    await asyncio.wait_for(asyncio.shield(session.joined), CONNECT_TIMEOUT)
    return session


def session_test(body):
    """Runs `await body(session)` on a RawSocket session joined to realm1,
    bounded in time, then leaves and waits for the connection to close."""

    def run(demo: RawSocketDemo, serializer: str) -> None:
        async def test():
            session = await join(demo, serializer)
            await body(session, serializer)
            await asyncio.wait_for(session.leave(), CONNECT_TIMEOUT)
            await asyncio.wait_for(asyncio.shield(session.gone), CONNECT_TIMEOUT)

        asyncio.run(asyncio.wait_for(test(), TEST_TIMEOUT))

    return run


def strictly_equal(a, b) -> bool:
    """Equality that also holds types (so 2.0 != 2, True != 1, b"" != "")."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_demo_prints_both_addresses(rawsocket_demo):
    assert rawsocket_demo.ws_url.startswith("ws://127.0.0.1:")
    assert rawsocket_demo.ws_url.endswith("/ws")
    assert rawsocket_demo.host == "127.0.0.1"
    assert rawsocket_demo.port > 0


def test_math_add(rawsocket_demo, rawsocket_serializer):
    async def body(s, _):
        assert await s.call("math.add", 1, 2) == 3
        assert await s.call("math.add", number1=-5, number2=2.25) == -2.75

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_sandwich_ingredients(rawsocket_demo, rawsocket_serializer):
    async def body(s, _):
        res = await s.call("sandwich.ingredients")
        assert isinstance(res, CallResult)
        assert list(res.results) == ["Peanut Butter", "Jelly", "Bread"]
        assert res.kwresults == {}

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_countdown_with_progress(rawsocket_demo, rawsocket_serializer):
    async def body(s, _):
        progress = []
        res = await s.call(
            "countdown.liftoff",
            interval=0.05,
            options=CallOptions(on_progress=lambda *a, **kw: progress.append((a, kw))),
        )
        assert progress == [((), {"timeLeft": 3}), ((), {"timeLeft": 2}), ((), {"timeLeft": 1})]
        assert isinstance(res, CallResult)
        assert list(res.results) == []
        assert res.kwresults == {"liftoffStatus": "SUCCESS"}

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_bench_echo_mixed_values(rawsocket_demo, rawsocket_serializer):
    args = [
        "plain",
        "unicode: 生肖 鼠 — naïve café 🚀",
        "",
        0,
        -1,
        2**53,
        -(2**53),
        2**63 - 1,
        3.14159,
        -2.5e-300,
        2.0,
        True,
        False,
        None,
        [],
        {},
        [1, [2, [3, ["deep", {"k": [None, 1.5]}]]]],
        {"nested": {"list": [1, "two", 3.0, None], "empty": {}, "ü": "ß"}},
        b"\x00\x01\xfe\xffbinary",
        b"",
    ]
    kwargs = {
        "text": "Grüße, 世界",
        "float": 0.1,
        "none": None,
        "list": [b"\x00bytes in a list", {"inner": b"\xff"}],
        "bytes": bytes(range(256)),
    }

    async def body(s, _):
        res = await s.call("bench.echo", *args, **kwargs)
        assert isinstance(res, CallResult)
        assert len(res.results) == len(args)
        mismatched = [
            (i, sent, got)
            for i, (sent, got) in enumerate(zip(args, res.results))
            if not strictly_equal(sent, got)
        ]
        assert mismatched == []
        assert res.kwresults.keys() == kwargs.keys()
        assert [k for k in kwargs if not strictly_equal(kwargs[k], res.kwresults[k])] == []

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_bench_echo_large_message(rawsocket_demo, rawsocket_serializer):
    """A message of 1 MiB each way: well past one read or write."""

    async def body(s, _):
        payload = bytes(range(256)) * 4096
        got = await s.call("bench.echo", payload)
        assert type(got) is bytes and got == payload

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_app_fail_is_a_runtime_error(rawsocket_demo, rawsocket_serializer):
    async def body(s, _):
        with pytest.raises(ApplicationError) as caught:
            await s.call("app.fail")
        assert caught.value.error == "wamp.error.runtime_error"
        assert s.is_attached()
        assert await s.call("math.add", 1, 2) == 3

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_whoami_sees_the_tcp_peer(rawsocket_demo, rawsocket_serializer):
    async def body(s, _):
        res = await s.call("session.whoami")
        assert res.kwresults["realm"] == "realm1"
        assert res.kwresults["authmethod"] == "anonymous"
        assert res.kwresults["peer_address"] == "127.0.0.1"

    session_test(body)(rawsocket_demo, rawsocket_serializer)


def test_sigterm_says_goodbye_to_rawsocket_sessions(rawsocket_serializer):
    """A demo of this test's own: SIGTERM closes its RawSocket sessions with
    GOODBYE wamp.close.system_shutdown, then the process exits 0."""
    demo = RawSocketDemo()
    try:

        async def test():
            session = await join(demo, rawsocket_serializer)
            left = asyncio.get_running_loop().create_future()
            session.on("leave", lambda _session, details: left.set_result(details))
            demo.proc.send_signal(signal.SIGTERM)
            details = await asyncio.wait_for(left, CONNECT_TIMEOUT)
            assert details.reason == "wamp.close.system_shutdown"
            await asyncio.wait_for(asyncio.shield(session.gone), CONNECT_TIMEOUT)

        asyncio.run(asyncio.wait_for(test(), TEST_TIMEOUT))
    except BaseException:
        demo.kill()
        raise
    demo.stop_and_check()
