"""fixture.py: writes golden fixtures as safetensors files (float32 only), with no package
beyond the standard library and numpy/torch tensors as input. Shared by the generators in
this folder; the C tests read the files with src/io/safetensors.c."""
import json
import struct

import numpy as np


def _as_f32(value):
    try:
        import torch
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
    except ImportError:
        pass
    # np.array(order="C") keeps 0-dim arrays 0-dim (np.ascontiguousarray makes them 1-dim).
    return np.array(value, dtype=np.float32, order="C")


def write(path, tensors, metadata=None):
    """tensors: dict name -> array-like (written in insertion order)."""
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        arr = _as_f32(value)
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
