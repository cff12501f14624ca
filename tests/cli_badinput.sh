#!/usr/bin/env bash
# cli_badinput.sh: the bad-input matrix of every command of the CLI contract (cli.md): missing
# file, folder instead of file, empty file, truncated or non-image, model files with a tensor
# of the wrong shape or dtype or a missing one, a teacher count that does not match the meta
# files, an output location that cannot be written, and option values out of range or not
# numbers. Each row runs one command and checks: the exit status; stderr is exactly one line
# 'allclear: ...' matching the row's pattern (no stack of messages, no sanitizer report);
# stdout is empty; and nothing under the test's folder was created, changed or left behind
# (no output, no temporary file, no folder).
set -u
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
. "$(dirname "$0")/common_cli.sh"
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
G="$(pwd)/tests/golden"
I="$T/in"    # inputs, made once below
O="$T/out"   # where the rows would write (never should)
mkdir -p "$I" "$O" "$T/cwd" "$T/r"

fixture() { "$@" >"$T/fx.out" 2>&1 || { echo "FAIL: fixture: $*: $(cat "$T/fx.out")" >&2; exit 1; }; }

# Images.
: >"$I/empty.png"
cp "$G/image/truncated.png" "$I/trunc.png"
cp "$G/image/truncated.jpg" "$I/trunc.jpg"
cp "$G/image/text.png" "$I/text.png"
echo "not an image at all" >"$I/notes.txt"
cp "$G/metrics_a_gt.png" "$I/a.png"          # 64x64
cp "$G/image/rgb8.png" "$I/small.png"        # 24x20
mkdir "$I/dir" "$I/folder.png" "$I/folder.safetensors" "$I/folder.json"
echo "a regular file" >"$I/file"             # a parent that is a file: nothing can go under it

# Model files: the golden width-8 network as safetensors, and copies with one header entry
# changed in place (same length, so the data stays where it is).
M="$I/m.safetensors"
fixture "$BIN" convert "$G/models/net_b8.pth" "$M"
hlen=$(od -An -tu8 -N8 "$M" | tr -d ' ')
dd if="$M" of="$T/hdr" bs=1 skip=8 count="$hlen" 2>/dev/null
variant() {  # name sed-expression
    { head -c 8 "$M"; sed -e "$2" "$T/hdr" | tr -d '\n'; tail -c +$((9 + hlen)) "$M"; } >"$I/$1.safetensors"
    cmp -s "$I/$1.safetensors" "$M" && { echo "FAIL: fixture $1 unchanged" >&2; exit 1; }
    [ "$(stat -c %s "$I/$1.safetensors")" = "$(stat -c %s "$M")" ] || { echo "FAIL: fixture $1 size" >&2; exit 1; }
}
variant shape 's/"conv_input.conv2d.weight":{"dtype":"F32","shape":\[8,3,11,11\]/"conv_input.conv2d.weight":{"dtype":"F32","shape":[3,8,11,11]/'
variant i32 's/"conv_input.conv2d.bias":{"dtype":"F32"/"conv_input.conv2d.bias":{"dtype":"I32"/'
variant f16 's/"conv_input.conv2d.bias":{"dtype":"F32"/"conv_input.conv2d.bias":{"dtype":"F16"/'
variant missing 's/"conv_input.conv2d.bias":/"conv_input.conv2d.bia_":/'
head -c 20000 "$M" >"$I/trunc.safetensors"
head -c 30000 "$G/models/net_b8.pth" >"$I/trunc.pth"
: >"$I/empty.safetensors"
cp "$I/notes.txt" "$I/notes.pth"
printf '\377\377\377\377\377\377\377\177{}' >"$I/hugeheader.safetensors"

