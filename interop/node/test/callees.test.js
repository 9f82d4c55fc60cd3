// autobahn-js as a client callee in the demo's realm `open` (beyond the
// contract: clients register procedures there), once per serializer: calls
// through INVOCATION/YIELD, progressive results, errors, a prefix
// registration, `open.ask` (the server calling a client through
// Session::call), and the contract's routes winning.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CallFailure, clients } from '../lib/clients.js';
import { TIMEOUT_MS, demoUrl } from '../lib/suite.js';

const client = clients.find((c) => c.name === 'autobahn-js');

for (const serializer of client.serializers) {
  describe(`autobahn-js ${serializer}: client callees`, { timeout: TIMEOUT_MS }, () => {
    test('a client registers procedures that others call', async () => {
      const callee = await client.connect({ url: demoUrl(), realm: 'open', serializer });
      const caller = await client.connect({ url: demoUrl(), realm: 'open', serializer });
      const base = `com.example.js.${serializer}`;
      try {
        const { autobahn } = callee;
        await callee.raw.register(`${base}.add`, (args) => args[0] + args[1]);
        assert.deepEqual(await caller.call(`${base}.add`, { args: [2, 3] }), { args: [5], kwargs: {} });

        await callee.raw.register(`${base}.count`, (args, kwargs, details) => {
          for (let i = 0; i < args[0]; i++) details.progress([i]);
          return 'done';
        });
        const progress = [];
        const counted = await caller.call(`${base}.count`, {
          args: [3],
          onProgress: (p) => progress.push(p.args[0]),
        });
        assert.deepEqual(counted.args, ['done']);
        assert.deepEqual(progress, [0, 1, 2]);

        await callee.raw.register(`${base}.fail`, () => {
          throw new autobahn.Error('com.example.failed', ['no'], { reason: 7 });
        });
        await assert.rejects(caller.call(`${base}.fail`), (e) => {
          assert.ok(e instanceof CallFailure);
          assert.equal(e.uri, 'com.example.failed');
          assert.deepEqual(e.args, ['no']);
          assert.deepEqual(e.kwargs, { reason: 7 });
          return true;
        });

        await callee.raw.register(`${base}.any`, (args, kwargs, details) => details.procedure, {
          match: 'prefix',
        });
        const which = await caller.call(`${base}.any.thing`);
        assert.deepEqual(which.args, [`${base}.any.thing`]);

        // The server calls the client (Session::call behind open.ask).
        const asked = await caller.call('open.ask', { args: [`${base}.add`, 20, 22] });
        assert.deepEqual(asked.args, [42]);

        // The contract's routes win over a client registration.
        await callee.raw.register('math.add', () => 'client');
        assert.deepEqual((await caller.call('math.add', { args: [1, 2] })).args, [3]);
      } finally {
        await caller.close();
        await callee.close();
      }
    });
  });
}
