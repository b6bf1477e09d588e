#!/usr/bin/env bash
# Runs the package-benchmark suites and compares them with the p90 thresholds in Thresholds/.
# package-benchmark's exit code also reflects unrelated conditions, so this script reads its output:
# a run that did not happen, or a line reporting a result WORSE than a threshold, fails the check
# (results BETTER than a threshold are reported and pass: update the thresholds to keep them).
set -uo pipefail
cd "$(dirname "$0")"
output=$(swift package --disable-sandbox benchmark thresholds check --no-progress 2>&1)
echo "$output"
if ! echo "$output" | grep -q "Running Benchmarks" \
   || echo "$output" | grep -qE "failed to run|is WORSE than"; then
    echo "benchmark thresholds: REGRESSION" >&2
    exit 1
fi
echo "benchmark thresholds: ok"
