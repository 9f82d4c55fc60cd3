"""The browser demo page (`GET /` of the demo app): served as HTML, works
offline, and its WAMP client really works, checked by running the page's
own client script under Node against the demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from conftest import DemoProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
NODE_TIMEOUT = 20.0

PROCEDURES = [
    "math.add",
    "sandwich.ingredients",
    "calendar.zodiac",
    "music.playlist",
    "input.check",
    "countdown.liftoff",
    "session.whoami",
    "updates.publish",
    "app.slow",
]
TOPICS = ["hourly_updates", "docs.changes"]


@pytest.fixture(scope="module")
def page_demo():
    demo = DemoProcess()
    try:
        yield demo
    except BaseException:
        demo.kill()
        raise
    demo.stop_and_check()


def http_get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read().decode("utf-8")


@pytest.fixture(scope="module")
def page(page_demo) -> str:
    status, headers, body = http_get(page_demo.http_url + "/")
    assert status == 200
    assert headers.get_content_type() == "text/html", headers.get("content-type")
    return body


def test_page_is_html(page):
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="en">' in page
    assert "<title>" in page


def test_page_names_every_procedure_and_topic(page):
    for name in PROCEDURES + TOPICS:
        assert name in page, name
    assert "wamp.2.json" in page
    assert "realm1" in page
    assert "'/ws'" in page
    # The login panels, one per authenticated realm of the demo contract.
    for form in ('id="login-tickets"', 'id="login-cra"', 'id="login-cookies"'):
        assert form in page, form
    for realm in ("realm: 'tickets'", "realm: 'cra'", "realm: 'cookies'"):
        assert realm in page, realm


def test_page_works_offline(page):
    """No external resources: no absolute URLs, no protocol-relative ones,
    every src/href a data: URL, no CSS imports or url()."""
    assert "http://" not in page
    assert "https://" not in page
    for attribute, value in re.findall(r"""\b(src|href)\s*=\s*["']?([^"'\s>]*)""", page, re.I):
        assert value.startswith("data:"), (attribute, value)
    assert "@import" not in page
    assert "url(" not in page
    # Every script is inline.
    for tag in re.findall(r"<script\b[^>]*>", page, re.I):
        assert "src" not in tag, tag


def test_page_labels_its_inputs(page):
    """Every input sits inside a <label> (the page's accessibility rule)."""
    body = page.split("<body>", 1)[1]
    inputs = re.findall(r"<input\b[^>]*>", body)
    assert inputs
    labelled = re.findall(r"<label>[^<]*<input\b[^>]*>[^<]*</label>", body)
    assert len(labelled) == len(inputs), inputs


def test_health_still_ok(page_demo):
    status, _, body = http_get(page_demo.http_url + "/health")
    assert (status, body) == (200, "ok")


def node_command() -> list[str] | None:
    """`node` with a global WebSocket (Node 20 has it behind a flag; later
    versions by default), or None."""
    node = shutil.which("node")
    if not node:
        return None
    check = "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
    for flags in (["--experimental-websocket"], []):
        try:
            done = subprocess.run([node, *flags, "-e", check], capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            continue
        if done.returncode == 0:
            return [node, *flags]
    return None


# Loads the page's client script (argv[2]) as a browser would, then drives it
# against the demo (argv[3]) and prints a JSON report of what it saw.
HARNESS = r"""
const fs = require('fs');
(0, eval)(fs.readFileSync(process.argv[2], 'utf8'));
const { WampClient, WampError } = globalThis;
const url = process.argv[3];

function next() { let resolve; const promise = new Promise((r) => { resolve = r; }); return { promise, resolve }; }

async function main() {
  const wire = [];
  const closed = next();
  const c = new WampClient(url, { realm: 'realm1', WebSocket: globalThis.WebSocket, onMessage: (d, m) => wire.push([d, m]), onClose: closed.resolve });
  const report = {};
  const welcome = await c.open();
  report.session = welcome.session;
  report.sessionId = c.sessionId;
  report.stateOpen = c.state;

  report.add = (await c.call('math.add', [1, 2])).args;

  const progress = [];
  const liftoff = await c.call('countdown.liftoff', [], { interval: 0.05 },
                               { onProgress: (p) => progress.push(p.kwargs) });
  report.progress = progress;
  report.liftoff = liftoff.kwargs;

  const docs = next();
  const docsEvents = [];
  const docsSub = await c.subscribe('docs.changes', (e) => { docsEvents.push(e.args); docs.resolve(); });
  await docs.promise;
  report.docsEvents = docsEvents;

  try {
    await c.call('input.check', ['hello']);
    report.check = 'no error';
  } catch (e) {
    report.check = { isWampError: e instanceof WampError, error: e.error, kwargs: e.kwargs };
  }

  const update = next();
  const updates = [];
  const updatesSub = await c.subscribe('hourly_updates', (e) => { updates.push(e.args); update.resolve(); });
  report.published = (await c.call('updates.publish', ['hi from node'])).args;
  await update.promise;
  report.updates = updates;
  await c.unsubscribe(updatesSub);
  await c.unsubscribe(docsSub);

  // CANCEL of a running call: the call's promise is rejected with the ERROR.
  const slow = c.call('app.slow', [30]);
  report.slowRequestIsPending = typeof slow.requestId === 'number';
  report.cancelSent = c.cancel(slow, 'kill');
  try {
    await slow;
    report.canceled = 'no error';
  } catch (e) {
    report.canceled = { isWampError: e instanceof WampError, error: e.error };
  }
  report.cancelAgain = c.cancel(slow, 'kill');

  await c.close();
  report.close = await closed.promise;
  report.stateClosed = c.state;
  report.wire = wire;

  // Ticket authentication: the client answers the CHALLENGE.
  const challenges = [];
  const t = new WampClient(url, { realm: 'tickets', WebSocket: globalThis.WebSocket, authmethods: ['ticket'],
                                  authid: 'alice', onChallenge: (method, extra) => { challenges.push(method); return 'secret123'; } });
  const tWelcome = await t.open();
  report.ticketWelcome = { authid: tWelcome.details.authid, authmethod: tWelcome.details.authmethod };
  report.ticketChallenges = challenges;
  report.ticketIdentity = (await t.call('session.whoami')).kwargs.identity;
  await t.close();

  // A wrong ticket: joining fails with the router's ABORT.
  const bad = new WampClient(url, { realm: 'tickets', WebSocket: globalThis.WebSocket, authmethods: ['ticket'],
                                    authid: 'alice', onChallenge: () => 'wrong' });
  try {
    await bad.open();
    report.badTicket = 'joined';
  } catch (e) {
    report.badTicket = e.error;
  }
  console.log(JSON.stringify(report));
}

main().then(() => process.exit(0), (e) => { console.error(e && (e.stack || e.error || e)); process.exit(1); });
"""


def test_page_client_script_works_under_node(page, page_demo, tmp_path):
    command = node_command()
    if command is None:
        pytest.skip("needs Node with a global WebSocket (Node >= 20 with --experimental-websocket)")
    scripts = re.findall(r'<script id="wamp-client">(.*?)</script>', page, re.S)
    assert len(scripts) == 1, "the page has one <script id=\"wamp-client\">"
    client = tmp_path / "wamp-client.js"
    client.write_text(scripts[0], encoding="utf-8")
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    try:
        done = subprocess.run(
            [*command, str(harness), str(client), page_demo.url],
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"node harness did not finish in {NODE_TIMEOUT} s: {e.stdout!r} {e.stderr!r}")
    assert done.returncode == 0, f"node harness failed:\n{done.stderr}\n{done.stdout}"
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert isinstance(report["session"], int) and report["session"] > 0
    assert report["sessionId"] == report["session"]
    assert report["stateOpen"] == "open"
    assert report["add"] == [3]
    assert report["progress"] == [{"timeLeft": 3}, {"timeLeft": 2}, {"timeLeft": 1}]
    assert report["liftoff"] == {"liftoffStatus": "SUCCESS"}
    assert report["docsEvents"] == [["Thanks for subscribing!"]]
    assert report["check"] == {
        "isWampError": True,
        "error": "demo.error.bad_input",
        "kwargs": {
            "errorCode": "BAD_INPUT",
            "errorMessage": "You should have supplied a number instead of a string.",
        },
    }
    assert report["published"] == [1]
    assert report["updates"] == [["hi from node"]]
    assert report["slowRequestIsPending"] is True
    assert report["cancelSent"] is True
    assert report["canceled"] == {"isWampError": True, "error": "wamp.error.canceled"}
    assert report["cancelAgain"] is False  # the call is over: nothing to cancel
    assert report["stateClosed"] == "closed"
    assert report["ticketWelcome"] == {"authid": "alice", "authmethod": "ticket"}
    assert report["ticketChallenges"] == ["ticket"]
    assert report["ticketIdentity"] == {"name": "alice"}
    assert report["badTicket"] == "wamp.error.authentication_failed"

    # The wire, as the page's log pane sees it.
    wire = report["wire"]
    sent = [m for d, m in wire if d == "out"]
    received = [m for d, m in wire if d == "in"]
    hello = sent[0]
    assert hello[:2] == [1, "realm1"]
    assert set(hello[2]["roles"]) == {"caller", "subscriber"}
    assert received[0][0] == 2 and received[0][1] == report["session"]  # WELCOME
    calls = {m[3]: m for m in sent if m[0] == 48}
    assert calls["math.add"][4] == [1, 2]
    assert calls["countdown.liftoff"][2] == {"receive_progress": True}
    assert calls["countdown.liftoff"][5] == {"interval": 0.05}
    assert "receive_progress" not in calls["math.add"][2]
    # Request ids are sequential from 1 in the session scope.
    request_ids = [m[1] for m in sent if m[0] in (32, 34, 48)]
    assert request_ids == list(range(1, len(request_ids) + 1))
    cancels = [m for m in sent if m[0] == 49]
    assert cancels == [[49, calls["app.slow"][1], {"mode": "kill"}]]
    assert sent[-1] == [6, {}, "wamp.close.close_realm"]  # GOODBYE out
    assert received[-1][0] == 6 and received[-1][2] == "wamp.close.goodbye_and_out"
    assert report["close"]["wampReason"] == "wamp.close.goodbye_and_out"
