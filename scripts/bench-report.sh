#!/usr/bin/env bash
# Runs the benchmarks and prints the BENCHMARKS.md body (machine, command, results) to stdout.
#   scripts/bench-report.sh > /tmp/bench.md
set -euo pipefail
cd "$(dirname "$0")/.."
echo "## Machine"
echo
echo '```text'
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
echo "memory:  $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
echo "kernel:  $(uname -r)"
echo "rustc:   $(rustc --version)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo '```'
echo
echo "## Cross-process (cargo bench -p zeroipc-bench --bench pingpong)"
echo
echo '```text'
cargo bench -q -p zeroipc-bench --bench pingpong 2>/dev/null
echo '```'
echo
echo "## Single process (cargo bench -p zeroipc-bench --bench micro)"
echo
echo '```text'
cargo bench -q -p zeroipc-bench --bench micro 2>/dev/null | sed -n '/^micro/,$p'
echo '```'
