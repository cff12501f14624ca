#!/usr/bin/python3
"""net_torch.py: PyTorch's side of the performance comparison (bench/run_perf.sh).

Times the reference network's eager forward pass (torch.no_grad, the module definitions of
tools/golden/gen_net.py, which follow the reference repository) or, with --steps, one training
step of each stage at batch 3 (teacher: L1; KC: 3 frozen teachers under no_grad, CKT feature
losses, output distillation and 0.1 SCR through VGG19; KE: L1 and 0.2 HCR through VGG19; Adam),
printing lines in the format of bench_net / bench_steps:
  torch <what> threads=N size=HxW batch=B best_s=... median_s=... runs=R peak_rss_mib=...
Usage: /usr/bin/python3 bench/net_torch.py [--threads N] [--size HxW] [--batch B] [--reps R]
       [--steps] [--only teacher|kc|ke]
Steps use a square patch (--size S or SxS, default 224) and two untimed warm-up steps.
"""
import argparse
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "golden"))
import gen_net  # noqa: E402


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report(what, args, times, batch, cpu=None):
    times = sorted(times)
    extra = " cpu_best_s=%.3f" % min(cpu) if cpu else ""
    print("torch %s threads=%d size=%dx%d batch=%d best_s=%.3f median_s=%.3f runs=%d "
          "peak_rss_mib=%.0f%s" % (what, args.threads, args.h, args.w, batch, times[0],
                                   times[len(times) // 2], len(times), peak_rss_mib(), extra),
          flush=True)


def bench_forward(args):
    torch.manual_seed(1)
    net = gen_net.Net(args.width, args.res_blocks).eval()
    x = torch.rand(args.batch, 3, args.h, args.w)
    times, cpu = [], []
    with torch.no_grad():
        for i in range(args.reps + 1):  # run 0 is the warm-up
            s, c = time.perf_counter(), time.process_time()
            net(x)
            if i:
                times.append(time.perf_counter() - s)
                cpu.append(time.process_time() - c)
    report("forward", args, times, args.batch, cpu)


def step_models(args):
    torch.manual_seed(2)
    b = args.width
    student = gen_net.Net(b, args.res_blocks).train()
    teachers = [gen_net.Net(b, args.res_blocks).eval() for _ in range(3)]
    for t in teachers:
        for q in t.parameters():
            q.requires_grad_(False)
    chans = [4 * b, 8 * b, 16 * b, 16 * b]
    ckt = torch.nn.ModuleList([gen_net.CKTModule(c, c // 2, 3) for c in chans])
    vgg = gen_net.vgg19_features30().eval()
    for q in vgg.parameters():
        q.requires_grad_(False)
    return student, teachers, ckt, vgg


def step_teacher(m, opt, x, t):
    student = m[0]
    opt.zero_grad()
    y, _ = student(x)
    torch.nn.functional.l1_loss(y, t).backward()
    opt.step()


def step_ke(m, opt, x, t):
    student, _, _, vgg = m
    opt.zero_grad()
    y, _ = student(x)
    loss = torch.nn.functional.l1_loss(y, t) + 0.2 * gen_net.hcr_loss(vgg, y, t, x)
    loss.backward()
    opt.step()


def step_kc(m, opt, x, t):
    student, teachers, ckt, vgg = m
    F = torch.nn.functional
    opt.zero_grad()
    per = x.shape[0] // len(teachers)
    with torch.no_grad():
        touts, tfeats = [], []
        for k, teacher in enumerate(teachers):
            o, f = teacher(x[k * per:(k + 1) * per])
            touts.append(o)
            tfeats.append(f)
    y, S = student(x)
    loss = F.l1_loss(y, torch.cat(touts, 0))
    for lvl in range(4):
        Fs = [tf[lvl] for tf in tfeats]
        P, R, Q = ckt[lvl](Fs, S[lvl])
        loss = loss + F.l1_loss(Q, torch.cat(P, 0))
        loss = loss + 0.05 * F.l1_loss(torch.cat(R, 0), torch.cat(Fs, 0))
    loss = loss + 0.1 * gen_net.scr_loss(vgg, y, t, x)
    loss.backward()
    opt.step()


def bench_steps(args):
    m = step_models(args)
    student, _, ckt, _ = m
    opts = {"teacher": torch.optim.Adam(student.parameters(), lr=1e-4),
            "kc": torch.optim.Adam(list(student.parameters()) + list(ckt.parameters()), lr=1e-4),
            "ke": torch.optim.Adam(student.parameters(), lr=1e-4)}
    fns = {"teacher": step_teacher, "kc": step_kc, "ke": step_ke}
    torch.manual_seed(3)
    x = torch.rand(args.batch, 3, args.h, args.w)
    t = torch.rand(args.batch, 3, args.h, args.w)
    for name in ("teacher", "kc", "ke"):
        if args.only and args.only != name:
            continue
        for _ in range(2):
            fns[name](m, opts[name], x, t)
        times = []
        for _ in range(args.reps):
            s = time.perf_counter()
            fns[name](m, opts[name], x, t)
            times.append(time.perf_counter() - s)
        report("step-" + name, args, times, args.batch)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", default="480x640")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--res-blocks", type=int, default=18)
    p.add_argument("--steps", action="store_true")
    p.add_argument("--only", default=None)
    args = p.parse_args()
    if args.steps and args.size == "480x640":
        args.size = "224"
    if args.steps and args.batch == 1:
        args.batch = 3
    dims = [int(v) for v in args.size.split("x")]
    args.h, args.w = (dims[0], dims[0]) if len(dims) == 1 else dims
    torch.set_num_threads(args.threads)
    if args.steps:
        bench_steps(args)
    else:
        bench_forward(args)


if __name__ == "__main__":
    main()
