#!/usr/bin/env bash
# cli_mpi.sh: data-parallel training over MPI on this machine (mpirun --oversubscribe). The
# same global batch and seed give the same log.csv losses (to float reduction order) with 1,
# 2 and 4 ranks, for a teacher and for the student's KC and KE stages (with the contrastive
# terms on seeded random VGG19 weights); `mpirun -np 1` equals a plain run bit for bit; a run
# stopped with 4 ranks resumes with 2; rank 0 alone prints and writes; a batch smaller than
# the rank count is refused once. Also runs test_dist (built next to the program) on 3 ranks
# (shares of unequal size): summed gradients of each stage equal the whole batch's.
# Prints SKIP and succeeds when mpirun is missing or the program was built without MPI.
set -u
BIN="$1"
if ! command -v mpirun >/dev/null 2>&1; then echo "SKIP: mpirun not found (install openmpi-bin)"; exit 0; fi
if ! "$BIN" version | grep -q 'MPI data-parallel'; then echo "SKIP: $BIN was built without MPI"; exit 0; fi
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
# Under sanitizers: Open MPI's runtime and its plugins leave allocations behind at exit that
# are not ours (the one-process tests check our code for leaks); other checks stay on.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# Tests run as root in CI; shared memory between the local ranks without single-copy (which
# containers often forbid); no binding, as the ranks oversubscribe the cores.
MPI=(mpirun --oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader
     --mca btl_vader_single_copy_mechanism none -x OMP_NUM_THREADS -x OMP_WAIT_POLICY -x ASAN_OPTIONS)

run() {  # run WANT_RC CMD...: output in $T/out and $T/err
    local want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" != "$want" ]; then bad "exit $rc (want $want): $*: $(tail -5 "$T/err")"; return 1; fi
    ok
}

# Largest relative difference of the loss and validation columns of two log.csv files (the
# epochs, stages and step counts must be equal).
maxrel() {
    paste -d, "$1" "$2" | awk -F, 'NR > 1 {
        k = NF / 2  # columns of one file
        if ($1 != $(1 + k) || $2 != $(2 + k) || $4 != $(4 + k) || $5 != $(5 + k)) { print "rows differ"; exit }
        for (i = 6; i <= 14; i++) {
            a = $i; b = $(i + k); d = a - b; if (d < 0) d = -d
            s = (a < 0 ? -a : a); t = (b < 0 ? -b : b); if (t > s) s = t
            r = s > 1e-6 ? d / s : d; if (r > m) m = r
        }
        n++
    } END { if (n == 0) print "no rows"; else printf "%.3g\n", m }'
}
# Float rounding differs with the reduction order; Adam's first steps move a weight by about
# lr whatever its gradient's size, so a weight whose gradient is mostly rounding can move
# the other way: later losses agree to ~1e-5, the first step's to ~1e-7.
TOL=1e-4
same_losses() {  # same_losses WHAT LOG_A LOG_B
    local r; r=$(maxrel "$2" "$3")
    if awk -v r="$r" -v t=$TOL 'BEGIN { exit !(r + 0 == r && r <= t) }'; then ok; echo "  $1: max relative difference $r"
    else bad "$1: log.csv differs (max relative difference $r): $(cat "$2") /// $(cat "$3")"; fi
}

# the collectives and the data-parallel steps, on 3 ranks
TD="$(dirname "$BIN")/test_dist"
if [ -x "$TD" ]; then
    if run 0 "${MPI[@]}" -np 3 "$TD"; then
        [ "$(grep -c 'passed, 0 failed' "$T/out")" = 3 ] && ok || bad "test_dist on 3 ranks: $(grep FAIL "$T/out" "$T/err" | head)"
    fi
fi

