#!/usr/bin/env python3
"""cuDNN (through PyTorch) on every layer of bench/layers.csv, joined with convgen's CUDA
times from convgen_gpu_bench into a markdown table (bench/RESULTS-gpu.md).

    python3 bench/cudnn_bench.py --convgen convgen-gpu.csv --markdown RESULTS-gpu.md

fp32 with TF32 off (the comparison the target is set against) and with TF32 on; medians
of repeated runs timed with CUDA events after warm-up; the share of the GPU's fp32 peak
is against an fp32 matrix multiply (TF32 off) measured in the same run.
"""
import argparse
import csv
import datetime
import os
import statistics

import torch

from report import geomean, write_markdown

SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.csv")


def read_suite(path):
    rows = [line for line in open(path) if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(rows))


def make_layer(row):
    i = {k: int(v) for k, v in row.items() if k not in ("name", "padding_mode", "act")}
    if i["dims"] == 2:
        conv = torch.nn.Conv2d(i["c_in"], i["c_out"], (i["kh"], i["kw"]), (i["sh"], i["sw"]), (i["ph"], i["pw"]),
                               (i["dh"], i["dw"]), i["groups"], bool(i["bias"]), row["padding_mode"])
        shape = (i["n"], i["c_in"], i["h"], i["w"])
    else:
        conv = torch.nn.Conv1d(i["c_in"], i["c_out"], i["kw"], i["sw"], i["pw"], i["dw"], i["groups"],
                               bool(i["bias"]), row["padding_mode"])
        shape = (i["n"], i["c_in"], i["w"])
    layer = torch.nn.Sequential(conv, torch.nn.ReLU()) if row["act"] == "relu" else conv
    return layer.cuda().eval(), shape


def median_ms(run, min_seconds=0.5):
    for _ in range(5):
        run()
    torch.cuda.synchronize()
    times, spent = [], 0.0
    while len(times) < 10 or (len(times) < 2000 and spent < min_seconds * 1000):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
        spent += times[-1]
    return statistics.median(times)


def fp32_peak_tflops():
    torch.backends.cuda.matmul.allow_tf32 = False
    a = torch.randn(8192, 8192, device="cuda")
    b = torch.randn(8192, 8192, device="cuda")
    ms = median_ms(lambda: a @ b)
    return 2 * 8192 ** 3 / ms / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--convgen", required=True, help="CSV written by convgen_gpu_bench")
    parser.add_argument("--markdown", required=True, help="where to write the table")
    args = parser.parse_args()

    convgen = {row["name"]: row for row in csv.DictReader(open(args.convgen))}
    peak = fp32_peak_tflops()
    device = torch.cuda.get_device_name()
    lines = [f"# convgen on the GPU against cuDNN\n",
             f"{device}, PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
             f"{datetime.date.today()}. fp32 matmul (TF32 off) measured at {peak:.1f} TFLOP/s: the peak below.\n",
             "| layer | convgen ms | cuDNN ms (TF32 off) | cuDNN ms (TF32 on) | convgen TFLOP/s | % of peak "
             "| cuDNN/convgen (TF32 off) | cuDNN/convgen (TF32 on) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ratios_off, ratios_on = [], []
    torch.backends.cudnn.benchmark = True
    with torch.no_grad():
        for row in read_suite(SUITE):
            if row["name"] not in convgen:
                continue
            layer, shape = make_layer(row)
            x = torch.randn(shape, device="cuda")
            times = {}
            for tf32 in (False, True):
                torch.backends.cudnn.allow_tf32 = tf32
                times[tf32] = median_ms(lambda: layer(x))
            ours = float(convgen[row["name"]]["convgen_ms"])
            tflops = float(convgen[row["name"]]["gflop"]) / ours
            ratios_off.append(times[False] / ours)
            ratios_on.append(times[True] / ours)
            lines.append(f"| {row['name']} | {ours:.4f} | {times[False]:.4f} | {times[True]:.4f} | {tflops:.2f} "
                         f"| {100 * tflops / peak:.0f}% | {ratios_off[-1]:.2f}x | {ratios_on[-1]:.2f}x |")
    lines.append(f"| **geometric mean** | | | | | | **{geomean(ratios_off):.2f}x** | **{geomean(ratios_on):.2f}x** |")
    write_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
