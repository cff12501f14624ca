#!/usr/bin/env bash
# cli_synth.sh: `allclear synth` writes degraded PNGs and OUTDIR/<weather>.json (a meta
# file that lists every output with its clean source), is deterministic for a seed, and
# fails cleanly (exit 2, one line, nothing written) on bad usage, a missing or corrupt input.
set -u
BIN="$1"
. "$(dirname "$0")/common_cli.sh"

S=data/samples
for w in haze rain snow; do
    expect 0 "$BIN" synth --weather $w --seed 7 --count 2 -o "$T/a" $S/heldout $S/train/coffee.jpg
    n=$(ls "$T/a/$w" | wc -l)
    [ "$n" = 6 ] && ok || bad "$w: $n outputs, want 6"
    [ "$(grep -c '\.png"\]' "$T/a/$w.json")" = 6 ] && ok || bad "$w.json: $(cat "$T/a/$w.json")"
    grep -q "\[\"$S/train/coffee.jpg\",\"$T/a/$w/coffee_1.png\"\]" "$T/a/$w.json" && ok || bad "$w.json pairs: $(cat "$T/a/$w.json")"
    # every listed degraded image is readable, same size as its clean photo
    "$BIN" metrics "$T/a/$w/camera_0.png" $S/heldout/camera.png >/dev/null 2>&1 && ok || bad "$w: camera_0.png unreadable or wrong size"
done
# deterministic for a seed, different for another
expect 0 "$BIN" synth --weather rain --seed 7 --count 2 -o "$T/b" $S/heldout $S/train/coffee.jpg
cmp -s "$T/a/rain/coffee_1.png" "$T/b/rain/coffee_1.png" && ok || bad "same seed, different output"
expect 0 "$BIN" synth --weather rain --seed 8 -o "$T/c" $S/train/coffee.jpg
cmp -s "$T/a/rain/coffee_0.png" "$T/c/rain/coffee_0.png" && bad "seed ignored" || ok

expect 0 "$BIN" synth --help
grep -q 'usage: allclear synth' "$T/out" && ok || bad "help text"

# bad inputs: nothing written
expect 2 "$BIN" synth --weather fog -o "$T/d" $S/train/coffee.jpg
expect 2 "$BIN" synth --weather rain $S/train/coffee.jpg
expect 2 "$BIN" synth --weather rain -o "$T/d"
expect 2 "$BIN" synth --weather rain --count 0 -o "$T/d" $S/train/coffee.jpg
expect 2 "$BIN" synth --weather rain -o "$T/d" $S/train/coffee.jpg "$T/nope.png"
grep -q "nope.png" "$T/err" && ok || bad "missing input not named: $(cat "$T/err")"
expect 2 "$BIN" synth --weather rain -o "$T/d" $S/train/coffee.jpg tests/golden/image/truncated.png
grep -q "truncated.png" "$T/err" && ok || bad "corrupt input not named: $(cat "$T/err")"
[ -z "$(ls -A "$T/d" 2>/dev/null | grep -v '^rain$')" ] && [ -z "$(ls -A "$T/d/rain" 2>/dev/null)" ] && ok || bad "files left behind: $(ls -R "$T/d")"
expect 2 "$BIN" synth --weather snow -o "$T/d" $S/train/coffee.jpg $S/train/coffee.jpg
grep -q "collide" "$T/err" && ok || bad "duplicate names: $(cat "$T/err")"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
