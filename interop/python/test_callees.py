"""Client callees in the demo's realm `open` (beyond the contract: clients
register procedures there), driven by autobahn-python over every WebSocket
serializer variant (test ids name the serializer): REGISTER, calls through
INVOCATION/YIELD, pattern and shared registrations, progressive results,
cancel → INTERRUPT, a callee leaving, `open.ask` (the server calling a
client through `Session::call`), and the contract's routes winning."""

from __future__ import annotations

import asyncio

import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, RegisterOptions

from wamp_client import join, run

REALM = "open"


async def close_all(*sessions) -> None:
    for s in sessions:
        if s.is_attached():
            await s.close()


def callee_test(body, callees: int = 1):
    """Runs `body(caller, *callees)` on sessions joined to realm `open`."""

    def wrapper(demo_url, serializer):
        async def test():
            sessions = [await join(demo_url, serializer, REALM) for _ in range(callees + 1)]
            try:
                await body(*sessions)
            finally:
                await close_all(*sessions)

        run(test)

    return wrapper


def test_a_client_callee_answers_calls(demo_url, serializer):
    async def body(caller, callee):
        def add(a, b, scale=1):
            return (a + b) * scale

        def fail():
            raise ApplicationError("com.example.failed", "no", reason=7)

        reg = await callee.register(add, "com.example.add")
        await callee.register(fail, "com.example.fail")
        assert await caller.call("com.example.add", 2, 3) == 5
        assert await caller.call("com.example.add", 2, 3, scale=10) == 50
        with pytest.raises(ApplicationError) as caught:
            await caller.call("com.example.fail")
        assert caught.value.error == "com.example.failed"
        assert caught.value.args == ("no",)
        assert caught.value.kwargs == {"reason": 7}
        # The callee received exactly one INVOCATION per call.
        invocations = [m for m in callee.received if isinstance(m, message.Invocation)]
        assert [m.registration for m in invocations[:2]] == [reg.id, reg.id]
        await reg.unregister()
        with pytest.raises(ApplicationError) as caught:
            await caller.call("com.example.add", 2, 3)
        assert caught.value.error == "wamp.error.no_such_procedure"

    callee_test(body)(demo_url, serializer)


def test_pattern_registrations_name_the_procedure(demo_url, serializer):
    async def body(caller, callee):
        def which(details=None):
            return details.procedure

        await callee.register(
            which, "com.example.any", options=RegisterOptions(match="prefix", details_arg="details")
        )
        await callee.register(
            which, "com.example..get", options=RegisterOptions(match="wildcard", details_arg="details")
        )
        assert await caller.call("com.example.any.thing") == "com.example.any.thing"
        assert await caller.call("com.example.x.get") == "com.example.x.get"

    callee_test(body)(demo_url, serializer)


def test_progressive_results_from_a_callee(demo_url, serializer):
    async def body(caller, callee):
        async def count(n, details=None):
            for i in range(n):
                details.progress(i)
            return "done"

        await callee.register(count, "com.example.count", options=RegisterOptions(details_arg="details"))
        progress = []
        result = await caller.call(
            "com.example.count", 3, options=CallOptions(on_progress=lambda i: progress.append(i))
        )
        assert result == "done"
        assert progress == [0, 1, 2]

    callee_test(body)(demo_url, serializer)


def test_shared_registration_round_robin(demo_url, serializer):
    async def body(caller, first, second):
        await first.register(lambda: "first", "com.example.rr", options=RegisterOptions(invoke="roundrobin"))
        await second.register(lambda: "second", "com.example.rr", options=RegisterOptions(invoke="roundrobin"))
        answers = [await caller.call("com.example.rr") for _ in range(4)]
        assert answers == ["first", "second", "first", "second"]
        with pytest.raises(ApplicationError) as caught:
            await caller.register(lambda: "third", "com.example.rr", options=RegisterOptions(invoke="last"))
        assert caught.value.error == "wamp.error.procedure_already_exists"

    callee_test(body, callees=2)(demo_url, serializer)


