#!/usr/bin/python3
"""gen_net.py: golden fixtures for the networks and the contrastive losses (src/model).

The PyTorch modules below are written from the shared spec (architecture.md, training.md)
with the module structure and attribute names of the reference repository, so that their
state_dict keys are the reference keys. References are computed in float64 from float32
weights and inputs. Large weights are never stored: both sides fill them from the closed-form
pattern of src/model/params.h (`pattern` below computes the same float32 values).

Run from the repository root:  /usr/bin/python3 tools/golden/gen_net.py
Writes tests/golden/net_*.safetensors (deterministic).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join("tests", "golden")
M64 = (1 << 64) - 1


# ---------------------------------------------------------------- the test pattern

def fnv1a64(s):
    h = 0xcbf29ce484222325
    for c in s.encode():
        h ^= c
        h = (h * 0x100000001b3) & M64
    return h


def pattern(name, shape, gain=1.0, scale=None):
    """Same float32 values as ac_tensor_fill_pattern[_scaled] in src/model/params.c."""
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    if scale is None:
        scale = gain / math.sqrt(n // shape[0]) if len(shape) >= 2 else 0.1
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a64(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    k = (z >> np.uint64(40)).astype(np.int64)
    v = (2 * k - (1 << 24)).astype(np.float32) / np.float32(16777216.0)
    return (np.float32(scale) * v).reshape(shape)


def fill_pattern(module, gain=1.0):
    with torch.no_grad():
        for name, t in module.state_dict().items():
            t.copy_(torch.from_numpy(pattern(name, t.shape, gain)))


def proj(name, like):
    return torch.from_numpy(pattern(name, like.shape, scale=1.0)).double()


def keys_meta(module):
    return ";".join("%s:%s" % (k, ",".join(str(d) for d in v.shape))
                    for k, v in module.state_dict().items())


# ---------------------------------------------------------------- MSBDN-RDFF blocks

class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv2d = nn.ConvTranspose2d(cin, cout, k, stride=stride)

    def forward(self, x):
        return self.conv2d(x)


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.relu = nn.PReLU()

    def forward(self, x):
        return x + 0.1 * self.conv2(self.relu(self.conv1(x)))


class make_dense(nn.Module):
    def __init__(self, c, g):
        super().__init__()
        self.conv = nn.Conv2d(c, g, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat((x, F.relu(self.conv(x))), 1)


class RDB(nn.Module):
    def __init__(self, c, n_layers, g):
        super().__init__()
        layers, ch = [], c
        for _ in range(n_layers):
            layers.append(make_dense(ch, g))
            ch += g
        self.dense_layers = nn.Sequential(*layers)
        self.conv_1x1 = nn.Conv2d(ch, c, 1, padding=0, bias=False)

    def forward(self, x):
        return self.conv_1x1(self.dense_layers(x)) + x


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=True)
        self.act = nn.PReLU()

    def forward(self, x):
        return self.act(self.conv(x))


class DeconvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=True)
        self.act = nn.PReLU()

    def forward(self, x):
        return self.act(self.deconv(x))


class Encoder_MDCBlock1(nn.Module):
    """Mode iter2 only."""

    def __init__(self, f, num_ft):
        super().__init__()
        self.num_ft = num_ft - 1
        self.up_convs = nn.ModuleList()
        self.down_convs = nn.ModuleList()
        for i in range(self.num_ft):
            self.up_convs.append(DeconvBlock(f // 2 ** i, f // 2 ** (i + 1)))
            self.down_convs.append(ConvBlock(f // 2 ** (i + 1), f // 2 ** i))

    def forward(self, ft_l, mem):
        fusion = ft_l
        for i in range(len(mem)):
            t = fusion
            for j in range(self.num_ft - i):
                t = self.up_convs[j](t)
            t = t - mem[i]
            for j in range(self.num_ft - i):
                t = self.down_convs[self.num_ft - i - j - 1](t)
            fusion = fusion + t
        return fusion


class Decoder_MDCBlock1(nn.Module):
    """Mode iter2 only."""

    def __init__(self, f, num_ft):
        super().__init__()
        self.num_ft = num_ft - 1
        self.down_convs = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for i in range(self.num_ft):
            self.down_convs.append(ConvBlock(f * 2 ** i, f * 2 ** (i + 1)))
            self.up_convs.append(DeconvBlock(f * 2 ** (i + 1), f * 2 ** i))

    def forward(self, ft_h, mem):
        fusion = ft_h
        for i in range(len(mem)):
            t = fusion
            for j in range(self.num_ft - i):
                t = self.down_convs[j](t)
            t = t - mem[i]
            for j in range(self.num_ft - i):
                t = self.up_convs[self.num_ft - i - j - 1](t)
            fusion = fusion + t
        return fusion


def res_seq(c):
    return nn.Sequential(ResidualBlock(c), ResidualBlock(c), ResidualBlock(c))


def split(t):
    h = t.shape[1] // 2
    return t[:, :h], t[:, h:]


class Net(nn.Module):
    def __init__(self, b=16, res_blocks=18):
        super().__init__()
        self.conv_input = ConvLayer(3, b, 11, 1)
        self.dense0 = res_seq(b)
        self.conv2x = ConvLayer(b, 2 * b, 3, 2)
        self.conv1 = RDB(b, 4, b)
        self.fusion1 = Encoder_MDCBlock1(b, 2)
        self.dense1 = res_seq(2 * b)
        self.conv4x = ConvLayer(2 * b, 4 * b, 3, 2)
        self.conv2 = RDB(2 * b, 4, 2 * b)
        self.fusion2 = Encoder_MDCBlock1(2 * b, 3)
        self.dense2 = res_seq(4 * b)
        self.conv8x = ConvLayer(4 * b, 8 * b, 3, 2)
        self.conv3 = RDB(4 * b, 4, 4 * b)
        self.fusion3 = Encoder_MDCBlock1(4 * b, 4)
        self.dense3 = res_seq(8 * b)
        self.conv16x = ConvLayer(8 * b, 16 * b, 3, 2)
        self.conv4 = RDB(8 * b, 4, 8 * b)
        self.fusion4 = Encoder_MDCBlock1(8 * b, 5)
        self.dehaze = nn.Sequential()
        for i in range(res_blocks):
            self.dehaze.add_module("res%d" % i, ResidualBlock(16 * b))
        self.convd16x = UpsampleConvLayer(16 * b, 8 * b, 3, 2)
        self.dense_4 = res_seq(8 * b)
        self.conv_4 = RDB(4 * b, 4, 4 * b)
        self.fusion_4 = Decoder_MDCBlock1(4 * b, 2)
        self.convd8x = UpsampleConvLayer(8 * b, 4 * b, 3, 2)
        self.dense_3 = res_seq(4 * b)
        self.conv_3 = RDB(2 * b, 4, 2 * b)
        self.fusion_3 = Decoder_MDCBlock1(2 * b, 3)
        self.convd4x = UpsampleConvLayer(4 * b, 2 * b, 3, 2)
        self.dense_2 = res_seq(2 * b)
        self.conv_2 = RDB(b, 4, b)
        self.fusion_2 = Decoder_MDCBlock1(b, 4)
        self.convd2x = UpsampleConvLayer(2 * b, b, 3, 2)
        self.dense_1 = res_seq(b)
        self.conv_1 = RDB(b // 2, 4, b // 2)
        self.fusion_1 = Decoder_MDCBlock1(b // 2, 5)
        self.conv_output = ConvLayer(b, 3, 3, 1)

    def forward(self, x):
        feats = []
        r1 = self.conv_input(x)
        mem = [split(r1)[0]]
        x = self.dense0(r1) + r1
        r2 = None
        levels = [(self.conv2x, self.fusion1, self.conv1, self.dense1),
                  (self.conv4x, self.fusion2, self.conv2, self.dense2),
                  (self.conv8x, self.fusion3, self.conv3, self.dense3),
                  (self.conv16x, self.fusion4, self.conv4, None)]
        skips = [x]
        cur = x
        for k, (down, fusion, rdb, dense) in enumerate(levels):
            r = down(cur)
            a, c = split(r)
            a = fusion(a, mem)
            c = rdb(c)
            r = torch.cat((a, c), 1)
            if dense is not None:
                mem.append(a)
                r = dense(r) + r
            skips.append(r)
            cur = r
        r2, r4, r8, r16 = skips[1:]
        feats += [r4, r8, r16]
        in_ft = r16 * 2
        r16 = self.dehaze(in_ft) + in_ft - r16
        feats.append(r16)
        up = [split(r16)[0]]
        cur = r16
        stages = [(self.convd16x, self.dense_4, self.fusion_4, self.conv_4, r8),
                  (self.convd8x, self.dense_3, self.fusion_3, self.conv_3, r4),
                  (self.convd4x, self.dense_2, self.fusion_2, self.conv_2, r2),
                  (self.convd2x, self.dense_1, self.fusion_1, self.conv_1, x)]
        for k, (upc, dense, fusion, rdb, s) in enumerate(stages):
            u = F.interpolate(upc(cur), size=s.shape[2:], mode="bilinear", align_corners=False)
            s = u + s
            s = dense(s) + s - u
            a, c = split(s)
            a = fusion(a, up)
            c = rdb(c)
            if k < 3:
                up.append(a)
            cur = torch.cat((a, c), 1)
        return self.conv_output(cur), feats


# ---------------------------------------------------------------- CKT

class TeacherProjectors(nn.Module):
    def __init__(self, c, h, n_teachers):
        super().__init__()
        self.PFPs = nn.ModuleList([nn.Sequential(
            nn.Conv2d(c, h, 3, 1, 1, bias=False), nn.ReLU(),
            nn.Conv2d(h, h, 3, 1, 1, bias=False)) for _ in range(n_teachers)])
        self.IPFPs = nn.ModuleList([nn.Sequential(
            nn.Conv2d(h, c, 3, 1, 1, bias=False), nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 1, bias=False)) for _ in range(n_teachers)])

    def forward(self, feats):
        P = [self.PFPs[i](f) for i, f in enumerate(feats)]
        R = [self.IPFPs[i](p) for i, p in enumerate(P)]
        return P, R


class StudentProjector(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.PFP = nn.Sequential(nn.Conv2d(c, h, 3, 1, 1, bias=False), nn.ReLU(),
                                 nn.Conv2d(h, h, 3, 1, 1, bias=False))

    def forward(self, s):
        return self.PFP(s)


class CKTModule(nn.Module):
    def __init__(self, c, h, n_teachers):
        super().__init__()
        self.teacher_projectors = TeacherProjectors(c, h, n_teachers)
        self.student_projector = StudentProjector(c, h)

    def forward(self, tf, sf):
        P, R = self.teacher_projectors(tf)
        return P, R, self.student_projector(sf)


# ---------------------------------------------------------------- VGG19 and the losses

def vgg19_features30():
    import torchvision
    try:
        vgg = torchvision.models.vgg19(weights=None)
    except TypeError:
        vgg = torchvision.models.vgg19(pretrained=False)
    m = nn.Module()
    m.features = nn.Sequential(*list(vgg.features.children())[:30])
    return m


def vgg_slices(m, x):
    bounds = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)]
    out = []
    for lo, hi in bounds:
        for i in range(lo, hi):
            x = m.features[i](x)
        out.append(x)
    return out


CR_W = [1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0]


def scr_loss(vgg, a, p, n):
    fa, fp, fn = vgg_slices(vgg, a), vgg_slices(vgg, p), vgg_slices(vgg, n)
    loss = 0
    for k in range(5):
        d_ap = F.l1_loss(fa[k], fp[k].detach())
        d_an = F.l1_loss(fa[k], fn[k].detach())
        loss = loss + CR_W[k] * (d_ap / (d_an + 1e-7))
    return loss


def hcr_loss(vgg, a, p, n):
    fa, fp, fn = vgg_slices(vgg, a), vgg_slices(vgg, p), vgg_slices(vgg, n)
    loss = 0
    for k in range(5):
        b, c, h, w = fa[k].shape
        d_ap = F.l1_loss(fa[k], fp[k].detach())
        d_an = F.l1_loss(fa[k].unsqueeze(1).expand(b, b, c, h, w),
                         fn[k].expand(b, b, c, h, w).detach())
        loss = loss + CR_W[k] * (d_ap / (d_an + 1e-7))
    return loss


# ---------------------------------------------------------------- fixtures

def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape) * (hi - lo) + lo).float()


def block_case(out, tag, module, inputs, slope_jitter=True):
    """Stores module params (float32, random), inputs, output and gradients of
    L = sum(y * proj) with proj = pattern('proj.<tag>') w.r.t. inputs and params."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("act.weight") or name.endswith("relu.weight"):
                if slope_jitter:
                    t.copy_(0.25 + 0.2 * torch.rand(1) - 0.1)
    for name, t in module.state_dict().items():
        out["%s.param.%s" % (tag, name)] = t.float().clone()
    m = module.double()
    xs = [x.double().requires_grad_(True) for x in inputs]
    y = m(*xs) if len(xs) == 1 else m(xs[0], xs[1:])
    L = (y * proj("proj." + tag, y)).sum()
    L.backward()
    for i, x in enumerate(inputs):
        out["%s.x%d" % (tag, i)] = x
        out["%s.dx%d" % (tag, i)] = xs[i].grad
    out[tag + ".y"] = y
    for name, p in m.named_parameters():
        out["%s.grad.%s" % (tag, name)] = p.grad


