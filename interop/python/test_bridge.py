"""The demo's HTTP bridge at `/bridge` (beyond the contract): calls and
publications with `urllib`, served by the same handlers, authentication and
authorizer as WAMP sessions; a publication reaches an autobahn-python
subscriber."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from wamp_client import join, run


def post(demo, path: str, body: object | None = None, headers: dict[str, str] | None = None):
    """POSTs JSON to the bridge; returns (status, decoded body)."""
    data = b"" if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://{demo.host}:{demo.port}/bridge{path}",
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_call(demo):
    assert post(demo, "/call/math.add", {"realm": "realm1", "args": [2, 3]}) == (
        200,
        {"args": [5.0], "kwargs": {}},
    )
    status, body = post(demo, "/call/music.playlist?realm=realm1")
    assert status == 200
    assert body["args"] == ["Rock & Roll", "Blues", "Jazz"]
    assert body["kwargs"] == {"playlistLength": 6432, "playlistSubscribers": 51}


def test_errors(demo):
    status, body = post(demo, "/call/no.such.procedure?realm=realm1")
    assert (status, body["error"]) == (404, "wamp.error.no_such_procedure")
    status, body = post(demo, "/call/math.add?realm=realm1", {"args": [1]})
    assert (status, body["error"]) == (400, "wamp.error.invalid_argument")
    status, body = post(demo, "/call/input.check?realm=realm1", {"args": ["text"]})
    assert (status, body["error"]) == (500, "demo.error.bad_input")
    assert body["kwargs"]["errorCode"] == "BAD_INPUT"
    status, body = post(demo, "/call/math.add?realm=realm1", {"nonsense": True})
    assert status == 400
    assert "not a valid bridge request" in body["args"][0]


def test_authentication(demo):
    status, _ = post(demo, "/call/session.whoami?realm=tickets")
    assert status == 401
    status, _ = post(
        demo, "/call/session.whoami?realm=tickets", headers={"Authorization": "Ticket alice:nope"}
    )
    assert status == 401
    status, body = post(
        demo,
        "/call/session.whoami?realm=tickets",
        headers={"Authorization": "Ticket alice:secret123"},
    )
    assert status == 200
    assert body["kwargs"]["authid"] == "alice"
    assert body["kwargs"]["identity"] == {"name": "alice"}
    status, body = post(
        demo, "/call/session.whoami?realm=cookies", headers={"Cookie": "myName=Jeff"}
    )
    assert (status, body["kwargs"]["authid"]) == (200, "Jeff")


def test_publish_reaches_a_subscriber(demo):
    async def test():
        s = await join(demo.url, "json", "open")
        got = asyncio.get_running_loop().create_future()
        await s.subscribe(lambda *args, **kwargs: got.set_result((args, kwargs)), "bridge.news")
        status, body = await asyncio.to_thread(
            post, demo, "/publish/bridge.news", {"realm": "open", "args": ["hi"], "kwargs": {"n": 1}}
        )
        assert status == 200
        assert isinstance(body["publication"], int)
        assert await asyncio.wait_for(got, 5) == (("hi",), {"n": 1})
        await s.close()

    run(test)
