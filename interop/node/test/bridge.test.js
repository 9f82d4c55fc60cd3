// The demo's HTTP bridge and `/metrics` (beyond the contract), with Node's
// built-in fetch beside autobahn-js: calls POSTed to `/bridge/call/...`,
// a publication POSTed to `/bridge/publish/...` that reaches an autobahn-js
// subscriber in realm `open` (once per serializer), and the Prometheus
// text at `/metrics`, whose call counter moves and whose outbound queue
// gauges are sampled at each scrape.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clients } from '../lib/clients.js';
import { TIMEOUT_MS, demoUrl } from '../lib/suite.js';

const client = clients.find((c) => c.name === 'autobahn-js');

function httpBase() {
  return `http://${new URL(demoUrl()).host}`;
}

/** POSTs JSON to the bridge; returns { status, body }. */
async function post(path, body, headers = {}) {
  const response = await fetch(`${httpBase()}/bridge${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The value of one sample of the Prometheus text (0 when absent). */
function sample(text, name) {
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key === name) return Number(value);
  }
  return 0;
}

async function scrape() {
  const response = await fetch(`${httpBase()}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/plain/);
  return response.text();
}

describe('HTTP bridge (fetch)', { timeout: TIMEOUT_MS }, () => {
  test('calls answer as over WAMP', async () => {
    assert.deepEqual(await post('/call/math.add', { realm: 'realm1', args: [2, 3] }), {
      status: 200,
      body: { args: [5], kwargs: {} },
    });
    const playlist = await post('/call/music.playlist?realm=realm1');
    assert.equal(playlist.status, 200);
    assert.deepEqual(playlist.body.kwargs, { playlistLength: 6432, playlistSubscribers: 51 });
    const missing = await post('/call/no.such.procedure?realm=realm1');
    assert.deepEqual([missing.status, missing.body.error], [404, 'wamp.error.no_such_procedure']);
    const bad = await post('/call/math.add?realm=realm1', { args: [1] });
    assert.deepEqual([bad.status, bad.body.error], [400, 'wamp.error.invalid_argument']);
    const refused = await post('/call/session.whoami?realm=tickets');
    assert.equal(refused.status, 401);
    const alice = await post('/call/session.whoami?realm=tickets', undefined, {
      Authorization: 'Ticket alice:secret123',
    });
    assert.equal(alice.status, 200);
    assert.equal(alice.body.kwargs.authid, 'alice');
  });

  for (const serializer of client.serializers) {
    test(`a publication reaches an autobahn-js subscriber (${serializer})`, async () => {
      const subscriber = await client.connect({ url: demoUrl(), realm: 'open', serializer });
      const topic = `bridge.js.${serializer}`;
      try {
        let deliver;
        const got = new Promise((done) => {
          deliver = done;
        });
        // Resolves once SUBSCRIBED is back.
        await subscriber.raw.subscribe(topic, (args, kwargs) => deliver({ args, kwargs }));
        const published = await post(`/publish/${topic}`, { realm: 'open', args: ['hi'], kwargs: { n: 1 } });
        assert.equal(published.status, 200);
        assert.equal(typeof published.body.publication, 'number');
        assert.deepEqual(await got, { args: ['hi'], kwargs: { n: 1 } });
      } finally {
        await subscriber.close();
      }
    });
  }
});

describe('/metrics (fetch)', { timeout: TIMEOUT_MS }, () => {
  test('counts calls and reports the outbound queues', async () => {
    const before = await scrape();
    const session = await client.connect({ url: demoUrl(), realm: 'realm1', serializer: 'json' });
    try {
      assert.deepEqual((await session.call('math.add', { args: [1, 2] })).args, [3]);
      await post('/call/math.add', { realm: 'realm1', args: [1, 2] });
      const during = await scrape();
      assert.ok(sample(during, 'serverwamp_calls_total') >= sample(before, 'serverwamp_calls_total') + 2);
      assert.ok(sample(during, 'serverwamp_sessions') >= 1);
      // Sampled at each scrape: present, and small for clients that read.
      assert.match(during, /^serverwamp_outbound_queue_bytes \d+/m);
      assert.match(during, /^serverwamp_outbound_queue_max_bytes \d+/m);
      assert.ok(sample(during, 'serverwamp_outbound_queue_max_bytes') <= 1024 * 1024);
    } finally {
      await session.close();
    }
  });
});
