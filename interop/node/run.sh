#!/usr/bin/env bash
# Interop tests with JavaScript WAMP clients (autobahn-js and wampy, each over
# JSON, MsgPack and CBOR) against the demo app, on node's built-in test runner.
#
#   interop/node/run.sh
#
# Env: SERVERWAMP_DEMO   the demo binary (default: target/release/examples/demo
#                        under the repo root; build it with
#                        `cargo build --release --example demo`)
#      SERVERWAMP_URL    is set by this script for the tests.
# Exits non-zero when a test fails, when no test ran, or when the demo does not
# exit 0 on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

demo="${SERVERWAMP_DEMO:-$root/target/release/examples/demo}"
if [[ ! -x "$demo" ]]; then
  echo "run.sh: demo binary not found at $demo (cargo build --release --example demo)" >&2
  exit 1
fi

if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi

tmp="$(mktemp -d)"
who=run.sh
# shellcheck source=../demo.sh
source "$here/../demo.sh"
trap cleanup_demo EXIT
start_demo "$demo"
url="$demo_url"
echo "demo listening on $url"

# autobahn-js uses the platform's WebSocket: Node 20 has it behind a flag,
# Node 22+ by default.
node_flags=()
if [[ "$(node -p 'typeof WebSocket')" != "function" ]]; then
  node_flags+=(--experimental-websocket)
fi

status=0
SERVERWAMP_URL="$url" node "${node_flags[@]}" --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tmp/results.tap" \
  test/*.test.js || status=$?

tests="$(sed -n 's/^# tests \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
passed="$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
failed="$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
tests="${tests:-0}" passed="${passed:-0}" failed="${failed:-0}"

stop_demo

fail=0
if [[ "$status" -ne 0 ]]; then
  echo "run.sh: node --test exited $status" >&2
  fail=1
fi
if [[ "$tests" -eq 0 ]]; then
  echo "run.sh: no test ran" >&2
  fail=1
fi
if [[ "$demo_status" -ne 0 ]]; then
  echo "run.sh: the demo exited $demo_status on SIGTERM (expected 0)" >&2
  show_demo_logs
  fail=1
fi
echo "interop-node: $passed passed, $failed failed"
exit "$fail"
