#!/usr/bin/env bash
# cli_train.sh: `allclear train-teacher`, `allclear train` and `allclear eval` on tiny data made
# with `allclear synth`: teachers and a student train and leave their files; a run stopped
# after epoch 1 and resumed writes the same losses as an uninterrupted one; --kc-epochs 0 runs
# knowledge examination alone; inconsistent setups are refused with one line and exit 2; eval
# prints a per-type table whose numbers agree with `allclear metrics` on the same images.
set -u
BIN="$1"
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive

expect() {
    local want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" != "$want" ]; then bad "exit $rc (want $want): $*: $(tail -3 "$T/err")"; return 1; fi
    if [ "$want" != 0 ] && { [ "$(wc -l <"$T/err")" != 1 ] || ! grep -q '^allclear: ' "$T/err"; }; then
        bad "error is not one 'allclear: ...' line: $*: $(cat "$T/err")"; return 1
    fi
    ok
}

# data: 64x64 photos, 4 training and 2 validation pairs per weather type
G=tests/golden
for w in haze rain; do
    expect 0 "$BIN" synth --weather $w --seed 1 --count 2 -o "$T/tr" $G/metrics_a_gt.png $G/metrics_b_gt.png
    expect 0 "$BIN" synth --weather $w --seed 2 -o "$T/va" $G/metrics_a_gt.png $G/metrics_b_gt.png
done
TINY=(--width 4 --res-blocks 1 --batch-size 2 --crop 32 --warmup-epochs 1 --val-freq 1 --top-k 1 --data-threads 1)

# teachers
expect 0 "$BIN" train-teacher --train "$T/tr/haze.json" --valid "$T/va/haze.json" --save-dir "$T/th" --epochs 2 "${TINY[@]}"
grep -q '^epoch 2 teacher: 2 steps, ' "$T/out" && ok || bad "teacher: no epoch line: $(cat "$T/out")"
expect 0 "$BIN" train-teacher --train "$T/tr/rain.json" --valid "$T/va" --save-dir "$T/tr_" --epochs 1 "${TINY[@]}" --warmup-epochs 0
for f in final.safetensors latest.safetensors log.csv args.json; do [ -s "$T/th/$f" ] && ok || bad "teacher: no $f"; done
[ "$(ls "$T/th" | grep -c '^epoch_.*_psnr.*_ssim.*\.safetensors$')" = 1 ] && ok || bad "teacher: want 1 best checkpoint: $(ls "$T/th")"
ls "$T/th" | grep -q '^events\.out\.tfevents\.' && ok || bad "teacher: no TensorBoard events"
TE=("$T/th/final.safetensors" "$T/tr_/final.safetensors")

# student: straight, and stopped after epoch 1 + resumed
expect 0 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/s1" --epochs 2 --no-contrastive "${TINY[@]}"
grep -q '^epoch 1 KC: ' "$T/out" && grep -q '^epoch 2 KE: ' "$T/out" && ok || bad "student: epoch lines: $(cat "$T/out")"
expect 0 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/s2" --epochs 2 --no-contrastive "${TINY[@]}" --stop-after 1
[ ! -e "$T/s2/final.safetensors" ] && ok || bad "a stopped run wrote final.safetensors"
expect 0 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/s2" --epochs 2 --no-contrastive "${TINY[@]}" --resume
grep -q 'resumed from .* after epoch 1' "$T/out" && ok || bad "no resume note: $(cat "$T/out")"
if cmp -s <(cut -d, -f1-14 "$T/s1/log.csv") <(cut -d, -f1-14 "$T/s2/log.csv"); then ok; else
    bad "resumed log differs: $(cat "$T/s1/log.csv") /// $(cat "$T/s2/log.csv")"; fi
[ "$(wc -l <"$T/s1/log.csv")" = 3 ] && ok || bad "log.csv: $(cat "$T/s1/log.csv")"
cmp -s "$T/s1/final.safetensors" "$T/s2/final.safetensors" && ok || bad "resumed final model differs"
# the training state restores like the network file (one loader for every model file)
IMG=$(find "$T/va" -name '*.png' | head -n 1)
expect 0 "$BIN" restore -m "$T/s1/final.safetensors" -o "$T/rf" "$IMG"
expect 0 "$BIN" restore -m "$T/s1/latest.safetensors" -o "$T/rl" "$IMG"
cmp -s "$T/rf/$(basename "${IMG%.*}").png" "$T/rl/$(basename "${IMG%.*}").png" && ok || bad "restore from latest.safetensors differs from final.safetensors"
# --kc-epochs 0: knowledge examination alone from the first epoch (the ablation without KC);
# --kc-epochs = --epochs: collation alone
expect 0 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/s3" --epochs 2 --kc-epochs 0 --no-contrastive "${TINY[@]}"
grep -q 'epochs 1-2 knowledge examination only' "$T/out" && grep -q '^epoch 1 KE: ' "$T/out" && grep -q '^epoch 2 KE: ' "$T/out" &&
    ! grep -q ' KC: ' "$T/out" && ok || bad "--kc-epochs 0: $(cat "$T/out")"
