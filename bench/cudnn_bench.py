#!/usr/bin/env python3
"""cuDNN (through PyTorch) on every layer of bench/layers.csv, joined with convgen's CUDA
times from convgen_gpu_bench into a markdown table (bench/RESULTS-gpu.md).

    python3 bench/cudnn_bench.py --convgen convgen-gpu.csv --markdown RESULTS-gpu.md [--csv cudnn.csv]

fp32 with TF32 off (the comparison the target is set against) and with TF32 on. Timed as
convgen_gpu_bench times convgen: calls back to back in batches of about a millisecond, each
batch ended by a synchronize, the median per call over batches after warm-up. PyTorch runs
a layer from Python, whose per-call overhead can exceed a small layer's kernels, so each
layer is also timed as a replayed CUDA graph (the kernels alone) and cuDNN is credited with
the faster of the two. cudnn.benchmark is on (cuDNN picks its fastest algorithm per
layer). The share of the GPU's fp32 peak is against an fp32 matrix product (TF32 off)
measured in the same run.
"""
import argparse
import csv
import datetime
import statistics
import time

import torch

from report import geomean, numbers, read_suite, write_markdown


def make_layer(row):
    i = numbers(row)
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


def per_call_ms(run, min_seconds=0.5):
    """Milliseconds per call of `run`, back to back in batches of about a millisecond."""
    for _ in range(5):
        run()
    torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    torch.cuda.synchronize()
    single = (time.perf_counter() - start) * 1e3
    batch = max(1, min(200, int(1.0 / max(single, 1e-3))))
    times, began = [], time.perf_counter()
    while len(times) < 5 or (len(times) < 1000 and time.perf_counter() - began < min_seconds):
        start = time.perf_counter()
        for _ in range(batch):
            run()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3 / batch)
    return statistics.median(times)


def graph_of(call):
    """`call` captured once in a CUDA graph (after warm-up on a side stream), as a replay function."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        call()
    return graph.replay


def fp32_peak_tflops():
    torch.backends.cuda.matmul.allow_tf32 = False
    a = torch.randn(8192, 8192, device="cuda")
    b = torch.randn(8192, 8192, device="cuda")
    ms = per_call_ms(lambda: a @ b)
    return 2 * 8192 ** 3 / ms / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--convgen", required=True, help="CSV written by convgen_gpu_bench")
    parser.add_argument("--markdown", required=True, help="where to write the table")
    parser.add_argument("--csv", help="where to write cuDNN's times (eager and graph, TF32 off and on)")
    args = parser.parse_args()

    convgen = {row["name"]: row for row in csv.DictReader(open(args.convgen)) if row["schedule"] == "default"}
    peak = fp32_peak_tflops()
    device = torch.cuda.get_device_name()
    lines = [f"# convgen on the GPU against cuDNN\n",
             f"{device}, PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
             f"{datetime.date.today()}. fp32 matmul (TF32 off) measured at {peak:.1f} TFLOP/s: the peak below. "
             "Milliseconds per call, calls back to back; cuDNN's is the faster of PyTorch eager and a "
             "replayed CUDA graph.\n",
             "| layer | convgen ms | cuDNN ms (TF32 off) | cuDNN ms (TF32 on) | convgen TFLOP/s | % of peak "
             "| cuDNN/convgen (TF32 off) | cuDNN/convgen (TF32 on) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ratios_off, ratios_on, rows_out, missing = [], [], [], []
    torch.backends.cudnn.benchmark = True
    with torch.no_grad():
        for row in read_suite():
            if row["name"] not in convgen:
                missing.append(row["name"])  # convgen's kernel failed: no ratio to take
                lines.append(f"| {row['name']} | failed | | | | | | |")
                continue
            layer, shape = make_layer(row)
            x = torch.randn(shape, device="cuda")
            best = {}
            for tf32 in (False, True):
                torch.backends.cudnn.allow_tf32 = tf32
                eager = per_call_ms(lambda: layer(x))
                graph = per_call_ms(graph_of(lambda: layer(x)))
                best[tf32] = min(eager, graph)
                rows_out.append({"name": row["name"], "tf32": int(tf32), "eager_ms": eager, "graph_ms": graph})
            ours = float(convgen[row["name"]]["convgen_ms"])
            tflops = float(convgen[row["name"]]["gflop"]) / ours
            ratios_off.append(best[False] / ours)
            ratios_on.append(best[True] / ours)
            lines.append(f"| {row['name']} | {ours:.4f} | {best[False]:.4f} | {best[True]:.4f} | {tflops:.2f} "
                         f"| {100 * tflops / peak:.0f}% | {ratios_off[-1]:.2f}x | {ratios_on[-1]:.2f}x |")
            print(rows_out[-2], rows_out[-1], flush=True)
    lines.append(f"| **geometric mean** | | | | | | **{geomean(ratios_off):.2f}x** | **{geomean(ratios_on):.2f}x** |")
    if missing:
        lines.append(f"\nThe geometric mean leaves out {len(missing)} layers whose convgen kernel failed: "
                     f"{', '.join(missing)}.")
    write_markdown(args.markdown, lines)
    if args.csv:
        with open(args.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows_out[0]))
            writer.writeheader()
            writer.writerows(rows_out)


if __name__ == "__main__":
    main()
