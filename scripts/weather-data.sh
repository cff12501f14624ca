# weather-data.sh: the data preparation shared by train-demo.sh, demo.sh and experiment.sh
# (sourced, not run). Synthetic haze, rain and snow on the sample photos with `allclear synth`:
# training pairs and validation draws from data/samples/train, test pairs from
# data/samples/heldout (photos that no training ever sees). Needs $BIN (the allclear program)
# and the repository root as the working directory.

AC_WEATHERS=(haze rain snow)

# ac_synth_train DIR COUNT [TRAIN_SEED VALID_SEED VALID_COUNT]: COUNT degraded versions of
# each training photo per weather into DIR/train (meta files DIR/train/<weather>.json) and
# VALID_COUNT other draws of the same photos into DIR/valid. Skipped when already there.
ac_synth_train() {
  local dir=$1 count=$2 tseed=${3:-11} vseed=${4:-12} vcount=${5:-2} w
  [ -f "$dir/train/snow.json" ] && [ -f "$dir/valid/snow.json" ] && return 0
  for w in "${AC_WEATHERS[@]}"; do
    "$BIN" synth --weather "$w" --seed "$tseed" --count "$count" -o "$dir/train" data/samples/train
    "$BIN" synth --weather "$w" --seed "$vseed" --count "$vcount" -o "$dir/valid" data/samples/train
  done
}

# ac_synth_heldout DIR [SEED COUNT]: COUNT draws of each held-out photo per weather into DIR
# (meta files DIR/<weather>.json).
ac_synth_heldout() {
  local dir=$1 seed=${2:-7} count=${3:-1} w
  for w in "${AC_WEATHERS[@]}"; do
    "$BIN" synth --weather "$w" --seed "$seed" --count "$count" -o "$dir" data/samples/heldout
  done
}
