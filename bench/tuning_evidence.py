#!/usr/bin/env python3
"""Default schedule vs tuned vs Halide's autoschedulers vs oneDNN, on every layer of
bench/layers.csv, on one thread, measured in one run of this script on this machine.

    python3 bench/tuning_evidence.py --convgen build/tools/convgen \\
        --onednn build-fast/bench/convgen_bench --budget 60 --db bench/tuning.txt \\
        --markdown bench/tuning-evidence.md

(With --tune-only, only the tuning: the database the AOT benchmark's kernels are built with.)

For each layer: `convgen tune` (resumes from DB.trials, so a second run of this script
reuses the trials of the first), then `convgen bench` for the default schedule, the tuned
knobs and each autoscheduler (planning for the layer's own input), all checked against the
reference; oneDNN's primitive time comes from convgen_bench (the AOT benchmark) in the same
run. Medians of repeated calls; the default and the tuned schedule each in --processes
fresh processes, interleaved, and the median of those (stretches of a busier host move
small layers by 10-30%; bench/RESULTS.md).
"""
import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile

from report import geomean, numbers, read_suite, write_markdown

AUTOSCHEDULERS = ["Adams2019", "Li2018", "Mullapudi2016"]


def suite_specs():
    """(name, spec, input shape) for every layer of the suite."""
    layers = []
    for r in read_suite():
        i = numbers(r)
        if i["dims"] == 2:
            geometry = (f"kernel_size=({i['kh']}, {i['kw']}), stride=({i['sh']}, {i['sw']}), "
                        f"padding=({i['ph']}, {i['pw']}), dilation=({i['dh']}, {i['dw']})")
            shape = [i["n"], i["c_in"], i["h"], i["w"]]
        else:
            geometry = f"kernel_size={i['kw']}, stride={i['sw']}, padding={i['pw']}, dilation={i['dw']}"
            shape = [i["n"], i["c_in"], i["w"]]
        spec = (f"Conv{i['dims']}d({i['c_in']}, {i['c_out']}, {geometry}, groups={i['groups']}, "
                f"bias={bool(i['bias'])}, padding_mode='{r['padding_mode']}')")
        if r["act"] == "relu":
            spec += " -> ReLU()"
        layers.append((r["name"], spec, shape))
    return layers


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def bench_ms(convgen, spec, shape, knobs, min_time):
    command = [convgen, "bench", "--spec", spec, "--input-shape", ",".join(map(str, shape)), "--threads", "1",
               "--min-time", str(min_time)]
    if knobs:
        command += ["--schedule", knobs]
    out = run(command)
    return float(re.search(r"median ([0-9.]+) ms", out).group(1))


def onednn_ms(onednn, names):
    with tempfile.TemporaryDirectory() as tmp:
        table = os.path.join(tmp, "onednn.md")
        run([onednn, "--threads", "1", "--layers", ",".join(names), "--markdown", table])
        times = {}
        for line in open(table):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and cells[0] in names:
                times.setdefault(cells[0], float(cells[2]))  # the first section: the native variant
        return times


