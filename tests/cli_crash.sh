#!/usr/bin/env bash
# cli_crash.sh: crash safety of training. A tiny teacher run and a tiny student run (KC then
# KE), both writing a checkpoint every epoch, are killed with SIGKILL again and again: at
# random moments, and deterministically inside file writes through the AC_FAULT_KILL_WRITE
# test hook (src/io/atomic_file.h: SIGKILL partway through the Nth atomic write, before its
# rename). After every kill DIR/latest.safetensors is absent (nothing saved yet) or a
# complete, loadable state (`allclear info`) whose epoch never goes back; the next run
# (--resume when a state exists) removes the stray temporary files and continues from that
# epoch; the run finally completes, and its log.csv losses and final model are identical to
# those of an uninterrupted run. Also: --nonfinite stop|skip through the AC_FAULT_NAN_GRAD
# hook (a NaN in one step's summed gradient).
#
# Reproduce a failure with AC_CRASH_SEED=<the seed printed>. AC_CRASH_ROUNDS sets the kill
# rounds per run (default 14). When AC_SANITIZE_BUILD is set (CMake sets it for a sanitizer
# build), the runs are shorter: 8 rounds, teacher 10 epochs and student 6 instead of 20 and 10.
set -u
BIN="$1"
. "$(dirname "$0")/common_cli.sh"
export OMP_WAIT_POLICY=passive

