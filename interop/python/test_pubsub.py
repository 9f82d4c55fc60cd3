"""The demo contract's topics (`hourly_updates`, `docs.changes`,
`bench.events`, `private.*`) and the demo's open-broker realm `open`
(beyond the contract: clients publish to each other, with pattern-based
subscriptions, publisher exclusion and identification, and subscriber
black- and whitelisting), driven by autobahn-python over every WebSocket
serializer variant (test ids name the serializer)."""

from __future__ import annotations

import asyncio
import time

import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.request import Publication
from autobahn.wamp.types import PublishOptions, SubscribeOptions

from wamp_client import Client, join, run

EVENT_WAIT = 5.0
# How long to wait for an event that must not come, after a later one that
# must has arrived (events from one publisher keep their order, so mostly
# the marker does the work and this is a safety margin).
QUIET = 0.1


class Sink:
    """The events one subscription handler received: (args, kwargs, details)."""

    def __init__(self) -> None:
        self.events: list[tuple[list, dict, object]] = []
        self._changed = asyncio.Event()

    def __call__(self, *args, details=None, **kwargs):
        self.events.append((list(args), kwargs, details))
        self._changed.set()

    @property
    def args(self) -> list[list]:
        return [args for args, _, _ in self.events]

    async def wait_count(self, n: int, timeout: float = EVENT_WAIT) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {n} events, got {len(self.events)}: {self.args}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_for(self, predicate, timeout: float = EVENT_WAIT):
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if predicate(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout} s: {self.args}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass


async def subscribe(session: Client, topic: str, **options) -> tuple[Sink, object]:
    sink = Sink()
    sub = await session.subscribe(sink, topic, options=SubscribeOptions(details=True, **options))
    return sink, sub


async def subscribe_error(session: Client, topic: str) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await session.subscribe(Sink(), topic)
    return caught.value


async def close_all(*sessions: Client) -> None:
    for s in sessions:
        if s.is_attached():
            await s.close()


def drop_connection(session: Client) -> None:
    """Ends the TCP connection at once: no GOODBYE, no WebSocket close."""
    session.ws.transport.abort()


