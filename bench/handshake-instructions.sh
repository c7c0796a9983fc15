#!/bin/bash
# User-space instructions the server executes (all its threads, callgrind's
# Ir), started, with N handshakes of bench/handshake-client.mjs (10 at a
# time), then ended with SIGINT. The difference between two N, divided by
# their difference, is the instructions per handshake: a count that other
# work on the machine does not change, unlike CPU time on a busy (or
# virtualised) machine. The kernel's work (accept, read, write, close) is
# not counted. Needs valgrind; runs ~300x slower than natively.
#
#   bench/handshake-instructions.sh PORT N [VAR=value ...]            # this tree's servers/switchboard.mjs
#   TREE=/other/tree bench/handshake-instructions.sh 9402 2300
#   SERVER=bench/servers/ws.mjs bench/handshake-instructions.sh 9403 1300 WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1
set -e
PORT=$1; N=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp /tmp/handshake-instructions.XXXXXX)
cd "${TREE:-$HERE/..}"
env PORT="$PORT" "$@" valgrind --tool=callgrind --callgrind-out-file="$OUT" --smc-check=all-non-file \
  node --import "$HERE/exit-on-sigint.mjs" "${SERVER:-bench/servers/switchboard.mjs}" >/dev/null 2>&1 &
VPID=$!
for _ in $(seq 1 600); do (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.2; done
sleep 1
[ "$N" -gt 0 ] && node "$HERE/handshake-client.mjs" "$PORT" "$N" 10 >&2
sleep 1
kill -INT $VPID; wait $VPID || true
echo "handshakes=$N instructions=$(grep -o 'summary: [0-9]*' "$OUT" | cut -d' ' -f2)"
rm -f "$OUT"
