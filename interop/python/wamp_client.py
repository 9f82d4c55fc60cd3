"""A thin layer over autobahn-python's asyncio WAMP client for the tests.

It uses autobahn's own WebSocket client factory and `ApplicationSession`
unchanged; it only records the WAMP messages going each way so that tests
can check what was on the wire (e.g. the CANCEL autobahn sends and the
ERROR the router answers it with).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp import message
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from autobahn.wamp.types import ComponentConfig

TEST_TIMEOUT = 10.0
JOIN_TIMEOUT = 5.0


def make_serializer(name: str):
    kind, _, variant = name.partition(".")
    batched = variant == "batched"
    cls = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}[kind]
    ser = cls(batched=batched)
    assert ser.SERIALIZER_ID == name, (ser.SERIALIZER_ID, name)
    return ser


def run(test: Callable[[], Awaitable[Any]], timeout: float = TEST_TIMEOUT) -> Any:
    """Runs one async test body on a fresh event loop, bounded in time."""

    async def bounded():
        return await asyncio.wait_for(test(), timeout)

    return asyncio.run(bounded())


class Client(ApplicationSession):
    """An autobahn session that records its traffic and its lifecycle."""

    def __init__(self, config: ComponentConfig) -> None:
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.joined: asyncio.Future = loop.create_future()
        self.left: asyncio.Future = loop.create_future()
        self.disconnected: asyncio.Future = loop.create_future()
        self.received: list[message.Message] = []
        self.sent: list[message.Message] = []
        self.ws = None  # the WebSocket protocol instance, set on connect

    def onConnect(self):
        transport = self._transport
        self.ws = transport
        original_send = transport.send

        def recording_send(msg):
            self.sent.append(msg)
            return original_send(msg)

        transport.send = recording_send
        return super().onConnect()

    def onMessage(self, msg):
        self.received.append(msg)
        return super().onMessage(msg)

    def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def onLeave(self, details):
        if not self.left.done():
            self.left.set_result(details)
        return super().onLeave(details)

    def onDisconnect(self):
        if not self.disconnected.done():
            self.disconnected.set_result(True)

    async def close(self, timeout: float = JOIN_TIMEOUT):
        """Sends GOODBYE and waits for the router's GOODBYE and the close."""
        if self.is_attached():
            await asyncio.wait_for(self.leave(), timeout)
        details = await asyncio.wait_for(asyncio.shield(self.left), timeout)
        await asyncio.wait_for(asyncio.shield(self.disconnected), timeout)
        return details

    def errors_for(self, request_id: int) -> list[message.Error]:
        return [
            m
            for m in self.received
            if isinstance(m, message.Error)
            and m.request_type == message.Call.MESSAGE_TYPE
            and m.request == request_id
        ]

    async def wait_for_message(self, predicate, timeout: float) -> message.Message:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.received:
                if predicate(m):
                    return m
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no matching message within {timeout} s; received: {self.received!r}"
                )
            await asyncio.sleep(0.01)


async def open_session(url: str, serializer: str, realm: str = "realm1") -> Client:
    """Connects and sends HELLO; returns the session once the outcome
    (WELCOME or ABORT) is known. Check `client.joined`/`client.left`."""
    loop = asyncio.get_running_loop()
    created: list[Client] = []

    def session_factory():
        session = Client(ComponentConfig(realm=realm))
        created.append(session)
        return session

    factory = WampWebSocketClientFactory(
        session_factory,
        url=url,
        serializers=[make_serializer(serializer)],
        loop=loop,
    )
    host, port = url.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
    await asyncio.wait_for(loop.create_connection(factory, host, int(port)), JOIN_TIMEOUT)
    deadline = loop.time() + JOIN_TIMEOUT
    while not created:
        if loop.time() > deadline:
            raise AssertionError("autobahn never created the session")
        await asyncio.sleep(0.01)
    session = created[0]
    await asyncio.wait_for(
        asyncio.wait(
            [asyncio.shield(session.joined), asyncio.shield(session.left)],
            return_when=asyncio.FIRST_COMPLETED,
        ),
        JOIN_TIMEOUT,
    )
    return session


async def join(url: str, serializer: str, realm: str = "realm1") -> Client:
    """Like `open_session`, but the session must have been welcomed."""
    session = await open_session(url, serializer, realm)
    if not session.joined.done():
        details = session.left.result()
        raise AssertionError(f"join to {realm!r} refused: {details.reason} {details.message}")
    return session