# Meta files: two weather types made by synth; broken ones next to them.
fixture "$BIN" synth --weather haze --seed 1 -o "$I/tr" "$I/a.png"
fixture "$BIN" synth --weather rain --seed 1 -o "$I/tr" "$I/a.png"
fixture "$BIN" synth --weather haze --seed 2 -o "$I/va" "$I/a.png"
: >"$I/empty.json"
echo '[["a.png", ' >"$I/garbage.json"
echo '[]' >"$I/nopairs.json"
echo '{"a": 1}' >"$I/object.json"
echo "[[\"$I/a.png\", \"$I/gone.png\"]]" >"$I/gone.json"
echo "[[\"$I/a.png\", \"$I/trunc.png\"]]" >"$I/truncpair.json"
echo "[[\"$I/a.png\", \"$I/small.png\"]]" >"$I/sizes.json"
mkdir "$I/vmix"   # a good type, then one whose image is corrupt: eval -o fails half-way
cp "$I/va/haze.json" "$I/vmix/a.json"
cp "$I/truncpair.json" "$I/vmix/b.json"
TINY=(--width 8 --res-blocks 2 --batch-size 1 --crop 32 --epochs 1 --warmup-epochs 0 --data-threads 1)
TT=(--train "$I/tr/haze.json" --valid "$I/va/haze.json" --width 8 --res-blocks 2 --batch-size 1 --crop 32 --epochs 1 --warmup-epochs 0 --data-threads 1)
TS=(--teachers "$M" "$M" --train "$I/tr" --valid "$I/va" "${TINY[@]}" --no-contrastive)

