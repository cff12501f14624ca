#!/usr/bin/env bash
# experiment.sh: the paper's central claim at CPU scale (opt-in: neither CI nor the tests run
# it). On held-out photos with synthetic haze, rain and snow it measures PSNR/SSIM per weather
# of: the degraded input; each teacher on its own weather; the two-stage student (knowledge
# collation, then knowledge examination); a network of the same size trained with plain L1 on
# the mixed data of all three weathers for the same number of steps; and the student without
# knowledge collation (knowledge examination alone, same number of steps). Everything is
# trained here from data/samples/train with allclear itself; data/samples/heldout is used
# only for the final evaluation.
# Writes OUTDIR/results.md (the table and the exact settings), OUTDIR/eval/*.txt (the raw
# `allclear eval` tables) and the trained models and logs under OUTDIR. A stage whose
# final.safetensors exists is skipped, an interrupted one resumed, so a rerun continues.
#
# Usage: scripts/experiment.sh [options]
#   -o DIR              output folder (default out/experiment)
#   --width B           network width (default 8)
#   --res-blocks N      residual blocks of the bottleneck (default 2)
#   --crop S            training crop, a multiple of 16 (default 64)
#   --batch N           batch size (default 8)
#   --count K           synthetic versions of each of the 4 training photos per weather (default 12)
#   --epochs E          student epochs, a multiple of 3 (default 30); an epoch is 4K/N steps
#   --kc-epochs E       knowledge-collation epochs of the student (default E/2)
#   --teacher-epochs E  epochs of each teacher (default: as the student)
#   --test-count K      synthetic versions of each held-out photo per weather (default 4)
#   --lr LR             learning rate per 16 images (default 1e-3)
#   --seed N            training seed (default 19870522); the data seeds are fixed (11, 12, 7)
#   --vgg PATH|random   VGG19 weights for the contrastive terms (default: torchvision's cached
#                       file when present, else seeded random weights)
#   --threads N         compute threads (default: all cores)
# Cost with the defaults: 22 to 29 minutes on 2 busy cores (docs/experiment.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ALLCLEAR:-build/allclear}
OUT=out/experiment WIDTH=8 RES_BLOCKS=2 CROP=64 BATCH=8 COUNT=12 EPOCHS=30 KC_EPOCHS=
TEACHER_EPOCHS= TEST_COUNT=4 LR=1e-3 SEED=19870522 VGG= THREADS=
usage() { sed -n '/^# Usage/,/^# Cost/p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    -o) OUT=$2 ;; --width) WIDTH=$2 ;; --res-blocks) RES_BLOCKS=$2 ;; --crop) CROP=$2 ;;
    --batch) BATCH=$2 ;; --count) COUNT=$2 ;; --epochs) EPOCHS=$2 ;; --kc-epochs) KC_EPOCHS=$2 ;;
    --teacher-epochs) TEACHER_EPOCHS=$2 ;; --test-count) TEST_COUNT=$2 ;; --lr) LR=$2 ;;
    --seed) SEED=$2 ;; --vgg) VGG=$2 ;; --threads) THREADS=$2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "experiment.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  [ $# -ge 2 ] || { echo "experiment.sh: $1 needs a value" >&2; exit 2; }
  shift 2
done
KC_EPOCHS=${KC_EPOCHS:-$((EPOCHS / 2))}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-$EPOCHS}
[ -x "$BIN" ] || bash scripts/build.sh

# Equal steps: the student's epoch is min(pairs of a weather) samples, the mixed baseline's
# is all 3 weathers' pairs, so the baseline runs a third of the epochs (3x longer each). The
# learning rate is set per epoch, so no warm-up (the first epoch is at the base rate): the
# cosine of every run then spans the same steps, the baseline's in steps of 3 epochs.
pairs=$((4 * COUNT))
steps_per_epoch=$((pairs / BATCH))
if [ $((EPOCHS % 3)) != 0 ] || [ "$EPOCHS" -lt 6 ] || [ $((pairs % BATCH)) != 0 ]; then
  echo "experiment.sh: --epochs must be a multiple of 3 and at least 6, and 4 x --count a multiple of --batch" >&2
  exit 2
