// autobahn-js and the WAMP meta API in the demo's realm `open` (beyond the
// contract: the realm serves the meta API, testaments and event retention),
// once per serializer: session and subscription meta procedures and events,
// registration meta procedures, a testament published when its session
// leaves, and a retained event given to a late subscriber.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';

import { CallFailure, clients } from '../lib/clients.js';
import { TIMEOUT_MS, demoUrl } from '../lib/suite.js';

const client = clients.find((c) => c.name === 'autobahn-js');
const REALM = 'open';

/** The events of one subscription, with a way to wait for one. */
class Sink {
  constructor() {
    this.events = [];
    this.waiters = [];
    this.handler = (args, kwargs, details) => {
      this.events.push({ args: args ?? [], kwargs: kwargs ?? {}, details });
      for (const w of this.waiters.splice(0)) w();
    };
  }

  /** Resolves with the first event that `predicate` accepts. */
  async waitFor(predicate, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event among ${JSON.stringify(this.events.map((e) => e.args))}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

async function subscribe(c, topic, options) {
  const sink = new Sink();
  const subscription = await c.raw.subscribe(topic, sink.handler, options);
  return { sink, subscription };
}

const unique = (prefix) => `${prefix}.${randomUUID().replaceAll('-', '')}`;

/** The one positional result of a meta procedure. */
async function one(c, procedure, args, kwargs) {
  const { args: result } = await c.call(procedure, { args, kwargs });
  assert.equal(result.length, 1, `${procedure}: ${JSON.stringify(result)}`);
  return result[0];
}

async function closeAll(...sessions) {
  for (const s of sessions) {
    if (s.raw.isOpen) await s.close();
  }
}

for (const serializer of client.serializers) {
  const connect = () => client.connect({ url: demoUrl(), realm: REALM, serializer });

  describe(`autobahn-js ${serializer}: meta API`, { timeout: TIMEOUT_MS }, () => {
    test('WELCOME announces the meta API', async () => {
      const c = await connect();
      try {
        const { broker, dealer } = c.welcome.roles;
        assert.equal(broker.features.session_meta_api, true);
        assert.equal(broker.features.subscription_meta_api, true);
        assert.equal(broker.features.event_retention, true);
        assert.equal(dealer.features.testament_meta_api, true);
        assert.equal(dealer.features.registration_meta_api, true);
      } finally {
        await closeAll(c);
      }
    });

    test('sessions are counted, described and their joins published', async () => {
      const watcher = await connect();
      let other;
      try {
        const { sink: joins } = await subscribe(watcher, 'wamp.session.on_join');
        const { sink: leaves } = await subscribe(watcher, 'wamp.session.on_leave');
        other = await connect();
        const joined = await joins.waitFor((e) => e.args[0]?.session === other.sessionId);
        assert.equal(joined.args[0].authrole, 'anonymous');
        assert.equal(joined.args[0].authmethod, 'anonymous');

        assert.ok((await one(watcher, 'wamp.session.count')) >= 2);
        assert.equal(await one(watcher, 'wamp.session.count', [['nobody']]), 0);
        const ids = await one(watcher, 'wamp.session.list');
        assert.ok(ids.includes(watcher.sessionId) && ids.includes(other.sessionId));
        const details = await one(watcher, 'wamp.session.get', [other.sessionId]);
        assert.equal(details.session, other.sessionId);
        assert.equal(details.transport.type, 'websocket');
        await assert.rejects(watcher.call('wamp.session.get', { args: [1] }), (e) => {
          assert.ok(e instanceof CallFailure);
          assert.equal(e.uri, 'wamp.error.no_such_session');
          return true;
        });

        const gone = other.sessionId;
        await other.close();
        const left = await leaves.waitFor((e) => e.args[0] === gone);
        assert.equal(left.args[2], 'anonymous');
      } finally {
        await closeAll(watcher, ...(other ? [other] : []));
      }
    });

    test('subscriptions are described and their creation published', async () => {
      const watcher = await connect();
      const other = await connect();
      const topic = unique(`meta.js.${serializer}`);
      try {
        const { sink: created } = await subscribe(watcher, 'wamp.subscription.on_create');
        const { sink: deleted } = await subscribe(watcher, 'wamp.subscription.on_delete');
        const { subscription } = await subscribe(other, topic);
        const event = await created.waitFor((e) => e.args[1]?.uri === topic);
        assert.equal(event.args[0], other.sessionId);
        assert.equal(event.args[1].match, 'exact');
        const id = event.args[1].id;
        assert.equal(await one(watcher, 'wamp.subscription.lookup', [topic]), id);
        assert.deepEqual(await one(watcher, 'wamp.subscription.match', [topic]), [id]);
        const got = await one(watcher, 'wamp.subscription.get', [id]);
        assert.equal(got.uri, topic);
        assert.match(got.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.deepEqual(await one(watcher, 'wamp.subscription.list_subscribers', [id]), [other.sessionId]);
        assert.equal(await one(watcher, 'wamp.subscription.count_subscribers', [id]), 1);

        await other.raw.unsubscribe(subscription);
        const removed = await deleted.waitFor((e) => e.args[1] === id);
        assert.equal(removed.args[0], other.sessionId);
      } finally {
        await closeAll(watcher, other);
      }
    });

    test('registrations are described and their changes published', async () => {
      const watcher = await connect();
      const callee = await connect();
      const procedure = unique(`meta.js.reg.${serializer}`);
      try {
        const { sink: registered } = await subscribe(watcher, 'wamp.registration.on_register');
        const { sink: deleted } = await subscribe(watcher, 'wamp.registration.on_delete');
        const registration = await callee.raw.register(procedure, (args) => args[0] * 2);
        const id = registration.id;
        const event = await registered.waitFor((e) => e.args[1] === id);
        assert.equal(event.args[0], callee.sessionId);
        assert.deepEqual((await watcher.call(procedure, { args: [21] })).args, [42]);
        assert.equal(await one(watcher, 'wamp.registration.lookup', [procedure]), id);
        assert.equal(await one(watcher, 'wamp.registration.match', [procedure]), id);
        const got = await one(watcher, 'wamp.registration.get', [id]);
        assert.equal(got.uri, procedure);
        assert.equal(got.invoke, 'single');
        assert.deepEqual(await one(watcher, 'wamp.registration.list_callees', [id]), [callee.sessionId]);

        await callee.close();
        const removed = await deleted.waitFor((e) => e.args[1] === id);
        assert.equal(removed.args[0], callee.sessionId);
        // A lone null result reaches the adapter as no result at all.
        const after = await watcher.call('wamp.registration.lookup', { args: [procedure] });
        assert.equal(after.args[0] ?? null, null);
      } finally {
        await closeAll(watcher, callee);
      }
    });

    test('a testament is published when its session leaves', async () => {
      const watcher = await connect();
      const leaving = await connect();
      const topic = unique(`meta.js.testament.${serializer}`);
      try {
        const { sink } = await subscribe(watcher, topic);
        await leaving.call('wamp.session.add_testament', { args: [topic, ['gone'], { who: 'me' }] });
        await leaving.call('wamp.session.add_testament', {
          args: [topic, ['flushed'], {}],
          kwargs: { scope: 'detached' },
        });
        await leaving.call('wamp.session.flush_testaments', { kwargs: { scope: 'detached' } });
        await leaving.close();
        const event = await sink.waitFor(() => true);
        assert.deepEqual(event.args, ['gone']);
        assert.deepEqual(event.kwargs, { who: 'me' });
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(sink.events.length, 1);
      } finally {
        await closeAll(watcher, leaving);
      }
    });

    test('a retained event reaches a late subscriber that asks for it', async () => {
      const publisher = await connect();
      const late = await connect();
      const topic = unique(`meta.js.retained.${serializer}`);
      try {
        for (const reading of [20, 21]) {
          await publisher.raw.publish(topic, [reading], {}, { retain: true, acknowledge: true });
        }
        const { sink } = await subscribe(late, topic, { get_retained: true });
        const event = await sink.waitFor(() => true);
        assert.deepEqual(event.args, [21]);
        assert.equal(event.details.retained, true);
        assert.equal(event.details.topic, topic);

        const { sink: plain } = await subscribe(publisher, topic);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(plain.events, []);
      } finally {
        await closeAll(publisher, late);
      }
    });
  });
}
