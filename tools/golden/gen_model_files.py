#!/usr/bin/python3
"""gen_model_files.py: model files and PyTorch restorations for tests/test_restore*.c and the
CLI tests of restore, convert and info.

One MSBDN-RDFF network Net(b=8, res_blocks=2) (the module definitions are imported from
gen_net.py, never copied), saved the three ways users hold such weights:
  net_b8.pth                      torch.save(state_dict), zip format
  net_b8_legacy.pth               legacy format (_use_new_zipfile_serialization=False) of a
                                  DataParallel state dict (every key starts with 'module.')
  epoch_2_psnr21.500_ssim0.700    the reference's training checkpoint, zip format, no
                                  extension: {'epoch', 'state_dict', 'optimizer' (Adam state
                                  dict, per-parameter state for a few), 'scheduler' (a warm-up
                                  scheduler OBJECT holding a cosine scheduler and the Adam
                                  object, whose state is keyed by Parameters)}
The network has 2,460,793 parameters, far too many for small fixture files, so every
parameter is an overlapping strided VIEW (torch.as_strided) into a few 512-element storages
(one per fan-in scale class, one for biases, one for PReLU slopes). torch.save stores the
storages once and each tensor as (storage, offset, size, stride), so the files stay near
50-100 KB while every tensor has its full trained shape. A loader that mishandles a stride or
an offset produces a different network and fails the comparison.

Also an input image restore_input.png (36x52 RGB, 8-bit) and expected.safetensors with:
  pad/y      the network's output with the image padded by reflection (bottom, right) to
             48x64 and cropped back to 36x52 (allclear's default), computed in float64
  resize/x   F.interpolate(x, (32, 48), bilinear, align_corners=False): the reference resize
  resize/y   the network's output for resize/x (the reference's --official-resize path)
and metadata width, res_blocks, params, tensors; and restore_expected.png, pad/y as
torchvision's save_image writes it (8-bit, floor(clamp(v, 0, 1) * 255 + 0.5) in float32).

Run from the repository root:  /usr/bin/python3 tools/golden/gen_model_files.py
Writes tests/golden/models/ (deterministic).
"""
import copy
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402
import gen_checkpoints  # noqa: E402  (legacy key renaming, the warm-up scheduler class)
import gen_images  # noqa: E402  (minimal PNG writer)
import gen_net  # noqa: E402  (the reference network's modules)

OUT = os.path.join("tests", "golden", "models")
WIDTH, RES_BLOCKS = 8, 2
STORE = 512  # elements per shared storage
H, W = 36, 52


