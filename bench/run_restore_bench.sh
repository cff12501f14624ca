#!/usr/bin/env bash
# run_restore_bench.sh: restoring a 480x640 photo with the reference-size network, allclear
# (bench_restore) against PyTorch eager (restore_torch.py) on the same thread count, in
# alternating rounds (a shared machine drifts); prints each round and the ratios of the
# best medians and of the peak resident memory.
# Usage: bench/run_restore_bench.sh [BUILD_DIR (default build)] [THREADS (default 2)] [ROUNDS (default 2)]
set -eu
BUILD=${1:-build}
THREADS=${2:-2}
ROUNDS=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
# Each side as its program runs when the user sets nothing: allclear (src/cli/main.c) with
# passive OpenMP waits after a short spin, PyTorch with libgomp's default; one OpenBLAS thread
# (as allclear runs; PyTorch's convolutions do not use OpenBLAS). The same overrides as
# bench/run_perf.sh: AC_OMP_WAIT_POLICY, AC_GOMP_SPINCOUNT, TORCH_OMP_WAIT_POLICY.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT
AC_SPIN=$(sed -n 's/^#define AC_OMP_SPIN_COUNT "\([0-9]*\)".*/\1/p' "$HERE/../src/cli/main.c")
: "${AC_SPIN:?AC_OMP_SPIN_COUNT not found in src/cli/main.c}"
have_torch=0
"$PY" -c "import torch" 2>/dev/null && have_torch=1
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for r in $(seq "$ROUNDS"); do
    echo "== round $r"
    OMP_WAIT_POLICY="${AC_OMP_WAIT_POLICY:-PASSIVE}" GOMP_SPINCOUNT="${AC_GOMP_SPINCOUNT:-$AC_SPIN}" \
        "$BUILD/bench_restore" --threads "$THREADS" --reps 3 | tee -a "$results"
    if [ $have_torch = 1 ]; then
        env ${TORCH_OMP_WAIT_POLICY:+OMP_WAIT_POLICY="$TORCH_OMP_WAIT_POLICY"} "$PY" "$HERE/restore_torch.py" --threads "$THREADS" --reps 3 | tee -a "$results"
    fi
done
[ $have_torch = 1 ] || { echo "($PY has no torch: no comparison)"; exit 0; }
awk '
/^RESULT/ {
    side = $2
    for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (!(side in best) || v["median_s"] < best[side]) best[side] = v["median_s"]
    if (!(side in rss) || v["peak_rss_mb"] > rss[side]) rss[side] = v["peak_rss_mb"]
}
END {
    printf "allclear: %.3f s (best median), peak RSS %.0f MB\n", best["c"], rss["c"]
    printf "PyTorch:  %.3f s (best median), peak RSS %.0f MB\n", best["torch"], rss["torch"]
    printf "speed-up %.2fx (PyTorch time / allclear time); memory ratio %.2f (allclear / PyTorch)\n",
           best["torch"] / best["c"], rss["c"] / rss["torch"]
}' "$results"
