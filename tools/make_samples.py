"""make_samples.py: rebuilds data/samples/ from the openly licensed photos that Debian's
python3-skimage ships (see data/samples/SOURCES.md for each source and licence).
Run from the repository root with /usr/bin/python3 (needs skimage and PIL). Deterministic."""
import os

import numpy as np
import skimage.data as sd
from PIL import Image

OUT = "data/samples"


def save(img, name, size, quality=92):
    """img: HxWx3 or HxW uint8; size (w, h); JPEG or PNG by name."""
    im = Image.fromarray(img).resize(size, Image.LANCZOS)
    path = os.path.join(OUT, name)
    if name.endswith(".jpg"):
        im.save(path, quality=quality, optimize=True)
    else:
        im.save(path, optimize=True)
    print(path, im.size, im.mode, os.path.getsize(path))


def main():
    rocket = sd.rocket()                       # 427 x 640
    save(sd.astronaut(), "train/astronaut.png", (256, 256))
    save(sd.coffee(), "train/coffee.jpg", (360, 240))
    save(sd.chelsea()[:, 10:441], "train/chelsea.jpg", (344, 240))
    save(rocket[47:427, 0:285], "train/rocket_tower.jpg", (240, 320))
    save(rocket[107:427, 300:620], "heldout/rocket_launch.jpg", (256, 256))
    save(sd.camera(), "heldout/camera.png", (256, 256))


if __name__ == "__main__":
    main()