def tuned_knobs(db, spec_canonical, target):
    for line in open(db):
        if line.startswith("#") or "|" not in line:
            continue
        fields = [f.strip() for f in line.split("|")]
        if fields[0] == spec_canonical and fields[1] == target:
            return fields[2]
    raise RuntimeError(f"no entry for {spec_canonical} on {target} in {db}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--convgen", required=True)
    parser.add_argument("--onednn", help="convgen_bench, built with CONVGEN_BUILD_BENCH")
    parser.add_argument("--budget", type=float, default=60, help="seconds of tuning per layer")
    parser.add_argument("--db", required=True)
    parser.add_argument("--markdown")
    parser.add_argument("--tune-only", action="store_true",
                        help="only tune every layer into --db (what the AOT benchmark's kernels are built with)")
    parser.add_argument("--min-time", type=float, default=1.0)
    parser.add_argument("--processes", type=int, default=3, help="fresh processes for the default and the tuned")
    parser.add_argument("--layers", help="comma-separated names (default: all)")
    parser.add_argument("--target", help="with --tune-only: the variant to tune, e.g. "
                        "x86-64-linux-avx-avx2-f16c-fma-sse41 (default: the one this CPU runs)")
    args = parser.parse_args()
    if not args.tune_only and not (args.onednn and args.markdown):
        parser.error("--onednn and --markdown are needed unless --tune-only")
    if args.target and not args.tune_only:
        parser.error("--target needs --tune-only (the comparison runs the variant this CPU runs)")

    layers = suite_specs()
    if args.layers:
        layers = [l for l in layers if l[0] in args.layers.split(",")]
    rows = []
    for name, spec, shape in layers:
        print(f"==> {name}: tuning for {args.budget:.0f} s", flush=True)
        shape_text = ",".join(map(str, shape))
        tuning = run([args.convgen, "tune", "--spec", spec, "--input-shape", shape_text, "--threads", "1",
                      "--budget", str(args.budget), "--db", args.db] + (["--target", args.target] if args.target else []))
        # The variant tuned, as the database records it ("on input (...) for TARGET, 1 threads, ...").
        target = re.search(r"^on input .* for ([^ ,]+), ", tuning, re.MULTILINE).group(1)
        canonical = run([args.convgen, "describe", "--spec", spec]).splitlines()[0]
        knobs = tuned_knobs(args.db, canonical, target)
        if args.tune_only:
            print(f"    {knobs or 'default'}", flush=True)
            continue
        # A layer whose tuning kept the default has one schedule, measured once.
        runs = {"default": [], "tuned": []}
        for _ in range(args.processes):
            runs["default"].append(bench_ms(args.convgen, spec, shape, "", args.min_time))
            if knobs:
                runs["tuned"].append(bench_ms(args.convgen, spec, shape, knobs, args.min_time))
        times = {which: statistics.median(ms) for which, ms in runs.items() if ms}
        times.setdefault("tuned", times["default"])
        estimate = f"estimate_n={shape[0]},estimate_w={shape[-1]}" + (f",estimate_h={shape[2]}" if len(shape) == 4 else "")
        for a in AUTOSCHEDULERS:
            try:
                times[a] = bench_ms(args.convgen, spec, shape, f"autoscheduler={a},{estimate}", args.min_time)
            except RuntimeError as e:
                print(f"    {a} failed: {str(e).splitlines()[-1]}", flush=True)
                times[a] = math.inf
        print(f"    default {times['default']:.3f} ms, tuned {times['tuned']:.3f} ms ({knobs or 'default'}), "
              + ", ".join(f"{a} {times[a]:.3f}" for a in AUTOSCHEDULERS), flush=True)
        rows.append((name, knobs, times))

    if args.tune_only:
        return 0
    print("==> oneDNN on the same layers", flush=True)
    onednn = onednn_ms(args.onednn, [r[0] for r in rows])
    lines = ["| layer | default ms | tuned ms | tuned knobs | best autoscheduler ms | oneDNN ms | tuned / default "
             "| oneDNN / tuned |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    gains, versus = [], []
    for name, knobs, t in rows:
        best_auto = min(AUTOSCHEDULERS, key=lambda a: t[a])
        gains.append(t["default"] / t["tuned"])
        versus.append(onednn[name] / t["tuned"])
        lines.append(f"| {name} | {t['default']:.3f} | {t['tuned']:.3f} | {knobs or '(default)'} | "
                     f"{t[best_auto]:.3f} ({best_auto}) | {onednn[name]:.3f} | {gains[-1]:.2f}x | {versus[-1]:.2f}x |")
    lines.append(f"| **geometric mean** | | | | | | **{geomean(gains):.2f}x** | **{geomean(versus):.2f}x** |")
    write_markdown(args.markdown, lines)


if __name__ == "__main__":
    sys.exit(main())
