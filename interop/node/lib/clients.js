// Thin adapters that give autobahn-js and wampy one shape, so that the same
// suite (lib/suite.js) runs against the demo app through either client:
//
//   const c = await client.connect({ url, realm, serializer });
//   c.sessionId, c.welcome            // from WELCOME
//   await c.call(uri, { args, kwargs, onProgress })  // -> { args, kwargs }
//       rejects with a CallFailure { uri, args, kwargs }
//   await c.close()                   // GOODBYE handshake, then socket close
//   c.raw, c.autobahn                 // autobahn-js only: its session and module
//
// The adapters normalise results only as far as the clients allow: autobahn-js
// unwraps a lone positional result, so `args` is rebuilt from it.

import { createRequire } from 'node:module';

import WebSocket from 'ws';
import { Wampy } from 'wampy';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { CborSerializer } from 'wampy/CborSerializer.js';

const require = createRequire(import.meta.url);

/** A WAMP ERROR answering a CALL, in one shape for both clients. */
export class CallFailure extends Error {
  constructor(uri, args, kwargs) {
    super(`WAMP error ${uri} ${JSON.stringify(args)} ${JSON.stringify(kwargs)}`);
    this.uri = uri;
    this.args = args;
    this.kwargs = kwargs;
  }
}

// ---------------------------------------------------------------- autobahn-js

let autobahnModule;
function loadAutobahn() {
  if (typeof globalThis.WebSocket !== 'function') {
    // autobahn-js 26 uses the platform's WebSocket only; Node 20 has it behind
    // a flag. Say so instead of failing with a ReferenceError deep inside.
    throw new Error(
      'autobahn-js needs a native WebSocket: run node with --experimental-websocket (Node 20) or use Node >= 22',
    );
  }
  if (!autobahnModule) {
    autobahnModule = require('autobahn');
    // autobahn-js warns on every close, even a clean one we asked for with
    // max_retries 0; keep its other warnings.
    const log = require('autobahn/lib/log.js');
    const warn = log.warn;
    log.warn = (...args) => {
      const cleanClose = args[0] === 'connection closed' && args[1] === 'closed';
      if (cleanClose || args[0] === 'auto-reconnect disabled!') return;
      warn(...args);
    };
  }
  return autobahnModule;
}

function autobahnResult(autobahn, r) {
  if (r instanceof autobahn.Result) {
    return { args: r.args ?? [], kwargs: r.kwargs ?? {} };
  }
  if (r === null || r === undefined) {
    return { args: [], kwargs: {} };
  }
  return { args: [r], kwargs: {} };
}

const autobahnClient = {
  name: 'autobahn-js',
  serializers: ['json', 'msgpack', 'cbor'],

  connect({ url, realm, serializer }) {
    const autobahn = loadAutobahn();
    const ser = {
      json: () => new autobahn.serializer.JSONSerializer(),
      msgpack: () => new autobahn.serializer.MsgpackSerializer(),
      cbor: () => new autobahn.serializer.CBORSerializer(),
    }[serializer]();
    return new Promise((resolve, reject) => {
      let opened = false;
      let onClosed = null;
      const connection = new autobahn.Connection({
        transports: [{ type: 'websocket', url, serializers: [ser] }],
        realm,
        max_retries: 0,
        retry_if_unreachable: false,
      });
      connection.onopen = (session, details) => {
        opened = true;
        resolve({
          sessionId: session.id,
          welcome: details,
          protocol: connection.transport?.info?.protocol,
          // The autobahn-js session and module themselves, for tests of
          // what the common shape does not cover (registering procedures).
          raw: session,
          autobahn,
          call(uri, { args, kwargs, onProgress } = {}) {
            const options = onProgress ? { receive_progress: true } : {};
            return new Promise((ok, fail) => {
              session.call(uri, args, kwargs, options).then(
                (r) => ok(autobahnResult(autobahn, r)),
                (e) => {
                  if (e instanceof autobahn.Error) {
                    fail(new CallFailure(e.error, e.args ?? [], e.kwargs ?? {}));
                  } else {
                    fail(e instanceof Error ? e : new Error(String(e)));
                  }
                },
                (p) => onProgress?.(autobahnResult(autobahn, p)),
              );
            });
          },
          close() {
            return new Promise((done, failClose) => {
              onClosed = (reason, details) => {
                if (reason === 'closed') done(details);
                else failClose(new Error(`close ended with ${reason} ${JSON.stringify(details)}`));
              };
              connection.close();
            });
          },
        });
      };
      connection.onclose = (reason, details) => {
        if (!opened) {
          reject(new Error(`could not join ${realm}: ${reason} ${JSON.stringify(details)}`));
        } else if (onClosed) {
          onClosed(reason, details);
        }
        return true; // never retry
      };
      connection.open();
    });
  },
};

// ---------------------------------------------------------------------- wampy

function wampyResult(r) {
  return { args: r?.argsList ?? [], kwargs: r?.argsDict ?? {} };
}

const wampyClient = {
  name: 'wampy',
  serializers: ['json', 'msgpack', 'cbor'],

  async connect({ url, realm, serializer }) {
    const ser = {
      json: () => new JsonSerializer(),
      msgpack: () => new MsgpackSerializer(),
      cbor: () => new CborSerializer(),
    }[serializer]();
    const wampy = new Wampy(url, {
      ws: WebSocket,
      realm,
      serializer: ser,
      autoReconnect: false,
    });
    const welcome = await wampy.connect();
    return {
      sessionId: wampy.getSessionId(),
      welcome,
      call(uri, { args, kwargs, onProgress } = {}) {
        const payload =
          args === undefined && kwargs === undefined
            ? undefined
            : { ...(args !== undefined && { argsList: args }), ...(kwargs !== undefined && { argsDict: kwargs }) };
        const options = onProgress ? { progress_callback: (p) => onProgress(wampyResult(p)) } : undefined;
        return wampy.call(uri, payload, options).then(wampyResult, (e) => {
          if (typeof e?.errorUri === 'string') {
            throw new CallFailure(e.errorUri, e.argsList ?? [], e.argsDict ?? {});
          }
          throw e;
        });
      },
      async close() {
        await wampy.disconnect();
      },
    };
  },
};

export const clients = [autobahnClient, wampyClient];
