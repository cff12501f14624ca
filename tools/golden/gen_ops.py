"""gen_ops.py: golden fixture for the non-convolution ops (tests/test_golden_ops.c).

For each op and several configurations it records, with PyTorch (float32, CPU, fixed seed),
the inputs, the output, a fixed random upstream gradient `dy` and the input gradients.
Per case `<op>.<k>.*`:
  x / a / b / x0.. inputs, y output, dy upstream gradient, dx / da / db / dslope / dx0.. gradients,
  args: the op's integer arguments as floats (pads, slice range, concat dim).
Run from the repository root:  /usr/bin/python3 tools/golden/gen_ops.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join("tests", "golden", "ops.safetensors")

torch.manual_seed(20220601)
torch.set_num_threads(1)
T = {}
counts = {}


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def case(op, inputs, y, extra=None):
    """inputs: dict name -> leaf tensor (requires grad); y: output. Records grads for dy."""
    k = counts.get(op, 0)
    counts[op] = k + 1
    p = f"{op}.{k}."
    dy = torch.randn(y.shape) if y.dim() > 0 else torch.randn(())
    y.backward(dy)
    for name, t in inputs.items():
        T[p + name] = t.detach().reshape(t.shape if t.dim() > 0 else (1,))
    T[p + "y"] = y.detach().reshape(y.shape if y.dim() > 0 else (1,))
    T[p + "dy"] = dy.reshape(dy.shape if dy.dim() > 0 else (1,))
    for name, t in inputs.items():
        T[p + "d" + name] = t.grad.reshape(t.shape if t.dim() > 0 else (1,))
    for name, v in (extra or {}).items():
        T[p + name] = torch.tensor(v, dtype=torch.float32).reshape(-1)


# reflection pad: (top, bottom, left, right), including pad = side - 1 and zero pads
for shape, pads in [((2, 3, 5, 6), (1, 1, 1, 1)), ((1, 2, 5, 6), (4, 2, 5, 3)),
                    ((2, 1, 4, 7), (0, 3, 2, 0))]:
    x = leaf(torch.randn(shape))
    top, bottom, left, right = pads
    case("pad", {"x": x}, torch.nn.ReflectionPad2d((left, right, top, bottom))(x),
         {"args": pads})

# PReLU with one slope; some exact zeros in x (slope branch at 0)
for shape, slope in [((2, 3, 4, 5), 0.25), ((1, 4, 3, 3), -0.3)]:
    x = torch.randn(shape)
    x.view(-1)[::7] = 0.0
    x = leaf(x)
    w = leaf(torch.tensor([slope]))
    case("prelu", {"x": x, "slope": w}, F.prelu(x, w))

# bilinear resize, align_corners=False: up, down, non-integer ratios, 2n+1 -> 2n, identity
for shape, size in [((1, 2, 7, 7), (16, 16)), ((1, 1, 33, 17), (17, 33)),
                    ((2, 2, 9, 9), (8, 8)), ((1, 2, 17, 13), (16, 12)),
                    ((1, 1, 12, 10), (3, 4)), ((1, 2, 6, 8), (13, 11)),
                    ((1, 1, 5, 6), (5, 6)), ((1, 1, 4, 5), (4, 9))]:
    x = leaf(torch.randn(shape))
    case("resize", {"x": x}, F.interpolate(x, size=size, mode="bilinear", align_corners=False))

# 2x2 max pool: quantised values give many ties; odd sizes drop the trailing row/column
for shape in [(2, 3, 6, 8), (1, 2, 7, 9), (1, 1, 5, 4)]:
    x = leaf(torch.randint(0, 4, shape).float())
    case("maxpool", {"x": x}, F.max_pool2d(x, 2))

# concat of three tensors along dim 0 and dim 1
for dim, shapes in [(1, [(2, 1, 3, 4), (2, 3, 3, 4), (2, 2, 3, 4)]),
                    (0, [(1, 2, 3, 3), (3, 2, 3, 3), (2, 2, 3, 3)])]:
    xs = {f"x{i}": leaf(torch.randn(s)) for i, s in enumerate(shapes)}
    case("concat", xs, torch.cat(list(xs.values()), dim=dim), {"args": (dim,)})

# slice [start, end) along dim 0 or 1
for shape, (dim, start, end) in [((2, 5, 3, 4), (1, 1, 4)), ((4, 2, 3, 3), (0, 1, 3)),
                                 ((2, 6, 2, 2), (1, 3, 6))]:
    x = leaf(torch.randn(shape))
    case("slice", {"x": x}, x.narrow(dim, start, end - start), {"args": (dim, start, end)})

# L1 mean (F.l1_loss); some equal elements (sign(0) = 0)
for shape in [(2, 3, 8, 8), (1, 1, 5, 7)]:
    a = torch.randn(shape)
    b = torch.randn(shape)
    b.view(-1)[::5] = a.view(-1)[::5]
    a, b = leaf(a), leaf(b)
    case("l1", {"a": a, "b": b}, F.l1_loss(a, b))

# pairwise L1 mean over all (i, j) item pairs, materialised here as a reference
for shape in [(3, 4, 6, 6), (2, 2, 5, 3), (1, 3, 4, 4)]:
    a = torch.randn(shape)
    b = torch.randn(shape)
    b[0].view(-1)[::4] = a[-1].view(-1)[::4]  # equal across a pair
    a, b = leaf(a), leaf(b)
    case("pairwise", {"a": a, "b": b}, (a.unsqueeze(1) - b.unsqueeze(0)).abs().mean())

# scalar division
for va, vb in [(0.7, -1.3), (3.25, 0.011)]:
    a, b = leaf(torch.tensor([va])), leaf(torch.tensor([vb]))
    case("div", {"a": a, "b": b}, a / b)

fixture.write(OUT, T, {"generator": "tools/golden/gen_ops.py", "torch": torch.__version__})
print(f"wrote {OUT}: {len(T)} tensors, {os.path.getsize(OUT)} bytes; cases {counts}")
