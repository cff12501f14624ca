"""gen_checkpoints.py: PyTorch checkpoint fixtures for tests/test_torch_load.c.

Writes small torch.save files into tests/golden/ckpt/, in the zip format (PyTorch >= 1.6)
and the legacy format (_use_new_zipfile_serialization=False), plus expected.safetensors
holding, as float32, every tensor the C loader must produce ("<fixture>/<name>").
  plain.pth / plain_legacy.pth       a model state dict (conv, BatchNorm with an int64
                                     num_batches_tracked, bias-free conv)
  latest_model / train_legacy.tar    a training checkpoint shaped like the reference's:
                                     {'epoch', 'state_dict', 'optimizer': Adam.state_dict(),
                                      'scheduler': a warm-up scheduler OBJECT holding a cosine
                                      scheduler and the Adam object (state keyed by Parameters),
                                      'ckt_module', numpy scalars, sets, bytes, big ints}
  dtypes.pth / dtypes_legacy.pth     f16, bf16, f64 and integer/bool tensors, a Parameter
  views.pth / views_legacy.pth       transposes, slices with offsets, stride-0 expand, a 4-D
                                     permute: all views of one storage, plus a separate tensor
  proto4.pth, proto1_legacy.pth      other pickle protocols (FRAME, MEMOIZE, ... / protocol 1)
  epoch_10_psnr30.123_ssim0.912      a name with several dots (zip folder cut at the last dot)
  whole_module.pth                   torch.save(model): a pickled nn.Module, not a state dict
Legacy files name storages by memory address; they are renamed to fixed same-length keys
so that the output is deterministic. Every file is re-read with torch.load as a check.
Run: /usr/bin/python3 tools/golden/gen_checkpoints.py
"""
import io
import os
import pickle
import pickletools
import sys
import types
import zipfile

import numpy as np
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, _LRScheduler

sys.path.insert(0, os.path.dirname(__file__))
import fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "ckpt")
EXPECTED = {}


class GradualWarmupScheduler(_LRScheduler):
    """The shape of the reference's warm-up wrapper (warmup_scheduler package)."""

    def __init__(self, optimizer, multiplier, total_epoch, after_scheduler=None):
        self.multiplier = multiplier
        self.total_epoch = total_epoch
        self.after_scheduler = after_scheduler
        self.finished = False
        super().__init__(optimizer)

    def get_lr(self):
        return [base * self.last_epoch / self.total_epoch for base in self.base_lrs]


# Pickle the class under the reference's module name (a user class the loader never imports).
_mod = types.ModuleType("warmup_scheduler.scheduler")
_mod.GradualWarmupScheduler = GradualWarmupScheduler
GradualWarmupScheduler.__module__ = "warmup_scheduler.scheduler"
sys.modules["warmup_scheduler"] = types.ModuleType("warmup_scheduler")
sys.modules["warmup_scheduler.scheduler"] = _mod


def expect(prefix, sd):
    for k, v in sd.items():
        if isinstance(v, torch.Tensor):
            EXPECTED[f"{prefix}/{k}"] = v.detach().to(torch.float32).contiguous()


class _KeyRecorder(pickle.Unpickler):
    """Reads a legacy object pickle (our own, trusted) noting each storage key's element size
    in order of first use."""

    def __init__(self, f):
        super().__init__(f)
        self.keys = {}

    def persistent_load(self, pid):
        if pid[0] == "module":
            return pid[1]
        storage_type, key, numel = pid[1], pid[2], pid[4]
        self.keys.setdefault(key, storage_type(0).element_size())
        return storage_type(numel)


def legacy_rename_keys(path, protocol):
    """Legacy files name storages by memory address and order their records by that name.
    Renames the keys to "k0", "k1", ... in order of first use and rewrites the key list and
    the records in that order, so that the file is deterministic."""
    data = open(path, "rb").read()
    f = io.BytesIO(data)
    for _ in range(3):  # magic, protocol, system info: skipped without running them
        for _op in pickletools.genops(f):
            pass
    obj_start = f.tell()
    rec = _KeyRecorder(f)
    rec.load()
    obj = data[obj_start:f.tell()]
    keys = pickle.load(f)
    pos = f.tell()
    records = {}
    for k in keys:  # u64 element count, then count * element size bytes
        count = int.from_bytes(data[pos:pos + 8], "little")
        end = pos + 8 + count * rec.keys[k]
        records[k] = data[pos:end]
        pos = end
    assert pos == len(data)
    order = list(rec.keys)
    assert sorted(order) == sorted(keys)
    for i, k in enumerate(order):
        old, new = k.encode(), f"k{i}".encode()
        pat = b"X" + len(old).to_bytes(4, "little") + old
        assert obj.count(pat) >= 1
        obj = obj.replace(pat, b"X" + len(new).to_bytes(4, "little") + new)
    new_keys = [f"k{i}" for i in range(len(order))]
    out = data[:obj_start] + obj + pickle.dumps(new_keys, protocol=protocol)
    out += b"".join(records[k] for k in order)
    open(path, "wb").write(out)


def save(obj, name, legacy=False, protocol=2):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    if legacy:
        legacy_rename_keys(path, protocol)
    return path


