#!/usr/bin/env bash
# Runs the end-to-end session test (tests/e2e/test_e2e_session.c: a whole
# 306-dot session, and a bad plan refused) with smpd under valgrind's
# memcheck, so that a leak or a bad read in the daemon fails the run even
# where the sanitizers do not look (they need a rebuild; valgrind checks the
# plain binary). smpsim and the test client run natively. Any memcheck error
# or definite leak makes smpd exit 1, which the test reports as a failure;
# each smpd's full report is kept in build-valgrind/valgrind-smpd-<pid>.log.
# Usage: scripts/valgrind.sh [BUILD_DIR]   (default build-valgrind; test.sh
# passes its own normal build, so nothing is compiled twice)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${1:-build-valgrind}
JOBS=${JOBS:-$(nproc)}

command -v valgrind >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq valgrind; }
t0=$(date +%s)
cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$B.configure.log" 2>&1 \
  || { cat "$B.configure.log"; exit 1; }
cmake --build "$B" -j"$JOBS" --target smpd smpsim test_e2e_session >"$B.build.log" 2>&1 \
  || { tail -n 60 "$B.build.log"; exit 1; }
rm -f "$B"/valgrind-smpd-*.log

export SMP_BIN_DIR="$ROOT/$B/bin" SMP_SOURCE_DIR="$ROOT" SMP_BUILD_DIR="$ROOT/$B"
export SMP_SMPD_WRAPPER="valgrind --tool=memcheck --error-exitcode=1 \
--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
--track-origins=yes --log-file=$ROOT/$B/valgrind-smpd-%p.log"
# The whole session and the bad plan; the paced starvation case checks
# timing, which valgrind's twentyfold slow-down makes meaningless.
"$B/bin/test_e2e_session" e2e_whole_session e2e_bad_plan_changes_nothing
rc=$?

bad=0
for f in "$B"/valgrind-smpd-*.log; do
  [ -f "$f" ] || continue
  if ! grep -q "ERROR SUMMARY: 0 errors" "$f"; then
    bad=1
    echo "=== $f"
    cat "$f"
  fi
done
n=$(ls "$B"/valgrind-smpd-*.log 2>/dev/null | wc -l)
echo "valgrind: $n smpd run(s) checked, $([ $bad -eq 0 ] && echo clean || echo ERRORS), $(( $(date +%s) - t0 )) s"
[ "$n" -gt 0 ] || { echo "valgrind: smpd never ran under valgrind"; exit 1; }
[ $rc -eq 0 ] && [ $bad -eq 0 ]