[ "$(cut -d, -f2 "$T/s3/log.csv" | tr '\n' ' ')" = "stage KE KE " ] && ok || bad "--kc-epochs 0 log: $(cat "$T/s3/log.csv")"
grep -q '"kc_epochs":[[:space:]]*"0"' "$T/s3/args.json" && ok || bad "--kc-epochs 0 args: $(cat "$T/s3/args.json")"
expect 0 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/s4" --epochs 1 --kc-epochs 1 --no-contrastive "${TINY[@]}" --warmup-epochs 0
grep -q 'epochs 1-1 knowledge collation only' "$T/out" && grep -q '^epoch 1 KC: ' "$T/out" && ok || bad "--kc-epochs = --epochs: $(cat "$T/out")"
expect 2 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" --epochs 2 --kc-epochs 3 --no-contrastive "${TINY[@]}"
grep -q -- '--kc-epochs (3) is more than --epochs (2)' "$T/err" && ok || bad "--kc-epochs > --epochs: $(cat "$T/err")"
# an existing state is not overwritten without --resume
expect 2 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/s1" --no-contrastive "${TINY[@]}" --epochs 2

# refusals before the first step: exit 2, one line, no folder
expect 2 "$BIN" train --teachers "${TE[0]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" --no-contrastive "${TINY[@]}" --epochs 2
grep -q '1 teachers given but .* holds 2 weather types (haze, rain)' "$T/err" && ok || bad "count message: $(cat "$T/err")"
expect 2 "$BIN" train --teachers "${TE[0]}" "$T/none.pth" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" --no-contrastive "${TINY[@]}" --epochs 2
grep -q 'none.pth' "$T/err" && ok || bad "missing teacher message: $(cat "$T/err")"
expect 2 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" --no-contrastive "${TINY[@]}" --epochs 2 --width 8
grep -q 'teacher width 4 differs' "$T/err" && ok || bad "width message: $(cat "$T/err")"
expect 2 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" --no-contrastive "${TINY[@]}" --epochs 2 --crop 40
expect 2 env TORCH_HOME="$T/torch" "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" "${TINY[@]}" --epochs 2
grep -q "put torchvision's vgg19-dcbb9e9d.pth at $T/torch/hub/checkpoints/vgg19-dcbb9e9d.pth" "$T/err" && ok || bad "vgg message: $(cat "$T/err")"
expect 2 "$BIN" train --teachers "${TE[@]}" --train "$T/tr" --valid "$T/va" --save-dir "$T/x" --epochs 2 --bogus
expect 2 "$BIN" train-teacher --train "$T/tr" --valid "$T/va" --save-dir "$T/x" "${TINY[@]}"
[ ! -e "$T/x" ] && ok || bad "a refused run left $T/x"

# eval: a table per type; its numbers agree with `allclear metrics` on the same images
expect 0 "$BIN" eval -m "$T/s1/final.safetensors" --valid "$T/va" -o "$T/pred"
grep -qE '^haze +2 ' "$T/out" && grep -qE '^rain +2 ' "$T/out" && grep -qE '^all +4 ' "$T/out" && ok || bad "eval table: $(cat "$T/out")"
model_psnr=$(awk '$1 == "all" {print $3}' "$T/out")
expect 0 "$BIN" eval --pred-dir "$T/pred" --valid "$T/va"
dir_psnr=$(awk '$1 == "all" {print $3}' "$T/out"); dir_ssim=$(awk '$1 == "all" {print $4}' "$T/out")
sum_p=0; sum_s=0; n=0
for w in haze rain; do
    for f in "$T/pred/$w"/*.png; do
        stem=$(basename "$f" .png)
        gt=$(grep -o "\[\"[^\"]*\",\"[^\"]*/$stem.png\"\]" "$T/va/$w.json" | sed 's/^\["\([^"]*\)".*/\1/')
        "$BIN" metrics "$f" "$gt" >"$T/m" || bad "metrics $f $gt"
        sum_p=$(awk -v s="$sum_p" '$1 == "PSNR" {print s + $2}' "$T/m"); sum_s=$(awk -v s="$sum_s" '$1 == "SSIM" {print s + $2}' "$T/m")
        n=$((n + 1))
    done
done
[ "$n" = 4 ] && ok || bad "eval -o wrote $n images, want 4"
awk -v a="$sum_p" -v b="$dir_psnr" -v n="$n" 'BEGIN {d = a / n - b; exit !(d < 2e-4 && d > -2e-4)}' && ok || bad "eval --pred-dir PSNR $dir_psnr, mean of metrics $sum_p/$n"
awk -v a="$sum_s" -v b="$dir_ssim" -v n="$n" 'BEGIN {d = a / n - b; exit !(d < 2e-6 && d > -2e-6)}' && ok || bad "eval --pred-dir SSIM $dir_ssim, mean of metrics $sum_s/$n"
# the saved 8-bit images are the model's restorations: the same PSNR up to rounding
awk -v a="$model_psnr" -v b="$dir_psnr" 'BEGIN {d = a - b; exit !(d < 0.05 && d > -0.05)}' && ok || bad "eval -m PSNR $model_psnr vs its saved images $dir_psnr"
expect 0 "$BIN" eval -m "$T/s1/final.safetensors" --valid "$T/va/haze.json" --y --official-resize
grep -qE '^all +2 ' "$T/out" && grep -q 'PSNR(Y)' "$T/out" && ok || bad "eval --y: $(cat "$T/out")"
expect 0 "$BIN" eval -m "$T/s1/latest.safetensors" --valid "$T/va"
expect 2 "$BIN" eval -m "$T/none.safetensors" --valid "$T/va"
expect 2 "$BIN" eval -m "$T/s1/final.safetensors"
expect 2 "$BIN" eval -m "$T/s1/final.safetensors" --valid "$T/va" --pad --official-resize

for c in train train-teacher eval; do expect 0 "$BIN" $c --help; done

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
