#!/usr/bin/env bash
# cli_metrics.sh: `allclear metrics` prints the golden PSNR/SSIM of a real photo pair
# (tests/golden/metrics_expected.txt), and fails cleanly (exit 2, one line naming the
# file) on a missing file, a corrupt image, a size mismatch and bad usage.
set -u
BIN="$1"
. "$(dirname "$0")/common_cli.sh"
G=tests/golden

close() { # close GOT WANT TOL
    awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= t) }'
}

want() { awk -v c="$1" -v k="$2" '$1 == c && $2 == k { print $3 }' $G/metrics_expected.txt; }

expect 0 "$BIN" metrics $G/metrics_a_pred.png $G/metrics_a_gt.png
psnr=$(awk '$1 == "PSNR" { print $2 }' "$T/out")
ssim=$(awk '$1 == "SSIM" { print $2 }' "$T/out")
close "$psnr" "$(want a psnr_skimage)" 1e-4 && ok || bad "PSNR $psnr, want $(want a psnr_skimage)"
close "$ssim" "$(want a ssim_f64)" 1e-6 && ok || bad "SSIM $ssim, want $(want a ssim_f64)"

expect 0 "$BIN" metrics --y $G/metrics_b_pred.png $G/metrics_b_gt.png
psnr=$(awk '$1 == "PSNR" { print $2 }' "$T/out")
close "$psnr" "$(want b psnr_y)" 1e-4 && ok || bad "Y PSNR $psnr, want $(want b psnr_y)"

expect 0 "$BIN" metrics $G/metrics_a_gt.png $G/metrics_a_gt.png
grep -qx 'PSNR inf' "$T/out" && grep -qx 'SSIM 1.000000' "$T/out" && ok || bad "identical images: $(cat "$T/out")"

expect 0 "$BIN" metrics --help
grep -q 'usage: allclear metrics' "$T/out" && ok || bad "help text"

expect 2 "$BIN" metrics $G/metrics_a_pred.png "$T/missing.png"
grep -q "missing.png" "$T/err" && ok || bad "missing file not named: $(cat "$T/err")"
expect 2 "$BIN" metrics tests/golden/image/truncated.png $G/metrics_a_gt.png
grep -q "truncated.png" "$T/err" && ok || bad "corrupt file not named: $(cat "$T/err")"
expect 2 "$BIN" metrics tests/golden/image/rgb8.png $G/metrics_a_gt.png
grep -q "differ in size" "$T/err" && ok || bad "size mismatch: $(cat "$T/err")"
expect 2 "$BIN" metrics $G/metrics_a_gt.png
expect 2 "$BIN" metrics --bogus $G/metrics_a_gt.png $G/metrics_a_gt.png

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
