"""The demo's `/metrics` (beyond the contract): the library's counters in
Prometheus' text format move as autobahn-python calls."""

from __future__ import annotations

import re
import urllib.request

from autobahn.wamp.exception import ApplicationError

from wamp_client import join, run


def scrape(demo) -> str:
    with urllib.request.urlopen(f"http://{demo.host}:{demo.port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return resp.read().decode()


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample (0 when absent: the counter never moved)."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    for line in text.splitlines():
        found = re.match(pattern, line)
        if found:
            return float(found.group(1))
    return 0.0


def test_metrics_count_calls_and_errors(demo):
    before = scrape(demo)

    async def test():
        s = await join(demo.url, "json")
        assert await s.call("math.add", 1, 2) == 3
        try:
            await s.call("no.such.procedure")
            raise AssertionError("the call should fail")
        except ApplicationError as e:
            assert e.error == "wamp.error.no_such_procedure"
        # The session is open while we scrape.
        during = scrape(demo)
        await s.close()
        return during

    during = run(test)
    assert sample(during, "serverwamp_calls_total") >= sample(before, "serverwamp_calls_total") + 2
    uri = 'uri="wamp.error.no_such_procedure"'
    assert sample(during, "serverwamp_call_errors_total", uri) >= (
        sample(before, "serverwamp_call_errors_total", uri) + 1
    )
    assert sample(during, "serverwamp_sessions") >= 1


def test_metrics_sample_the_outbound_queues(demo):
    """The outbound queue gauges are sampled at each scrape: present, and
    within one session's budget (1 MiB) for clients that read."""

    async def test():
        s = await join(demo.url, "json")
        assert await s.call("math.add", 1, 2) == 3
        text = scrape(demo)
        await s.close()
        return text

    text = run(test)
    assert "# TYPE serverwamp_outbound_queue_bytes gauge" in text
    assert "# TYPE serverwamp_outbound_queue_max_bytes gauge" in text
    assert 0 <= sample(text, "serverwamp_outbound_queue_max_bytes") <= 1024 * 1024
    assert sample(text, "serverwamp_outbound_queue_max_bytes") <= sample(
        text, "serverwamp_outbound_queue_bytes"
    )