# The table: name | exit status | pattern (extended regex on the stderr line) | command line
# (words as in bash; $I, $O, $M, $G and the arrays above are expanded).
ROWS=$(cat <<'EOF'
main.no-command        | 2 | ^allclear: no command given                       | 
main.unknown-command   | 2 | unknown command 'restor'                           | restor -m $M $I/a.png
version.extra-argument | 2 | version: unexpected argument 'extra'              | version extra
version.unknown-option | 2 | version: unknown option '--bogus'                  | version --bogus

metrics.missing        | 2 | /nope.png: cannot open                             | metrics $I/nope.png $I/a.png
metrics.folder         | 2 | /folder.png: .*(folder|directory|regular file)     | metrics $I/folder.png $I/a.png
metrics.empty          | 2 | /empty.png: .*(empty|not a PNG or JPEG)            | metrics $I/empty.png $I/a.png
metrics.truncated-png  | 2 | /trunc.png: .*(truncated|corrupt|PNG)              | metrics $I/a.png $I/trunc.png
metrics.truncated-jpeg | 2 | /trunc.jpg: .*(truncated|corrupt|JPEG)             | metrics $I/trunc.jpg $I/a.png
metrics.not-an-image   | 2 | /text.png: .*not a PNG or JPEG                     | metrics $I/text.png $I/a.png
metrics.sizes          | 2 | /small.png.*/a.png: .*size                         | metrics $I/small.png $I/a.png
metrics.one-image      | 2 | metrics: expected two images                       | metrics $I/a.png
metrics.three-images   | 2 | metrics: expected two images                       | metrics $I/a.png $I/a.png $I/a.png
metrics.unknown-option | 2 | metrics: unknown option '--x'                      | metrics --x $I/a.png $I/a.png

restore.model-missing  | 2 | /nope.safetensors: cannot open                     | restore -m $I/nope.safetensors -o $O/r $I/a.png
restore.model-folder   | 2 | /folder.safetensors: is a folder, not a model file | restore -m $I/folder.safetensors -o $O/r $I/a.png
restore.model-empty    | 2 | /empty.safetensors: .*(empty|too short)            | restore -m $I/empty.safetensors -o $O/r $I/a.png
restore.model-trunc    | 2 | /trunc.safetensors: .*(exceeds|truncated|holds)    | restore -m $I/trunc.safetensors -o $O/r $I/a.png
restore.model-header   | 2 | /hugeheader.safetensors: header length             | restore -m $I/hugeheader.safetensors -o $O/r $I/a.png
restore.model-pth-trunc | 2 | /trunc.pth: .                                      | restore -m $I/trunc.pth -o $O/r $I/a.png
restore.model-not-model | 2 | /notes.pth: .                                      | restore -m $I/notes.pth -o $O/r $I/a.png
restore.model-shape    | 2 | /shape.safetensors: .*tensor 'conv_input.conv2d.weight' has shape \[3,8,11,11\], model expects \[8,3,11,11\] | restore -m $I/shape.safetensors -o $O/r $I/a.png
restore.model-i32      | 2 | /i32.safetensors: .*'conv_input.conv2d.bias'.*dtype I32 | restore -m $I/i32.safetensors -o $O/r $I/a.png
restore.model-f16-size | 2 | /f16.safetensors: .*'conv_input.conv2d.bias'.*span | restore -m $I/f16.safetensors -o $O/r $I/a.png
restore.model-missing-tensor | 2 | /missing.safetensors: .*missing.*'conv_input.conv2d.bias' | restore -m $I/missing.safetensors -o $O/r $I/a.png
restore.input-missing  | 2 | /nope.png: cannot open                             | restore -m $M -o $O/r $I/nope.png
restore.input-empty    | 2 | /empty.png: .*(empty|not a PNG or JPEG)            | restore -m $M -o $O/r $I/empty.png
restore.input-trunc-png | 2 | /trunc.png: .*(truncated|corrupt|PNG)              | restore -m $M -o $O/r $I/trunc.png
restore.input-trunc-jpg | 2 | /trunc.jpg: .*(truncated|corrupt|JPEG)             | restore -m $M -o $O/r $I/trunc.jpg
restore.input-not-image | 2 | /notes.txt: .*not a PNG or JPEG                     | restore -m $M -o $O/r $I/notes.txt
restore.input-no-images | 2 | no (PNG or JPEG )?images                           | restore -q -m $M -o $O/r $I/dir
restore.out-under-file | 2 | restore: .*/file/r: cannot make this folder: .*/file is a file | restore -m $M -o $I/file/r $I/a.png
restore.out-in-proc    | 2 | restore: /proc/allclear-test: cannot write in /proc | restore -m $M -o /proc/allclear-test $I/a.png
restore.no-model       | 2 | restore: a model is required                       | restore -o $O/r $I/a.png
restore.no-input       | 2 | restore: expected                                  | restore -m $M -o $O/r
restore.model-no-value | 2 | restore: --model needs a value                     | restore $I/a.png -m
restore.tile-negative  | 2 | restore: --tile must be between                    | restore -m $M -o $O/r --tile -16 $I/a.png
restore.tile-odd       | 2 | restore: .*tile.*16                                | restore -m $M -o $O/r --tile 40 $I/a.png
restore.tile-garbage   | 2 | restore: --tile expects a number, got 'big'        | restore -m $M -o $O/r --tile big $I/a.png
restore.threads-zero   | 2 | restore: --threads must be between                 | restore -m $M -o $O/r --threads 0 $I/a.png
restore.memory-small   | 2 | restore: --max-memory must be between 64 and 1048576, got 1 | restore -m $M -o $O/r --max-memory 1 $I/a.png
restore.width-garbage  | 2 | restore: --width expects a whole number            | restore -m $M -o $O/r --width 8.5 $I/a.png
restore.overlap-too-big | 2 | restore: tile overlap 64 .* is more than half the tile size 32 | restore -m $M -o $O/r --tile 32 --overlap 64 $I/a.png
restore.entry-safetensors | 2 | /m.safetensors: a safetensors file has no entry 'sd' | restore -m $M --entry sd -o $O/r $I/a.png
restore.unknown-option | 2 | restore: unknown option '--bogus'                  | restore -m $M -o $O/r --bogus $I/a.png
restore.flag-value     | 2 | restore: --quiet takes no value                    | restore -m $M -o $O/r --quiet=1 $I/a.png

convert.missing        | 2 | /nope.pth: cannot open                             | convert $I/nope.pth $O/c.safetensors
convert.folder         | 2 | /folder.safetensors: is a folder, not a model file | convert $I/folder.safetensors $O/c.safetensors
convert.empty          | 2 | /empty.safetensors: .*(empty|too short)            | convert $I/empty.safetensors $O/c.safetensors
convert.truncated-pth  | 2 | /trunc.pth: .                                      | convert $I/trunc.pth $O/c.safetensors
convert.truncated-st   | 2 | /trunc.safetensors: .                              | convert $I/trunc.safetensors $O/c.safetensors
convert.not-a-model    | 2 | /notes.pth: .                                      | convert $I/notes.pth $O/c.safetensors
convert.shape          | 2 | /shape.safetensors: .*tensor 'conv_input.conv2d.weight' has shape \[3,8,11,11\], model expects \[8,3,11,11\] | convert $I/shape.safetensors $O/c.safetensors
convert.i32            | 2 | /i32.safetensors: .*dtype I32                      | convert $I/i32.safetensors $O/c.safetensors
convert.missing-tensor | 2 | /missing.safetensors: .*'conv_input.conv2d.bias'   | convert $I/missing.safetensors $O/c.safetensors
convert.out-extension  | 2 | convert: .*/c.pth: the output must be a .safetensors file | convert $M $O/c.pth
convert.out-under-file | 2 | convert: .*/file/c.safetensors: .*/file is not a folder | convert $M $I/file/c.safetensors
convert.out-no-folder  | 2 | /nodir/c.safetensors: the folder .*/nodir does not exist | convert $M $O/nodir/c.safetensors
convert.out-in-proc    | 2 | convert: /proc/c.safetensors: cannot write in /proc | convert $M /proc/c.safetensors
convert.out-is-folder  | 2 | convert: .*/folder.safetensors: is a folder; give a file name | convert $M $I/folder.safetensors
convert.entry-missing  | 2 | /net_b8.pth: no entry 'nosuch' in the checkpoint   | convert --entry nosuch $G/models/net_b8.pth $O/c.safetensors
convert.one-argument   | 2 | convert: expected                                  | convert $M
convert.width-zero     | 2 | convert: --width must be between                   | convert --width 0 $M $O/c.safetensors
convert.unknown-option | 2 | convert: unknown option '-x'                       | convert -x $M $O/c.safetensors

info.missing           | 2 | /nope.safetensors: cannot open                     | info $I/nope.safetensors
info.folder            | 2 | /folder.safetensors: is a folder, not a model file | info $I/folder.safetensors
info.empty             | 2 | /empty.safetensors: .*(empty|too short)            | info $I/empty.safetensors
info.truncated-st      | 2 | /trunc.safetensors: .                              | info $I/trunc.safetensors
info.truncated-pth     | 2 | /trunc.pth: .                                      | info $I/trunc.pth
info.not-a-model       | 2 | /notes.pth: .                                      | info $I/notes.pth
info.i32               | 2 | /i32.safetensors: .*dtype I32                      | info $I/i32.safetensors
info.f16-size          | 2 | /f16.safetensors: .*span                           | info $I/f16.safetensors
info.entry-safetensors | 2 | /m.safetensors: a safetensors file has no entry 'x' | info --entry x $M
info.no-argument       | 2 | info: expected                                     | info
info.res-blocks-garbage | 2 | info: --res-blocks expects a number, got 'x'       | info --res-blocks x $M

sheet.missing          | 2 | /nope.png: cannot open                             | sheet -o $O/s.png $I/a.png $I/nope.png
sheet.folder           | 2 | /folder.png: .*(folder|directory|regular)          | sheet -o $O/s.png $I/folder.png
sheet.empty            | 2 | /empty.png: .*(empty|not a PNG or JPEG)            | sheet -o $O/s.png $I/empty.png
sheet.truncated-png    | 2 | /trunc.png: .                                      | sheet -o $O/s.png $I/trunc.png
sheet.truncated-jpeg   | 2 | /trunc.jpg: .                                      | sheet -o $O/s.png $I/trunc.jpg
sheet.not-an-image     | 2 | /notes.txt: .*not a PNG or JPEG                    | sheet -o $O/s.png $I/notes.txt
sheet.out-under-file   | 2 | sheet: .*/file/s.png: .*/file is not a folder      | sheet -o $I/file/s.png $I/a.png
sheet.out-in-proc      | 2 | sheet: /proc/s.png: cannot write in /proc         | sheet -o /proc/s.png $I/a.png
sheet.tile-garbage     | 2 | sheet: --tile expects a number, got 'big'          | sheet -o $O/s.png --tile big $I/a.png
sheet.no-out           | 2 | sheet: -o OUT.png is required                      | sheet $I/a.png
sheet.cols-zero        | 2 | sheet: --cols must be between                      | sheet -o $O/s.png --cols 0 $I/a.png
sheet.tile-negative    | 2 | sheet: --tile must be between                      | sheet -o $O/s.png --tile -5 $I/a.png

synth.missing          | 2 | /nope.png: cannot open                             | synth --weather rain -o $O/y $I/nope.png
synth.empty            | 2 | /empty.png: .*(empty|not a PNG or JPEG)            | synth --weather rain -o $O/y $I/empty.png
synth.truncated-png    | 2 | /trunc.png: .                                      | synth --weather rain -o $O/y $I/a.png $I/trunc.png
synth.truncated-jpeg   | 2 | /trunc.jpg: .                                      | synth --weather snow -o $O/y $I/trunc.jpg
synth.not-an-image     | 2 | /notes.txt: .*not a PNG or JPEG                    | synth --weather rain -o $O/y $I/notes.txt
synth.no-photos        | 2 | synth: no PNG or JPEG photos                       | synth --weather rain -o $O/y $I/dir
synth.out-under-file   | 2 | synth: .*/file/y: cannot make this folder: .*/file is a file | synth --weather rain -o $I/file/y $I/a.png
synth.out-in-proc      | 2 | synth: /proc/allclear-test: cannot write in /proc | synth --weather rain -o /proc/allclear-test $I/a.png
synth.depth-missing    | 2 | /dir/a.png: cannot open                            | synth --weather haze --depth-dir $I/dir -o $O/y $I/a.png
synth.depth-not-haze   | 2 | synth: --depth-dir applies to haze only            | synth --weather rain --depth-dir $I/dir -o $O/y $I/a.png
synth.weather-unknown  | 2 | synth: --weather must be haze, rain or snow .got 'fog' | synth --weather fog -o $O/y $I/a.png
synth.no-out           | 2 | synth: an output folder .* is required             | synth --weather rain $I/a.png
synth.count-zero       | 2 | synth: --count expects a whole number from 1 to 10000, got '0' | synth --weather rain --count 0 -o $O/y $I/a.png
synth.count-garbage    | 2 | synth: --count expects a whole number from 1 to 10000, got 'two' | synth --weather rain --count two -o $O/y $I/a.png
synth.seed-negative    | 2 | synth: --seed expects a whole number of 0 or more, got '-1' | synth --weather rain --seed -1 -o $O/y $I/a.png
synth.no-value         | 2 | synth: .*--weather.* needs a value                 | synth $I/a.png --weather
synth.unknown-option   | 2 | synth: unknown option '--bogus'                    | synth --bogus --weather rain -o $O/y $I/a.png

eval.model-missing     | 2 | /nope.safetensors: cannot open                     | eval -m $I/nope.safetensors --valid $I/va
eval.model-shape       | 2 | /shape.safetensors: .*tensor 'conv_input.conv2d.weight' has shape | eval -m $I/shape.safetensors --valid $I/va
eval.model-empty       | 2 | /empty.safetensors: .                              | eval -m $I/empty.safetensors --valid $I/va
eval.valid-missing     | 2 | /nope.json: .*(cannot open|does not exist|No such) | eval -m $M --valid $I/nope.json
eval.valid-no-metas    | 2 | /dir: .*json                                       | eval -m $M --valid $I/dir
eval.valid-empty       | 2 | /empty.json: .                                     | eval -m $M --valid $I/empty.json
eval.valid-garbage     | 2 | /garbage.json: .                                   | eval -m $M --valid $I/garbage.json
eval.valid-no-pairs    | 2 | /nopairs.json: .                                   | eval -m $M --valid $I/nopairs.json
eval.valid-object      | 2 | /object.json: .                                    | eval -m $M --valid $I/object.json
eval.valid-gone-image  | 2 | /gone.json: .*gone.png                             | eval -m $M --valid $I/gone.json
eval.valid-trunc-image | 2 | /trunc.png: .                                      | eval -m $M --valid $I/truncpair.json
eval.valid-sizes       | 2 | /sizes.json: pair 0: the images differ in size .*/small.png is 24x20 | eval -m $M --valid $I/sizes.json
eval.pred-missing      | 2 | /nopred/.*a_0.png: cannot open                     | eval --pred-dir $O/nopred --valid $I/va
eval.out-half-way      | 2 | /trunc.png: corrupt PNG                            | eval -m $M --valid $I/vmix -o $O/e
eval.out-half-way-existing | 2 | /trunc.png: corrupt PNG                        | eval -m $M --valid $I/vmix -o $O
eval.out-under-file    | 2 | eval: .*/file/e: cannot make this folder: .*/file is a file | eval -m $M --valid $I/va -o $I/file/e
eval.no-valid          | 2 | eval: --valid and one of -m MODEL                  | eval -m $M
eval.threads-zero      | 2 | eval: --threads must be between                    | eval -m $M --valid $I/va --threads 0
eval.width-garbage     | 2 | eval: --width expects a number, got 'wide'         | eval -m $M --valid $I/va --width wide
eval.unknown-option    | 2 | eval: unknown option '--bogus'                     | eval -m $M --valid $I/va --bogus

train-teacher.train-missing  | 2 | /nope.json: .                              | train-teacher --train $I/nope.json --valid $I/va/haze.json --save-dir $O/t ${TT[@]:4}
train-teacher.train-folder   | 2 | /tr: .*(meta file|folder)                  | train-teacher --train $I/tr --valid $I/va/haze.json --save-dir $O/t ${TT[@]:4}
train-teacher.train-empty    | 2 | /empty.json: .                             | train-teacher --train $I/empty.json --valid $I/va/haze.json --save-dir $O/t ${TT[@]:4}
train-teacher.train-garbage  | 2 | /garbage.json: .                           | train-teacher --train $I/garbage.json --valid $I/va/haze.json --save-dir $O/t ${TT[@]:4}
train-teacher.train-gone     | 2 | /gone.json: .*gone.png                     | train-teacher --train $I/gone.json --valid $I/va/haze.json --save-dir $O/t ${TT[@]:4}
train-teacher.valid-missing  | 2 | /nope.json: .                              | train-teacher --train $I/tr/haze.json --valid $I/nope.json --save-dir $O/t ${TT[@]:4}
train-teacher.save-under-file | 2 | /file/t.*(not a folder|Not a directory)    | train-teacher ${TT[@]} --save-dir $I/file/t
train-teacher.save-in-proc   | 2 | /proc/allclear-test                        | train-teacher ${TT[@]} --save-dir /proc/allclear-test
train-teacher.batch-zero     | 2 | train-teacher: --batch-size must be between | train-teacher ${TT[@]} --save-dir $O/t --batch-size 0
train-teacher.epochs-negative | 2 | train-teacher: --epochs must be between    | train-teacher ${TT[@]} --save-dir $O/t --epochs -3
train-teacher.crop-odd       | 2 | --crop must be a multiple of 16              | train-teacher ${TT[@]} --save-dir $O/t --crop 40
train-teacher.lr-garbage     | 2 | train-teacher: --lr expects a number, got 'fast' | train-teacher ${TT[@]} --save-dir $O/t --lr fast
train-teacher.lr-zero        | 2 | train-teacher: --lr must be between        | train-teacher ${TT[@]} --save-dir $O/t --lr 0
train-teacher.lr-nan         | 2 | train-teacher: --lr expects a number, got 'nan' | train-teacher ${TT[@]} --save-dir $O/t --lr nan
train-teacher.seed-fraction  | 2 | train-teacher: --seed expects a whole number | train-teacher ${TT[@]} --save-dir $O/t --seed 1.5
train-teacher.resume-nothing | 2 | /t/latest.safetensors: no training state to resume from | train-teacher ${TT[@]} --save-dir $O/t --resume
train-teacher.no-save-dir    | 2 | train-teacher: --train, --valid and --save-dir are required | train-teacher ${TT[@]}
train-teacher.no-value       | 2 | train-teacher: --save-dir needs a value    | train-teacher ${TT[@]} --save-dir
train-teacher.teachers       | 2 | train-teacher: unknown option '--teachers' | train-teacher ${TT[@]} --save-dir $O/t --teachers $M

train.teacher-count          | 2 | 1 teachers given but .*/tr holds 2 weather types .haze, rain. | train --teachers $M ${TS[@]:3} --save-dir $O/s
train.teacher-count-3        | 2 | 3 teachers given but .*/tr holds 2 weather types | train --teachers $M $M $M ${TS[@]:3} --save-dir $O/s
train.teacher-missing        | 2 | /nope.safetensors: cannot open             | train --teachers $M $I/nope.safetensors ${TS[@]:3} --save-dir $O/s
train.teacher-folder         | 2 | /folder.safetensors: .*(folder|directory|regular) | train --teachers $M $I/folder.safetensors ${TS[@]:3} --save-dir $O/s
train.teacher-empty          | 2 | /empty.safetensors: .                      | train --teachers $I/empty.safetensors $M ${TS[@]:3} --save-dir $O/s
train.teacher-shape          | 2 | /shape.safetensors: .*tensor 'conv_input.conv2d.weight' has shape | train --teachers $M $I/shape.safetensors ${TS[@]:3} --save-dir $O/s
train.teacher-i32            | 2 | /i32.safetensors: .*dtype I32              | train --teachers $M $I/i32.safetensors ${TS[@]:3} --save-dir $O/s
train.teacher-missing-tensor | 2 | /missing.safetensors: .*'conv_input.conv2d.bias' | train --teachers $I/missing.safetensors $M ${TS[@]:3} --save-dir $O/s
train.teacher-truncated      | 2 | /trunc.pth: .                              | train --teachers $M $I/trunc.pth ${TS[@]:3} --save-dir $O/s
train.train-no-metas         | 2 | /dir: .*json                               | train --teachers $M $M --train $I/dir --valid $I/va ${TINY[@]} --save-dir $O/s
train.train-missing          | 2 | /nope: .                                   | train --teachers $M $M --train $I/nope --valid $I/va ${TINY[@]} --save-dir $O/s
train.valid-garbage          | 2 | /garbage.json: .                           | train ${TS[@]} --valid $I/garbage.json --save-dir $O/s
train.vgg-missing            | 2 | /nope.pth: VGG19 weights not found         | train --teachers $M $M --train $I/tr --valid $I/va ${TINY[@]} --save-dir $O/s --vgg $I/nope.pth
train.save-under-file        | 2 | /file/s.*(not a folder|Not a directory)    | train ${TS[@]} --save-dir $I/file/s
train.width-mismatch         | 2 | teacher width 8 differs                    | train ${TS[@]} --save-dir $O/s --width 16
train.kc-epochs-negative     | 2 | train: --kc-epochs must be between         | train ${TS[@]} --save-dir $O/s --kc-epochs -1
train.batch-zero             | 2 | train: --batch-size must be between        | train ${TS[@]} --save-dir $O/s --batch-size 0
train.top-k-garbage          | 2 | train: --top-k expects a number, got 'all' | train ${TS[@]} --save-dir $O/s --top-k all
train.teachers-no-value      | 2 | train: --teachers needs at least one value | train --teachers --train $I/tr --valid $I/va --save-dir $O/s
train.no-teachers            | 2 | train: --teachers, --train, --valid and --save-dir are required | train --train $I/tr --valid $I/va --save-dir $O/s
train.unknown-option         | 2 | train: unknown option '--bogus'            | train ${TS[@]} --save-dir $O/s --bogus
EOF
)

