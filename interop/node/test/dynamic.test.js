// Dynamic realms in the demo (beyond the contract), through autobahn-js
// once per serializer: `tenant.<name>` realms are made by the realm factory
// at their first HELLO, shared by their sessions, serve `tenant.info`, are
// torn down when their last session leaves and made anew by the next HELLO,
// as the demo's `/stats` shows. Each serializer uses its own tenant, since
// test files run side by side against one demo.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CallFailure, clients } from '../lib/clients.js';
import { TIMEOUT_MS, demoUrl } from '../lib/suite.js';

const client = clients.find((c) => c.name === 'autobahn-js');

/** The demo's HTTP base (`http://host:port`) from its WebSocket URL. */
function httpBase() {
  const url = new URL(demoUrl());
  return `http://${url.host}`;
}

async function stats() {
  const response = await fetch(`${httpBase()}/stats`);
  assert.equal(response.status, 200);
  return response.json();
}

/** Waits until `check()` resolves true: a session ends just after its GOODBYE. */
async function until(check, what) {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

async function info(session) {
  return (await session.call('tenant.info')).kwargs;
}

for (const serializer of client.serializers) {
  describe(`autobahn-js ${serializer}: dynamic realms`, { timeout: TIMEOUT_MS }, () => {
    test('a tenant realm is made, shared, torn down and made anew', async () => {
      const tenant = `js-${serializer}`;
      const realm = `tenant.${tenant}`;
      const before = (await stats()).tenant_realms_torn_down;

      const first = await client.connect({ url: demoUrl(), realm, serializer });
      assert.deepEqual(await info(first), { tenant, sessions: 1 });
      const second = await client.connect({ url: demoUrl(), realm, serializer });
      assert.deepEqual(await info(second), { tenant, sessions: 2 });
      // The contract's procedures answer in a tenant realm too.
      assert.deepEqual((await second.call('math.add', { args: [2, 3] })).args, [5]);
      assert.ok((await stats()).tenant_realms >= 1);

      await first.close();
      await until(async () => (await info(second)).sessions === 1, 'the first session ended');
      await second.close();
      // Other test files do not use tenant realms: exactly this one went.
      await until(
        async () => (await stats()).tenant_realms_torn_down === before + 1,
        'the realm was torn down after its last session',
      );

      const again = await client.connect({ url: demoUrl(), realm, serializer });
      try {
        assert.deepEqual(await info(again), { tenant, sessions: 1 });
      } finally {
        await again.close();
      }
      await until(
        async () => (await stats()).tenant_realms_torn_down === before + 2,
        'the realm made anew was torn down too',
      );
    });

    test('other realm names stay the default realm', async () => {
      const session = await client.connect({ url: demoUrl(), realm: `tenants.js-${serializer}`, serializer });
      try {
        await assert.rejects(session.call('tenant.info'), (e) => {
          assert.ok(e instanceof CallFailure);
          assert.equal(e.uri, 'wamp.error.no_such_procedure');
          return true;
        });
        assert.deepEqual((await session.call('math.add', { args: [1, 1] })).args, [2]);
      } finally {
        await session.close();
      }
    });
  });
}