SEED=${AC_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
if [ -n "${AC_SANITIZE_BUILD:-}" ]; then R=8 TE_EPOCHS=10 ST_EPOCHS=6; else R=14 TE_EPOCHS=20 ST_EPOCHS=10; fi
ROUNDS=${AC_CRASH_ROUNDS:-$R}
echo "seed $SEED (reproduce with AC_CRASH_SEED=$SEED), $ROUNDS kill rounds per run"
RANDOM=$SEED

G=tests/golden
for w in haze rain; do
    expect 0 "$BIN" synth --weather $w --seed 1 --count 2 -o "$T/tr" $G/metrics_a_gt.png $G/metrics_b_gt.png
    expect 0 "$BIN" synth --weather $w --seed 2 -o "$T/va" $G/metrics_a_gt.png $G/metrics_b_gt.png
done
TINY=(--width 4 --res-blocks 1 --batch-size 2 --crop 32 --warmup-epochs 1 --val-freq 1 --top-k 1 --data-threads 1 --threads 1)

state_epoch() { "$BIN" info "$1" 2>/dev/null | awk '$1 == "epoch" && $2 == "=" {print $3; exit}'; }
temp_files() { ls "$1" 2>/dev/null | grep -cE '\.tmp[.-][A-Za-z0-9]{6}$'; }

kills=0 in_write=0 timed=0 resumes=0
# crash_run NAME DIR EPOCHS ARGS...: trains to the end through ROUNDS killed runs, checking
# the folder after each; then compares with the uninterrupted run in DIR.ref.
crash_run() {
    local name=$1 dir=$2 epochs=$3; shift 3
    local args=("$@" --save-dir "$dir" --epochs "$epochs" "${TINY[@]}")
    local prev=0 round
    for ((round = 1; round <= ROUNDS + 1; round++)); do
        local resume=() how
        [ -e "$dir/latest.safetensors" ] && resume=(--resume)
        local before_tmp; before_tmp=$(temp_files "$dir")
        if ((round > ROUNDS)); then  # the last run is left to finish
            how="to the end"
            "$BIN" "${args[@]}" "${resume[@]}" >"$T/out" 2>"$T/err"
            local rc=$?
            [ $rc = 0 ] && ok || bad "$name: the final run failed ($rc): $(tail -3 "$T/err")"
        elif ((round % 2)); then  # inside the Nth atomic write, after B bytes (or before the rename)
            local n=$((1 + RANDOM % 8)) b
            case $((RANDOM % 3)) in 0) b="" ;; 1) b=":$((RANDOM % 64))" ;; *) b=":$((RANDOM % 40000))" ;; esac
            how="AC_FAULT_KILL_WRITE=$n$b"
            { AC_FAULT_KILL_WRITE=$n$b "$BIN" "${args[@]}" "${resume[@]}" >"$T/out" 2>"$T/err"; } 2>/dev/null
            local rc=$?
            # 137: killed; 0: the run ended before its Nth write
            [ $rc = 137 ] || [ $rc = 0 ] && ok || bad "$name: $how: exit $rc: $(tail -3 "$T/err")"
            [ $rc = 137 ] && { kills=$((kills + 1)); in_write=$((in_write + 1)); how="$how (in $(ls "$dir" | grep -E '\.tmp[.-]' | tr '\n' ' '))"; }
            # the killed write left its temporary file, and the old file stands
            [ $rc != 137 ] || [ "$(temp_files "$dir")" -ge 1 ] && ok || bad "$name: $how: no temporary file left"
        else  # at a random moment
            local ms=$((RANDOM % 1000))
            how="kill -9 after $ms ms"
            "$BIN" "${args[@]}" "${resume[@]}" >"$T/out" 2>"$T/err" &
            local pid=$!
            sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
            kill -9 $pid 2>/dev/null
            { wait $pid; } 2>/dev/null
            local rc=$?
            [ $rc = 137 ] || [ $rc = 0 ] && ok || bad "$name: $how: exit $rc: $(tail -3 "$T/err")"
            [ $rc = 137 ] && { kills=$((kills + 1)); timed=$((timed + 1)); }
        fi
        # a resumed run continued from the saved epoch; one that got past setup removed the
        # previous run's temporary files (and may leave only the one it was writing)
        if ((${#resume[@]})); then
            resumes=$((resumes + 1))
            if grep -q '^resumed from' "$T/out"; then
                grep -q "^resumed from .* after epoch $prev " "$T/out" && ok || bad "$name: $how: resumed elsewhere than epoch $prev: $(grep resumed "$T/out")"
            fi
        fi
        if grep -q "^teacher: \|^student: " "$T/out"; then
            if ((before_tmp)); then
                grep -q "^removed $before_tmp unfinished temporary file" "$T/out" && ok || bad "$name: $how: $before_tmp temporary files not removed: $(head -3 "$T/out")"
            fi
            [ "$(temp_files "$dir")" -le 1 ] && ok || bad "$name: $how: temporary files pile up: $(ls "$dir")"
        fi
        local first; first=$(grep -m1 -oE '^epoch [0-9]+ (teacher|KC|KE):' "$T/out" | awk '{print $2}')
        [ -z "$first" ] || [ "$first" = $((prev + 1)) ] && ok || bad "$name: $how: first epoch $first after state epoch $prev"
        # latest: absent before the first save, else complete and loadable, never going back
        if [ -e "$dir/latest.safetensors" ]; then
            local e; e=$(state_epoch "$dir/latest.safetensors")
            if [ -n "$e" ] && [ "$e" -ge "$prev" ]; then ok; else
                bad "$name: $how: latest.safetensors unreadable or went back (epoch '$e' after $prev): $("$BIN" info "$dir/latest.safetensors" 2>&1 | head -2)"
                return
            fi
            echo "  $name round $round: $how -> latest epoch $e"
            prev=$e
        else
            [ "$prev" = 0 ] && ok || bad "$name: $how: latest.safetensors vanished after epoch $prev"
            echo "  $name round $round: $how -> no state yet"
        fi
    done
    # finished: the uninterrupted run's results, exactly
    [ "$prev" = "$epochs" ] && ok || bad "$name: ended at epoch $prev of $epochs"
    [ "$(temp_files "$dir")" = 0 ] && ok || bad "$name: temporary files left: $(ls "$dir")"
    [ "$(ls "$dir" | grep -c '^epoch_.*_psnr.*_ssim.*\.safetensors$')" = 1 ] && ok || bad "$name: want 1 best checkpoint: $(ls "$dir")"
    "$BIN" "${args[@]/#$dir/$dir.ref}" >"$T/out" 2>"$T/err" && ok || bad "$name: uninterrupted run failed: $(tail -3 "$T/err")"
    if cmp -s <(cut -d, -f1-15 "$dir/log.csv") <(cut -d, -f1-15 "$dir.ref/log.csv"); then ok; else
        bad "$name: log.csv differs from an uninterrupted run: $(cat "$dir/log.csv") /// $(cat "$dir.ref/log.csv")"; fi
    cmp -s "$dir/final.safetensors" "$dir.ref/final.safetensors" && ok || bad "$name: final model differs from an uninterrupted run"
    cmp -s "$dir/latest.safetensors" "$dir.ref/latest.safetensors" && ok || bad "$name: final state differs from an uninterrupted run"
}

# a teacher, then a student from two teachers
crash_run teacher "$T/th" $TE_EPOCHS train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json"
expect 0 "$BIN" train-teacher --train "$T/tr/rain.json" --valid "$T/va/rain.json" --save-dir "$T/tr_" --epochs 1 "${TINY[@]}" --warmup-epochs 0
TE=("$T/th/final.safetensors" "$T/tr_/final.safetensors")
crash_run student "$T/st" $ST_EPOCHS train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --no-contrastive --kc-epochs $((ST_EPOCHS / 2))
echo "$kills kills ($in_write inside a file write, $timed at random moments), $resumes resumed runs"
[ "$in_write" -ge 3 ] && ok || bad "only $in_write kills landed inside a write"

# --nonfinite: a NaN in the summed gradient of epoch 2, step 1
TT=(train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json" "${TINY[@]}")
expect 0 "$BIN" "${TT[@]}" --epochs 3 --save-dir "$T/n0" --stop-after 1
expect 1 env AC_FAULT_NAN_GRAD=2:1 "$BIN" "${TT[@]}" --epochs 3 --save-dir "$T/n1"
grep -q "epoch 2, step 1 (batch [0-9]*): non-finite gradient of 'student\.[^']*'; stopped, the last good state is .*latest.safetensors (epoch 1)" "$T/err" && ok || bad "stop message: $(cat "$T/err")"
cmp -s "$T/n0/latest.safetensors" "$T/n1/latest.safetensors" && ok || bad "stop: latest is not the state after epoch 1"
[ ! -e "$T/n1/final.safetensors" ] && ok || bad "stop: a final model was written"
expect 0 "$BIN" "${TT[@]}" --epochs 3 --save-dir "$T/n1" --resume  # and the run can go on
expect 0 env AC_FAULT_NAN_GRAD=2:1 "$BIN" "${TT[@]}" --epochs 3 --save-dir "$T/n2" --nonfinite skip
grep -q "^allclear: warning: epoch 2, step 1 (batch [0-9]*): non-finite gradient of .*; the step's update is skipped (1 in a row, at most 10)" "$T/err" && ok || bad "skip warning: $(cat "$T/err")"
grep -q '^epoch 2 teacher: 1 steps (1 non-finite step skipped), ' "$T/out" && ok || bad "skip epoch line: $(cat "$T/out")"
[ "$(awk -F, '$1 == 2 {print $4 "/" $15}' "$T/n2/log.csv")" = 1/1 ] && ok || bad "skip: log.csv: $(cat "$T/n2/log.csv")"
[ "$("$BIN" info "$T/n2/latest.safetensors" | awk '$1 == "adam_step" {print $3}')" = 5 ] && ok || bad "skip: Adam took the skipped step"
# 10 skipped steps in a row (every step of epochs 1-5) stop the run
AC_FAULT_NAN_GRAD=1:1,1:2,2:1,2:2,3:1,3:2,4:1,4:2,5:1,5:2 "$BIN" "${TT[@]}" --epochs 6 --save-dir "$T/n3" --nonfinite skip >"$T/out" 2>"$T/err"
[ $? = 1 ] && [ "$(grep -vc '^allclear: warning: ' "$T/err")" = 1 ] && ok || bad "skip limit: want exit 1 after 9 warnings: $(cat "$T/err")"
grep -q "epoch 5, step 2 .*; 10 steps in a row were non-finite (--nonfinite skip stops after 10); stopped, the last good state is .* (epoch 4)" "$T/err" && ok || bad "skip limit message: $(cat "$T/err")"
expect 2 "$BIN" "${TT[@]}" --epochs 3 --save-dir "$T/n4" --nonfinite maybe
grep -q -- "--nonfinite expects 'stop' or 'skip'" "$T/err" && ok || bad "bad mode message: $(cat "$T/err")"
"$BIN" train --help | grep -q -- '--nonfinite' && ok || bad "train --help lacks --nonfinite"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