# data: 8 training pairs per type (64x64), 2 validation pairs
G=tests/golden
for w in haze rain; do
    run 0 "$BIN" synth --weather $w --seed 1 --count 4 -o "$T/tr" $G/metrics_a_gt.png $G/metrics_b_gt.png
    run 0 "$BIN" synth --weather $w --seed 2 -o "$T/va" $G/metrics_a_gt.png $G/metrics_b_gt.png
done
TINY=(--width 4 --res-blocks 1 --batch-size 4 --crop 32 --warmup-epochs 1 --val-freq 2 --top-k 1 --data-threads 1)

# teachers: plain, and 1, 2, 4 ranks
TT=(train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json" --epochs 2 "${TINY[@]}")
run 0 "$BIN" "${TT[@]}" --save-dir "$T/t0"
for n in 1 2 4; do
    run 0 "${MPI[@]}" -np $n "$BIN" "${TT[@]}" --save-dir "$T/t$n"
    [ "$(grep -c '^epoch 2 teacher: 2 steps' "$T/out")" = 1 ] && ok || bad "teacher, $n ranks: want one epoch line: $(cat "$T/out")"
    grep -q "data parallel over $n MPI ranks" "$T/out" && ok || bad "teacher, $n ranks: no note: $(head -5 "$T/out")"
    grep -q "\"mpi_ranks\":[[:space:]]*\"$n\"" "$T/t$n/args.json" && ok || bad "args.json: $(cat "$T/t$n/args.json")"
    [ -s "$T/t$n/final.safetensors" ] && [ "$(ls "$T/t$n" | grep -c '^epoch_.*\.safetensors$')" = 1 ] && ok || bad "teacher, $n ranks: files $(ls "$T/t$n")"
done
cmp -s "$T/t0/final.safetensors" "$T/t1/final.safetensors" && ok || bad "mpirun -np 1 differs from a plain run"
for n in 2 4; do same_losses "teacher, 1 vs $n ranks" "$T/t1/log.csv" "$T/t$n/log.csv"; done

# student: KC (epoch 1) then KE (epoch 2), with SCR and HCR on random VGG19 weights
run 0 "$BIN" train-teacher --train "$T/tr/rain.json" --valid "$T/va/rain.json" --save-dir "$T/tr_rain" --epochs 2 "${TINY[@]}"
ST=(train --teachers "$T/t0/final.safetensors" "$T/tr_rain/final.safetensors" --train "$T/tr" --valid "$T/va"
    --epochs 2 --kc-epochs 1 --vgg random "${TINY[@]}")
for n in 1 4; do
    run 0 "${MPI[@]}" -np $n "$BIN" "${ST[@]}" --save-dir "$T/s$n"
    grep -q '^epoch 1 KC: ' "$T/out" && grep -q '^epoch 2 KE: ' "$T/out" && ok || bad "student, $n ranks: $(cat "$T/out")"
done
same_losses "student, 1 vs 4 ranks" "$T/s1/log.csv" "$T/s4/log.csv"
# KC on 4 ranks, stopped, resumed on 2 ranks for KE
run 0 "${MPI[@]}" -np 4 "$BIN" "${ST[@]}" --save-dir "$T/r" --stop-after 1
run 0 "${MPI[@]}" -np 2 "$BIN" "${ST[@]}" --save-dir "$T/r" --resume
grep -q 'resumed from .* after epoch 1' "$T/out" && grep -q '^epoch 2 KE: ' "$T/out" && ok || bad "no resume: $(cat "$T/out")"
same_losses "student, 4 ranks then 2 vs 1 rank" "$T/s1/log.csv" "$T/r/log.csv"

# refused: a batch of 2 on 4 ranks, said once (by rank 0)
run 2 "${MPI[@]}" -np 4 "$BIN" "${TT[@]}" --save-dir "$T/x" --batch-size 2
[ "$(grep -c 'smaller than the 4 MPI ranks' "$T/err")" = 1 ] && ok || bad "refusal: $(cat "$T/err")"
[ ! -e "$T/x" ] && ok || bad "a refused run left $T/x"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
