#!/usr/bin/env bash
# make bench-realism-sampler: the embedded teacher's sampler (SDE-DPM-Solver++, steps even in timesteps) against
# the same solver with its steps even in log-SNR (sde-dpmsolver++-logsnr: more of the 20 steps at low noise, where
# pixel-scale detail and the residual noise are settled), on the validation patches at SEEDS (about 4 min each on 2
# cores); scripts/realism_sampler_section.py writes the section.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}
TEACHER=resources/models/mapsynth-demo-pixel-small
for seed in ${SEEDS:-0 1 2}; do
    [ -f "$WORK/measure-logsnr-$seed/realism.json" ] && continue
    echo "== measuring, seed $seed"
    .venv-backend/bin/python scripts/measure_realism.py --splits validation --seed "$seed" \
        --out "$WORK/measure-logsnr-$seed" --variant "$TEACHER,20,sde-dpmsolver++" \
        --variant "$TEACHER,20,sde-dpmsolver++-logsnr" >/dev/null
done
