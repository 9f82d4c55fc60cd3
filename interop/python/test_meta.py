"""The WAMP meta API (sessions, subscriptions, registrations, testaments) and event
retention in the demo's `open` realm (beyond the contract), driven by
autobahn-python over every WebSocket serializer variant (test ids name the
serializer)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions

from test_pubsub import Sink, close_all, drop_connection, subscribe
from wamp_client import join, run

REALM = "open"


def unique(prefix: str) -> str:
    """A topic no other test uses."""
    return f"{prefix}.{uuid.uuid4().hex}"


def test_welcome_announces_the_meta_api(demo_url, serializer):
    async def test():
        meta = await join(demo_url, serializer, REALM)
        plain = await join(demo_url, serializer)
        try:
            welcome = next(m for m in meta.received if isinstance(m, message.Welcome))
            broker, dealer = welcome.roles["broker"], welcome.roles["dealer"]
            assert broker.session_meta_api and broker.subscription_meta_api
            assert broker.event_retention
            assert dealer.session_meta_api and dealer.testament_meta_api
            welcome = next(m for m in plain.received if isinstance(m, message.Welcome))
            assert not welcome.roles["broker"].session_meta_api
            with pytest.raises(ApplicationError) as caught:
                await plain.call("wamp.session.count")
            assert caught.value.error == "wamp.error.no_such_procedure"
        finally:
            await close_all(meta, plain)

    run(test)


def test_session_meta_procedures_and_events(demo_url, serializer):
    async def test():
        watcher = await join(demo_url, serializer, REALM)
        joins, _ = await subscribe(watcher, "wamp.session.on_join")
        leaves, _ = await subscribe(watcher, "wamp.session.on_leave")
        other = await join(demo_url, serializer, REALM)
        try:
            me = watcher._session_id
            them = other._session_id
            event = await joins.wait_for(lambda e: e[0][0]["session"] == them)
            assert event[0][0]["authrole"] == "anonymous"
            assert event[0][0]["authmethod"] == "anonymous"

            assert await watcher.call("wamp.session.count") >= 2
            assert await watcher.call("wamp.session.count", ["nobody"]) == 0
            ids = await watcher.call("wamp.session.list")
            assert me in ids and them in ids
            details = await watcher.call("wamp.session.get", them)
            assert details["session"] == them
            assert details["authrole"] == "anonymous"
            assert details["transport"]["type"] == "websocket"
            with pytest.raises(ApplicationError) as caught:
                await watcher.call("wamp.session.get", 1)
            assert caught.value.error == "wamp.error.no_such_session"
            with pytest.raises(ApplicationError) as caught:
                await watcher.call("wamp.session.kill", me)
            assert caught.value.error == "wamp.error.no_such_session"

            await watcher.call("wamp.session.kill", them, reason="demo.kicked", message="bye")
            left = await asyncio.wait_for(asyncio.shield(other.left), 5)
            assert left.reason == "demo.kicked" and left.message == "bye"
            event = await leaves.wait_for(lambda e: e[0][0] == them)
            assert event[0] == [them, other._authid, "anonymous"]
        finally:
            await close_all(watcher, other)

    run(test)


def test_subscription_meta_procedures_and_events(demo_url, serializer):
    async def test():
        watcher = await join(demo_url, serializer, REALM)
        other = await join(demo_url, serializer, REALM)
        topic = unique("meta.sub")
        try:
            created, _ = await subscribe(watcher, "wamp.subscription.on_create")
            deleted, _ = await subscribe(watcher, "wamp.subscription.on_delete")
            _, sub = await subscribe(other, topic)
            event = await created.wait_for(lambda e: e[0][1]["uri"] == topic)
            assert event[0][0] == other._session_id
            assert event[0][1]["id"] == sub.id and event[0][1]["match"] == "exact"

            assert await watcher.call("wamp.subscription.lookup", topic) == sub.id
            assert sub.id in await watcher.call("wamp.subscription.match", topic)
            assert sub.id in (await watcher.call("wamp.subscription.list"))["exact"]
            got = await watcher.call("wamp.subscription.get", sub.id)
            assert got["uri"] == topic and got["created"].endswith("Z")
            assert await watcher.call("wamp.subscription.list_subscribers", sub.id) == [
                other._session_id
            ]
            assert await watcher.call("wamp.subscription.count_subscribers", sub.id) == 1

            await sub.unsubscribe()
            event = await deleted.wait_for(lambda e: e[0][1] == sub.id)
            assert event[0][0] == other._session_id
            with pytest.raises(ApplicationError) as caught:
                await watcher.call("wamp.subscription.get", sub.id)
            assert caught.value.error == "wamp.error.no_such_subscription"
        finally:
            await close_all(watcher, other)

    run(test)


def test_testament_is_published_when_the_connection_drops(demo_url, serializer):
    async def test():
        watcher = await join(demo_url, serializer, REALM)
        leaving = await join(demo_url, serializer, REALM)
        topic = unique("meta.testament")
        try:
            sink, _ = await subscribe(watcher, topic)
            await leaving.call("wamp.session.add_testament", topic, ["gone"], {"who": "me"})
            await leaving.call("wamp.session.add_testament", topic, ["flushed"], {}, scope="detached")
            await leaving.call("wamp.session.flush_testaments", scope="detached")
            drop_connection(leaving)
            await sink.wait_count(1)
            await asyncio.sleep(0.1)
            assert [(args, kwargs) for args, kwargs, _ in sink.events] == [(["gone"], {"who": "me"})]
        finally:
            await close_all(watcher)

    run(test)


def test_retained_event_on_subscribe(demo_url, serializer):
    async def test():
        publisher = await join(demo_url, serializer, REALM)
        late = await join(demo_url, serializer, REALM)
        topic = unique("meta.retained")
        try:
            for reading in (20, 21):
                await publisher.publish(
                    topic, reading, options=PublishOptions(retain=True, acknowledge=True)
                )
            sink, sub = await subscribe(late, topic, get_retained=True)
            await sink.wait_count(1)
            args, _, details = sink.events[0]
            assert args == [21] and details.retained is True and details.subscription is sub

            quiet = Sink()
            await late.subscribe(quiet, topic + ".other", options=None)
            plain, _ = await subscribe(publisher, topic)
            await asyncio.sleep(0.1)
            assert plain.events == []  # no get_retained, no retained event
        finally:
            await close_all(publisher, late)

    run(test)


def test_registration_meta_procedures_and_events(demo_url, serializer):
    async def test():
        watcher = await join(demo_url, serializer, REALM)
        callee = await join(demo_url, serializer, REALM)
        procedure = unique("meta.reg")
        try:
            welcome = next(m for m in watcher.received if isinstance(m, message.Welcome))
            assert welcome.roles["dealer"].registration_meta_api
            created, _ = await subscribe(watcher, "wamp.registration.on_create")
            registered, _ = await subscribe(watcher, "wamp.registration.on_register")
            deleted, _ = await subscribe(watcher, "wamp.registration.on_delete")
            reg = await callee.register(lambda x: x * 2, procedure)
            event = await created.wait_for(lambda e: e[0][1]["uri"] == procedure)
            assert event[0][0] == callee._session_id
            assert event[0][1]["id"] == reg.id and event[0][1]["match"] == "exact"
            assert event[0][1]["invoke"] == "single"
            event = await registered.wait_for(lambda e: e[0][1] == reg.id)
            assert event[0][0] == callee._session_id

            assert await watcher.call(procedure, 21) == 42
            assert await watcher.call("wamp.registration.lookup", procedure) == reg.id
            assert await watcher.call("wamp.registration.lookup", procedure, {"match": "prefix"}) is None
            assert await watcher.call("wamp.registration.match", procedure) == reg.id
            assert reg.id in (await watcher.call("wamp.registration.list"))["exact"]
            got = await watcher.call("wamp.registration.get", reg.id)
            assert got["uri"] == procedure and got["created"].endswith("Z")
            assert got["match"] == "exact" and got["invoke"] == "single"
            assert await watcher.call("wamp.registration.list_callees", reg.id) == [
                callee._session_id
            ]
            assert await watcher.call("wamp.registration.count_callees", reg.id) == 1

            # The callee's session ends: the registration goes with it.
            callee_id = callee._session_id
            drop_connection(callee)
            event = await deleted.wait_for(lambda e: e[0][1] == reg.id)
            assert event[0][0] == callee_id
            with pytest.raises(ApplicationError) as caught:
                await watcher.call("wamp.registration.get", reg.id)
            assert caught.value.error == "wamp.error.no_such_registration"
            assert await watcher.call("wamp.registration.lookup", procedure) is None
        finally:
            await close_all(watcher, callee)

    run(test)