def gen_blocks():
    torch.manual_seed(101)
    out = {}
    block_case(out, "resblock", ResidualBlock(4), [rand(2, 4, 8, 8)])
    block_case(out, "rdb", RDB(4, 4, 4), [rand(2, 4, 8, 8)])
    block_case(out, "encoder", Encoder_MDCBlock1(8, 3),
               [rand(2, 8, 4, 4), rand(2, 2, 16, 16), rand(2, 4, 8, 8)])
    block_case(out, "decoder", Decoder_MDCBlock1(2, 3),
               [rand(2, 2, 16, 16), rand(2, 8, 4, 4), rand(2, 4, 8, 8)])
    fixture.write(os.path.join(OUT, "net_blocks.safetensors"), out)


NET_SMALL_GRADS = ["conv_input.conv2d.weight", "conv_input.conv2d.bias", "dense0.0.relu.weight",
                   "fusion2.down_convs.1.act.weight", "fusion4.up_convs.3.deconv.weight",
                   "dehaze.res1.conv2.conv2d.bias", "dehaze.res0.relu.weight",
                   "convd2x.conv2d.bias", "fusion_1.down_convs.0.conv.weight",
                   "conv_1.conv_1x1.weight", "conv_output.conv2d.weight",
                   "conv_output.conv2d.bias"]


