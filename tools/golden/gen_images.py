"""gen_images.py: small image files in every layout the reader must handle, each with the
pixels that Pillow decodes (what the reference's Image.open(...).convert('RGB') sees), for
tests/test_image.c. Layouts Pillow cannot write (16-bit RGB/RGBA, 2-bit gray, interlaced) are
written by the minimal PNG encoder below. Run from the repository root with /usr/bin/python3.
Output: tests/golden/image/<name> and <name>.txt ("W H MAXVAL" then the CHW samples)."""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = "tests/golden/image"
W, H = 24, 20


def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)


def raw_png(arr, bits, color_type, interlace=False):
    """arr: HxWxC integer samples. Filter 0 everywhere; Adam7 when interlace."""
    h, w = arr.shape[:2]
    arr = arr.reshape(h, w, -1)

    def rows_of(sub):
        out = b""
        for row in sub:
            flat = row.reshape(-1)
            if bits == 16:
                data = flat.astype(">u2").tobytes()
            elif bits == 8:
                data = flat.astype(np.uint8).tobytes()
            else:  # packed low bit depths, one channel
                per = 8 // bits
                padded = np.zeros(-(-len(flat) // per) * per, dtype=np.uint8)
                padded[:len(flat)] = flat
                packed = padded.reshape(-1, per)
                data = bytes(int(sum(int(v) << (8 - bits * (k + 1)) for k, v in enumerate(g))) for g in packed)
            out += b"\0" + data
        return out

    if interlace:
        passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
        raw = b""
        for y0, x0, dy, dx in passes:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += rows_of(sub)
    else:
        raw = rows_of(arr)
    ihdr = struct.pack(">IIBBBBB", w, h, bits, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write(name, data, expect, maxval):
    """expect: HxWx3 (or HxW gray, replicated) samples."""
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    if expect is None:
        return
    e = np.asarray(expect)
    if e.ndim == 2:
        e = np.stack([e] * 3, axis=-1)
    chw = e.transpose(2, 0, 1).reshape(-1)
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write("%d %d %d\n" % (e.shape[1], e.shape[0], maxval))
        f.write(" ".join(str(int(v)) for v in chw) + "\n")


def pil_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def decoded(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def main():
    os.makedirs(OUT, exist_ok=True)
    src = Image.open("data/samples/train/chelsea.jpg").convert("RGB")
    rgb = np.asarray(src.crop((150, 80, 150 + W, 80 + H)))
    rng = np.random.default_rng(1234)
    alpha = rng.integers(0, 256, size=(H, W), dtype=np.uint8)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    rgb16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 257, size=rgb.shape).astype(np.uint16)
    gray16 = gray.astype(np.uint16) * 257 + rng.integers(0, 257, size=gray.shape).astype(np.uint16)

    write("rgb8.png", pil_bytes(Image.fromarray(rgb), "PNG"), rgb, 255)
    write("rgba8.png", pil_bytes(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"), rgb, 255)
    write("gray8.png", pil_bytes(Image.fromarray(gray), "PNG"), gray, 255)
    write("graya8.png", pil_bytes(Image.fromarray(np.dstack([gray, alpha]), "LA"), "PNG"), gray, 255)
    write("gray16.png", raw_png(gray16, 16, 0), gray16, 65535)
    write("rgb16.png", raw_png(rgb16, 16, 2), rgb16, 65535)
    write("rgba16.png", raw_png(np.dstack([rgb16, rgb16[..., :1]]), 16, 6), rgb16, 65535)
    g2 = gray >> 6
    write("gray2.png", raw_png(g2, 2, 0), g2, 3)
    bw = (gray > 128).astype(np.uint8)
    write("gray1.png", raw_png(bw, 1, 0), bw, 1)
    write("rgb8_interlaced.png", raw_png(rgb, 8, 2, interlace=True), rgb, 255)
    pal = Image.fromarray(rgb).quantize(colors=200)
    data = pil_bytes(pal, "PNG")
    write("palette8.png", data, decoded(data), 255)
    pal4 = Image.fromarray(rgb).quantize(colors=16)
    data = pil_bytes(pal4, "PNG", bits=4)
    write("palette4.png", data, decoded(data), 255)
    base = pil_bytes(Image.fromarray(rgb), "JPEG", quality=90)
    write("baseline.jpg", base, decoded(base), 255)
    data = pil_bytes(Image.fromarray(rgb), "JPEG", quality=90, progressive=True)
    write("progressive.jpg", data, decoded(data), 255)
    data = pil_bytes(Image.fromarray(gray), "JPEG", quality=90)
    write("gray.jpg", data, decoded(data), 255)
    data = pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95)
    write("cmyk.jpg", data, decoded(data), 255)
    # the format comes from the content: a PNG named .jpg
    write("png_named.jpg", pil_bytes(Image.fromarray(rgb), "PNG"), rgb, 255)
    # broken files (no expected pixels)
    write("truncated.jpg", base[: len(base) // 2], None, 0)
    png = pil_bytes(Image.fromarray(rgb), "PNG")
    write("truncated.png", png[: len(png) // 2], None, 0)
    bad = bytearray(png)
    bad[len(png) // 2] ^= 0x5a  # inside IDAT: CRC mismatch
    write("corrupt.png", bytes(bad), None, 0)
    write("text.png", b"this is not an image\n", None, 0)
    write("empty.png", b"", None, 0)


def gen_resize():
    """Bilinear resize (align_corners=False, no antialias) and reflection padding computed by
    PyTorch, as text: blocks 'name N C H W' / values, for the pixel helpers."""
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(7)
    x = torch.rand(1, 2, 7, 9, generator=g)
    blocks = [("input", x)]
    for oh, ow in [(4, 5), (16, 16), (7, 9), (3, 17), (1, 1)]:
        blocks.append(("resize_%dx%d" % (oh, ow), F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)))
    blocks.append(("pad_b5_r8", F.pad(x, (0, 8, 0, 5), mode="reflect")))
    with open(os.path.join(OUT, "resize.txt"), "w") as f:
        for name, t in blocks:
            f.write("%s %s\n" % (name, " ".join(str(s) for s in t.shape)))
            f.write(" ".join("%.9g" % v for v in t.reshape(-1).tolist()) + "\n")


if __name__ == "__main__":
    main()
    gen_resize()
