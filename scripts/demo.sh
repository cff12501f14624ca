#!/usr/bin/env bash
# demo.sh: the main job on the bundled default. Installs what is missing, builds, puts
# synthetic haze, rain and snow on the held-out sample photos (never used in training),
# restores them with the bundled model (models/allclear-demo.safetensors), and writes
#   out/demo/sheet.png    rows of degraded | restored | clean
#   out/demo/metrics.txt  PSNR/SSIM per weather: the degraded inputs, then the restored images
# Usage: scripts/demo.sh [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/allclear-demo.safetensors}
bash scripts/build.sh
BIN=build/allclear
OUT=out/demo
rm -rf "$OUT"
mkdir -p "$OUT"

source scripts/weather-data.sh
ac_synth_heldout "$OUT/data" 7 1 >/dev/null

{
  echo "== degraded inputs against the clean photos"
  "$BIN" eval --valid "$OUT/data" --pred-dir "$OUT/data"
  echo
  echo "== restored by $MODEL"
  "$BIN" eval -m "$MODEL" --valid "$OUT/data" -o "$OUT/restored"
} | tee "$OUT/metrics.txt"

tiles=()
for w in haze rain snow; do
  for clean in data/samples/heldout/*; do
    name=$(basename "${clean%.*}")
    tiles+=("$OUT/data/$w/${name}_0.png" "$OUT/restored/$w/${name}_0.png" "$clean")
  done
done
"$BIN" sheet -o "$OUT/sheet.png" --cols 3 --tile 224 "${tiles[@]}"
echo
echo "contact sheet (degraded | restored | clean): $OUT/sheet.png"
echo "metrics: $OUT/metrics.txt"
