// The interop suite: the demo app contract (shared/demo-contract.md) as seen
// through one JavaScript WAMP client and one serializer. Each test file calls
// defineSuite() for every serializer its client speaks.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CallFailure } from './clients.js';

/** Every test and hook gets this timeout (ms): a hung call fails, it does not stall CI. */
export const TIMEOUT_MS = 10_000;

export function demoUrl() {
  const url = process.env.SERVERWAMP_URL;
  if (!url) {
    throw new Error('SERVERWAMP_URL is not set: run interop/node/run.sh, or set it to the demo\'s ws://HOST:PORT/ws');
  }
  return url;
}

const REALM = 'realm1';

const RUNTIME_ERROR = 'wamp.error.runtime_error';
const NO_SUCH_PROCEDURE = 'wamp.error.no_such_procedure';
const INVALID_ARGUMENT = 'wamp.error.invalid_argument';

/** Awaits `promise`, expecting it to reject with a WAMP ERROR; returns the CallFailure. */
async function callFails(promise, uri) {
  let failure;
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof CallFailure, `expected a WAMP ERROR, got ${e?.stack ?? e}`);
    failure = e;
    return true;
  });
  assert.equal(failure.uri, uri, `ERROR uri (args ${JSON.stringify(failure.args)}, kwargs ${JSON.stringify(failure.kwargs)})`);
  return failure;
}

/** Values of every JSON-representable kind, for echo round trips. */
const MIXED_ARGS = [
  0,
  1,
  -1,
  42,
  255,
  256,
  65_536,
  -129,
  -(2 ** 31),
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  1.5,
  -0.25,
  3.141592653589793,
  1e300,
  5e-324,
  true,
  false,
  null,
  '',
  'hello',
  'ünïcödé ✓ 鼠 🚀',
  'quote " backslash \\ newline \n tab \t nul-free',
  'x'.repeat(70_000),
  [],
  {},
  [1, [2, [3, []]]],
  { a: 1, b: [true, null], c: { d: 'e' } },
];

const MIXED_KWARGS = {
  int: 7,
  negative: -12_345_678_901,
  float: 2.5,
  str: 'text',
  list: [1, 'two', 3.25, false, null],
  nested: { deep: { deeper: [null, { k: 'v' }] } },
  生肖: '鼠',
  empty: {},
  emptyList: [],
};

/**
 * Registers the suite for `client` (from lib/clients.js) over `serializer`.
 */
