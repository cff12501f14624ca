"""gen_metrics.py: golden values for tests/test_metrics.c and tests/cli_metrics.sh.
Image pairs: 64x64 crops of sample photos (ground truth) and degraded versions (noise, blur,
colour shift; a haze-like veil), written as 8-bit PNGs. Values: the reference's PSNR
(torchPSNR) and its Gaussian-window SSIM re-written in PyTorch (11x11, sigma 1.5, zero
padding 5, groups = channels) in float32 (as the reference runs it) and float64 (window
included: the exact definition that the C code implements), scikit-image's peak_signal_noise_ratio,
and the Y-channel variants (the reference's MATLAB-style rgb2ycbcr). Case "unclamped" applies
pred * 1.3 - 0.15 in float32 (the C test does the same) to check that SSIM sees the
prediction unclamped and PSNR clamps it. Run from the repository root with /usr/bin/python3.
Output: tests/golden/metrics_<case>_{gt,pred}.png and tests/golden/metrics_expected.txt."""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

OUT = "tests/golden"


def gaussian(size, sigma, dtype):
    """The reference builds it in float32; float64 gives the exact definition."""
    g = torch.tensor([math.exp(-(x - size // 2) ** 2 / float(2 * sigma ** 2)) for x in range(size)], dtype=dtype)
    return g / g.sum()


def ssim_ref(img1, img2, dtype):
    """The reference evaluation SSIM: img (1, C, H, W), mean over the whole map."""
    img1, img2 = img1.to(dtype), img2.to(dtype)
    c = img1.shape[1]
    w1 = gaussian(11, 1.5, dtype).unsqueeze(1)
    w2 = w1.mm(w1.t()).to(dtype).unsqueeze(0).unsqueeze(0)
    win = w2.expand(c, 1, 11, 11).contiguous()
    mu1 = F.conv2d(img1, win, padding=5, groups=c)
    mu2 = F.conv2d(img2, win, padding=5, groups=c)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = F.conv2d(img1 * img1, win, padding=5, groups=c) - mu1_sq
    s2 = F.conv2d(img2 * img2, win, padding=5, groups=c) - mu2_sq
    s12 = F.conv2d(img1 * img2, win, padding=5, groups=c) - mu12
    C1, C2 = 0.01 ** 2, 0.03 ** 2
    m = ((2 * mu12 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))
    return m.mean().item()


def psnr_ref(pred, gt):
    d = torch.clamp(pred, 0, 1) - torch.clamp(gt, 0, 1)
    return (20 * torch.log10(1 / (d ** 2).mean().sqrt())).item()


def y_of(t):
    """Reference rgb2ycbcr(only_y) of a (1, 3, H, W) tensor: clamp, HWC, float64 maths."""
    img = t[0].clamp(0, 1).permute(1, 2, 0).double().numpy() * 255.0
    y = np.dot(img, [65.481, 128.553, 24.966]) / 255.0 + 16.0
    return y / 255.0


def to_tensor(arr):
    return torch.from_numpy(np.asarray(arr, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()


def load(path):
    return to_tensor(np.asarray(Image.open(path).convert("RGB")))


def make_pairs():
    rng = np.random.default_rng(20240601)
    chelsea = np.asarray(Image.open("data/samples/train/chelsea.jpg").convert("RGB"))[90:154, 140:204]
    noisy = chelsea.astype(np.float64) + rng.normal(0, 12, chelsea.shape) + np.array([6, -4, 3])
    blurred = np.asarray(Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).resize((32, 32), Image.BILINEAR)
                         .resize((64, 64), Image.BILINEAR))
    coffee = np.asarray(Image.open("data/samples/train/coffee.jpg").convert("RGB"))[100:164, 150:214]
    t = np.linspace(0.55, 0.85, 64)[:, None, None]
    hazy = coffee.astype(np.float64) * t + 235.0 * (1 - t)
    return {
        "a": (chelsea, blurred),
        "b": (coffee, np.clip(hazy, 0, 255).round().astype(np.uint8)),
    }


def main():
    lines = []
    for name, (gt, pred) in make_pairs().items():
        gpath = os.path.join(OUT, "metrics_%s_gt.png" % name)
        ppath = os.path.join(OUT, "metrics_%s_pred.png" % name)
        Image.fromarray(gt).save(gpath)
        Image.fromarray(pred).save(ppath)
        g, p = load(gpath), load(ppath)
        cases = [(name, p)]
        if name == "a":
            cases.append(("unclamped", p * 1.3 - 0.15))
        for case, pc in cases:
            vals = {
                "psnr": psnr_ref(pc, g),
                "psnr_skimage": peak_signal_noise_ratio(g[0].numpy(), pc[0].clamp(0, 1).numpy(), data_range=1.0),
                "ssim_f32": ssim_ref(pc, g, torch.float32),
                "ssim_f64": ssim_ref(pc, g, torch.float64),
            }
            yp, yg = y_of(pc), y_of(g)
            vals["psnr_y"] = peak_signal_noise_ratio(yg, yp, data_range=1.0)
            yt = lambda a: torch.from_numpy(a).unsqueeze(0).unsqueeze(0)
            vals["ssim_y_f32"] = ssim_ref(yt(yp.astype(np.float32)), yt(yg.astype(np.float32)), torch.float32)
            vals["ssim_y_f64"] = ssim_ref(yt(yp), yt(yg), torch.float64)
            for k, v in vals.items():
                lines.append("%s %s %.12f" % (case, k, v))
    with open(os.path.join(OUT, "metrics_expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
