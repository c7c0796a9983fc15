#!/bin/bash
# User-space instructions the server executes (all its threads, callgrind's
# Ir), started, with N pipelined echoes of bench/echo-client.mjs (CONNS
# connections, default 8, WIN messages in flight on each, default 16, SIZE-byte
# binary messages, default 32), then ended with SIGINT. The difference
# between two N, divided by their difference, is the instructions per
# message (start-up, connects and warm-up cancel out): a count that other work
# on the machine does not change, unlike CPU time. The client runs natively,
# outside valgrind, and is not counted; neither is the kernel's work (read,
# write). Needs valgrind; runs ~50-300x slower than natively.
#
#   bench/echo-instructions.sh PORT N [VAR=value ...]            # this tree's servers/switchboard.mjs
#   TREE=/other/tree bench/echo-instructions.sh 9412 200000
#   CONNS=8 WIN=16 SIZE=32 bench/echo-instructions.sh 9413 100000 SB_OPTIONS=defaults
set -e
PORT=$1; N=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp /tmp/echo-instructions.XXXXXX)
cd "${TREE:-$HERE/..}"
env PORT="$PORT" "$@" valgrind --tool=callgrind --callgrind-out-file="$OUT" --smc-check=all-non-file \
  node $NODEFLAGS --import "$HERE/exit-on-sigint.mjs" "${SERVER:-bench/servers/switchboard.mjs}" >/dev/null 2>&1 &
VPID=$!
for _ in $(seq 1 600); do (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.2; done
sleep 1
[ "$N" -gt 0 ] && node "$HERE/echo-client.mjs" "$PORT" "$N" "${CONNS:-8}" "${WIN:-16}" "${SIZE:-32}" >&2
sleep 1
kill -INT $VPID; wait $VPID || true
echo "messages=$N instructions=$(grep -o 'summary: [0-9]*' "$OUT" | cut -d' ' -f2)"
rm -f "$OUT"
