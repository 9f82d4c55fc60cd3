"""Scale-out: three demo nodes on one NATS server (and on one Redis server),
driven by autobahn-python clients as a load balancer would spread them.

Each test starts its own `nats-server` / `redis-server` on a free port of
127.0.0.1 (`.ci/run` installs both) and three demo processes joined to it
with `--nats URL` / `--redis URL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import DemoProcess
from wamp_client import join, run

BACKPLANES = ["nats", "redis"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def backplane_server(kind: str):
    """A NATS or Redis server on a free port; yields the URL nodes join."""
    binary = {"nats": "nats-server", "redis": "redis-server"}[kind]
    if shutil.which(binary) is None:
        raise RuntimeError(f"{binary} is not installed (.ci/run installs it)")
    port = free_port()
    if kind == "nats":
        args = [binary, "-a", "127.0.0.1", "-p", str(port)]
        url = f"nats://127.0.0.1:{port}"
    else:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        url = f"redis://127.0.0.1:{port}/"
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} never listened on {port}") from None
                time.sleep(0.02)
        yield url
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def cluster(kind: str, nodes: int = 3):
    with backplane_server(kind) as url:
        demos = []
        try:
            for _ in range(nodes):
                demos.append(DemoProcess(f"--{kind}", url))
            yield demos
        finally:
            for demo in demos:
                demo.kill()


async def collect(session, topic: str, into: list, **options):
    def on_event(*args, **kwargs):
        into.append(args[0] if args else kwargs)

    from autobahn.wamp.types import SubscribeOptions

    return await session.subscribe(on_event, topic, options=SubscribeOptions(**options))


async def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", BACKPLANES)
@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_events_cross_nodes(kind, serializer):
    """A client's publication on node A reaches subscribers on B and C (exact
    and prefix), with the publisher disclosed; the application's
    publications (`bench.fanout`, awaiting room) cross too, in order."""
    with cluster(kind) as (a, b, c):

        async def body():
            pub = await join(a.url, serializer, "open")
            sub_b = await join(b.url, serializer, "open")
            sub_c = await join(c.url, serializer, "open")
            got_b, got_c, details = [], [], []

            def on_b(message, details_=None):
                got_b.append(message)
                details.append(details_)

            from autobahn.wamp.types import SubscribeOptions

            await sub_b.subscribe(on_b, "chat.room1", options=SubscribeOptions(details_arg="details_"))
            await collect(sub_c, "chat", got_c, match="prefix")
            await pub.publish_with(
                {"disclose_me": True}, "chat.room1", "hello", options=PublishOptions(acknowledge=True)
            )
            await wait_until(lambda: got_b == ["hello"] and got_c == ["hello"], 5, "both nodes got the event")
            assert details[0].publisher == pub._session_id
            assert details[0].publisher_authrole == "anonymous"

            # The application's own publications cross as well: bench.fanout
            # on node A sends `count` events to every bench.events subscriber.
            fan_b = await join(b.url, serializer, "realm1")
            fan_c = await join(c.url, serializer, "realm1")
            events_b, events_c = [], []
            await fan_b.subscribe(lambda i, payload: events_b.append(i), "bench.events")
            await fan_c.subscribe(lambda i, payload: events_c.append(i), "bench.events")
            caller = await join(a.url, serializer, "realm1")
            await caller.call("bench.fanout", 500, "x" * 64)
            await wait_until(
                lambda: len(events_b) == 500 and len(events_c) == 500, 10, "500 events on B and C"
            )
            assert events_b == list(range(500))
            assert events_c == list(range(500))
            for s in (pub, sub_b, sub_c, fan_b, fan_c, caller):
                await s.close()

        run(body, timeout=30)


@pytest.mark.parametrize("kind", BACKPLANES)
def test_a_node_killed_mid_stream(kind):
    """Node A dies (SIGKILL) while its client publishes a stream to
    subscribers on B and C: their sessions stay open and serve calls, the
    events they got are in order, and B and C still reach each other."""
    with cluster(kind) as (a, b, c):

        async def body():
            pub = await join(a.url, "msgpack", "open")
            sub_b = await join(b.url, "msgpack", "open")
            sub_c = await join(c.url, "msgpack", "open")
            got_b, got_c = [], []
            await collect(sub_b, "stream", got_b)
            await collect(sub_c, "stream", got_c)

            async def publish_forever():
                i = 0
                while True:
                    pub.publish("stream", i)
                    i += 1
                    await asyncio.sleep(0.001)

            publishing = asyncio.ensure_future(publish_forever())
            await wait_until(lambda: len(got_b) > 100 and len(got_c) > 100, 10, "the stream flowed")
            a.kill()
            await asyncio.sleep(0.5)
            publishing.cancel()
            for got in (got_b, got_c):
                assert got == list(range(len(got))), "in order, none missing before the kill"

            # B and C are untouched.
            assert sub_b.is_attached() and sub_c.is_attached()
            assert await sub_b.call("math.add", 2, 3) == 5
            assert await sub_c.call("math.add", 4, 5) == 9
            after_c = []
            await collect(sub_c, "after", after_c)
            await sub_b.publish("after", "still here", options=PublishOptions(acknowledge=True))
            await wait_until(lambda: after_c == ["still here"], 5, "B's event reached C")
            for s in (sub_b, sub_c):
                await s.close()

        run(body, timeout=30)


@pytest.mark.parametrize("kind", BACKPLANES)
def test_cluster_stats_count_every_node(kind):
    """`cluster.stats` (demo, beyond the contract) counts the nodes and the
    realm's sessions on all of them, eventually."""
    with cluster(kind) as (a, b, c):

        async def body():
            sessions = [await join(d.url, "json", "realm1") for d in (a, b, b, c)]
            deadline = time.monotonic() + 10
            while True:
                stats = await sessions[0].call("cluster.stats")
                if stats.kwresults == {"nodes": 3, "sessions": 4}:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"cluster.stats stayed {stats.kwresults}")
                await asyncio.sleep(0.2)
            for s in sessions:
                await s.close()

        run(body, timeout=30)
