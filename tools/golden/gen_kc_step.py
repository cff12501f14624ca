#!/usr/bin/python3
"""gen_kc_step.py: golden values of one knowledge-collation (KC) and one knowledge-examination
(KE) training loss, and of the gradients they send to a few student and CKT tensors, for
tests/test_golden_kc.c.

Setting: student and 2 teachers Net(4, 1), CKT modules for width 4 and 2 teachers, VGG19; all
weights from the closed-form pattern of src/model/params.h (student gain 1.0, teachers 0.8 and
1.2, CKT and VGG19 gain 2.0), so nothing large is stored. Batch of 3 images 32x32 grouped by
type: 2 of type 0, 1 of type 1. Inputs x = 0.5 + 0.5 * pattern('kc.x'), targets from
'kc.y' (float32 arithmetic, the same in C). Losses as in the shared spec training.md:
  KC: T + PFE + PFV + 0.1 SCR, with PFE/PFV summed over the 4 levels in order;
  KE: L1 + 0.2 HCR.
References in float64 from the float32 weights and inputs.

Run from the repository root:  /usr/bin/python3 tools/golden/gen_kc_step.py
Writes tests/golden/train_kc.safetensors (deterministic).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402
from gen_net import (Net, CKTModule, vgg19_features30, fill_pattern, pattern,  # noqa: E402
                     scr_loss, hcr_loss)

OUT = os.path.join("tests", "golden", "train_kc.safetensors")
WIDTH, COUNTS, SIDE = 4, (2, 1), 32
STUDENT_GRADS = ["conv_input.conv2d.weight", "conv_input.conv2d.bias", "dehaze.res0.relu.weight",
                 "fusion_1.down_convs.0.conv.weight", "conv_output.conv2d.weight",
                 "conv_output.conv2d.bias"]
CKT_GRADS = ["0.student_projector.PFP.0.weight", "0.teacher_projectors.PFPs.1.2.weight",
             "0.teacher_projectors.IPFPs.0.2.weight", "1.teacher_projectors.PFPs.1.2.weight"]


def image(name):
    shape = (sum(COUNTS), 3, SIDE, SIDE)
    v = pattern(name, shape, scale=1.0)
    return torch.from_numpy(np.float32(0.5) + np.float32(0.5) * v)


def net(gain):
    n = Net(WIDTH, 1)
    fill_pattern(n, gain)
    return n.double()


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    student = net(1.0)
    teachers = [net(0.8), net(1.2)]
    chans = [4 * WIDTH, 8 * WIDTH, 16 * WIDTH, 16 * WIDTH]
    ckt = nn.ModuleList([CKTModule(c, c // 2, len(COUNTS)) for c in chans])
    fill_pattern(ckt, 2.0)
    ckt = ckt.double()
    vgg = vgg19_features30()
    fill_pattern(vgg, 2.0)
    vgg = vgg.double()
    for p in list(vgg.parameters()) + [p for t in teachers for p in t.parameters()]:
        p.requires_grad_(False)
    x32, y32 = image("kc.x"), image("kc.y")
    x, y = x32.double(), y32.double()
    out = {}

    # knowledge collation
    touts, tfeats, off = [], [], 0
    with torch.no_grad():
        for t, c in enumerate(COUNTS):
            o, f = teachers[t](x[off:off + c])
            touts.append(o)
            tfeats.append(f)
            off += c
    s_out, S = student(x)
    T = F.l1_loss(s_out, torch.cat(touts))
    PFE, PFV = 0.0, 0.0
    for l in range(4):
        Fl = [f[l] for f in tfeats]
        P, R, Q = ckt[l](Fl, S[l])
        PFE = PFE + F.l1_loss(Q, torch.cat(P))
        PFV = PFV + 0.05 * F.l1_loss(torch.cat(R), torch.cat(Fl))
    SCR = 0.1 * scr_loss(vgg, s_out, y, x)
    loss = T + PFE + PFV + SCR
    loss.backward()
    for k, v in (("t", T), ("pfe", PFE), ("pfv", PFV), ("scr", SCR), ("loss", loss)):
        out["kc." + k] = v.reshape(1)
        print("KC %-4s %.10g" % (k, v.item()))
    sp, cp = dict(student.named_parameters()), dict(ckt.named_parameters())
    for name in STUDENT_GRADS:
        out["kc.grad.student." + name] = sp[name].grad.clone()
    for name in CKT_GRADS:
        out["kc.grad.ckt." + name] = cp[name].grad.clone()
    student.zero_grad()

    # knowledge examination
    s_out = student(x)[0]
    L1 = F.l1_loss(s_out, y)
    HCR = 0.2 * hcr_loss(vgg, s_out, y, x)
    loss = L1 + HCR
    loss.backward()
    for k, v in (("l1", L1), ("hcr", HCR), ("loss", loss)):
        out["ke." + k] = v.reshape(1)
        print("KE %-4s %.10g" % (k, v.item()))
    for name in STUDENT_GRADS:
        out["ke.grad.student." + name] = sp[name].grad
    fixture.write(OUT, out, {"width": str(WIDTH), "counts": ",".join(map(str, COUNTS)),
                             "side": str(SIDE)})


if __name__ == "__main__":
    main()
