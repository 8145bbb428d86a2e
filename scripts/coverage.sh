#!/usr/bin/env bash
# Builds with gcov instrumentation, runs the test suite and prints line
# coverage per file of planner/, drivers/, daemon/ and sim/; the HTML report
# lands in build-cov/coverage/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
command -v lcov >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq lcov; }
cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=Debug -DSMP_COVERAGE=ON >/dev/null
cmake --build build-cov -j"$(nproc)" >/dev/null
lcov --quiet --zerocounters --directory build-cov
ctest --test-dir build-cov -j"$(nproc)" --output-on-failure || true
lcov --quiet --capture --directory build-cov --output-file build-cov/all.info
lcov --quiet --extract build-cov/all.info "$PWD/planner/*" "$PWD/drivers/*" "$PWD/daemon/*" "$PWD/sim/*" \
  --output-file build-cov/smpd.info
lcov --list build-cov/smpd.info
genhtml --quiet build-cov/smpd.info --output-directory build-cov/coverage
python3 scripts/coverage_gaps.py build-cov/smpd.info "$PWD" >build-cov/gaps.md
head -n 1 build-cov/gaps.md
echo "HTML report: build-cov/coverage/index.html"
echo "Lines not run, by function (planner/, drivers/, the session): build-cov/gaps.md (docs/coverage.md is a copy)"
