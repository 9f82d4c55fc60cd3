"""The demo contract's procedures, called by autobahn-python over every
WebSocket serializer variant (test ids name the serializer)."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, CallResult

from wamp_client import Client, join, run


def last_call(session: Client, procedure: str) -> message.Call:
    calls = [m for m in session.sent if isinstance(m, message.Call) and m.procedure == procedure]
    assert calls, f"no CALL to {procedure} was sent"
    return calls[-1]


def results_for(session: Client, request_id: int) -> list[message.Result]:
    return [m for m in session.received if isinstance(m, message.Result) and m.request == request_id]


def final_result(session: Client, procedure: str) -> message.Result:
    """The RESULT (final, not progressive) on the wire for the last CALL."""
    results = [r for r in results_for(session, last_call(session, procedure).request) if not r.progress]
    assert len(results) == 1, results
    return results[0]


async def call_error(session: Client, procedure: str, *args, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await session.call(procedure, *args, **kwargs)
    return caught.value


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
    if isinstance(a, float) and a == 0.0:
        return math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def session_test(body):
    """Runs `body(session)` on a session joined to realm1, then says GOODBYE."""

    def wrapper(demo_url, serializer, realm="realm1"):
        async def test():
            session = await join(demo_url, serializer, realm)
            try:
                await body(session, serializer)
            finally:
                if session.is_attached():
                    await session.close()

        run(test)

    return wrapper


# ---------------------------------------------------------------- math.add


def test_math_add_positional(demo_url, serializer):
    async def body(s, _):
        assert await s.call("math.add", 1, 2) == 3
        assert await s.call("math.add", -5, 2.25) == -2.75

    session_test(body)(demo_url, serializer)


def test_math_add_keyword(demo_url, serializer):
    async def body(s, _):
        assert await s.call("math.add", number1=1.5, number2=2) == 3.5
        assert await s.call("math.add", number2=10, number1=0.5) == 10.5

    session_test(body)(demo_url, serializer)


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((), {}),
        ((1,), {}),
        ((1, 2, 3), {}),
        ((), {"number1": 1}),
        ((), {"number1": 1, "number2": 2, "number3": 3}),
        (("one", 2), {}),
    ],
    ids=["none", "one", "surplus-positional", "missing-keyword", "surplus-keyword", "not-a-number"],
)
def test_math_add_invalid_arguments(demo_url, serializer, args, kwargs):
    async def body(s, _):
        err = await call_error(s, "math.add", *args, **kwargs)
        assert err.error == "wamp.error.invalid_argument", err
        # The session stays usable after an argument error.
        assert await s.call("math.add", 2, 2) == 4

    session_test(body)(demo_url, serializer)


ARGLESS_PROCEDURES = [
    "sandwich.ingredients",
    "calendar.zodiac",
    "music.playlist",
    "session.whoami",
    "session.get_name",
    "app.stats",
    "app.fail",
]


def test_argless_procedures_refuse_surplus_arguments(demo_url, serializer):
    async def body(s, _):
        accepted = []
        for procedure in ARGLESS_PROCEDURES:
            for args, kwargs in [((1,), {}), ((), {"surplus": 1})]:
                try:
                    await s.call(procedure, *args, **kwargs)
                    accepted.append((procedure, args, kwargs, "RESULT"))
                except ApplicationError as err:
                    if err.error != "wamp.error.invalid_argument":
                        accepted.append((procedure, args, kwargs, err.error))
        assert accepted == []

    session_test(body)(demo_url, serializer)


# ------------------------------------------------------ fixed-result procedures


def test_sandwich_ingredients(demo_url, serializer):
    async def body(s, _):
        res = await s.call("sandwich.ingredients")
        assert isinstance(res, CallResult)
        assert list(res.results) == ["Peanut Butter", "Jelly", "Bread"]
        assert res.kwresults == {}
        wire = final_result(s, "sandwich.ingredients")
        assert list(wire.args) == ["Peanut Butter", "Jelly", "Bread"]
        assert not wire.kwargs

    session_test(body)(demo_url, serializer)


def test_calendar_zodiac(demo_url, serializer):
    async def body(s, _):
        res = await s.call("calendar.zodiac")
        assert isinstance(res, CallResult)
        assert list(res.results) == []
        assert strictly_equal(res.kwresults, {"gregorianYear": 2020, "生肖": "鼠"})
        wire = final_result(s, "calendar.zodiac")
        assert not wire.args
        assert wire.kwargs == {"gregorianYear": 2020, "生肖": "鼠"}

    session_test(body)(demo_url, serializer)


def test_music_playlist(demo_url, serializer):
    async def body(s, _):
        res = await s.call("music.playlist")
        assert list(res.results) == ["Rock & Roll", "Blues", "Jazz"]
        assert strictly_equal(res.kwresults, {"playlistLength": 6432, "playlistSubscribers": 51})

    session_test(body)(demo_url, serializer)


# ---------------------------------------------------------------- input.check


def test_input_check_number(demo_url, serializer):
    async def body(s, _):
        assert strictly_equal(await s.call("input.check", 5), 5)
        assert strictly_equal(await s.call("input.check", 2.5), 2.5)
        assert strictly_equal(await s.call("input.check", value=-7), -7)

    session_test(body)(demo_url, serializer)


def test_input_check_not_a_number(demo_url, serializer):
    async def body(s, _):
        err = await call_error(s, "input.check", "x")
        assert err.error == "demo.error.bad_input"
        assert err.kwargs == {
            "errorCode": "BAD_INPUT",
            "errorMessage": "You should have supplied a number instead of a string.",
        }
        assert err.args == ()

    session_test(body)(demo_url, serializer)


@pytest.mark.parametrize(
    "procedure,args,kwargs",
    [
        ("input.check", (), {}),
        ("input.check", (1, 2), {}),
        ("input.check", (1,), {"surplus": 2}),
        ("session.set_name", (), {}),
        ("session.set_name", ("a", "b"), {}),
        ("app.slow", (), {}),
        ("app.slow", (0.01, 2), {}),
        ("countdown.liftoff", (), {"interval": 0.01, "surplus": 1}),
    ],
    ids=[
        "check-missing",
        "check-surplus",
        "check-surplus-kw",
        "set_name-missing",
        "set_name-surplus",
        "slow-missing",
        "slow-surplus",
        "countdown-surplus-kw",
    ],
)
def test_invalid_arguments(demo_url, serializer, procedure, args, kwargs):
    async def body(s, _):
        err = await call_error(s, procedure, *args, **kwargs)
        assert err.error == "wamp.error.invalid_argument", err

    session_test(body)(demo_url, serializer)


# ---------------------------------------------------------- countdown.liftoff


def test_countdown_with_progress(demo_url, serializer):
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
        call = last_call(s, "countdown.liftoff")
        assert call.receive_progress is True
        wire = results_for(s, call.request)
        assert [bool(r.progress) for r in wire] == [True, True, True, False]

    session_test(body)(demo_url, serializer)


def test_countdown_without_progress(demo_url, serializer):
    async def body(s, _):
        res = await s.call("countdown.liftoff", interval=0.05)
        assert list(res.results) == []
        assert res.kwresults == {"liftoffStatus": "SUCCESS"}
        # autobahn drops stray progressive results silently: check the wire.
        wire = results_for(s, last_call(s, "countdown.liftoff").request)
        assert len(wire) == 1 and not wire[0].progress, wire

    session_test(body)(demo_url, serializer)


# ------------------------------------------------------------ session.* procs


def test_session_whoami(demo_url, serializer):
    async def body(s, _):
        details = s.joined.result()
        res = await s.call("session.whoami")
        assert list(res.results) == []
        kw = res.kwresults
        assert set(kw) == {
            "session",
            "realm",
            "authid",
            "authrole",
            "authmethod",
            "identity",
            "peer_address",
        }
        assert kw["session"] == details.session
        assert kw["realm"] == "realm1" == details.realm
        assert kw["authid"] == details.authid
        assert kw["authrole"] == "anonymous" == details.authrole
        assert kw["authmethod"] == "anonymous" == details.authmethod
        assert kw["identity"] is None
        assert kw["peer_address"] == "127.0.0.1"

    session_test(body)(demo_url, serializer)


def test_session_name_is_per_session(demo_url, serializer):
    async def body(s, ser):
        assert await s.call("session.get_name") is None
        assert await s.call("session.set_name", "Ada Lovelace ✓") is None
        assert await s.call("session.get_name") == "Ada Lovelace ✓"
        other = await join(demo_url, ser)
        try:
            assert await other.call("session.get_name") is None
            await other.call("session.set_name", name="Grace")
            assert await other.call("session.get_name") == "Grace"
        finally:
            await other.close()
        assert await s.call("session.get_name") == "Ada Lovelace ✓"

    session_test(body)(demo_url, serializer)


async def active_sessions(s: Client) -> int:
    res = await s.call("app.stats")
    assert list(res.results) == []
    assert set(res.kwresults) == {"activeSessions"}
    count = res.kwresults["activeSessions"]
    assert isinstance(count, int) and count >= 1
    return count


async def settled_count(s: Client, expected: int | None = None, wait: float = 3.0) -> int:
    """The session count once it has held still (and equals `expected`)."""
    deadline = time.monotonic() + wait
    previous = await active_sessions(s)
    while True:
        await asyncio.sleep(0.05)
        current = await active_sessions(s)
        if current == previous and (expected is None or current == expected):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"activeSessions is {current}, expected {expected}")
        previous = current


def test_app_stats_counts_sessions(demo_url, serializer):
    async def body(s, ser):
        base = await settled_count(s)
        other = await join(demo_url, ser)
        try:
            assert await settled_count(s, base + 1) == base + 1
            assert await active_sessions(other) == base + 1
        finally:
            await other.close()
        assert await settled_count(s, base) == base

    session_test(body)(demo_url, serializer)


# ------------------------------------------------------------------- app.*


def test_app_fail_keeps_session(demo_url, serializer):
    async def body(s, _):
        err = await call_error(s, "app.fail")
        assert err.error == "wamp.error.runtime_error"
        assert s.is_attached()
        assert await s.call("math.add", 1, 2) == 3
        err = await call_error(s, "app.fail")
        assert err.error == "wamp.error.runtime_error"
        assert await s.call("sandwich.ingredients") is not None

    session_test(body)(demo_url, serializer)


def test_app_slow(demo_url, serializer):
    async def body(s, _):
        started = time.monotonic()
        assert strictly_equal(await s.call("app.slow", 0.05), 0.05)
        assert time.monotonic() - started >= 0.04

    session_test(body)(demo_url, serializer)


def test_app_slow_cancel(demo_url, serializer):
    """autobahn (asyncio) cancels by cancelling the call's future: it sends
    CANCEL with no options (so no `mode`: the router picks its default) and
    the future ends at once with CancelledError; the router's ERROR then
    arrives for a request autobahn has already settled, so we check it on
    the wire."""

    async def body(s, _):
        started = time.monotonic()
        call = s.call("app.slow", 10)
        request_id = last_call(s, "app.slow").request
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        err = await s.wait_for_message(
            lambda m: isinstance(m, message.Error)
            and m.request_type == message.Call.MESSAGE_TYPE
            and m.request == request_id,
            timeout=3.0,
        )
        cancels = [m for m in s.sent if isinstance(m, message.Cancel)]
        assert [c.request for c in cancels] == [request_id]
        assert cancels[0].mode is None
        assert err.error == "wamp.error.canceled"
        assert time.monotonic() - started < 4.0
        # Exactly one answer for the call, no late RESULT.
        await asyncio.sleep(0.2)
        assert len(s.errors_for(request_id)) == 1
        assert results_for(s, request_id) == []
        # The session keeps working.
        assert await s.call("math.add", 1, 2) == 3

    session_test(body)(demo_url, serializer)


@pytest.mark.parametrize("mode", ["skip", "kill", "killnowait"])
def test_app_slow_cancel_mode(demo_url, serializer, mode):
    """CANCEL with each mode the spec names, sent with autobahn's own
    message class while the call's future stays pending: the call must end
    with ERROR wamp.error.canceled, quickly."""

    async def body(s, _):
        started = time.monotonic()
        call = s.call("app.slow", 10)
        request_id = last_call(s, "app.slow").request
        await asyncio.sleep(0.1)
        s._transport.send(message.Cancel(request_id, mode=mode))
        with pytest.raises(ApplicationError) as caught:
            await asyncio.wait_for(call, 5)
        assert caught.value.error == "wamp.error.canceled"
        assert time.monotonic() - started < 3.0
        await asyncio.sleep(0.2)
        assert len(s.errors_for(request_id)) == 1
        assert results_for(s, request_id) == []
        assert await s.call("math.add", 1, 2) == 3

    session_test(body)(demo_url, serializer)


def test_countdown_cancel_midway(demo_url, serializer):
    async def body(s, _):
        progress = []
        call = s.call(
            "countdown.liftoff",
            interval=1.0,
            options=CallOptions(on_progress=lambda **kw: progress.append(kw)),
        )
        request_id = last_call(s, "countdown.liftoff").request
        await s.wait_for_message(
            lambda m: isinstance(m, message.Result) and m.request == request_id, 3.0
        )
        s._transport.send(message.Cancel(request_id))
        with pytest.raises(ApplicationError) as caught:
            await asyncio.wait_for(call, 3)
        assert caught.value.error == "wamp.error.canceled"
        assert progress == [{"timeLeft": 3}]
        await asyncio.sleep(0.2)
        assert [bool(r.progress) for r in results_for(s, request_id)] == [True]
        assert len(s.errors_for(request_id)) == 1

    session_test(body)(demo_url, serializer)


def test_cancel_of_unknown_request_is_ignored(demo_url, serializer):
    async def body(s, _):
        s._transport.send(message.Cancel(987654321))
        await asyncio.sleep(0.1)
        assert s.is_attached()
        assert await s.call("math.add", 1, 2) == 3

    session_test(body)(demo_url, serializer)


def test_app_slow_timeout(demo_url, serializer):
    async def body(s, _):
        started = time.monotonic()
        err = await call_error(s, "app.slow", 10, options=CallOptions(timeout=100))
        elapsed = time.monotonic() - started
        assert err.error == "wamp.error.timeout"
        assert last_call(s, "app.slow").timeout == 100
        assert 0.05 <= elapsed < 3.0, elapsed
        assert await s.call("app.slow", 0.01, options=CallOptions(timeout=2000)) == 0.01

    session_test(body)(demo_url, serializer)


def test_unknown_procedure(demo_url, serializer):
    async def body(s, _):
        err = await call_error(s, "no.such.procedure", 1, a=2)
        assert err.error == "wamp.error.no_such_procedure"
        assert await s.call("math.add", 1, 2) == 3

    session_test(body)(demo_url, serializer)


# ----------------------------------------------------------------- bench.echo


def echo_payload(serializer: str):
    # bytes go in for every serializer: JSON carries them as "\\0" + base64
    # (the WAMP rule autobahn implements) and must get bytes back.
    args = [
        "plain",
        "unicode: 生肖 鼠 — naïve café 🚀",
        "",
        0,
        -1,
        2**53,
        -(2**53),
        2**53 + 1,
        2**63 - 1,
        -(2**63),
        3.14159,
        -2.5e-300,
        1e300,
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
        "big": 2**53,
        "neg": -(2**53),
        "float": 0.1,
        "none": None,
        "list": [b"\x00bytes in a list", {"inner": b"\xff"}],
        "dict": {"a": {"b": {"c": [True, False]}}},
        "bytes": bytes(range(256)),
        "鍵": "値",
    }
    return args, kwargs


def test_bench_echo_round_trip(demo_url, serializer):
    async def body(s, ser):
        args, kwargs = echo_payload(ser)
        res = await s.call("bench.echo", *args, **kwargs)
        assert isinstance(res, CallResult)
        mismatched = [
            (i, sent, got)
            for i, (sent, got) in enumerate(zip(args, res.results))
            if not strictly_equal(sent, got)
        ]
        assert len(res.results) == len(args)
        assert mismatched == []
        assert res.kwresults.keys() == kwargs.keys()
        assert [k for k in kwargs if not strictly_equal(kwargs[k], res.kwresults[k])] == []

    session_test(body)(demo_url, serializer)


def test_bench_echo_shapes(demo_url, serializer):
    async def body(s, _):
        assert await s.call("bench.echo") is None
        assert await s.call("bench.echo", "only") == "only"
        res = await s.call("bench.echo", k=1)
        assert list(res.results) == [] and res.kwresults == {"k": 1}
        wire = final_result(s, "bench.echo")
        assert not wire.args and wire.kwargs == {"k": 1}

    session_test(body)(demo_url, serializer)


def test_bench_echo_bytes_are_bytes(demo_url, serializer):
    """For JSON, autobahn encodes bytes as a string `\\0` + base64; they
    must come back as bytes, not as a string."""

    async def body(s, _):
        payload = bytes(range(256)) * 4
        got = await s.call("bench.echo", payload)
        assert type(got) is bytes and got == payload

    session_test(body)(demo_url, serializer)


def test_bench_echo_200_concurrent(demo_url, serializer):
    async def body(s, _):
        values = [{"i": i, "s": f"value {i} ✓", "l": list(range(i % 7))} for i in range(200)]
        results = await asyncio.gather(*(s.call("bench.echo", v) for v in values))
        assert results == values

    session_test(body)(demo_url, serializer)


# ------------------------------------------------------- realm custom: add_stuff


def test_custom_add_stuff(demo_url, serializer):
    async def body(s, _):
        progress = []
        total = await s.call(
            "add_stuff",
            1,
            2,
            3,
            options=CallOptions(on_progress=lambda *a, **kw: progress.append((a, kw))),
        )
        assert progress == [(("Added 1",), {}), (("Added 2",), {}), (("Added 3",), {})]
        assert total == 6
        assert await s.call("add_stuff", 1.5, 2) == 3.5
        # Without progress, only the final result.
        assert await s.call("add_stuff", 10, 20) == 30
        wire = results_for(s, last_call(s, "add_stuff").request)
        assert len(wire) == 1 and not wire[0].progress, wire

    session_test(body)(demo_url, serializer, realm="custom")


def test_custom_add_stuff_not_a_number(demo_url, serializer):
    async def body(s, _):
        err = await call_error(s, "add_stuff", 1, "two", 3)
        assert err.args == ("Numbers only!",)
        err = await call_error(s, "add_stuff", True)
        assert err.args == ("Numbers only!",)
        assert await s.call("add_stuff", 4) == 4

    session_test(body)(demo_url, serializer, realm="custom")
