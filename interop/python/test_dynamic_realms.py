"""Dynamic realms in the demo (beyond the contract): `tenant.<name>` realms
are made by the realm factory at their first HELLO, serve `tenant.info`
beside the contract's procedures, and are torn down when their last session
leaves; the next HELLO makes them anew. The demo's `/stats` reports the
tenant realms in use and those torn down."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from autobahn.wamp.exception import ApplicationError

from wamp_client import join, run


def stats(demo) -> dict:
    with urllib.request.urlopen(f"http://{demo.host}:{demo.port}/stats", timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


async def until(check, what: str, timeout: float = 5.0) -> None:
    """Waits until `check()` holds: a session ends just after its GOODBYE."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.02)


async def info(session) -> dict:
    result = await session.call("tenant.info")
    return dict(result.kwresults)


def test_tenant_realm_is_made_shared_and_torn_down(demo, serializer):
    async def test():
        await until(lambda: stats(demo)["tenant_realms"] == 0, "no tenant realm left over")
        torn_down = stats(demo)["tenant_realms_torn_down"]

        first = await join(demo.url, serializer, "tenant.acme")
        assert await info(first) == {"tenant": "acme", "sessions": 1}
        second = await join(demo.url, serializer, "tenant.acme")
        # One realm, shared by both sessions.
        assert await info(second) == {"tenant": "acme", "sessions": 2}
        assert stats(demo)["tenant_realms"] == 1
        # The contract's procedures answer in a tenant realm too.
        assert await second.call("math.add", 2, 3) == 5

        await first.close()
        await until(lambda: stats(demo)["sessions"] <= 1, "the first session ended")
        assert await info(second) == {"tenant": "acme", "sessions": 1}
        assert stats(demo)["tenant_realms_torn_down"] == torn_down

        await second.close()
        await until(
            lambda: stats(demo)["tenant_realms_torn_down"] == torn_down + 1,
            "the realm was torn down after its last session",
        )
        assert stats(demo)["tenant_realms"] == 0

        # The next HELLO makes it anew.
        again = await join(demo.url, serializer, "tenant.acme")
        assert await info(again) == {"tenant": "acme", "sessions": 1}
        assert stats(demo)["tenant_realms"] == 1
        await again.close()
        await until(
            lambda: stats(demo)["tenant_realms_torn_down"] == torn_down + 2,
            "the realm made anew was torn down too",
        )

    run(test)


def test_other_realms_are_the_default_realm(demo):
    async def test():
        # Not a tenant name: the default realm, as the contract says.
        for realm in ("acme", "tenants.acme"):
            s = await join(demo.url, "json", realm)
            try:
                await s.call("tenant.info")
                raise AssertionError(f"tenant.info answered in {realm!r}")
            except ApplicationError as e:
                assert e.error == "wamp.error.no_such_procedure"
            assert await s.call("math.add", 1, 1) == 2
            await s.close()
        assert stats(demo)["tenant_realms"] == 0

    run(test)
