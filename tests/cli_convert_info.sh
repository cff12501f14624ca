#!/usr/bin/env bash
# cli_convert_info.sh: `allclear convert` turns each golden PyTorch file (zip, legacy
# DataParallel, training checkpoint) into safetensors with the architecture in its metadata,
# which restores exactly like the original; other entries are copied as they are; `allclear
# info` shows format, entries, architecture and its source, the strict check, the parameter
# count and the tensors; errors are one line with exit 2 and leave no file behind.
set -u
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
. "$(dirname "$0")/common_cli.sh"

has() { grep -q -- "$1" "$T/out" && ok || bad "output lacks '$1': $(cat "$T/out")"; }

G=tests/golden/models
"$BIN" restore -q -m $G/net_b8.pth -o "$T/ref" $G/restore_input.png || bad "reference restore failed"
i=0
for f in net_b8.pth net_b8_legacy.pth epoch_2_psnr21.500_ssim0.700; do
    i=$((i + 1))
    expect 0 "$BIN" convert $G/$f "$T/m$i.safetensors"
    has "MSBDN-RDFF, width 8, res_blocks 2, 2,460,793 parameters"
    expect 0 "$BIN" info --no-tensors "$T/m$i.safetensors"
    has "^format: *safetensors"
    has "width = 8"
    has "res_blocks = 2"
    has "source = $f"
    has "width 8 (from metadata), res_blocks 2 (from metadata)"
    has "^check: *OK"
    has "^parameters: *2,460,793 in 310 tensors"
    expect 0 "$BIN" restore -q -m "$T/m$i.safetensors" -o "$T/r$i" $G/restore_input.png
    cmp -s "$T/ref/restore_input.png" "$T/r$i/restore_input.png" && ok || bad "$f: converted model restores differently"
done

# info on PyTorch files: format, entries, inferred architecture, the tensor list.
expect 0 "$BIN" info $G/net_b8.pth
has "^format: *PyTorch checkpoint (zip format)"
has "width 8 (inferred from the tensors), res_blocks 2 (inferred from the tensors)"
has "^  conv_input.conv2d.weight  *\[8,3,11,11\]$"
has "^  dehaze.res1.conv2.conv2d.bias  *\[128\]$"
[ "$(grep -c '^  [a-z_0-9.]*  *\[' "$T/out")" = 310 ] && ok || bad "tensor list is not 310 lines"
expect 0 "$BIN" info --no-tensors $G/net_b8_legacy.pth
has "^format: *PyTorch checkpoint (legacy format)"
expect 0 "$BIN" info --no-tensors $G/epoch_2_psnr21.500_ssim0.700
has "^  epoch: int 2"
has "^  scheduler: object warmup_scheduler.scheduler.GradualWarmupScheduler"
has "^entry: *state_dict"
expect 0 "$BIN" info --no-tensors --width 16 $G/net_b8.pth
has "width 16 (given)"
has "^check: *FAILED: .*tensor 'conv_input.conv2d.weight' has shape \[8,3,11,11\], model expects \[16,3,11,11\]"

# Not a restoration network: copied as it is, info says so.
expect 0 "$BIN" convert tests/golden/ckpt/plain.pth "$T/plain.safetensors"
has "copied as they are"
expect 0 "$BIN" info "$T/plain.safetensors"
has "not a restoration network"
has "^  conv.weight "

# Errors: one line, exit 2, no output file.
expect 2 "$BIN" convert $G/missing.pth "$T/e1.safetensors"
grep -q "$G/missing.pth: cannot open" "$T/err" && ok || bad "missing: $(cat "$T/err")"
expect 2 "$BIN" convert $G/net_b8.pth "$T/e2.pth"
expect 2 "$BIN" convert --width 16 $G/net_b8.pth "$T/e3.safetensors"
grep -q "model expects \[16,3,11,11\]" "$T/err" && ok || bad "width: $(cat "$T/err")"
expect 2 "$BIN" convert --entry ckt_module $G/epoch_2_psnr21.500_ssim0.700 "$T/e4.safetensors"
grep -q "ckt_module" "$T/err" && ok || bad "entry: $(cat "$T/err")"
expect 2 "$BIN" convert $G/restore_input.png "$T/e5.safetensors"
expect 2 "$BIN" convert $G/net_b8.pth
expect 2 "$BIN" info $G/missing.pth
expect 2 "$BIN" info "$T/m1.safetensors" --entry ckt_module
expect 2 "$BIN" info
ls "$T"/e[0-9]* >/dev/null 2>&1 && bad "error left files: $(ls "$T"/e[0-9]*)" || ok
# an output that cannot be written is bad usage, refused before any work (exit 2)
expect 2 "$BIN" convert $G/net_b8.pth "$T/no_dir/out.safetensors"
expect 0 "$BIN" convert --help
expect 0 "$BIN" info --help

echo "cli_convert_info: $passes passed, $fails failed"
[ "$fails" = 0 ]
