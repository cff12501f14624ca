"""gen_optim.py: golden fixture for Adam + the warm-up/cosine schedule.

Two parameter groups (different learning rates) take 6 Adam steps with fixed random
gradients; each step's learning rate follows the reference schedule (base scaled per group).
Writes tests/golden/optim.safetensors: initial params, the gradient of every step, the
params after every step, and the schedule's lr for epochs 1..250.
Run: /usr/bin/python3 tools/golden/gen_optim.py
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import fixture  # noqa: E402

STEPS = 6
TOTAL, WARMUP, BASE, LR_MIN = 250, 3, 4e-4, 1e-6


def lr_at(epoch, base):
    if epoch <= WARMUP:
        return base * epoch / WARMUP
    return LR_MIN + (base - LR_MIN) * (1 + math.cos(math.pi * (epoch - WARMUP - 1) / (TOTAL - WARMUP))) / 2


def main():
    torch.manual_seed(5)
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(7, requires_grad=True)
    c = torch.randn(2, 2, 3, requires_grad=True)
    out = {"a0": a.detach().clone(), "b0": b.detach().clone(), "c0": c.detach().clone()}
    opt = torch.optim.Adam([{"params": [a, b], "lr": BASE},
                            {"params": [c], "lr": BASE * 10}], betas=(0.9, 0.999), eps=1e-8)
    for s in range(STEPS):
        epoch = s + 1
        opt.param_groups[0]["lr"] = lr_at(epoch, BASE)
        opt.param_groups[1]["lr"] = lr_at(epoch, BASE * 10)
        opt.zero_grad()
        for name, p in (("a", a), ("b", b), ("c", c)):
            g = torch.randn_like(p) * (10.0 ** (s % 3 - 1))
            p.grad = g
            out[f"g{name}{s}"] = g.clone()  # zero_grad later zeroes p.grad in place
        opt.step()
        for name, p in (("a", a), ("b", b), ("c", c)):
            out[f"{name}{s + 1}"] = p.detach().clone()
    out["schedule"] = torch.tensor([lr_at(e, BASE) for e in range(1, TOTAL + 1)], dtype=torch.float64)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "optim.safetensors")
    fixture.write(path, out, {"steps": STEPS, "generator": "tools/golden/gen_optim.py"})


if __name__ == "__main__":
    main()
