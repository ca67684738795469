#!/usr/bin/env python3
"""How far the benchmark's "including reorders" ratios could rise on this machine at all.

    python3 bench/target_bounds.py [bench/RESULTS.md]

Reads the convgen-vs-oneDNN tables of a bench/RESULTS.md (written by scripts/bench.sh) and
bench/layers.csv. For every layer whose kernel does dense work (groups == 1), it prints:

- the share of the layer's nominal FMAs that are real work: taps that fall in zero padding
  multiply zeros, and a kernel may skip them (other padding modes read real values);
- convgen's and oneDNN's rates of real work as shares of measured peak (on AVX-512 convgen
  skips the padding taps of zero-padded 3x3 layers, so this is its whole rate there);
- the ratio against oneDNN including its reorders that a kernel running the real work at
  100% of measured peak would reach (what no kernel can beat);
- the share of peak on the real work that the suite's geometric mean of 1.3x needs from
  these layers if the grouped and depthwise layers keep their measured ratios (above 100%:
  out of reach for these layers alone).

The bounds are for direct convolution: every multiplication of a real tap is done. (A
Winograd or FFT kernel does fewer, and changes results by more than float32 reassociation.)

Shares of peak come from the table's own column (nominal GFLOP/s over the peak the
benchmark measured at start-up), so nothing here is timed again.
"""
import os
import sys

from report import geomean, numbers, read_suite

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = 1.3


def taps_inside(size, kernel, stride, pad, dilation):
    """(taps reading the input, all taps) along one axis of zero-padded convolution."""
    outputs = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    inside = sum(1 for o in range(outputs) for k in range(kernel) if 0 <= o * stride + k * dilation - pad < size)
    return inside, outputs * kernel


def real_work_shares():
    shares = {}
    for r in read_suite():
        i = numbers(r)
        share = 1.0
        if r["padding_mode"] == "zeros":
            for axis in ("h", "w"):
                inside, total = taps_inside(i[axis], i["k" + axis], i["s" + axis], i["p" + axis], i["d" + axis])
                share *= inside / total
        shares[r["name"]] = (share, i["groups"] == 1)
    return shares


COMPARISON_HEADER = ["layer", "convgen ms", "oneDNN ms", "oneDNN + reorders ms", "convgen GFLOP/s",
                     "oneDNN / convgen", "oneDNN+reorders / convgen", "share of peak"]


def tables(markdown):
    """(section title, thread heading, {layer: (primitive ratio, incl-reorders ratio, share)})
    for every table with the comparison's header; other tables (the tuning evidence) are skipped."""
    section = heading = None
    rows = {}
    in_comparison = False
    for line in markdown.splitlines() + ["## end"]:
        if line.startswith("#"):
            if rows:
                yield section, heading, rows
            rows = {}
            in_comparison = False
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.startswith("### "):
                heading = line[4:].strip()
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "layer":
            in_comparison = cells == COMPARISON_HEADER
        elif in_comparison and not cells[0].startswith(("-", "**")):
            rows[cells[0]] = (float(cells[5].rstrip("x")), float(cells[6].rstrip("x")), float(cells[7].rstrip("%")) / 100)


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(HERE, "RESULTS.md")
    shares = real_work_shares()
    for section, heading, rows in tables(open(path).read()):
        dense = [name for name in rows if shares[name][1]]
        if not dense:
            continue
        others = [rows[name][1] for name in rows if not shares[name][1]]
        measured = geomean([r[1] for r in rows.values()])
        # The dense layers' factor f that lifts the suite's geomean to TARGET:
        # geomean(others) ** (o / n) * (geomean(dense) * f) ** (d / n) = TARGET.
        n, d = len(rows), len(dense)
        factor = (TARGET / measured) ** (n / d)
        bounds = []
        print(f"## {section}\n\n### {heading}\n")
        print("| layer | real work | convgen's real work, share of peak | oneDNN's | best possible incl. reorders | "
              f"needed for a {TARGET}x geomean |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in dense:
            primitive, with_reorders, nominal_share = rows[name]
            real = shares[name][0]
            achieved = nominal_share * real
            best = with_reorders / achieved
            bounds.append(best)
            print(f"| {name} | {real:.1%} | {achieved:.1%} | {achieved / primitive:.1%} | {best:.2f}x | "
                  f"{achieved * factor:.0%} |")
        best_suite = geomean(bounds + others)
        print(f"\nGeometric mean including reorders (of the table's rounded ratios): {measured:.2f}x. With every "
              f"dense layer at 100% of peak on its real work and the {n - d} others as measured: {best_suite:.2f}x", end="")
        if best_suite < TARGET and others:
            # The factor g on the others that then lifts the suite to TARGET.
            others_factor = (TARGET / best_suite) ** (n / (n - d))
            print(f"; {TARGET}x would need those {n - d} also {others_factor:.2f}x faster than measured", end="")
        print(".\n")


if __name__ == "__main__":
    main(sys.argv)
