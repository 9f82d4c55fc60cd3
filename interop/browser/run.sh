#!/usr/bin/env bash
# Browser tests of the demo page: Debian's chromium, headless, driven by
# playwright-core (installed by `npm ci` in interop/node; no browser is
# downloaded) against the real demo app. Writes a screenshot of the page to
# $CARGO_TARGET_DIR/demo-page.png (target/demo-page.png by default).
#
#   interop/browser/run.sh
#
# Env: SERVERWAMP_DEMO  the demo binary (default: $CARGO_TARGET_DIR or
#                       target, then release/examples/demo)
#      CHROMIUM         the browser (default /usr/bin/chromium)
# Exits non-zero when a check fails, when no test ran, when chromium or
# playwright-core is missing, or when the demo does not exit 0 on SIGTERM.
# It never skips.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
demo="${SERVERWAMP_DEMO:-$target_dir/release/examples/demo}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
screenshot="$target_dir/demo-page.png"

if [[ ! -x "$demo" ]]; then
  echo "browser: demo binary not found at $demo (cargo build --release --example demo)" >&2
  exit 1
fi
if [[ ! -x "$chromium" ]]; then
  echo "browser: no chromium at $chromium (apt-get install chromium; .ci/run does)" >&2
  exit 1
fi
if [[ ! -f interop/node/node_modules/playwright-core/package.json ]]; then
  echo "browser: playwright-core is not installed (scripts/interop-env runs npm ci in interop/node)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
demo_pid=""
cleanup() {
  if [[ -n "$demo_pid" ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -KILL "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

show_demo_logs() {
  echo "--- demo stdout ---" >&2; tail -n 50 "$tmp/demo.out" >&2 || true
  echo "--- demo stderr ---" >&2; tail -n 50 "$tmp/demo.err" >&2 || true
}

"$demo" --listen 127.0.0.1:0 >"$tmp/demo.out" 2>"$tmp/demo.err" &
demo_pid=$!

# The first stdout line is `listening on ws://HOST:PORT/ws` once it accepts.
http=""
for _ in $(seq 1 300); do
  line="$(head -n 1 "$tmp/demo.out" 2>/dev/null || true)"
  if [[ "$line" =~ ^listening\ on\ ws://([^[:space:]/]+)/ws$ ]]; then
    http="http://${BASH_REMATCH[1]}"
    break
  fi
  if ! kill -0 "$demo_pid" 2>/dev/null; then
    echo "browser: the demo exited before listening" >&2
    show_demo_logs
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$http" ]]; then
  echo "browser: no 'listening on ws://…/ws' line from the demo within 30 s" >&2
  show_demo_logs
  exit 1
fi
echo "demo page at $http/"

mkdir -p "$(dirname "$screenshot")"
rm -f "$screenshot"
status=0
SERVERWAMP_HTTP="$http" SERVERWAMP_SCREENSHOT="$screenshot" CHROMIUM="$chromium" \
  node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tmp/results.tap" \
  "$here/demo-page.test.mjs" || status=$?

tests="$(sed -n 's/^# tests \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
passed="$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
failed="$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
skipped="$(sed -n 's/^# skipped \([0-9]\+\)$/\1/p' "$tmp/results.tap" | tail -n 1)"
tests="${tests:-0}" passed="${passed:-0}" failed="${failed:-0}" skipped="${skipped:-0}"

# SIGTERM: the demo says GOODBYE to open sessions and exits 0.
kill -TERM "$demo_pid"
demo_status=""
for _ in $(seq 1 100); do
  if ! kill -0 "$demo_pid" 2>/dev/null; then
    demo_status=0
    wait "$demo_pid" || demo_status=$?
    break
  fi
  sleep 0.1
done
if [[ -z "$demo_status" ]]; then
  echo "browser: the demo did not exit within 10 s of SIGTERM" >&2
  show_demo_logs
  exit 1
fi
demo_pid=""

fail=0
if [[ "$status" -ne 0 ]]; then
  echo "browser: node --test exited $status" >&2
  fail=1
fi
if [[ "$tests" -eq 0 || "$passed" -ne "$tests" || "$skipped" -ne 0 ]]; then
  echo "browser: $tests tests, $passed passed, $skipped skipped: every test must run and pass" >&2
  fail=1
fi
if [[ "$demo_status" -ne 0 ]]; then
  echo "browser: the demo exited $demo_status on SIGTERM (expected 0)" >&2
  show_demo_logs
  fail=1
fi
if [[ "$fail" -eq 0 && ! -s "$screenshot" ]]; then
  echo "browser: no screenshot at $screenshot" >&2
  fail=1
fi
echo "browser: $passed passed, $failed failed; screenshot $screenshot"
exit "$fail"
