#!/bin/bash
# run_perf.sh: allclear against PyTorch on this machine, side by side in one run.
#
#   1. restoring 480x640 with the reference-size network: allclear's whole restore pipeline
#      (bench_restore: image in, image out, in a forked child whose peak RSS is the restore's)
#      and its network forward alone (bench_net), against PyTorch's eager forward under
#      no_grad (its compute alone; its RSS includes the interpreter), with 1 and 2 threads;
#   2. allclear's forward time against image area (2 threads): 240x320, 480x640, 720x960;
#   3. one training step of each stage at batch 3, 224x224 (bench_steps; net_torch.py --steps):
#      teacher (L1), knowledge collation (3 teachers, CKT, SCR), knowledge examination (L1 +
#      HCR through VGG19), 2 threads.
# The allclear and PyTorch runs alternate round by round (ROUNDS rounds), so that a busy
# machine slows both alike; each run reports the best of its repetitions and the summary gives
# the median over rounds of those, and the ratio PyTorch / allclear. Where PyTorch is missing,
# allclear's own figures are printed and the script says so.
#
# Usage: bench/run_perf.sh [BUILD_DIR] [ROUNDS]     (defaults: build, 3)
# Environment: SKIP_STEPS=1 leaves out the training steps, SKIP_RESTORE=1 the restores and
# forwards (parts 1 and 2); PYTHON (default /usr/bin/python3).
# Each side runs OpenMP as its program does when the user sets nothing: allclear with the
# passive wait policy and a short spin (OMP_WAIT_POLICY=PASSIVE and GOMP_SPINCOUNT, read from
# src/cli/main.c's AC_OMP_SPIN_COUNT; AC_OMP_WAIT_POLICY and AC_GOMP_SPINCOUNT override), PyTorch with
# libgomp's default (spin for about 300000 pauses, then sleep; TORCH_OMP_WAIT_POLICY and
# TORCH_GOMP_SPINCOUNT set it, e.g. PASSIVE and 0 for the comparisons of earlier sessions).
# OPENBLAS_NUM_THREADS (default 1 for both, as the allclear program runs: OpenBLAS's idle
# workers spin when it loads; PyTorch's convolutions do not use OpenBLAS).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-3}
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT
# the spin count the allclear program chooses, read from where it is set
AC_SPIN=$(sed -n 's/^#define AC_OMP_SPIN_COUNT "\([0-9]*\)".*/\1/p' src/cli/main.c)
AC_ENV=(env OMP_WAIT_POLICY="${AC_OMP_WAIT_POLICY:-PASSIVE}" GOMP_SPINCOUNT="${AC_GOMP_SPINCOUNT:-${AC_SPIN:?not found in src/cli/main.c}}")
TORCH_ENV=(env)
[ -n "${TORCH_OMP_WAIT_POLICY:-}" ] && TORCH_ENV+=(OMP_WAIT_POLICY="$TORCH_OMP_WAIT_POLICY")
[ -n "${TORCH_GOMP_SPINCOUNT:-}" ] && TORCH_ENV+=(GOMP_SPINCOUNT="$TORCH_GOMP_SPINCOUNT")
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

for b in bench_net bench_steps bench_restore; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "missing $BUILD/$b: build first (cmake --build $BUILD)" >&2
        exit 2
    fi
done
HAVE_TORCH=1
if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
    HAVE_TORCH=0
    echo "# PyTorch not found ($PY): allclear's own figures only"
fi

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
torch_env="${TORCH_ENV[*]:1}"
echo "# allclear: ${AC_ENV[*]:1}; torch: ${torch_env:-libgomp default wait policy}"
[ "$HAVE_TORCH" = 1 ] && echo "# $("$PY" -c 'import torch; print("torch", torch.__version__, "threads max", torch.get_num_threads())')"

run() {  # appends the result lines of one command to $OUT and echoes them
    "$@" 2>&1 | grep -E '^(allclear|torch) ' | tee -a "$OUT"
}

restore() {  # bench_restore's RESULT line, in the format of the others
    "${AC_ENV[@]}" "$BUILD/bench_restore" --threads "$1" --reps 3 2>&1 | awk '/^RESULT/ {
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        split(v["size"], wh, "x")
        printf "allclear restore threads=%s size=%sx%s batch=1 best_s=%s median_s=%s runs=3 peak_rss_mib=%.0f\n",  # (KiB / 1024)
               v["threads"], wh[2], wh[1], v["best_s"], v["median_s"], v["peak_rss_mb"]
    }' | tee -a "$OUT"
}

for r in $(seq 1 "$ROUNDS"); do
    echo "# round $r"
    if [ "${SKIP_RESTORE:-0}" != 1 ]; then
        for t in 1 2; do
            restore $t
            run "${AC_ENV[@]}" "$BUILD/bench_net" --threads $t --reps 3
            [ "$HAVE_TORCH" = 1 ] && run "${TORCH_ENV[@]}" "$PY" bench/net_torch.py --threads $t --reps 3
        done
        for size in 240x320 720x960; do
            run "${AC_ENV[@]}" "$BUILD/bench_net" --threads 2 --reps 2 --size $size
        done
    fi
    if [ "${SKIP_STEPS:-0}" != 1 ]; then
        run "${AC_ENV[@]}" "$BUILD/bench_steps" --threads 2 --reps 2
        [ "$HAVE_TORCH" = 1 ] && run "${TORCH_ENV[@]}" "$PY" bench/net_torch.py --threads 2 --steps --reps 2
    fi
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$OUT" <<'EOF'
import re, statistics, sys
rows = {}
# allclear's whole restore is compared with PyTorch's forward (its compute alone)
alias = {"restore": "forward"}
for line in open(sys.argv[1]):
    f = line.split()
    kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
    key = (f[1], kv["threads"], kv["size"], kv["batch"])
    rows.setdefault(key, {}).setdefault(f[0], []).append(
        (float(kv["best_s"]), float(kv.get("peak_rss_mib", "nan"))))
print("\n%-14s %-7s %-9s %-5s %12s %12s %8s %10s %10s" % (
    "what", "threads", "size", "batch", "allclear_s", "torch_s", "ratio", "ac_rss_MiB",
    "pt_rss_MiB"))
for key in sorted(rows):
    a, t = rows[key].get("allclear"), rows[key].get("torch")
    if key[0] in alias:
        t = rows.get((alias[key[0]],) + key[1:], {}).get("torch")
    med = lambda v, i: statistics.median(x[i] for x in v) if v else float("nan")
    ratio = med(t, 0) / med(a, 0) if a and t else float("nan")
    print("%-14s %-7s %-9s %-5s %12.3f %12.3f %8.2f %10.0f %10.0f" % (
        key[0], key[1], key[2], key[3], med(a, 0), med(t, 0), ratio, med(a, 1), med(t, 1)))
area = sorted((int(k[2].split("x")[0]) * int(k[2].split("x")[1]), statistics.median(x[0] for x in v["allclear"]))
              for k, v in rows.items() if k[0] == "forward" and k[1] == "2" and "allclear" in v)
if len(area) > 1:
    print("\nallclear forward, 2 threads: seconds per megapixel by area")
    for px, s in area:
        print("  %8d px  %7.3f s  %6.3f s/MP" % (px, s, s / px * 1e6))
EOF