# every path; files with size and time (a folder's time changes when a temporary file
# comes and goes, which is fine)
snapshot() { find "$T" -path "$T/r" -prune -o \( -type d -printf '%p/\n' \) -o -printf '%p %s %T@\n' | sort; }
rows=0
trim() { local s="${1#"${1%%[! ]*}"}"; printf '%s' "${s%"${s##*[! ]}"}"; }
while IFS= read -r line; do
    [ -z "$(trim "$line")" ] && continue
    # columns are separated by ' | ' (a regex alternation has no spaces around its '|')
    name=$(trim "${line%% | *}"); rest="${line#* | }"
    want=$(trim "${rest%% | *}"); rest="${rest#* | }"
    pattern=$(trim "${rest%% | *}"); cmd=""
    case "$rest" in *" | "*) cmd="${rest#* | }" ;; esac
    case "$name$want" in *"|"* | *" "*) bad "malformed row (columns are separated by ' | '): $line"; continue ;; esac
    eval "args=($cmd)"
    rows=$((rows + 1))
    snapshot >"$T/r/before"
    (cd "$T/cwd" && timeout 120 "$BIN" "${args[@]}" </dev/null >"$T/r/out" 2>"$T/r/err")
    rc=$?
    snapshot >"$T/r/after"
    problems=""
    [ "$rc" = "$want" ] || problems+=" exit $rc (want $want);"
    [ "$(wc -l <"$T/r/err")" = 1 ] || problems+=" stderr has $(wc -l <"$T/r/err") lines;"
    grep -q '^allclear: ' "$T/r/err" || problems+=" stderr does not start with 'allclear: ';"
    grep -qE -- "$pattern" "$T/r/err" || problems+=" stderr does not match /$pattern/;"
    [ -s "$T/r/out" ] && problems+=" stdout not empty: $(head -c 200 "$T/r/out");"
    if ! cmp -s "$T/r/before" "$T/r/after"; then
        problems+=" files changed: $(diff "$T/r/before" "$T/r/after" | grep '^[<>]' | head -5 | tr '\n' ' ');"
    fi
    if [ -n "$problems" ]; then
        bad "$name:$problems stderr: $(head -c 600 "$T/r/err")"
    else
        ok
    fi
done <<<"$ROWS"
ls /proc | grep -q allclear-test && bad "something was made under /proc"
rm -rf "$T/r"

echo "$rows rows: $passes passed, $fails failed"
[ "$fails" = 0 ]
