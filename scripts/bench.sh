#!/usr/bin/env bash
# Runs every benchmark (bench/ and the benchmark programs of each layer) in a
# Release build and prints their figures. Benchmarks never fail on time.
# usage: scripts/bench.sh [NAME-PATTERN]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "date: $(date -u +%Y-%m-%d)"
for b in build-bench/bin/bench_*; do
  [ -x "$b" ] || continue
  case "$(basename "$b")" in *${1:-}*) ;; *) continue ;; esac
  echo
  echo "=== $(basename "$b")"
  "$b"
done