def gen_net_small():
    torch.manual_seed(202)
    net = Net(8, 2)
    fill_pattern(net)
    net = net.double()
    x32 = rand(2, 3, 32, 32, lo=0.0, hi=1.0)
    x = x32.double().requires_grad_(True)
    y, feats = net(x)
    L = (y * proj("proj.y", y)).sum()
    for k, f in enumerate(feats):
        L = L + (f * proj("proj.f%d" % k, f)).sum()
    L.backward()
    params = dict(net.named_parameters())
    out = {"x": x32, "y": y, "dx": x.grad}
    for k, f in enumerate(feats):
        out["f%d" % k] = f
    for name in NET_SMALL_GRADS:
        out["grad." + name] = params[name].grad
    ref = Net(16, 18)
    meta = {"keys": keys_meta(net), "numel_ref": str(sum(p.numel() for p in ref.parameters()))}
    fixture.write(os.path.join(OUT, "net_small.safetensors"), out, meta)


def gen_net_ref():
    torch.manual_seed(303)
    net = Net(16, 18)
    fill_pattern(net)
    net = net.double()
    x32 = rand(1, 3, 64, 64, lo=0.0, hi=1.0)
    with torch.no_grad():
        y, _ = net(x32.double())
    fixture.write(os.path.join(OUT, "net_ref.safetensors"), {"x": x32, "y": y})


