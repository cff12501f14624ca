"""gen_conv.py: golden fixture for conv2d and conv_transpose2d (tests/test_golden_conv.c).

For several configurations it records, with PyTorch (CPU, fixed seed; computed in float64 and
stored as float32, so the reference carries no float32 summation error of its own), the input
x, weight w, bias b (when used), output y, a fixed random upstream gradient dy and the
gradients dx, dw, db. Weights and biases are drawn like PyTorch's default initialisation
(uniform +-1/sqrt(fan_in)), x and dy from a standard normal.
Per case `<op>.<k>.*` with op `conv` or `deconv`:
  x, w, [b], y, dy, dx, dw, [db], and args = [stride, pad, out_pad, has_bias].
Run from the repository root:  /usr/bin/python3 tools/golden/gen_conv.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join("tests", "golden", "conv.safetensors")

torch.manual_seed(20220602)
torch.set_num_threads(1)
T = {}
counts = {}

# (x shape, out channels, kernel, stride, pad, bias)
CONV = [
    ((2, 3, 7, 6), 4, 3, 1, 1, True),      # 3x3 same padding
    ((1, 4, 8, 10), 6, 4, 2, 1, True),     # ConvBlock: 4x4 stride 2, zero pad 1
    ((1, 3, 14, 13), 4, 11, 1, 0, True),   # 11x11 input layer (after reflection pad)
    ((2, 8, 5, 5), 3, 1, 1, 0, False),     # RDB conv_1x1, no bias
    ((2, 3, 9, 8), 5, 3, 2, 0, True),      # ConvLayer stride 2 (after reflection pad)
    ((1, 5, 6, 7), 3, 3, 1, 1, False),     # make_dense: 3x3 pad 1, no bias
    ((1, 2, 10, 11), 3, 3, 3, 2, True),    # stride 3, pad 2: uneven edges
]

# (x shape, out channels, kernel, stride, pad, out_pad, bias)
DECONV = [
    ((2, 4, 5, 4), 3, 3, 2, 0, 0, True),   # UpsampleConvLayer: 2n + 1
    ((1, 6, 4, 5), 4, 4, 2, 1, 0, True),   # DeconvBlock: exactly doubles
    ((1, 3, 5, 4), 2, 3, 2, 1, 1, False),  # output padding 1
    ((2, 5, 3, 4), 3, 1, 1, 0, 0, True),   # 1x1
    ((1, 2, 3, 4), 3, 2, 3, 0, 2, True),   # stride 3 > kernel: gaps, output padding 2
]


def uniform(shape, bound):
    return (torch.rand(shape, dtype=torch.float64) * 2 - 1) * bound


def record(op, tensors, args):
    k = counts.get(op, 0)
    counts[op] = k + 1
    for name, t in tensors.items():
        T[f"{op}.{k}.{name}"] = t.detach().to(torch.float32)
    T[f"{op}.{k}.args"] = torch.tensor(args, dtype=torch.float32)


def run(op, x, w, b, y_fn, args):
    x.requires_grad_(True)
    w.requires_grad_(True)
    if b is not None:
        b.requires_grad_(True)
    y = y_fn(x, w, b)
    dy = torch.randn(y.shape, dtype=torch.float64)
    y.backward(dy)
    t = {"x": x, "w": w}
    if b is not None:
        t["b"] = b
    t.update({"y": y, "dy": dy, "dx": x.grad, "dw": w.grad})
    if b is not None:
        t["db"] = b.grad
    record(op, t, args)


# Round the inputs to float32 first, so that the C side starts from exactly these values.
def f32(t):
    return t.to(torch.float32).to(torch.float64)


for shape, cout, k, s, p, bias in CONV:
    cin = shape[1]
    bound = 1.0 / math.sqrt(cin * k * k)
    x = f32(torch.randn(shape, dtype=torch.float64))
    w = f32(uniform((cout, cin, k, k), bound))
    b = f32(uniform((cout,), bound)) if bias else None
    run("conv", x, w, b, lambda x, w, b: F.conv2d(x, w, b, stride=s, padding=p),
        [s, p, 0, int(bias)])

for shape, cout, k, s, p, op, bias in DECONV:
    cin = shape[1]
    bound = 1.0 / math.sqrt(cout * k * k)  # PyTorch: fan_in of a transposed conv is weight.shape[1]*k*k
    x = f32(torch.randn(shape, dtype=torch.float64))
    w = f32(uniform((cin, cout, k, k), bound))
    b = f32(uniform((cout,), bound)) if bias else None
    run("deconv", x, w, b,
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op),
        [s, p, op, int(bias)])

fixture.write(OUT, T, {"generator": "tools/golden/gen_conv.py",
                       "torch": torch.__version__, "precision": "float64 rounded to float32"})
print(f"wrote {OUT}: {len(T)} tensors, {os.path.getsize(OUT)} bytes")
