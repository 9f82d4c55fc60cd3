"""Session lifecycle against the demo with autobahn-python: subprotocol
negotiation, GOODBYE both ways, `--no-default-realm`, shutdown on SIGTERM,
and the plain HTTP route beside WAMP."""

from __future__ import annotations

import asyncio
import signal
import urllib.request

from autobahn.wamp import message

from wamp_client import join, open_session, run


def test_health(demo):
    with urllib.request.urlopen(f"http://{demo.host}:{demo.port}/health", timeout=5) as resp:
        assert resp.status == 200
        assert resp.read() == b"ok"


def test_subprotocol_negotiated(demo_url, serializer):
    async def test():
        s = await join(demo_url, serializer)
        assert s.ws.websocket_protocol_in_use == f"wamp.2.{serializer}"
        assert s.joined.result().realm == "realm1"
        await s.close()

    run(test)


def test_goodbye_from_client(demo_url, serializer):
    async def test():
        s = await join(demo_url, serializer)
        assert await s.call("math.add", 1, 2) == 3
        details = await s.close()
        assert details.reason == "wamp.close.goodbye_and_out"
        sent = [m for m in s.sent if isinstance(m, message.Goodbye)]
        got = [m for m in s.received if isinstance(m, message.Goodbye)]
        assert len(sent) == 1  # autobahn's own reason (wamp.close.normal)
        assert [m.reason for m in got] == ["wamp.close.goodbye_and_out"]
        assert not s.is_attached()
        # The router is still there for the next client.
        again = await join(demo_url, serializer)
        assert await again.call("math.add", 2, 3) == 5
        await again.close()

    run(test)


def test_no_default_realm_refuses_realm1(demo_no_default_realm, serializer):
    async def test():
        s = await open_session(demo_no_default_realm.url, serializer, "realm1")
        assert not s.joined.done()
        details = s.left.result()
        assert details.reason == "wamp.error.no_such_realm"
        aborts = [m for m in s.received if isinstance(m, message.Abort)]
        assert [m.reason for m in aborts] == ["wamp.error.no_such_realm"]
        await asyncio.wait_for(s.disconnected, 5)

    run(test)


def test_no_default_realm_keeps_configured_realm(demo_no_default_realm, serializer):
    async def test():
        s = await join(demo_no_default_realm.url, serializer, "custom")
        assert await s.call("add_stuff", 2, 3) == 5
        await s.close()

    run(test)


def test_sigterm_sends_system_shutdown(fresh_demo, serializer):
    async def test():
        sessions = [await join(fresh_demo.url, serializer) for _ in range(2)]
        for s in sessions:
            assert await s.call("math.add", 1, 1) == 2
        fresh_demo.proc.send_signal(signal.SIGTERM)
        for s in sessions:
            details = await asyncio.wait_for(asyncio.shield(s.left), 5)
            assert details.reason == "wamp.close.system_shutdown"
            got = [m for m in s.received if isinstance(m, message.Goodbye)]
            assert [m.reason for m in got] == ["wamp.close.system_shutdown"]
            # autobahn answers the router's GOODBYE with its own.
            assert len([m for m in s.sent if isinstance(m, message.Goodbye)]) == 1
            await asyncio.wait_for(asyncio.shield(s.disconnected), 5)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, fresh_demo.proc.wait, 8)

    code = run(test)
    assert code == 0, f"demo exited {code} after SIGTERM\n{fresh_demo.log_text()}"


# ------------------------------------------------------------ deadlines

# The demo's defaults: 10 s for the first byte, for a request's headers and
# for the HELLO after the upgrade.
DEADLINE = 10.0


async def closed_after(reader: asyncio.StreamReader) -> float:
    """Seconds until the server closes the connection (EOF or reset)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    return loop.time() - started


def test_silent_half_and_hello_less_connections_are_closed(demo):
    """A TCP connection that sends nothing, one that sends half an HTTP
    request, and an upgraded WebSocket that never says HELLO are each closed
    at their deadline, while a normal session is served all along."""

    async def test():
        async def silent():
            reader, writer = await asyncio.open_connection(demo.host, demo.port)
            return await closed_after(reader)

        async def half_request():
            reader, writer = await asyncio.open_connection(demo.host, demo.port)
            writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            return await closed_after(reader)

        async def no_hello():
            reader, writer = await asyncio.open_connection(demo.host, demo.port)
            writer.write(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
            )
            await writer.drain()
            status = await reader.readline()
            assert status.startswith(b"HTTP/1.1 101"), status
            return await closed_after(reader)

        waiting = asyncio.gather(silent(), half_request(), no_hello())
        s = await join(demo.url, "json")
        while not waiting.done():
            assert await s.call("math.add", 1, 2) == 3
            await asyncio.sleep(1)
        for took in await waiting:
            assert DEADLINE - 1 <= took <= DEADLINE + 3, took
        assert await s.call("math.add", 2, 2) == 4
        await s.close()

    run(test, timeout=30)