def check_same(path, sd, entry=None):
    got = torch.load(path)
    if entry:
        got = got[entry]
    for k, v in sd.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(got[k], v), (path, k)


class Student(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.out = torch.nn.Conv2d(4, 3, 1, bias=False)

    def forward(self, x):
        return self.out(torch.relu(self.bn(self.conv(x))))


def plain():
    torch.manual_seed(1)
    m = Student()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-1, 1)
        m.bn.running_var.uniform_(0.5, 2)
        m.bn.num_batches_tracked.fill_(5)
    sd = m.state_dict()
    expect("plain", sd)
    check_same(save(sd, "plain.pth"), sd)
    check_same(save(sd, "plain_legacy.pth", legacy=True), sd)


def training():
    torch.manual_seed(2)
    student = Student()
    ckt = torch.nn.ModuleList([torch.nn.Conv2d(4, 4, 1), torch.nn.Conv2d(4, 4, 1)])
    opt = torch.optim.Adam(list(student.parameters()) + list(ckt.parameters()), lr=4e-4)
    cosine = CosineAnnealingLR(opt, T_max=247, eta_min=1e-6)
    sched = GradualWarmupScheduler(opt, multiplier=1, total_epoch=3, after_scheduler=cosine)
    x = torch.randn(2, 3, 5, 5)
    for _ in range(2):
        opt.zero_grad()
        h = student.conv(x)
        loss = student(x).square().mean() + ckt[1](ckt[0](h)).square().mean()
        loss.backward()
        opt.step()
        sched.step()
    ckpt = {
        "epoch": 7,
        "state_dict": student.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched,
        "ckt_module": ckt.state_dict(),
        "best_psnr": np.float64(30.125),
        "misc": {"set": {1, 2}, "frozen": frozenset({"a"}), "bytes": b"\x00\xff", "big": 1 << 70,
                 "neg": -(1 << 65), "none": None, "tuple": (1.5, "x", [True, False])},
    }
    expect("train/state_dict", ckpt["state_dict"])
    expect("train/ckt_module", ckpt["ckt_module"])
    p = save(ckpt, "latest_model")
    check_same(p, ckpt["state_dict"], "state_dict")
    check_same(p, ckpt["ckt_module"], "ckt_module")
    p = save(ckpt, "train_legacy.tar", legacy=True)
    check_same(p, ckpt["state_dict"], "state_dict")


def dtypes():
    torch.manual_seed(3)
    sd = {
        "f16": (torch.randn(3, 4) * 10).half(),
        "bf16": (torch.randn(5) * 100).bfloat16(),
        "f64": torch.randn(2, 3, dtype=torch.float64) * 1e3,
        "f16_special": torch.tensor([65504.0, -0.0, 6e-8, float("inf"), 1e-5], dtype=torch.float16),
        "i64": torch.arange(-3, 3, dtype=torch.int64) * 1000,
        "i32": torch.tensor([-7, 0, 9], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "param": torch.nn.Parameter(torch.randn(2, 2)),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "note": "not a tensor",
    }
    expect("dtypes", sd)
    check_same(save(sd, "dtypes.pth"), sd)
    check_same(save(sd, "dtypes_legacy.pth", legacy=True), sd)


def views():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
    big = torch.arange(120, dtype=torch.float32).reshape(2, 3, 4, 5)
    sd = {
        "base": base,
        "t": base.t(),
        "slice": base[1:3, 2:5],
        "flat_off": base.view(-1)[5:11],
        "expand": base[2:3].expand(3, 6),
        "strided": base[::2, ::3],
        "perm": big.permute(0, 2, 3, 1),
        "perm_slice": big[1, :, 1:3].transpose(0, 2),
        "other": torch.linspace(-1, 1, 7),
    }
    assert not sd["t"].is_contiguous() and sd["slice"].storage_offset() == 8
    expect("views", sd)
    check_same(save(sd, "views.pth"), sd)
    check_same(save(sd, "views_legacy.pth", legacy=True), sd)


def protocols():
    torch.manual_seed(4)
    sd = torch.nn.Linear(3, 2).state_dict()
    sd["h"] = torch.randn(2, 2).half()
    expect("proto", sd)
    check_same(save({"state_dict": sd, "n": 3}, "proto4.pth", protocol=4), sd, "state_dict")
    check_same(save(sd, "proto1_legacy.pth", legacy=True, protocol=1), sd)


def dotted():
    torch.manual_seed(5)
    sd = {"w": torch.randn(3, 3)}
    expect("dotted", sd)
    p = save({"epoch": 10, "state_dict": sd}, "epoch_10_psnr30.123_ssim0.912")
    assert zipfile.ZipFile(p).namelist()[0].startswith("epoch_10_psnr30.123_ssim0/")
    check_same(p, sd, "state_dict")


def whole_module():
    torch.manual_seed(6)
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), os.path.join(OUT, "whole_module.pth"))


def main():
    os.makedirs(OUT, exist_ok=True)
    plain()
    training()
    dtypes()
    views()
    protocols()
    dotted()
    whole_module()
    fixture.write(os.path.join(OUT, "expected.safetensors"), EXPECTED)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
