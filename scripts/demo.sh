#!/usr/bin/env bash
# A whole session in simulation, as an operator would run it: installs what is
# missing, builds, starts smpsim (the controller) and smpd (the daemon), then
# with smpctl loads the sample plan, homes, sets the work origin, preflights,
# starts, and supervises the run with `smpctl watch` (which also keeps the
# operator's deadman heartbeat) until it ends. Finally it checks the
# simulator's skin log against the plan: every dot delivered exactly once.
#
# usage: scripts/demo.sh [PLAN.csv]      environment: SPEED (default 20)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PLAN=$(realpath "${1:-examples/plans/sample.csv}")
HEIGHTMAP=$ROOT/examples/plans/scalp-heightmap.txt
SPEED=${SPEED:-20}
# Machine coordinates of the work origin. The simulated scalp is placed there
# too (--skin-origin), so the skin's coordinates equal the plan's.
ORIGIN=-150,-150,-50

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
BIN=$ROOT/build/bin

WORK=$(mktemp -d /tmp/smpd-demo.XXXXXX)
cleanup() {
  [ -n "${SMPD_PID:-}" ] && kill -TERM "$SMPD_PID" 2>/dev/null && wait "$SMPD_PID" 2>/dev/null
  [ -n "${SIM_PID:-}" ] && kill -TERM "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
  true
}
trap cleanup EXIT

echo "demo: working directory $WORK (logs, journal, skin log)"
"$BIN/smpsim" --speed "$SPEED" --link "$WORK/pty" --heightmap "$HEIGHTMAP" \
  --skin-origin "$ORIGIN" --skin-log "$WORK/skin.jsonl" \
  --summary "$WORK/smpsim-summary.json" >"$WORK/smpsim.out" 2>"$WORK/smpsim.log" &
SIM_PID=$!
for _ in $(seq 100); do [ -e "$WORK/pty" ] && break; sleep 0.05; done
[ -e "$WORK/pty" ] || { echo "demo: smpsim did not start" >&2; cat "$WORK/smpsim.log" >&2; exit 1; }
echo "demo: $(head -n 1 "$WORK/smpsim.out")"

sed -e "s|@PORT@|$WORK/pty|" -e "s|@WORK@|$WORK|g" -e "s|@HEIGHTMAP@|$HEIGHTMAP|" \
  etc/demo.conf.in >"$WORK/smpd.conf"
"$BIN/smpd" -d -f "$WORK/smpd.conf" 2>"$WORK/smpd.log" &
SMPD_PID=$!

export SMPCTL_ENDPOINT=ipc://$WORK/control SMPCTL_STATUS=ipc://$WORK/status
ctl() { "$BIN/smpctl" "$@"; }
# Waits until smpd's state is one of the given ones (or fails on a fault).
wait_state() {
  local want=$1 state
  for _ in $(seq 600); do
    state=$("$BIN/smpctl" --json status 2>/dev/null | sed -n 's/.*"state": *"\([a-z_-]*\)".*/\1/p' | head -n 1 || true) 
    case ",$want," in *",$state,"*) return 0 ;; esac
    case "$state" in faulted|aborted) echo "demo: smpd is $state" >&2; ctl status >&2; return 1 ;; esac
    sleep 0.1
  done
  echo "demo: timed out waiting for $want (state: ${state:-none})" >&2
  return 1
}

# Operations such as homing and jogging run on after their reply; a command
# that needs the machine at rest is refused ("busy") until then: ask again.
when_ready() {
  local out
  for _ in $(seq 300); do
    if out=$("$BIN/smpctl" "$@" 2>&1); then echo "$out"; return 0; fi
    case "$out" in *busy*|*"not at rest"*|*homing*) sleep 0.1 ;; *) echo "$out" >&2; return 1 ;; esac
  done
  echo "$out" >&2
  return 1
}

wait_state idle
ctl load "$PLAN"
ctl home
wait_state loaded
when_ready set-origin "$ORIGIN"
# Into the work envelope: over the work origin first, then down to 10 mm
# above it (the scalp is around Z = 0 .. -3 in work coordinates).
when_ready jog X=0 Y=0
when_ready jog Z=10
when_ready preflight
wait_state ready
ctl watch --until-done &
WATCH_PID=$!
sleep 0.3
ctl start
wait "$WATCH_PID"
echo
python3 scripts/check_skin.py "$PLAN" "$WORK/skin.jsonl"
