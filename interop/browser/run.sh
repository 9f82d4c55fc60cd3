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
who=browser
# shellcheck source=../demo.sh
source "$here/../demo.sh"
trap cleanup_demo EXIT
start_demo "$demo"
http="http://${demo_url#ws://}"
http="${http%/ws}"
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

stop_demo

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