export function defineSuite(client, serializer) {
  describe(`${client.name} over wamp.2.${serializer}`, { timeout: 60_000 }, () => {
    const url = demoUrl();
    let session;

    before(async () => {
      session = await client.connect({ url, realm: REALM, serializer });
    }, { timeout: TIMEOUT_MS });

    after(async () => {
      await session?.close();
    }, { timeout: TIMEOUT_MS });

    test('joins realm1, gets a WELCOME with a session id and the dealer role, leaves with GOODBYE', { timeout: TIMEOUT_MS }, async () => {
      const s = await client.connect({ url, realm: REALM, serializer });
      try {
        // wampy's MsgPack (msgpackr) decodes a uint64 (0xcf) as a BigInt, and an
        // id above 2^32 needs one, so accept either representation.
        const id = s.sessionId;
        assert.ok(typeof id === 'bigint' || Number.isSafeInteger(id), `session id ${id} (${typeof id})`);
        assert.ok(BigInt(id) >= 1n && BigInt(id) <= 2n ** 53n, `session id ${id} in [1, 2^53]`);
        assert.equal(typeof s.welcome?.roles, 'object', `WELCOME.Details.roles in ${JSON.stringify(s.welcome)}`);
        assert.ok('dealer' in s.welcome.roles, `dealer role in ${JSON.stringify(s.welcome.roles)}`);
        if (s.protocol !== undefined) assert.equal(s.protocol, `wamp.2.${serializer}`);
        assert.notEqual(BigInt(s.sessionId), BigInt(session.sessionId), 'two sessions, two ids');
      } finally {
        await s.close();
      }
    });

    test('math.add [1, 2] -> 3', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('math.add', { args: [1, 2] });
      assert.deepEqual(r, { args: [3], kwargs: {} });
    });

    test('math.add {number1: 1.5, number2: 2} -> 3.5', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('math.add', { kwargs: { number1: 1.5, number2: 2 } });
      assert.deepEqual(r, { args: [3.5], kwargs: {} });
    });

    test('math.add with a missing or a surplus argument -> wamp.error.invalid_argument', { timeout: TIMEOUT_MS }, async () => {
      await callFails(session.call('math.add', { args: [1] }), INVALID_ARGUMENT);
      await callFails(session.call('math.add', { args: [1, 2, 3] }), INVALID_ARGUMENT);
    });

    test('sandwich.ingredients -> ["Peanut Butter", "Jelly", "Bread"]', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('sandwich.ingredients');
      assert.deepEqual(r, { args: ['Peanut Butter', 'Jelly', 'Bread'], kwargs: {} });
    });

    test('calendar.zodiac -> kwargs {gregorianYear: 2020, 生肖: 鼠}', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('calendar.zodiac');
      assert.deepEqual(r, { args: [], kwargs: { gregorianYear: 2020, 生肖: '鼠' } });
    });

    test('music.playlist -> args and kwargs', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('music.playlist');
      assert.deepEqual(r, {
        args: ['Rock & Roll', 'Blues', 'Jazz'],
        kwargs: { playlistLength: 6432, playlistSubscribers: 51 },
      });
    });

    test('input.check "x" -> demo.error.bad_input with errorCode and errorMessage', { timeout: TIMEOUT_MS }, async () => {
      const failure = await callFails(session.call('input.check', { args: ['x'] }), 'demo.error.bad_input');
      assert.deepEqual(failure.kwargs, {
        errorCode: 'BAD_INPUT',
        errorMessage: 'You should have supplied a number instead of a string.',
      });
    });

    test('input.check 42 -> 42', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('input.check', { args: [42] });
      assert.deepEqual(r, { args: [42], kwargs: {} });
    });

    test('countdown.liftoff {interval: 0.05} with receive_progress -> timeLeft 3, 2, 1, then SUCCESS', { timeout: TIMEOUT_MS }, async () => {
      const seen = [];
      const r = await session.call('countdown.liftoff', {
        kwargs: { interval: 0.05 },
        onProgress: (p) => seen.push(p),
      });
      assert.deepEqual(seen, [
        { args: [], kwargs: { timeLeft: 3 } },
        { args: [], kwargs: { timeLeft: 2 } },
        { args: [], kwargs: { timeLeft: 1 } },
      ]);
      assert.deepEqual(r, { args: [], kwargs: { liftoffStatus: 'SUCCESS' } });
    });

    test('countdown.liftoff {interval: 0.05} without receive_progress -> only the final SUCCESS', { timeout: TIMEOUT_MS }, async () => {
      // autobahn-js drops a stray progressive RESULT; wampy fails on one (it has
      // no progress callback to call), so this checks the contract's "only to
      // callers that asked for progress" through wampy.
      const r = await session.call('countdown.liftoff', { kwargs: { interval: 0.05 } });
      assert.deepEqual(r, { args: [], kwargs: { liftoffStatus: 'SUCCESS' } });
    });

    test('app.fail -> wamp.error.runtime_error, and the session stays open', { timeout: TIMEOUT_MS }, async () => {
      await callFails(session.call('app.fail'), RUNTIME_ERROR);
      const r = await session.call('math.add', { args: [2, 2] });
      assert.deepEqual(r, { args: [4], kwargs: {} });
    });

    test('an unknown procedure -> wamp.error.no_such_procedure', { timeout: TIMEOUT_MS }, async () => {
      await callFails(session.call('no.such.procedure.anywhere'), NO_SUCH_PROCEDURE);
    });

    test('bench.echo returns mixed args and kwargs unchanged', { timeout: TIMEOUT_MS }, async () => {
      const r = await session.call('bench.echo', { args: MIXED_ARGS, kwargs: MIXED_KWARGS });
      assert.deepEqual(r, { args: MIXED_ARGS, kwargs: MIXED_KWARGS });
    });

    test('bench.echo returns binary unchanged', { timeout: TIMEOUT_MS }, async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      if (serializer === 'json') {
        // WAMP's JSON rule: binary travels as a string "\0" + base64.
        const asJson = `\u0000${bytes.toString('base64')}`;
        const r = await session.call('bench.echo', { args: [asJson, '\u0000'], kwargs: { b: asJson } });
        assert.deepEqual(r, { args: [asJson, '\u0000'], kwargs: { b: asJson } });
      } else {
        const r = await session.call('bench.echo', { args: [bytes, new Uint8Array(0)], kwargs: { b: bytes } });
        assert.equal(r.args.length, 2);
        assert.ok(r.args[0] instanceof Uint8Array, `binary comes back as bytes, got ${typeof r.args[0]}`);
        assert.ok(Buffer.from(r.args[0]).equals(bytes), 'the same 256 bytes');
        assert.ok(r.args[1] instanceof Uint8Array && r.args[1].length === 0, 'empty binary');
        assert.ok(r.kwargs.b instanceof Uint8Array && Buffer.from(r.kwargs.b).equals(bytes), 'binary kwarg');
      }
    });

    test('100 concurrent bench.echo calls each get their own answer', { timeout: TIMEOUT_MS }, async () => {
      const calls = Array.from({ length: 100 }, (_, i) =>
        session.call('bench.echo', { args: [i, `call-${i}`], kwargs: { i, even: i % 2 === 0 } }),
      );
      const results = await Promise.all(calls);
      results.forEach((r, i) => {
        assert.deepEqual(r, { args: [i, `call-${i}`], kwargs: { i, even: i % 2 === 0 } }, `call ${i}`);
      });
    });
  });
}
