"""make_seeds.py: writes the small seed corpora of the fuzz harnesses into fuzz/corpus/<name>/.

Seeds come from the committed test fixtures (tests/golden/ckpt, tests/golden/image) and from
tiny files built here (safetensors of every dtype, meta files, pickles of every protocol).
Files named min-* are kept as they are: inputs found by fuzzing, minimised with libFuzzer's
-merge=1 (see docs/fuzzing.md). Deterministic; uses only the Python standard library. The
seeds are committed; rerun this after the fixtures change:  /usr/bin/python3 fuzz/make_seeds.py
"""
import collections
import json
import os
import pickle
import struct
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CKPT = os.path.join(ROOT, "tests", "golden", "ckpt")
IMAGES = os.path.join(ROOT, "tests", "golden", "image")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(corpus, name, data):
    d = os.path.join(OUT, corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def checkpoints():
    names = sorted(n for n in os.listdir(CKPT) if not n.endswith(".safetensors"))
    for n in names:
        data = read(os.path.join(CKPT, n))
        put("torch_load", n, data)
        if data[:2] != b"PK":
            put("pickle", n, data)  # legacy: five pickles and raw records
            continue
        z = zipfile.ZipFile(os.path.join(CKPT, n))
        pkl = [i for i in z.infolist() if i.filename.endswith("/data.pkl")][0]
        body = z.read(pkl)
        put("pickle", n + ".data.pkl", body)
        storages = [z.read(i) for i in z.infolist() if "/data/" in i.filename]
        tail = max(storages, key=len) if storages else b""
        # fuzz_torch_zip.c layout: flags, u16 data.pkl length, data.pkl, storage bytes.
        put("torch_zip", n, bytes([1 | 2]) + struct.pack("<H", len(body)) + body + tail)


def pickles():
    od = collections.OrderedDict([("a", 1), ("b", [1.5, "x", None, True])])
    objs = [od, {"k": (1, 2**70, -5, b"\x00\xff", {3}, frozenset([4]))}, [[]] * 3]
    for proto in range(0, 6):
        for i, o in enumerate(objs):
            put("pickle", "proto%d_%d.pkl" % (proto, i), pickle.dumps(o, protocol=proto))


def safetensors_file(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def safetensors():
    f32 = struct.pack("<6f", 0, 1, -2, 3.5, 1e-3, -7)
    put("safetensors", "f32.safetensors", safetensors_file([("w", "F32", [2, 3], f32)], {"format": "pt"}))
    put("safetensors", "f16.safetensors", safetensors_file([("h", "F16", [3], struct.pack("<3e", 1, -2, 0.5))]))
    put("safetensors", "bf16.safetensors", safetensors_file([("b", "BF16", [2], b"\x80\x3f\x00\xc0")]))
    put("safetensors", "f64.safetensors", safetensors_file([("d", "F64", [1, 1, 1, 2], struct.pack("<2d", 1, 2))]))
    put("safetensors", "mixed.safetensors", safetensors_file(
        [("s", "F32", [], struct.pack("<f", 4)), ("e", "F32", [0, 5], b""), ("v", "F16", [2, 1], b"\x00\x3c\x00\xbc")],
        {"epoch": "3", "note": "x"}))
    put("safetensors", "empty.safetensors", safetensors_file([]))


def metas():
    put("meta", "one.json", b'[["gt/0.png", "in/0.png"]]\n')
    put("meta", "three.json", json.dumps([["a/%d.png" % i, "b/%d.jpg" % i] for i in range(3)], indent=1).encode())
    put("meta", "abs.json", b'[["/tmp/x.png", "../y.png"], ["tests/golden/image/rgb8.png", "tests/golden/image/gray8.png"]]')
    put("meta", "bad.json", b'[["a.png"], 5, {"k": "v"}, ["", "b"]]')


def images():
    for n in sorted(os.listdir(IMAGES)):
        if n.endswith((".png", ".jpg")) and os.path.getsize(os.path.join(IMAGES, n)) <= 4096:
            put("image", n, read(os.path.join(IMAGES, n)))


if __name__ == "__main__":
    for dp, _, fs in os.walk(OUT):
        for f in fs:
            if not f.startswith("min-"):
                os.remove(os.path.join(dp, f))
    checkpoints()
    pickles()
    safetensors()
    metas()
    images()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print("seeds in %s: %d bytes" % (OUT, total))