async def eventually(probe, expected, timeout: float = 3.0):
    """Polls `await probe()` until it returns `expected`; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------- hourly_updates


def test_hourly_updates(demo_url, serializer):
    async def test():
        publisher = await join(demo_url, serializer)
        subscriber = await join(demo_url, serializer)
        try:
            baseline = await publisher.call("updates.publish", "before anyone subscribed")
            sink, sub = await subscribe(subscriber, "hourly_updates")

            assert await publisher.call("updates.publish", "It is noon") == baseline + 1
            await sink.wait_count(1)
            args, kwargs, details = sink.events[0]
            assert args == ["It is noon"]
            assert kwargs == {}
            assert details.topic == "hourly_updates"
            assert details.subscription is sub

            # In order.
            for i in range(20):
                assert await publisher.call("updates.publish", f"update {i}") == baseline + 1
            await sink.wait_count(21)
            assert sink.args[1:] == [[f"update {i}"] for i in range(20)]
            # Every payload kind travels.
            payload = {"n": 1, "list": [1.5, "two", None, True], "text": "生肖"}
            assert await publisher.call("updates.publish", payload) == baseline + 1
            await sink.wait_count(22)
            assert sink.args[21] == [payload]

            # The publisher itself can subscribe too: both get it.
            own_sink, own_sub = await subscribe(publisher, "hourly_updates")
            assert await publisher.call("updates.publish", "both") == baseline + 2
            await own_sink.wait_count(1)
            await sink.wait_count(23)
            assert own_sink.args == [["both"]] and sink.args[22] == ["both"]

            # Unsubscribed: no more events, and the count drops.
            await sub.unsubscribe()
            assert await publisher.call("updates.publish", "after unsubscribe") == baseline + 1
            await own_sink.wait_count(2)
            await asyncio.sleep(QUIET)
            assert len(sink.events) == 23
            await own_sub.unsubscribe()
            assert await publisher.call("updates.publish", "nobody") == baseline
        finally:
            await close_all(publisher, subscriber)

    run(test)


def test_hourly_updates_teardown_on_disconnect(demo_url, serializer):
    async def test():
        publisher = await join(demo_url, serializer)
        baseline = await publisher.call("updates.publish", "baseline")
        dropped = await join(demo_url, serializer)
        closed = await join(demo_url, serializer)
        goodbye = await join(demo_url, serializer)
        try:
            for s in (dropped, closed, goodbye):
                await subscribe(s, "hourly_updates")
            assert await publisher.call("updates.publish", "three") == baseline + 3

            # TCP connection ended without GOODBYE or WebSocket close.
            drop_connection(dropped)
            count = await eventually(lambda: publisher.call("updates.publish", "x"), baseline + 2)
            assert count == baseline + 2

            # WebSocket closed without GOODBYE.
            closed.disconnect()
            count = await eventually(lambda: publisher.call("updates.publish", "x"), baseline + 1)
            assert count == baseline + 1

            # GOODBYE.
            await goodbye.close()
            count = await eventually(lambda: publisher.call("updates.publish", "x"), baseline)
            assert count == baseline
        finally:
            await close_all(publisher, goodbye)

    run(test)


def test_subscribing_twice_to_same_topic(demo_url, serializer):
    """Two subscriptions of one session to one topic: the router has one
    subscription for the session (same id), so the session is counted and
    sent each event once; autobahn runs both handlers."""

    async def test():
        publisher = await join(demo_url, serializer)
        subscriber = await join(demo_url, serializer)
        try:
            baseline = await publisher.call("updates.publish", "baseline")
            first, sub1 = await subscribe(subscriber, "hourly_updates")
            second, sub2 = await subscribe(subscriber, "hourly_updates")
            assert sub1.id == sub2.id
            assert await publisher.call("updates.publish", "once") == baseline + 1
            await first.wait_count(1)
            await second.wait_count(1)
            events = [m for m in subscriber.received if isinstance(m, message.Event)]
            assert len(events) == 1
            # The router's subscription lasts until the last handler goes.
            await sub1.unsubscribe()
            assert await publisher.call("updates.publish", "still") == baseline + 1
            await second.wait_count(2)
            await sub2.unsubscribe()
            assert await publisher.call("updates.publish", "gone") == baseline
        finally:
            await close_all(publisher, subscriber)

    run(test)


# ---------------------------------------------------------------- docs.changes


def test_docs_changes_thanks_subscriber(demo_url, serializer):
    async def test():
        s = await join(demo_url, serializer)
        try:
            sink, sub = await subscribe(s, "docs.changes")
            await sink.wait_count(1)
            args, kwargs, details = sink.events[0]
            assert args == ["Thanks for subscribing!"]
            assert kwargs == {}
            assert details.subscription is sub
            # On the wire: SUBSCRIBED, then the EVENT on that subscription.
            kinds = [
                type(m).__name__ for m in s.received if isinstance(m, (message.Subscribed, message.Event))
            ]
            assert kinds == ["Subscribed", "Event"]
            [event] = [m for m in s.received if isinstance(m, message.Event)]
            assert event.subscription == sub.id
            # Only once.
            await asyncio.sleep(QUIET)
            assert len(sink.events) == 1
        finally:
            await close_all(s)

    run(test)


# ---------------------------------------------------------------- refused topics


@pytest.mark.parametrize("topic", ["private.anything", "private.a.b.c"])
def test_private_topics_refused(demo_url, serializer, topic):
    async def test():
        s = await join(demo_url, serializer)
        try:
            err = await subscribe_error(s, topic)
            assert err.error == "wamp.error.not_authorized", err
            # The session stays usable.
            assert await s.call("math.add", 1, 1) == 2
        finally:
            await close_all(s)

    run(test)


@pytest.mark.parametrize("topic", ["unrouted.topic", "hourly_updates.more", "docs"])
def test_unrouted_topic_refused(demo_url, serializer, topic):
    async def test():
        s = await join(demo_url, serializer)
        try:
            err = await subscribe_error(s, topic)
            assert err.error == "wamp.error.not_authorized", err
        finally:
            await close_all(s)

    run(test)


def test_unsubscribe_unknown_subscription(demo_url, serializer):
    """UNSUBSCRIBE of a subscription the session does not hold (autobahn
    will not send one, so it goes on the wire by hand)."""

    async def test():
        s = await join(demo_url, serializer)
        other = await join(demo_url, serializer)
        try:
            _, others = await subscribe(other, "hourly_updates")
            for request, subscription in [(424242, 987654321), (424243, others.id)]:
                s.send_raw(message.Unsubscribe(request, subscription))
                err = await s.wait_for_message(
                    lambda m, r=request: isinstance(m, message.Error) and m.request == r, 5
                )
                assert err.request_type == message.Unsubscribe.MESSAGE_TYPE
                assert err.error == "wamp.error.no_such_subscription"
            assert await s.call("math.add", 1, 1) == 2
        finally:
            await close_all(s, other)

    run(test)


@pytest.mark.parametrize(
    "kind,realm,topic",
    [("subscribe", "realm1", "a..b"), ("subscribe", "open", "a b"), ("publish", "open", "a b")],
    ids=["subscribe-empty-component", "subscribe-space", "publish-space"],
)
def test_invalid_topic_uri(demo_url, serializer, kind, realm, topic):
    """autobahn checks URIs itself, so the messages go on the wire by hand."""

    async def test():
        s = await join(demo_url, serializer, realm)
        try:
            if kind == "subscribe":
                request = message.Subscribe(4711, topic)
            else:
                request = message.Publish(4711, topic, acknowledge=True)
            s.send_raw(request)
            answer = await s.wait_for_message(
                lambda m: isinstance(m, message.Abort)
                or (isinstance(m, message.Error) and m.request == 4711),
                5,
            )
            assert isinstance(answer, message.Error), answer.marshal()
            assert answer.request_type == type(request).MESSAGE_TYPE
            assert answer.error == "wamp.error.invalid_uri"
            assert await s.call("math.add", 1, 1) == 2
        finally:
            if s.is_attached():
                await s.close()
            else:
                s.disconnect()

    run(test)


def test_publish_without_handler_refused_in_realm1(demo_url, serializer):
    """realm1 is no open broker: an acknowledged PUBLISH to a topic without
    a publish handler is refused, and no subscriber gets it."""

    async def test():
        publisher = await join(demo_url, serializer)
        subscriber = await join(demo_url, serializer)
        try:
            sink, _ = await subscribe(subscriber, "hourly_updates")
            for topic in ["hourly_updates", "some.topic", "bench.events"]:
                with pytest.raises(ApplicationError) as caught:
                    await publisher.publish(topic, "hi", options=PublishOptions(acknowledge=True))
                assert caught.value.error == "wamp.error.not_authorized", caught.value
            # Unacknowledged: silently dropped, the session stays.
            assert publisher.publish("hourly_updates", "dropped") is None
            await publisher.call("updates.publish", "marker")
            await sink.wait_count(1)
            await asyncio.sleep(QUIET)
            assert sink.args == [["marker"]]
            assert await publisher.call("math.add", 1, 1) == 2
        finally:
            await close_all(publisher, subscriber)

    run(test)


# ---------------------------------------------------------------- bench fan-out


FANOUT_SESSIONS = 100
FANOUT_COUNT = 5


def test_bench_fanout_100_sessions(demo_url, serializer):
    async def test():
        sessions: list[Client] = []
        caller = None
        try:
            for start in range(0, FANOUT_SESSIONS, 25):
                sessions += await asyncio.gather(
                    *(join(demo_url, serializer) for _ in range(start, min(start + 25, FANOUT_SESSIONS)))
                )
            sinks = []
            for subs in [sessions[i : i + 25] for i in range(0, len(sessions), 25)]:
                sinks += [sink for sink, _ in await asyncio.gather(*(subscribe(s, "bench.events") for s in subs))]
            caller = await join(demo_url, serializer)
            # The contract says it "returns once queued"; the demo returns the
            # number of events delivered.
            await caller.call("bench.fanout", count=FANOUT_COUNT, payload="x")
            await asyncio.gather(*(sink.wait_count(FANOUT_COUNT, 15) for sink in sinks))
            expected = [[i, "x"] for i in range(FANOUT_COUNT)]
            wrong = [(n, sink.args) for n, sink in enumerate(sinks) if sink.args != expected]
            assert wrong == []
            await asyncio.sleep(QUIET)
            assert all(len(sink.events) == FANOUT_COUNT for sink in sinks)
        finally:
            await asyncio.gather(*(s.close() for s in sessions if s.is_attached()), return_exceptions=True)
            if caller is not None:
                await close_all(caller)

    run(test, timeout=45)


BURST_EVENTS = 10_000
BURST_PAYLOAD = "p" * 1024


class CountingSink:
    """Counts a burst's events and checks their order without keeping them."""

    def __init__(self, payload: str) -> None:
        self.payload = payload
        self.count = 0
        self.out_of_order: list = []
        self._changed = asyncio.Event()

    def __call__(self, i, payload, details=None):
        if i != self.count or payload != self.payload:
            self.out_of_order.append((self.count, i))
        self.count += 1
        self._changed.set()

    async def wait_count(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {n} events, got {self.count}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass


@pytest.mark.parametrize("count", [1000, BURST_EVENTS])
def test_a_burst_reaches_a_reading_subscriber_whole_and_in_order(demo_url, serializer, count):
    """A burst is not a slow consumer: `bench.fanout` waits for room in the
    subscriber's outbound queue, so a subscriber that reads as fast as it can
    gets every event (10,000 events of 1 KiB are 10 MiB, ten times the
    default queue), in order, and the call counts them all."""
    async def test():
        subscriber = await join(demo_url, serializer)
        caller = await join(demo_url, serializer)
        try:
            sink = CountingSink(BURST_PAYLOAD)
            await subscriber.subscribe(sink, "bench.events")
            delivered = await caller.call("bench.fanout", count=count, payload=BURST_PAYLOAD)
            assert delivered == count
            await sink.wait_count(count, 30)
            assert sink.out_of_order == []
            await asyncio.sleep(QUIET)
            assert sink.count == count
        finally:
            await close_all(caller, subscriber)

    run(test, timeout=60)


# ---------------------------------------------------------------- realm `open`


async def open_sessions(url: str, serializer: str, n: int) -> list[Client]:
    return [await join(url, serializer, "open") for _ in range(n)]


async def marker(publisher: Client, topic: str, *sinks: Sink) -> None:
    """Publishes a marker everybody gets and waits until every sink has it;
    earlier events from `publisher` have then arrived too."""
    await publisher.publish(
        topic, "marker", options=PublishOptions(acknowledge=True, exclude_me=False)
    )
    for sink in sinks:
        await sink.wait_for(lambda e: e[0] == ["marker"])
    await asyncio.sleep(QUIET)


def without_markers(sink: Sink) -> list[list]:
    return [args for args in sink.args if args != ["marker"]]


def test_open_any_topic_and_acknowledge(demo_url, serializer):
    async def test():
        pub, sub = await open_sessions(demo_url, serializer, 2)
        try:
            sink, subscription = await subscribe(sub, "com.example.anything")
            assert pub.publish("com.example.anything", "plain", n=1) is None
            await sink.wait_count(1)
            args, kwargs, details = sink.events[0]
            assert (args, kwargs) == (["plain"], {"n": 1})
            assert details.topic == "com.example.anything"
            assert details.publisher is None  # not disclosed by default
            assert isinstance(details.publication, int) and details.publication > 0

            publication = await pub.publish(
                "com.example.anything", "acked", options=PublishOptions(acknowledge=True)
            )
            assert isinstance(publication, Publication)
            assert isinstance(publication.id, int) and publication.id > 0
            await sink.wait_count(2)
            assert sink.events[1][0] == ["acked"]
            assert sink.events[1][2].publication == publication.id
            # Publishing to a topic nobody subscribes to is fine too.
            lonely = await pub.publish("com.example.nobody", options=PublishOptions(acknowledge=True))
            assert isinstance(lonely.id, int)

            await subscription.unsubscribe()
            await pub.publish("com.example.anything", "late", options=PublishOptions(acknowledge=True))
            await asyncio.sleep(QUIET)
            assert len(sink.events) == 2
        finally:
            await close_all(pub, sub)

    run(test)


def test_open_pattern_subscriptions(demo_url, serializer):
    async def test():
        pub, sub = await open_sessions(demo_url, serializer, 2)
        try:
            prefix, prefix_sub = await subscribe(sub, "com.myapp", match="prefix")
            wildcard, wildcard_sub = await subscribe(sub, "com..update", match="wildcard")
            exact, _ = await subscribe(sub, "com.myapp.update")

            topics = [
                "com.myapp.update",   # prefix, wildcard and exact
                "com.myapp.a.b.c",    # prefix only
                "com.other.update",   # wildcard only
                "com.other.a.update", # nobody: wildcard matches one component
                "org.myapp.update",   # nobody
                # Not for the prefix: serverwamp's prefix matching is
                # component-aware, a documented departure from the spec's
                # string prefix (protocol/src/uri.rs, MatchPolicy::matches).
                "com.myapplication",
            ]
            for topic in topics:
                await pub.publish(topic, topic, options=PublishOptions(acknowledge=True))
            done, _ = await subscribe(sub, "com.myapp.done")
            await pub.publish("com.myapp.done", "com.myapp.done", options=PublishOptions(acknowledge=True))
            await done.wait_count(1)
            await asyncio.sleep(QUIET)

            def seen(sink):
                return [(args[0], details.topic) for args, _, details in sink.events]

            assert seen(prefix) == [
                (t, t) for t in ["com.myapp.update", "com.myapp.a.b.c", "com.myapp.done"]
            ]
            assert seen(wildcard) == [(t, t) for t in ["com.myapp.update", "com.other.update"]]
            assert seen(exact) == [("com.myapp.update", "com.myapp.update")]
            # Pattern events name the concrete topic on the wire.
            pattern_ids = {prefix_sub.id, wildcard_sub.id}
            events = [
                m for m in sub.received if isinstance(m, message.Event) and m.subscription in pattern_ids
            ]
            assert len(events) == 5
            assert [e.topic for e in events] == [e.args[0] for e in events]
        finally:
            await close_all(pub, sub)

    run(test)


def test_open_publisher_exclusion(demo_url, serializer):
    async def test():
        pub, other = await open_sessions(demo_url, serializer, 2)
        try:
            mine, _ = await subscribe(pub, "open.chat")
            theirs, _ = await subscribe(other, "open.chat")
            # Default: the publisher does not get its own event.
            await pub.publish("open.chat", "default", options=PublishOptions(acknowledge=True))
            # exclude_me=False: it does.
            await pub.publish(
                "open.chat", "included", options=PublishOptions(acknowledge=True, exclude_me=False)
            )
            await pub.publish(
                "open.chat", "excluded", options=PublishOptions(acknowledge=True, exclude_me=True)
            )
            await marker(pub, "open.chat", mine, theirs)
            assert without_markers(mine) == [["included"]]
            assert without_markers(theirs) == [["default"], ["included"], ["excluded"]]
        finally:
            await close_all(pub, other)

    run(test)


def test_open_disclose_me(demo_url, serializer):
    async def test():
        pub, sub = await open_sessions(demo_url, serializer, 2)
        try:
            sink, _ = await subscribe(sub, "open.disclosed")
            await pub.publish_with(
                {"disclose_me": True}, "open.disclosed", "who", options=PublishOptions(acknowledge=True)
            )
            await pub.publish("open.disclosed", "anonymous", options=PublishOptions(acknowledge=True))
            await sink.wait_count(2)
            [sent] = [m for m in pub.sent if isinstance(m, message.Publish) and list(m.args) == ["who"]]
            assert sent.marshal_options().get("disclose_me") is True
            disclosed, hidden = [details for _, _, details in sink.events]
            pub_details = pub.joined.result()
            assert disclosed.publisher == pub_details.session
            assert hidden.publisher is None
            # The spec's optional extras, when sent, name the publisher too.
            if disclosed.publisher_authid is not None:
                assert disclosed.publisher_authid == pub_details.authid
            if disclosed.publisher_authrole is not None:
                assert disclosed.publisher_authrole == pub_details.authrole
            assert hidden.publisher_authid is None and hidden.publisher_authrole is None
        finally:
            await close_all(pub, sub)

    run(test)


def test_open_exclude_and_eligible_sessions(demo_url, serializer):
    async def test():
        pub, b, c = await open_sessions(demo_url, serializer, 3)
        try:
            sink_b, _ = await subscribe(b, "open.filter")
            sink_c, _ = await subscribe(c, "open.filter")
            own, _ = await subscribe(pub, "open.filter")
            b_id, c_id = b.joined.result().session, c.joined.result().session
            ack = dict(acknowledge=True)

            await pub.publish("open.filter", "not b", options=PublishOptions(exclude=[b_id], **ack))
            await pub.publish("open.filter", "only b", options=PublishOptions(eligible=[b_id], **ack))
            await pub.publish(
                "open.filter", "b and c, minus c",
                options=PublishOptions(eligible=[b_id, c_id], exclude=[c_id], **ack),
            )
            # eligible naming the publisher: excluded anyway by default.
            await pub.publish(
                "open.filter", "only publisher", options=PublishOptions(eligible=[pub.joined.result().session], **ack)
            )
            await pub.publish(
                "open.filter", "only publisher, included",
                options=PublishOptions(eligible=[pub.joined.result().session], exclude_me=False, **ack),
            )
            await pub.publish("open.filter", "nobody", options=PublishOptions(eligible=[], **ack))
            await marker(pub, "open.filter", sink_b, sink_c, own)
            assert without_markers(sink_b) == [["only b"], ["b and c, minus c"]]
            assert without_markers(sink_c) == [["not b"]]
            assert without_markers(own) == [["only publisher, included"]]
        finally:
            await close_all(pub, b, c)

    run(test)


def test_open_exclude_and_eligible_authid(demo_url, serializer):
    async def test():
        pub, b, c = await open_sessions(demo_url, serializer, 3)
        try:
            sink_b, _ = await subscribe(b, "open.byauthid")
            sink_c, _ = await subscribe(c, "open.byauthid")
            b_authid = (await b.call("session.whoami")).kwresults["authid"]
            c_authid = (await c.call("session.whoami")).kwresults["authid"]
            assert b_authid == b.joined.result().authid
            assert b_authid != c_authid
            ack = dict(acknowledge=True)
            await pub.publish("open.byauthid", "not b", options=PublishOptions(exclude_authid=[b_authid], **ack))
            await pub.publish("open.byauthid", "only b", options=PublishOptions(eligible_authid=[b_authid], **ack))
            await marker(pub, "open.byauthid", sink_b, sink_c)
            assert without_markers(sink_b) == [["only b"]]
            assert without_markers(sink_c) == [["not b"]]
        finally:
            await close_all(pub, b, c)

    run(test)


def test_open_exclude_and_eligible_authrole(demo_url, serializer):
    async def test():
        pub, b, c = await open_sessions(demo_url, serializer, 3)
        try:
            assert {s.joined.result().authrole for s in (pub, b, c)} == {"anonymous"}
            sink_b, _ = await subscribe(b, "open.byrole")
            sink_c, _ = await subscribe(c, "open.byrole")
            own, _ = await subscribe(pub, "open.byrole")
            ack = dict(acknowledge=True)
            await pub.publish(
                "open.byrole", "nobody", options=PublishOptions(exclude_authrole=["anonymous"], **ack)
            )
            await pub.publish(
                "open.byrole", "all others", options=PublishOptions(eligible_authrole=["anonymous"], **ack)
            )
            await pub.publish(
                "open.byrole", "other role only", options=PublishOptions(eligible_authrole=["admin"], **ack)
            )
            await pub.publish(
                "open.byrole", "not admins", options=PublishOptions(exclude_authrole=["admin"], **ack)
            )
            await marker(pub, "open.byrole", sink_b, sink_c, own)
            assert without_markers(sink_b) == [["all others"], ["not admins"]]
            assert without_markers(sink_c) == [["all others"], ["not admins"]]
            assert without_markers(own) == []
        finally:
            await close_all(pub, b, c)

    run(test)


def test_open_teardown_on_disconnect(demo_url, serializer):
    """A subscriber whose connection drops stops getting events and does
    not disturb the others."""

    async def test():
        pub, gone, stays = await open_sessions(demo_url, serializer, 3)
        try:
            await subscribe(gone, "open.teardown")
            sink, _ = await subscribe(stays, "open.teardown")
            drop_connection(gone)
            await asyncio.wait_for(asyncio.shield(gone.disconnected), 5)
            for i in range(5):
                await pub.publish("open.teardown", i, options=PublishOptions(acknowledge=True))
            await sink.wait_count(5)
            assert sink.args == [[i] for i in range(5)]
        finally:
            await close_all(pub, stays)

    run(test)