CKT_WIDTH, CKT_T = 2, 2
CKT_SIDES = [8, 4, 2, 2]
CKT_GAIN = 2.0


def gen_ckt():
    torch.manual_seed(404)
    chans = [4 * CKT_WIDTH, 8 * CKT_WIDTH, 16 * CKT_WIDTH, 16 * CKT_WIDTH]
    mods = nn.ModuleList([CKTModule(c, c // 2, CKT_T) for c in chans])
    fill_pattern(mods, CKT_GAIN)
    mods = mods.double()
    out = {}
    L = 0
    S_all = []
    for l, c in enumerate(chans):
        s = CKT_SIDES[l]
        Fs = [rand(1, c, s, s) for _ in range(CKT_T)]
        S32 = rand(CKT_T, c, s, s)
        S = S32.double().requires_grad_(True)
        S_all.append(S)
        P, R, Q = mods[l]([f.double() for f in Fs], S)
        for t in range(CKT_T):
            out["F%d_%d" % (l, t)] = Fs[t]
            out["P%d_%d" % (l, t)] = P[t]
            out["R%d_%d" % (l, t)] = R[t]
            L = L + (P[t] * proj("proj.P%d_%d" % (l, t), P[t])).sum()
            L = L + (R[t] * proj("proj.R%d_%d" % (l, t), R[t])).sum()
        out["S%d" % l] = S32
        out["Q%d" % l] = Q
        L = L + (Q * proj("proj.Q%d" % l, Q)).sum()
    L.backward()
    for l, S in enumerate(S_all):
        out["dS%d" % l] = S.grad
    for name, p in mods.named_parameters():
        if name.startswith("0.") or name == "3.student_projector.PFP.2.weight":
            out["grad." + name] = p.grad
    fixture.write(os.path.join(OUT, "net_ckt.safetensors"), out,
                  {"keys": keys_meta(mods), "gain": str(CKT_GAIN)})


VGG_GAIN = 2.0


def gen_vgg():
    torch.manual_seed(505)
    vgg = vgg19_features30()
    fill_pattern(vgg, VGG_GAIN)
    vgg = vgg.double()
    for p in vgg.parameters():
        p.requires_grad_(False)
    x32 = rand(1, 3, 16, 16, lo=0.0, hi=1.0)
    x = x32.double().requires_grad_(True)
    feats = vgg_slices(vgg, x)
    L = 0
    out = {"x": x32}
    for k, f in enumerate(feats):
        out["relu%d" % (k + 1)] = f
        L = L + (f * proj("proj.vgg%d" % k, f)).sum()
        print("vgg slice %d: shape %s mean |v| %.4g" % (k, tuple(f.shape), f.abs().mean().item()))
    L.backward()
    out["dx"] = x.grad
    a32, p32, n32 = (rand(2, 3, 16, 16, lo=0.0, hi=1.0) for _ in range(3))
    out.update({"a": a32, "p": p32, "n": n32})
    for tag, fn in (("scr", scr_loss), ("hcr", hcr_loss)):
        a = a32.double().requires_grad_(True)
        loss = fn(vgg, a, p32.double(), n32.double())
        loss.backward()
        out[tag] = loss.reshape(1)
        out["d%s_da" % tag] = a.grad
        print("%s = %.8g" % (tag, loss.item()))
    fixture.write(os.path.join(OUT, "net_vgg.safetensors"), out,
                  {"keys": keys_meta(vgg), "gain": str(VGG_GAIN)})


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT, exist_ok=True)
    gen_blocks()
    gen_net_small()
    gen_net_ref()
    gen_ckt()
    gen_vgg()


if __name__ == "__main__":
    main()