def strides_for(shape, budget, rng):
    """Strides (last dimension 1) whose span sum((d-1)*s) fits in budget - 1, as large and as
    varied as the budget allows so that the values do not repeat in an obvious pattern."""
    primes = [1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71]
    nd = len(shape)
    strides = [1] * nd
    left = budget - 1 - sum(d - 1 for d in shape)  # every stride at least 1
    assert left >= 0, shape
    for k in range(nd - 1):
        d = shape[k]
        if d == 1:
            continue
        fits = [p for p in primes if (d - 1) * (p - 1) <= left]
        p = fits[-1] if len(fits) < 3 else fits[int(rng.integers(len(fits) // 2, len(fits)))]
        strides[k] = p
        left -= (d - 1) * (p - 1)
    span = sum((d - 1) * s for d, s in zip(shape, strides)) + 1
    assert span <= budget
    return strides, span


def compact_weights(net, seed):
    """Makes every parameter of net a strided view into a few small shared storages."""
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)

    def store(scale):
        return (torch.rand(STORE, generator=g) * 2 - 1) * scale

    classes = {}
    biases = store(0.1)
    slopes = 0.25 + (torch.rand(64, generator=g) * 2 - 1) * 0.1
    with torch.no_grad():
        for name, p in net.named_parameters():
            shape = tuple(p.shape)
            if name.endswith("act.weight") or name.endswith("relu.weight"):
                off = int(rng.integers(0, slopes.numel()))
                p.data = torch.as_strided(slopes, shape, (1,), off)
            elif len(shape) == 1:
                off = int(rng.integers(0, STORE - shape[0] + 1))
                p.data = torch.as_strided(biases, shape, (1,), off)
            else:
                scale = 1.0 / math.sqrt(p.numel() // shape[0])
                cls = int(round(2 * math.log2(scale)))
                if cls not in classes:
                    classes[cls] = store(2.0 ** (cls / 2))
                strides, span = strides_for(shape, STORE, rng)
                off = int(rng.integers(0, STORE - span + 1))
                p.data = torch.as_strided(classes[cls], shape, strides, off)


def save(obj, name, legacy=False):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    if legacy:
        gen_checkpoints.legacy_rename_keys(path, 2)
    return path


def check_file(path, sd, entry=None, prefix=""):
    got = torch.load(path)
    if entry:
        got = got[entry]
    assert len(got) == len(sd), path
    for k, v in sd.items():
        assert torch.equal(got[prefix + k], v), (path, k)


def test_image():
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 0.5 + 0.4 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    gch = np.clip((xx + yy) / (H + W), 0, 1)
    b = ((np.hypot(xx - 30, yy - 15) < 9) * 0.7 + 0.15)
    img = np.stack([r, gch, b], axis=-1)
    img += np.random.default_rng(7).normal(0, 0.04, img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)  # H x W x 3


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    net = gen_net.Net(WIDTH, RES_BLOCKS).eval()
    compact_weights(net, 20220619)
    sd = net.state_dict()
    n_params = sum(p.numel() for p in net.parameters())

    # 1. plain state dict, zip
    check_file(save(sd, "net_b8.pth"), sd)
    # 2. DataParallel state dict, legacy
    dp = OrderedDict(("module." + k, v) for k, v in sd.items())
    check_file(save(dp, "net_b8_legacy.pth", legacy=True), sd, prefix="module.")
    # 3. the reference's training checkpoint
    opt = torch.optim.Adam(net.parameters(), lr=4e-4)
    moments = torch.rand(STORE, generator=torch.Generator().manual_seed(3)) * 1e-3
    for p in list(net.parameters())[:8]:  # the first few parameters carry Adam state
        opt.state[p] = {"step": torch.tensor(2.0),
                        "exp_avg": torch.as_strided(moments, p.shape, p.stride(), p.storage_offset()),
                        "exp_avg_sq": torch.as_strided(moments, p.shape, p.stride(), p.storage_offset())}
    cosine = CosineAnnealingLR(opt, T_max=247, eta_min=1e-6)
    sched = gen_checkpoints.GradualWarmupScheduler(opt, multiplier=1, total_epoch=3, after_scheduler=cosine)
    ckpt = {"epoch": 2, "state_dict": sd, "optimizer": opt.state_dict(), "scheduler": sched}
    check_file(save(ckpt, "epoch_2_psnr21.500_ssim0.700"), sd, entry="state_dict")

    # Input image and the PyTorch restorations (float64 from the float32 weights).
    img = test_image()
    with open(os.path.join(OUT, "restore_input.png"), "wb") as f:
        f.write(gen_images.raw_png(img, 8, 2))
    x = torch.from_numpy(img.astype(np.float32) / np.float32(255.0)).permute(2, 0, 1)[None].contiguous()
    ref = copy.deepcopy(net).double()
    ph, pw = (-H) % 16, (-W) % 16
    with torch.no_grad():
        y_pad = ref(F.pad(x.double(), (0, pw, 0, ph), mode="reflect"))[0][:, :, :H, :W]
        xr = F.interpolate(x, size=(H // 16 * 16, W // 16 * 16), mode="bilinear", align_corners=False)
        y_res = ref(xr.double())[0]
    q = (y_pad[0].float() * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    with open(os.path.join(OUT, "restore_expected.png"), "wb") as f:
        f.write(gen_images.raw_png(q, 8, 2))
    fixture.write(os.path.join(OUT, "expected.safetensors"),
                  {"pad/y": y_pad, "resize/x": xr, "resize/y": y_res},
                  {"width": WIDTH, "res_blocks": RES_BLOCKS, "params": n_params, "tensors": len(sd)})
    total = 0
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        total += size
        print(f"{f}: {size} bytes")
    print(f"{n_params} parameters in {len(sd)} tensors; {total} bytes in {os.path.normpath(OUT)}")
    print("pad/y range %.4f..%.4f" % (y_pad.min(), y_pad.max()))


if __name__ == "__main__":
    main()
