#!/usr/bin/env bash
# cli_restore.sh: `allclear restore` with the golden model (tests/golden/models): the output
# equals PyTorch's restoration written by save_image, keeps the input size (or takes the
# official resize), is RGB for gray input, 8- or 16-bit; folders are expanded (non-images
# skipped with a note); bad inputs are reported, the rest restored, exit 2 at the end; bad
# usage and a missing or mismatched model fail with one line and write nothing.
set -u
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
. "$(dirname "$0")/common_cli.sh"

# PNG header fields: width height bit_depth color_type
png_info() { od -An -tu1 -j16 -N10 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8, $9, $10}'; }
check_png() {  # file "W H bits color_type"
    if [ ! -f "$1" ]; then bad "$1 not written"; return; fi
    local got; got=$(png_info "$1")
    [ "$got" = "$2" ] && ok || bad "$1: header '$got', want '$2'"
}

G=tests/golden/models
M=$G/net_b8.pth
expect 0 "$BIN" restore -m $M -o "$T/a" $G/restore_input.png
check_png "$T/a/restore_input.png" "52 36 8 2"
"$BIN" metrics "$T/a/restore_input.png" $G/restore_expected.png >"$T/m" 2>&1
psnr=$(awk '/^PSNR/ {print $2}' "$T/m")
awk -v p="$psnr" 'BEGIN { exit !(p == "inf" || p > 60) }' && ok || bad "output vs PyTorch's: PSNR $psnr (want inf or > 60)"
grep -q "wrote 1 image to $T/a" "$T/out" && ok || bad "summary: $(cat "$T/out")"

# Training checkpoint with --16bit and --official-resize; default folder 'restored'.
mkdir "$T/cwd"
(cd "$T/cwd" && "$BIN" restore -q -m "$OLDPWD/$G/epoch_2_psnr21.500_ssim0.700" --16bit --official-resize \
    "$OLDPWD/$G/restore_input.png" >"$T/out" 2>"$T/err") && ok || bad "16-bit official: $(cat "$T/err")"
check_png "$T/cwd/restored/restore_input.png" "48 32 16 2"
[ ! -s "$T/out" ] && [ ! -s "$T/err" ] && ok || bad "--quiet printed: $(cat "$T/out" "$T/err")"

# Gray input becomes RGB; explicit tiles give the same size.
expect 0 "$BIN" restore -m $G/net_b8_legacy.pth -o "$T/g" --tile 32 --overlap 16 --threads 1 tests/golden/image/gray8.png
check_png "$T/g/gray8.png" "24 20 8 2"

# A folder: images by content (a PNG named .jpg included), other files skipped with a note,
# a corrupt image reported while the others are written, exit 2 at the end.
mkdir "$T/in"
cp $G/restore_input.png "$T/in/a.png"
cp tests/golden/image/png_named.jpg "$T/in/b.jpg"
cp tests/golden/image/truncated.png "$T/in/c.png"
echo "not an image" >"$T/in/notes.txt"
"$BIN" restore -m $M -o "$T/f" "$T/in" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 2 ] && ok || bad "folder with a corrupt image: exit $rc (want 2): $(cat "$T/err")"
check_png "$T/f/a.png" "52 36 8 2"
check_png "$T/f/b.png" "24 20 8 2"
[ ! -e "$T/f/c.png" ] && ok || bad "corrupt input produced an output"
grep -q "^allclear: note: skipping 1 file in $T/in that is not" "$T/err" && ok || bad "no note for notes.txt: $(cat "$T/err")"
grep -q "^allclear: $T/in/c.png: " "$T/err" && ok || bad "corrupt image not named: $(cat "$T/err")"
grep -q "1 of 3 inputs could not be restored" "$T/err" && ok || bad "no summary of failures: $(cat "$T/err")"
ls -a "$T/f" | grep -q '\.tmp\|~' && bad "temporary files left: $(ls -a "$T/f")" || ok

# Errors: one line, exit 2, nothing written.
expect 2 "$BIN" restore -m $G/missing.pth -o "$T/x1" $G/restore_input.png
grep -q "$G/missing.pth: cannot open" "$T/err" && ok || bad "missing model: $(cat "$T/err")"
[ ! -e "$T/x1" ] && ok || bad "output folder created for a missing model"
expect 2 "$BIN" restore -m $M --width 16 -o "$T/x2" $G/restore_input.png
grep -q "$M: .*tensor 'conv_input.conv2d.weight' has shape \[8,3,11,11\], model expects \[16,3,11,11\]" "$T/err" \
    && ok || bad "width mismatch: $(cat "$T/err")"
expect 2 "$BIN" restore -m $M -o "$T/x3" tests/golden/image/truncated.png
grep -q "truncated.png" "$T/err" && ok || bad "bad image: $(cat "$T/err")"
expect 2 "$BIN" restore -m $M -o "$T/x4" "$T/in/notes.txt"
expect 2 "$BIN" restore -m $M -o "$T/x5" $G/no_such_image.png
expect 2 "$BIN" restore -m $M --tile 40 $G/restore_input.png
grep -q "multiple of 16" "$T/err" && ok || bad "tile 40: $(cat "$T/err")"
expect 2 "$BIN" restore -m $M --bogus $G/restore_input.png
expect 2 "$BIN" restore $G/restore_input.png
expect 2 "$BIN" restore -m $M
expect 2 "$BIN" restore -m $M -o "$T/in" "$T/in/a.png"
grep -q "would overwrite" "$T/err" && ok || bad "overwrite: $(cat "$T/err")"
expect 2 "$BIN" restore -m $M -o "$T/x6" tests/golden/image/truncated.png tests/golden/image/truncated.jpg
grep -q "same name" "$T/err" && ok || bad "collision: $(cat "$T/err")"
for d in x2 x3 x4 x5 x6; do [ -z "$(ls -A "$T/$d" 2>/dev/null)" ] && ok || bad "$d: files written: $(ls -A "$T/$d")"; done
# Output folder that cannot be made: bad usage, refused before any work (exit 2).
touch "$T/file"
expect 2 "$BIN" restore -m $M -o "$T/file/sub" $G/restore_input.png
expect 0 "$BIN" restore --help

echo "cli_restore: $passes passed, $fails failed"
[ "$fails" = 0 ]
