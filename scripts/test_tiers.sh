#!/usr/bin/env bash
# make test: every tier runs even when another one fails, TEST_JOBS (default 2) at a time, longest first; each
# tier's output is printed whole when it ends (kept in .mapsynth-test/tier-logs/), then one summary says which
# passed, which failed and how long each took; the exit status is 1 if any failed. TIERS="backend qgis" runs a
# subset; TEST_JOBS=1 runs them one after the other with their output live.
#
# Why two at a time: alone, each tier keeps about 1.1 of 2 cores busy (backend processes start, QGIS loads,
# qgis_process runs, files are written), so two tiers side by side nearly halve the wall time. Torch then gets one
# thread per tier (OMP_NUM_THREADS=1 unless set) so that the two do not oversubscribe the cores.
set -uo pipefail
cd "$(dirname "$0")/.."
TIERS=${TIERS:-qgis backend cli demo gui lint}
JOBS=${TEST_JOBS:-2}
LOGS=.mapsynth-test/tier-logs
mkdir -p "$LOGS"
declare -A STATUS SECONDS_TAKEN PID_TIER STARTED
failed=0

finish() {  # finish PID STATUS: record and print the tier that process ran
    local tier=${PID_TIER[$1]}
    SECONDS_TAKEN[$tier]=$(( $(date +%s) - STARTED[$tier] ))
    if [ "$2" = 0 ]; then STATUS[$tier]=passed; else STATUS[$tier]=FAILED; failed=1; fi
    if [ "$JOBS" -gt 1 ]; then
        echo "==== make test-$tier: ${STATUS[$tier]} in ${SECONDS_TAKEN[$tier]} s; its output:"
        cat "$LOGS/$tier.log"
    fi
}

if [ "$JOBS" -gt 1 ]; then export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}; fi
running=0
for tier in $TIERS; do
    if [ "$running" -ge "$JOBS" ]; then
        wait -n -p done_pid; status=$?
        finish "$done_pid" "$status"; running=$((running - 1))
    fi
    STARTED[$tier]=$(date +%s)
    if [ "$JOBS" -gt 1 ]; then
        echo "==== make test-$tier started ($(date -u +%H:%M:%S) UTC; output when it ends)"
        make --no-print-directory "test-$tier" > "$LOGS/$tier.log" 2>&1 &
    else
        echo "==== make test-$tier"
        make --no-print-directory "test-$tier" &
    fi
    PID_TIER[$!]=$tier; running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n -p done_pid; status=$?
    finish "$done_pid" "$status"; running=$((running - 1))
done

echo "==== make test summary ($JOBS tiers at a time)"
for tier in $TIERS; do
    printf '  %-8s %-7s %5s s\n' "$tier" "${STATUS[$tier]}" "${SECONDS_TAKEN[$tier]}"
done
[ "$failed" = 0 ] || echo "make test FAILED: see the tiers marked FAILED above (every tier ran)"
exit "$failed"
