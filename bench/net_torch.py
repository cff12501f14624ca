#!/usr/bin/python3
"""net_torch.py: PyTorch's side of the performance comparison (bench/run_perf.sh).

Times the reference network's eager forward pass (torch.no_grad, the module definitions of
tools/golden/gen_net.py, which follow the reference repository) and, with --step, one training
step of each stage, printing lines in the format of bench_net:
  torch <what> threads=N size=HxW batch=B best_s=... median_s=... runs=R peak_rss_mib=...
Usage: /usr/bin/python3 bench/net_torch.py [--threads N] [--size HxW] [--batch B] [--reps R]
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


def report(what, args, times, batch):
    times = sorted(times)
    print("torch %s threads=%d size=%dx%d batch=%d best_s=%.3f median_s=%.3f runs=%d "
          "peak_rss_mib=%.0f" % (what, args.threads, args.h, args.w, batch, times[0],
                                 times[len(times) // 2], len(times), peak_rss_mib()),
          flush=True)


def bench_forward(args):
    torch.manual_seed(1)
    net = gen_net.Net(args.width, args.res_blocks).eval()
    x = torch.rand(args.batch, 3, args.h, args.w)
    times = []
    with torch.no_grad():
        for i in range(args.reps + 1):  # run 0 is the warm-up
            s = time.perf_counter()
            net(x)
            if i:
                times.append(time.perf_counter() - s)
    report("forward", args, times, args.batch)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", default="480x640")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--res-blocks", type=int, default=18)
    args = p.parse_args()
    args.h, args.w = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(args.threads)
    bench_forward(args)


if __name__ == "__main__":
    main()