fi
MIXED_EPOCHS=$((EPOCHS / 3))
student_steps=$((EPOCHS * steps_per_epoch))
mixed_steps=$((MIXED_EPOCHS * 3 * pairs / BATCH))
[ "$student_steps" = "$mixed_steps" ] || { echo "experiment.sh: internal: unequal steps" >&2; exit 1; }

if [ -z "$VGG" ]; then
  cached=${TORCH_HOME:-$HOME/.cache/torch}/hub/checkpoints/vgg19-dcbb9e9d.pth
  if [ -f "$cached" ]; then VGG=$cached; else VGG=random; fi
fi

source scripts/weather-data.sh
mkdir -p "$OUT/eval"
data=$OUT/data
log=$OUT/experiment.log
start=$(date +%s)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
declare -A took
stage() {  # stage NAME DIR COMMAND...: runs a training command unless DIR/final exists
  local name=$1 dir=$2; shift 2
  if [ -f "$dir/final.safetensors" ]; then echo "== $name: done before, skipped" | tee -a "$log"; return; fi
  local resume=() t0; t0=$(date +%s)
  [ -f "$dir/latest.safetensors" ] && resume=(--resume)
  echo "== $name: $*" | tee -a "$log"
  "$@" "${resume[@]}" >>"$log" 2>&1 || { echo "experiment.sh: $name failed: see $log" >&2; exit 1; }
  took[$name]=$(( $(date +%s) - t0 ))
  echo "   $name: ${took[$name]} s" | tee -a "$log"
}

echo "== data" | tee -a "$log"
ac_synth_train "$data" "$COUNT" 11 12 1 >>"$log"
ac_synth_heldout "$data/test" 7 "$TEST_COUNT" >>"$log"
# the mixed data: one meta file holding every weather's pairs
mkdir -p "$data/mixed"
{ printf '['; sep=
  for w in "${AC_WEATHERS[@]}"; do
    body=$(tr -d '\n' <"$data/train/$w.json" | sed 's/^[[:space:]]*\[//; s/\][[:space:]]*$//')
    printf '%s%s' "$sep" "$body"; sep=,
  done; printf ']\n'; } >"$data/mixed/mixed.json"

threads=(); [ -n "$THREADS" ] && threads=(--threads "$THREADS")
common=(--width "$WIDTH" --res-blocks "$RES_BLOCKS" --crop "$CROP" --batch-size "$BATCH" --lr "$LR"
        --seed "$SEED" --warmup-epochs 0 --valid-pad --top-k 0 --data-threads 1 "${threads[@]}")
teachers=()
for w in "${AC_WEATHERS[@]}"; do
  stage "teacher-$w" "$OUT/teacher-$w" "$BIN" train-teacher --train "$data/train/$w.json" --valid "$data/valid/$w.json" \
    --save-dir "$OUT/teacher-$w" --epochs "$TEACHER_EPOCHS" --val-freq "$TEACHER_EPOCHS" "${common[@]}"
  teachers+=("$OUT/teacher-$w/final.safetensors")
done
student=(--teachers "${teachers[@]}" --train "$data/train" --valid "$data/valid" --epochs "$EPOCHS"
         --val-freq "$EPOCHS" --vgg "$VGG" --balanced "${common[@]}")
stage student "$OUT/student" "$BIN" train "${student[@]}" --save-dir "$OUT/student" --kc-epochs "$KC_EPOCHS"
stage mixed "$OUT/mixed" "$BIN" train-teacher --train "$data/mixed/mixed.json" --valid "$data/valid" \
  --save-dir "$OUT/mixed" --epochs "$MIXED_EPOCHS" --val-freq "$MIXED_EPOCHS" "${common[@]}"
stage ke-only "$OUT/ke-only" "$BIN" train "${student[@]}" --save-dir "$OUT/ke-only" --kc-epochs 0

echo "== evaluation on the held-out photos" | tee -a "$log"
"$BIN" eval --valid "$data/test" --pred-dir "$data/test" >"$OUT/eval/input.txt"
for w in "${AC_WEATHERS[@]}"; do
  "$BIN" eval -m "$OUT/teacher-$w/final.safetensors" --valid "$data/test/$w.json" "${threads[@]}" >"$OUT/eval/teacher-$w.txt"
done
for m in student mixed ke-only; do
  "$BIN" eval -m "$OUT/$m/final.safetensors" --valid "$data/test" "${threads[@]}" >"$OUT/eval/$m.txt"
done
wall=$(( $(date +%s) - start ))

