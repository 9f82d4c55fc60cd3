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
        # Extra PUBLISH options autobahn's `PublishOptions` cannot express
        # (e.g. `disclose_me`); see `publish_with`.
        self._extra_publish_options: dict | None = None
        # Request ids of messages sent by hand (`send_raw`): the router's
        # answers to them are recorded but kept from autobahn, which would
        # fail the connection over a reply to a request it never made.
        self._raw_requests: set[int] = set()

    def onConnect(self):
        transport = self._transport
        self.ws = transport
        original_send = transport.send

        def recording_send(msg):
            if isinstance(msg, message.Publish) and self._extra_publish_options:
                _add_publish_options(msg, dict(self._extra_publish_options))
            self.sent.append(msg)
            return original_send(msg)

        transport.send = recording_send
        return super().onConnect()

    def onMessage(self, msg):
        self.received.append(msg)
        if getattr(msg, "request", None) in self._raw_requests and not isinstance(
            msg, (message.Event, message.Invocation)
        ):
            return None
        return super().onMessage(msg)

    def send_raw(self, msg: message.Message) -> None:
        """Sends a message autobahn would not send itself (its answer shows
        up in `received` only)."""
        self._raw_requests.add(msg.request)
        self._transport.send(msg)

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

    def publish_with(self, extra_options: dict, topic: str, *args, **kwargs):
        """`publish`, with `extra_options` added to the PUBLISH's options
        (autobahn's `PublishOptions` has no `disclose_me`, for one)."""
        self._extra_publish_options = extra_options
        try:
            return self.publish(topic, *args, **kwargs)
        finally:
            self._extra_publish_options = None

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


def _add_publish_options(msg: message.Publish, extra: dict) -> None:
    """Makes `msg` marshal with `extra` in its options (autobahn's messages
    have `__slots__`, so this swaps in a layout-compatible subclass)."""

    def marshal_options(self):
        return {**message.Publish.marshal_options(self), **extra}

    msg.__class__ = type(
        "PublishWithOptions",
        (message.Publish,),
        {"__slots__": (), "marshal_options": marshal_options},
    )


class AuthClient(Client):
    """A `Client` that authenticates: its HELLO carries `authmethods`,
    `authid` and `authextra`, and a CHALLENGE is answered by autobahn's own
    authenticator objects (`autobahn.wamp.auth.AuthTicket`, `AuthWampCra`,
    `AuthScram`, `AuthCryptoSign`, ...) or by an `on_challenge(challenge)`
    callback. WELCOME goes through the chosen authenticator's `on_welcome`
    (WAMP-SCRAM checks the router's signature there): a refusal makes
    autobahn send ABORT `wamp.error.cannot_authenticate` instead of joining.
    """

    def __init__(
        self,
        config: ComponentConfig,
        *,
        authenticators=(),
        authmethods: list[str] | None = None,
        authid: str | None = None,
        authextra: dict | None = None,
        on_challenge=None,
    ) -> None:
        super().__init__(config)
        self.authenticators = {a.name: a for a in authenticators}
        if authmethods is None:
            authmethods = list(self.authenticators) or None
        if authid is None:
            authid = next(
                (a._args["authid"] for a in self.authenticators.values() if a._args.get("authid")),
                None,
            )
        if authextra is None and self.authenticators:
            authextra = {}
            for a in self.authenticators.values():
                authextra.update(a.authextra)
        self.hello_options = {
            "authmethods": authmethods,
            "authid": authid,
            "authextra": authextra or None,
        }
        self.on_challenge = on_challenge
        self.challenges: list = []  # autobahn.wamp.types.Challenge
        self.welcome_verdicts: list = []  # what on_welcome returned (None: accepted)

    def join(self, realm, **kwargs):
        for key, value in self.hello_options.items():
            if value is not None:
                kwargs.setdefault(key, value)
        return super().join(realm, **kwargs)

    def onChallenge(self, challenge):
        self.challenges.append(challenge)
        if self.on_challenge is not None:
            return self.on_challenge(challenge)
        return self.authenticators[challenge.method].on_challenge(self, challenge)

    def onWelcome(self, msg):
        authenticator = self.authenticators.get(msg.authmethod)
        verdict = None if authenticator is None else authenticator.on_welcome(self, msg.authextra)
        self.welcome_verdicts.append(verdict)
        return verdict


async def open_session(
    url: str,
    serializer: str,
    realm: str = "realm1",
    *,
    headers: dict[str, str] | None = None,
    client_class: type[Client] | None = None,
    **auth,
) -> Client:
    """Connects and sends HELLO; returns the session once the outcome
    (WELCOME or ABORT) is known. Check `client.joined`/`client.left`.

    `headers` are extra HTTP headers on the WebSocket handshake (e.g. a
    `Cookie`); any other keyword makes the session an `AuthClient` (or
    `client_class`, a subclass of it)."""
    loop = asyncio.get_running_loop()
    created: list[Client] = []
    if client_class is None:
        client_class = AuthClient if auth else Client

    def session_factory():
        config = ComponentConfig(realm=realm)
        session = client_class(config, **auth)
        created.append(session)
        return session

    factory = WampWebSocketClientFactory(
        session_factory,
        url=url,
        serializers=[make_serializer(serializer)],
        loop=loop,
        headers=headers,
    )
    host, port = url.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
    await asyncio.wait_for(loop.create_connection(factory, host, int(port)), JOIN_TIMEOUT)
    deadline = loop.time() + JOIN_TIMEOUT
    while not created:
        if loop.time() > deadline:
            raise AssertionError("autobahn never created the session")
        await asyncio.sleep(0.01)
    session = created[0]
    # The outcome: WELCOME, the router's ABORT, or (e.g. when autobahn
    # itself refuses the WELCOME) the connection ending.
    await asyncio.wait_for(
        asyncio.wait(
            [
                asyncio.shield(session.joined),
                asyncio.shield(session.left),
                asyncio.shield(session.disconnected),
            ],
            return_when=asyncio.FIRST_COMPLETED,
        ),
        JOIN_TIMEOUT,
    )
    return session


async def join(url: str, serializer: str, realm: str = "realm1", **options) -> Client:
    """Like `open_session`, but the session must have been welcomed."""
    session = await open_session(url, serializer, realm, **options)
    if not session.joined.done():
        if not session.left.done():
            raise AssertionError(f"join to {realm!r} failed: connection closed, {session.received!r}")
        details = session.left.result()
        raise AssertionError(f"join to {realm!r} refused: {details.reason} {details.message}")
    return session
