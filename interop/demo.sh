# Sourced by the interop runners (interop/node/run.sh, interop/browser/run.sh):
# the demo app as a child process. Callers set `who` (the prefix of their
# messages) and `tmp` (a scratch directory) first.
#
#   start_demo BINARY   starts it on 127.0.0.1:0; sets demo_pid and demo_url
#                       (ws://HOST:PORT/ws) once it prints its listening line
#   stop_demo           SIGTERM, then sets demo_status (its exit code)
#   show_demo_logs      the tail of its output, on stderr

demo_pid=""

cleanup_demo() {
  if [[ -n "$demo_pid" ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -KILL "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}

show_demo_logs() {
  echo "--- demo stdout ---" >&2; tail -n 50 "$tmp/demo.out" >&2 || true
  echo "--- demo stderr ---" >&2; tail -n 50 "$tmp/demo.err" >&2 || true
}

start_demo() {
  "$1" --listen 127.0.0.1:0 >"$tmp/demo.out" 2>"$tmp/demo.err" &
  demo_pid=$!
  # The first stdout line is `listening on ws://HOST:PORT/ws` once it accepts.
  demo_url=""
  for _ in $(seq 1 300); do
    line="$(head -n 1 "$tmp/demo.out" 2>/dev/null || true)"
    if [[ "$line" =~ ^listening\ on\ (ws://[^[:space:]]+/ws)$ ]]; then
      demo_url="${BASH_REMATCH[1]}"
      return 0
    fi
    if ! kill -0 "$demo_pid" 2>/dev/null; then
      echo "$who: the demo exited before listening" >&2
      show_demo_logs
      exit 1
    fi
    sleep 0.1
  done
  echo "$who: no 'listening on ws://…/ws' line from the demo within 30 s" >&2
  show_demo_logs
  exit 1
}

stop_demo() {
  # SIGTERM: the demo says GOODBYE to open sessions and exits 0.
  kill -TERM "$demo_pid"
  demo_status=""
  for _ in $(seq 1 100); do
    if ! kill -0 "$demo_pid" 2>/dev/null; then
      demo_status=0
      wait "$demo_pid" || demo_status=$?
      demo_pid=""
      return 0
    fi
    sleep 0.1
  done
  echo "$who: the demo did not exit within 10 s of SIGTERM" >&2
  show_demo_logs
  exit 1
}