# row LABEL FILE...: "| LABEL | haze | rain | snow | all |" from eval tables (PSNR / SSIM)
# (own: files of single weathers; "all" is then the mean over their images)
row() {
  local label=$1 own=0; shift
  [ "$1" = own ] && { own=1; shift; }
  cat "$@" | awk -v label="$label" -v own=$own '
    $1 ~ /^(haze|rain|snow|all)$/ && NF >= 4 && !(own && $1 == "all") { p[$1] = $3; s[$1] = $4; n[$1] = $2 }
    END {
      if (own) {
        tp = 0; ts = 0; tn = 0
        for (k in p) { tp += p[k] * n[k]; ts += s[k] * n[k]; tn += n[k] }
        p["all"] = tp / tn; s["all"] = ts / tn
      }
      printf "| %s |", label
      split("haze rain snow all", ks, " ")
      for (i = 1; i <= 4; i++) printf " %.2f / %.3f |", p[ks[i]], s[ks[i]]
      printf "\n"
    }'
}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
{
  echo "# allclear: the paper's claim at CPU scale"
  echo
  echo "Held-out photos (data/samples/heldout, never trained on), $TEST_COUNT synthetic draws each per"
  echo "weather (seed 7): PSNR (dB) / SSIM, mean over images, restored at the original size."
  echo
  echo "| network | haze | rain | snow | all |"
  echo "|---|---|---|---|---|"
  row "degraded input" "$OUT/eval/input.txt"
  row "teachers, each on its own weather" own "$OUT/eval"/teacher-*.txt
  row "student: KC then KE (two-stage)" "$OUT/eval/student.txt"
  row "mixed baseline: plain L1 on all weathers" "$OUT/eval/mixed.txt"
  row "student without KC (KE only)" "$OUT/eval/ke-only.txt"
  echo
  echo "## Settings"
  echo
  echo "- command: \`scripts/experiment.sh -o $OUT --width $WIDTH --res-blocks $RES_BLOCKS --crop $CROP --batch $BATCH --count $COUNT --epochs $EPOCHS --kc-epochs $KC_EPOCHS --teacher-epochs $TEACHER_EPOCHS --test-count $TEST_COUNT --lr $LR --seed $SEED --vgg $VGG${THREADS:+ --threads $THREADS}\`"
  echo "- network: MSBDN-RDFF width $WIDTH, $RES_BLOCKS residual blocks (the same for every network)"
  echo "- data: 4 training photos x $COUNT synthetic draws (seed 11) = $pairs pairs per weather; validation 1 other draw (seed 12); test: 2 held-out photos x $TEST_COUNT draws (seed 7) per weather"
  echo "- optimiser: Adam, base lr $LR x $BATCH/16, batch $BATCH, crop $CROP, cosine per epoch from the base rate to 1e-6 (no warm-up), seed $SEED"
  echo "- teachers: $TEACHER_EPOCHS epochs x $steps_per_epoch steps, L1"
  echo "- student: $EPOCHS epochs x $steps_per_epoch steps = $student_steps steps: $KC_EPOCHS epochs KC (T + PFE + 0.05 PFV + 0.1 SCR), $((EPOCHS - KC_EPOCHS)) epochs KE (L1 + 0.2 HCR), --balanced"
  echo "- mixed baseline: train-teacher on all $((3 * pairs)) pairs, $MIXED_EPOCHS epochs x $((3 * steps_per_epoch)) steps = $mixed_steps steps, L1 (its learning rate changes every 3 student epochs)"
  echo "- KE only: the student's command with --kc-epochs 0: $student_steps steps of L1 + 0.2 HCR"
  echo "- VGG19 for SCR/HCR: $VGG"
  echo "- evaluated: each run's final.safetensors (the last epoch; no checkpoint selection)"
  echo
  echo "## Machine and cost"
  echo
  echo "- $(uname -sm), ${cpu:-unknown CPU}, $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- allclear: $("$BIN" version 2>/dev/null | head -1), commit $commit at the start"
  for k in teacher-haze teacher-rain teacher-snow student mixed ke-only; do
    [ -n "${took[$k]:-}" ] && echo "- $k: ${took[$k]} s"
  done
  echo "- wall time of this invocation (including evaluation): $wall s"
} >"$OUT/results.md"
cat "$OUT/results.md"
