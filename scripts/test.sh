#!/usr/bin/env bash
# Runs every test: installs what is missing, then builds and runs the whole
# suite twice (a normal build and an AddressSanitizer + UndefinedBehaviorSanitizer
# build, halting on the first error), the end-to-end session with smpd under
# valgrind, the static analysers, and a short run of every fuzz target. Prints the time of each stage and one closing total.
# Usage: scripts/test.sh [--quick]   (--quick: normal build and tests only)
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

declare -a STAGES=()
declare -a TIMES=()
declare -a RESULTS=()
PASSED=0
FAILED=0
STATUS=0

stage() { # stage NAME COMMAND...
  local name=$1; shift
  local t0=$(date +%s%N)
  echo
  echo "=== $name"
  if "$@"; then RESULTS+=("ok"); else RESULTS+=("FAILED"); STATUS=1; fi
  local t1=$(date +%s%N)
  local ms=$(( (t1 - t0) / 1000000 ))
  STAGES+=("$name")
  TIMES+=("$((ms / 1000)).$(( (ms % 1000) / 100 ))")
}

# ctest_count LOG: adds a ctest summary's counts to the totals.
ctest_count() {
  local line total failed
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  if [ -z "$line" ]; then FAILED=$((FAILED + 1)); return; fi
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  PASSED=$((PASSED + total - failed))
  FAILED=$((FAILED + failed))
}

build_and_test() { # build_and_test DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$JOBS" >"$dir.build.log" 2>&1 \
    || { tail -n 60 "$dir.build.log"; return 1; }
  local rc=0
  ctest --test-dir "$dir" -j"$JOBS" --output-on-failure 2>&1 | tee "$dir.ctest.log" || rc=1
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
  ctest_count "$dir.ctest.log"
  return $rc
}

# counted COMMAND...: runs a check that is one test in the closing total.
counted() {
  if "$@"; then PASSED=$((PASSED + 1)); return 0; fi
  FAILED=$((FAILED + 1)); return 1
}

static_analysis() {
  local rc=0 srcs
  srcs=$(git ls-files 'planner/*.c' 'drivers/*.c' 'daemon/*.c' 'sim/*.c')
  echo "cppcheck:"
  cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
    --inline-suppr --std=c11 -D__GNUC__ -I "$ROOT" $srcs || rc=1
  echo "clang-tidy:"
  clang-tidy --quiet --extra-arg=-Wno-unknown-warning-option -p build $srcs 2>/dev/null | grep -E 'warning:|error:' && rc=1
  [ $rc -eq 0 ] && echo "static analysis clean"
  return $rc
}

fuzz_all() {
  local rc=0 t
  cmake -S "$ROOT" -B build-fuzz -DCMAKE_C_COMPILER=clang -DSMP_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >build-fuzz.configure.log 2>&1 \
    || { cat build-fuzz.configure.log; return 1; }
  # Only the fuzz targets: the rest of the tree is built and tested above.
  local targets
  # fuzz_long and fuzz_long_* are not fuzzers but the long runs of them:
  # building those targets runs every fuzzer for SMP_FUZZ_SECONDS (600 s).
  targets=$(cmake --build build-fuzz --target help \
    | sed -n 's/^\.\.\. \(fuzz_[a-z_0-9]*\).*/\1/p' | grep -v '^fuzz_long')
  [ -n "$targets" ] || { echo "no fuzz targets"; return 1; }
  cmake --build build-fuzz -j"$JOBS" --target $targets >build-fuzz.build.log 2>&1 \
    || { tail -n 60 build-fuzz.build.log; return 1; }
  for t in build-fuzz/bin/fuzz_*; do
    [ -x "$t" ] || continue
    local name corpus work
    name=$(basename "$t"); name=${name#fuzz_}
    corpus="$ROOT/tests/fuzz/corpus/$name"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus/." "$work/"
    echo "fuzz $name for ${FUZZ_SECONDS}s"
    if "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$ROOT/tests/fuzz/crash-$name-" "$work" >"build-fuzz/$name.log" 2>&1; then
      PASSED=$((PASSED + 1)); tail -n 1 "build-fuzz/$name.log"
    else
      FAILED=$((FAILED + 1)); rc=1; tail -n 40 "build-fuzz/$name.log"
    fi
    rm -rf "$work"
  done
  return $rc
}

stage "install dependencies" bash scripts/install-deps.sh
stage "build and test" build_and_test build
if [ $QUICK -eq 0 ]; then
  export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  stage "build and test (ASan+UBSan)" build_and_test build-asan -DSMP_SANITIZE=ON
  stage "valgrind (smpd, e2e session)" counted bash scripts/valgrind.sh build
  stage "static analysis" counted static_analysis
  stage "fuzz (${FUZZ_SECONDS}s per target)" fuzz_all
fi

echo
echo "=== stages"
for i in "${!STAGES[@]}"; do
  printf '%-32s %8ss  %s\n' "${STAGES[$i]}" "${TIMES[$i]}" "${RESULTS[$i]}"
done
echo "total: $PASSED passed, $FAILED failed"
exit $STATUS
