#!/usr/bin/env bash
# train-demo.sh: the recipe of the bundled model models/allclear-demo.safetensors.
# Synthesises haze, rain and snow on the training photos (data/samples/train), trains one
# teacher per weather (L1), then the student by two-stage knowledge learning (knowledge
# collation, then knowledge examination), all with allclear itself, on the CPU.
# Usage: scripts/train-demo.sh [WORKDIR]   (default out/demo-train; run from anywhere)
# Settings are below; with 2 cores the whole recipe takes about half an hour.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ALLCLEAR:-build/allclear}
WORK=${1:-out/demo-train}
WIDTH=8 RES_BLOCKS=2 CROP=64 BATCH=8 LR=1e-3 SEED=19870522
TEACHER_EPOCHS=${TEACHER_EPOCHS:-24} STUDENT_EPOCHS=${STUDENT_EPOCHS:-24}
[ -x "$BIN" ] || bash scripts/build.sh

mkdir -p "$WORK"
data="$WORK/data"
# 24 degraded versions of each of the 4 training photos per weather: 96 pairs each (seed 11).
# Validation uses 2 other draws (seed 12) on the same photos: the held-out photos stay unseen.
source scripts/weather-data.sh
ac_synth_train "$data" 24 11 12 2

common=(--width $WIDTH --res-blocks $RES_BLOCKS --crop $CROP --batch-size $BATCH --lr $LR
        --warmup-epochs 2 --seed $SEED --valid-pad)
teachers=()
for w in haze rain snow; do   # the order of the meta files in $data/train (sorted by name)
  dir="$WORK/teacher-$w"
  if [ ! -f "$dir/final.safetensors" ]; then
    resume=(); [ -f "$dir/latest.safetensors" ] && resume=(--resume)
    "$BIN" train-teacher --train "$data/train/$w.json" --valid "$data/valid/$w.json" \
      --save-dir "$dir" --epochs "$TEACHER_EPOCHS" --val-freq "$TEACHER_EPOCHS" "${common[@]}" "${resume[@]}"
  fi
  teachers+=("$dir/final.safetensors")
done

dir="$WORK/student"
if [ ! -f "$dir/final.safetensors" ]; then
  resume=(); [ -f "$dir/latest.safetensors" ] && resume=(--resume)
  # No ImageNet VGG19 can be downloaded here: the contrastive terms use seeded random VGG19
  # features (--vgg random), which the logs state.
  "$BIN" train --teachers "${teachers[@]}" --train "$data/train" --valid "$data/valid" \
    --save-dir "$dir" --epochs "$STUDENT_EPOCHS" --val-freq "$STUDENT_EPOCHS" --vgg random \
    --balanced "${common[@]}" "${resume[@]}"
fi
mkdir -p models
"$BIN" convert "$dir/final.safetensors" models/allclear-demo.safetensors 2>/dev/null ||
  cp "$dir/final.safetensors" models/allclear-demo.safetensors
echo "bundled model: models/allclear-demo.safetensors"
