#!/usr/bin/env bash
# make_weather_sheet.sh: the README picture docs/img/weather.png: a sample photo, then the
# same photo with synthesised haze, rain and snow (allclear synth, seed 3), side by side.
# Usage: tools/make_weather_sheet.sh [path/to/allclear]   (run from the repository root;
# needs /usr/bin/python3 with Pillow to assemble the sheet).
set -eu
BIN=${1:-build/allclear}
PHOTO=data/samples/heldout/rocket_launch.jpg
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for w in haze rain snow; do "$BIN" synth --weather $w --seed 3 -o "$T" "$PHOTO" >/dev/null; done
/usr/bin/python3 - "$PHOTO" "$T" <<'PY'
import sys
from PIL import Image, ImageDraw
photo, tmp = sys.argv[1], sys.argv[2]
tiles = [("clean", Image.open(photo).convert("RGB"))]
tiles += [(w, Image.open("%s/%s/rocket_launch_0.png" % (tmp, w)).convert("RGB")) for w in ("haze", "rain", "snow")]
size, pad, label = 224, 4, 18
sheet = Image.new("RGB", (len(tiles) * (size + pad) + pad, size + label + 2 * pad), "white")
draw = ImageDraw.Draw(sheet)
for i, (name, im) in enumerate(tiles):
    x = pad + i * (size + pad)
    sheet.paste(im.resize((size, size), Image.LANCZOS), (x, pad + label))
    draw.text((x + size // 2 - 3 * len(name), pad + 2), name, fill="black")
sheet.save("docs/img/weather.png", optimize=True)
PY
ls -l docs/img/weather.png
