#!/usr/bin/env bash
# Runs every benchmark (bench/ and the benchmark programs of each layer) in a
# Release build, prints their figures, and ends with a table of the main
# ones (Markdown, as in the README). Benchmarks never fail on time.
# usage: scripts/bench.sh [NAME-PATTERN]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "date: $(date -u +%Y-%m-%d)"
# Each benchmark also prints "figure: WHAT | VALUE" lines; they make the
# closing table.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for b in build-bench/bin/bench_*; do
  [ -x "$b" ] || continue
  case "$(basename "$b")" in *${1:-}*) ;; *) continue ;; esac
  echo
  echo "=== $(basename "$b")"
  "$b" | tee -a "$log"
done
echo
echo "=== figures"
echo "| what | figure |"
echo "|---|---|"
sed -n 's/^figure: \(.*\) | \(.*\)$/| \1 | \2 |/p' "$log"
