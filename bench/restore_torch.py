#!/usr/bin/python3
"""restore_torch.py: the PyTorch side of bench_restore.c: the same network (MSBDN-RDFF,
width 16, 18 bottleneck blocks, random weights; the module definitions of
tools/golden/gen_net.py) restoring one image in eager mode under torch.no_grad() on the same
number of threads. Prints one line per timed run and
  RESULT torch threads=N size=WxH median_s=... best_s=... peak_rss_mb=...
where the peak is this process's ru_maxrss (the interpreter and torch included).
Usage: /usr/bin/python3 bench/restore_torch.py [--threads N] [--reps R] [--width W] [--height H]
"""
import argparse
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "golden"))
import gen_net  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = gen_net.Net(16, 18).eval()
    x = torch.rand(1, 3, a.height, a.width)
    print(f"restore_torch: PyTorch {torch.__version__} eager, {a.width}x{a.height} image, "
          f"{torch.get_num_threads()} threads, {a.reps} runs", flush=True)
    times = []
    with torch.no_grad():
        for r in range(-1, a.reps):
            s = time.monotonic()
            y, _ = net(x)
            dt = time.monotonic() - s
            del y
            print(f"  {'warm-up' if r < 0 else 'run %d  ' % (r + 1)} {dt:.3f} s", flush=True)
            if r >= 0:
                times.append(dt)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT torch threads={a.threads} size={a.width}x{a.height} median_s={times[len(times) // 2]:.3f} "
          f"best_s={times[0]:.3f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
