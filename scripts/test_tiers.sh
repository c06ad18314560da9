#!/usr/bin/env bash
# make test: every tier runs even when an earlier one fails, then one summary says which passed, which failed and
# how long each took; the exit status is 1 if any failed. TIERS="backend qgis" runs a subset.
set -uo pipefail
cd "$(dirname "$0")/.."
TIERS=${TIERS:-lint backend qgis cli gui}
declare -A STATUS SECONDS_TAKEN
failed=0
for tier in $TIERS; do
    echo "==== make test-$tier"
    start=$(date +%s)
    if make --no-print-directory "test-$tier"; then STATUS[$tier]=passed; else STATUS[$tier]=FAILED; failed=1; fi
    SECONDS_TAKEN[$tier]=$(( $(date +%s) - start ))
done
echo "==== make test summary"
for tier in $TIERS; do
    printf '  %-8s %-7s %5s s\n' "$tier" "${STATUS[$tier]}" "${SECONDS_TAKEN[$tier]}"
done
[ "$failed" = 0 ] || echo "make test FAILED: see the tiers marked FAILED above (every tier ran)"
exit "$failed"
