#!/usr/bin/env bash
# bench_mpi.sh: data-parallel training on this machine with 1 and 2 MPI ranks (the cores
# split among the ranks), for a teacher (L1) and the student's KE stage (L1 + HCR on seeded
# random VGG19 weights), as `allclear` reports them after each epoch (the second, warm epoch
# is shown): time per step; the gradient exchange (pack, bucketed allreduce, unpack) and the
# wait before it for the slowest rank's backward pass; all time inside MPI collectives
# (also the loss sums and the HCR feature allgather); CPU time per step of the whole run (all
# ranks; on a shared machine a steadier figure than wall time). Then bench_grad_sync (built
# next to the program): the gradient allreduce alone per bucket size. Data: pairs
# synthesised from the test images.
# Usage: bench/bench_mpi.sh [path/to/allclear]
#   environment: WIDTH (16), RES_BLOCKS (4), CROP (64), BATCH (8), STEPS per epoch (4),
#                RANKS ("1 2"), CORES (all of this machine's)
set -euo pipefail
BIN=${1:-build/allclear}
WIDTH=${WIDTH:-16} RES_BLOCKS=${RES_BLOCKS:-4} CROP=${CROP:-64} BATCH=${BATCH:-8} STEPS=${STEPS:-4}
RANKS=${RANKS:-"1 2"} CORES=${CORES:-$(nproc)}
command -v mpirun >/dev/null || { echo "mpirun not found (install openmpi-bin)"; exit 1; }
"$BIN" version | grep -q 'MPI data-parallel' || { echo "$BIN was built without MPI"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
G=tests/golden
count=$(((BATCH * STEPS + 1) / 2))
for w in haze rain; do
    "$BIN" synth --weather $w --seed 1 --count $count -o "$T/tr" $G/metrics_a_gt.png $G/metrics_b_gt.png >/dev/null
    "$BIN" synth --weather $w --seed 2 -o "$T/va" $G/metrics_a_gt.png $G/metrics_b_gt.png >/dev/null
done
COMMON=(--width "$WIDTH" --res-blocks "$RES_BLOCKS" --crop "$CROP" --batch-size "$BATCH" --epochs 2
        --warmup-epochs 1 --val-freq 1000 --top-k 0 --data-threads 1)
MPI=(mpirun --oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader -x OMP_WAIT_POLICY)

# the teacher file that the student runs need (KE only: no teacher runs, but files are checked)
"$BIN" train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json" --save-dir "$T/teacher" \
    "${COMMON[@]}" --epochs 1 --warmup-epochs 0 >/dev/null
params=$(grep -o '[0-9]* parameters' <("$BIN" train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json" \
    --save-dir "$T/p" "${COMMON[@]}" --stop-after 1 --epochs 2) | cut -d' ' -f1)

echo "allclear data-parallel benchmark: width $WIDTH, $RES_BLOCKS res blocks ($params parameters, $((params * 4 / 1000)) kB of gradients),"
echo "global batch $BATCH, crop $CROP, $STEPS steps per epoch, $CORES cores shared by the ranks"
printf '%-8s %5s %13s %9s %16s %10s %14s %11s\n' stage ranks threads/rank "s/step" "grad allreduce s" "wait s" "collectives s" "CPU s/step"
for stage in teacher KE; do
    for n in $RANKS; do
        threads=$((CORES / n)); [ "$threads" -ge 1 ] || threads=1
        if [ $stage = teacher ]; then
            args=(train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json")
        else
            args=(train --teachers "$T/teacher/final.safetensors" "$T/teacher/final.safetensors" --train "$T/tr"
                  --valid "$T/va" --kc-epochs 0 --vgg random)
        fi
        rm -rf "$T/run"
        /usr/bin/time -f '%U %S' -o "$T/time" "${MPI[@]}" -np "$n" "$BIN" "${args[@]}" --save-dir "$T/run" \
            "${COMMON[@]}" --threads "$threads" >"$T/out" 2>"$T/err" || { cat "$T/err"; exit 1; }
        line=$(grep '^epoch 2: .* s per step' "$T/out")
        step=$(echo "$line" | awk '{print $3}')
        grad=$(echo "$line" | sed 's/.*gradient allreduce \([0-9.]*\) s.*/\1/')
        wait=$(echo "$line" | sed 's/.*after waiting \([0-9.]*\) s.*/\1/')
        coll=$(echo "$line" | sed 's/.*rank; \([0-9.]*\) s in all MPI.*/\1/')
        # CPU of the whole run (both epochs, setup, validation) over its steps: an upper bound
        cpu=$(awk -v s=$((2 * STEPS)) '{printf "%.3f", ($1 + $2) / s}' "$T/time")
        printf '%-8s %5d %13d %9s %16s %10s %14s %11s\n' $stage "$n" "$threads" "$step" "$grad" "$wait" "$coll" "$cpu"
    done
done
GS="$(dirname "$BIN")/bench_grad_sync"
if [ -x "$GS" ]; then
    echo
    "${MPI[@]}" -np 2 "$GS" --width "$WIDTH" --res-blocks "$RES_BLOCKS"
fi
