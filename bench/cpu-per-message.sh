#!/bin/bash
# Server CPU seconds per message, for A/B comparisons of two builds on a busy
# machine (CPU time, unlike wall-clock rates, hardly depends on what else runs).
# Starts bench/servers/switchboard.mjs of the tree TREE (default: this one,
# built) pinned to CPU 0, runs the load generator 1 s to warm up, then SECONDS
# more, and prints the server's CPU seconds (utime + stime from /proc) and the
# messages (or broadcast deliveries) per CPU second of the second run.
#
#   bench/cpu-per-message.sh PORT SECONDS [VAR=value ...]     # VAR: server environment, e.g. SB_OPTIONS=defaults
#   TREE=/other/tree bench/cpu-per-message.sh 9401 4
#   MODE=broadcast CONNS=2000 WIN=8 SIZE=64 TYPE=--text bench/cpu-per-message.sh 9402 4
#   MODE=connect CONNS=50 LGARGS="--src-addrs 4" bench/cpu-per-message.sh 9404 4   # handshakes per CPU second
#     (LGARGS: more load generator options; connect mode leaves a TIME_WAIT per handshake: spread the
#     connections over source addresses, and give each run a port of its own)
#   NODEFLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof --import ./bench/exit-on-sigint.mjs" bench/cpu-per-message.sh 9403 4
set -e
PORT=$1; D=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
LG=$HERE/loadgen/loadgen
cd "${TREE:-$HERE/..}"
env PORT="$PORT" "$@" taskset -c 0 node $NODEFLAGS bench/servers/switchboard.mjs >/dev/null 2>&1 &
SPID=$!
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
ARGS=(--mode "${MODE:-echo}" -p "$PORT" -c "${CONNS:-100}" -w "${WIN:-16}" -s "${SIZE:-1024}" "${TYPE:---binary}" --warmup 0 ${LGARGS:-})
taskset -c 1 "$LG" "${ARGS[@]}" -d 1 >/dev/null 2>&1
T0=$(awk '{print $14 + $15}' /proc/$SPID/stat)
OUT=$(taskset -c 1 "$LG" "${ARGS[@]}" -d "$D" 2>/dev/null)
T1=$(awk '{print $14 + $15}' /proc/$SPID/stat)
kill -INT $SPID; wait $SPID 2>/dev/null || true
# connect mode counts handshakes (each a TCP connect, the upgrade, a closing handshake and the TCP close).
COUNT=msgs; [ "${MODE:-echo}" = connect ] && COUNT=handshakes
MSGS=$(echo "$OUT" | grep -o "\"$COUNT\":[0-9]*" | cut -d: -f2)
TICKS=$(getconf CLK_TCK)
awk -v t0="$T0" -v t1="$T1" -v m="$MSGS" -v hz="$TICKS" -v c="$COUNT" 'BEGIN { t = (t1 - t0) / hz; printf "cpu_s=%.2f %s=%d %s_per_cpu_s=%.0f\n", t, c, m, c, m / t }'