def test_cancel_interrupts_the_callee(demo_url, serializer):
    async def body(caller, callee):
        interrupted = asyncio.get_running_loop().create_future()

        async def slow():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                interrupted.set_result(True)
                raise

        await callee.register(slow, "com.example.slow")
        call = caller.call("com.example.slow")
        request_id = [m for m in caller.sent if isinstance(m, message.Call)][-1].request
        await asyncio.sleep(0.2)
        caller._transport.send(message.Cancel(request_id, mode="kill"))
        with pytest.raises(ApplicationError) as caught:
            await asyncio.wait_for(call, 5)
        assert await asyncio.wait_for(interrupted, 5)
        interrupts = [m for m in callee.received if isinstance(m, message.Interrupt)]
        assert len(interrupts) == 1 and interrupts[0].mode == "kill"
        # Mode kill: the callee's own answer to the INTERRUPT ends the call
        # (autobahn-python answers a handler that raised CancelledError
        # with an ERROR of its choosing).
        errors = [
            m
            for m in callee.sent
            if isinstance(m, message.Error) and m.request == interrupts[0].request
        ]
        assert len(errors) == 1
        assert caught.value.error == errors[0].error

    callee_test(body)(demo_url, serializer)


def test_a_call_timeout_interrupts_the_callee(demo_url, serializer):
    async def body(caller, callee):
        interrupted = asyncio.get_running_loop().create_future()

        async def slow():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                interrupted.set_result(True)
                raise

        await callee.register(slow, "com.example.slow")
        with pytest.raises(ApplicationError) as caught:
            await asyncio.wait_for(caller.call("com.example.slow", options=CallOptions(timeout=100)), 5)
        assert caught.value.error == "wamp.error.timeout"
        assert await asyncio.wait_for(interrupted, 5)
        interrupts = [m for m in callee.received if isinstance(m, message.Interrupt)]
        assert len(interrupts) == 1 and interrupts[0].mode == "killnowait"

    callee_test(body)(demo_url, serializer)


def test_shared_registration_first_and_last(demo_url, serializer):
    async def body(caller, first, second):
        for policy, expected in [("first", "first"), ("last", "second")]:
            uri = f"com.example.{policy}"
            await first.register(lambda: "first", uri, options=RegisterOptions(invoke=policy))
            await second.register(lambda: "second", uri, options=RegisterOptions(invoke=policy))
            assert [await caller.call(uri) for _ in range(3)] == [expected] * 3

    callee_test(body, callees=2)(demo_url, serializer)


def test_a_callee_leaving_mid_call_cancels_it(demo_url, serializer):
    async def body(caller, callee):
        await callee.register(lambda: asyncio.sleep(10), "com.example.gone")
        call = caller.call("com.example.gone")
        await asyncio.sleep(0.2)
        callee.ws.transport.abort()
        with pytest.raises(ApplicationError) as caught:
            await asyncio.wait_for(call, 5)
        assert caught.value.error == "wamp.error.canceled"

    callee_test(body)(demo_url, serializer)


def test_the_server_calls_a_client_and_routes_win(demo_url, serializer):
    async def body(caller, callee):
        await callee.register(lambda x: f"client saw {x}", "com.example.echo")
        # open.ask calls com.example.echo through Session::call.
        assert await caller.call("open.ask", "com.example.echo", 42) == "client saw 42"
        # The contract's routes win over a client registration.
        await callee.register(lambda a, b: "client", "math.add")
        assert await caller.call("math.add", 1, 2) == 3

    callee_test(body)(demo_url, serializer)


def test_realms_without_client_callees_refuse_register(demo_url, serializer):
    async def test():
        s = await join(demo_url, serializer)
        try:
            with pytest.raises(ApplicationError) as caught:
                await s.register(lambda: 1, "com.example.nope")
            assert caught.value.error == "wamp.error.not_authorized"
        finally:
            await s.close()

    run(test)
