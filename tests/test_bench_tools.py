#!/usr/bin/env python3
"""The benchmark's analysis scripts: bench/target_bounds.py and bench/perf_blocks.py.

    python3 tests/test_bench_tools.py      (CTest runs it with the unit tests)
"""
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
sys.path.insert(0, BENCH)

import perf_blocks  # noqa: E402
import target_bounds  # noqa: E402


def temporary_file(text):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(text)
    return f.name


def printed(main, argv):
    out = io.StringIO()
    with redirect_stdout(out):
        main(argv)
    return out.getvalue()


class TapsInside(unittest.TestCase):
    def test_counts_taps_in_zero_padding_by_hand(self):
        # 3 taps, pad 1, 7 outputs: only the first output's left tap and the last output's
        # right tap read the padding.
        self.assertEqual(target_bounds.taps_inside(7, 3, 1, 1, 1), (19, 21))
        # 7 taps, stride 2, pad 3 on 224 (ResNet's stem): 112 outputs; outputs 0 and 1 reach 3
        # and 1 taps into the left padding, output 111 reaches 2 into the right.
        self.assertEqual(target_bounds.taps_inside(224, 7, 2, 3, 1), (784 - 6, 784))
        # No padding: every tap reads the input.
        self.assertEqual(target_bounds.taps_inside(35, 2, 1, 0, 1), (68, 68))
        # Dilation 2, pad 2, 5 wide: taps at o - 2, o and o + 2; outputs 0 and 1 lose their
        # first, outputs 3 and 4 their last.
        self.assertEqual(target_bounds.taps_inside(5, 3, 1, 2, 2), (11, 15))

    def test_suite_shares(self):
        shares = target_bounds.real_work_shares()
        self.assertAlmostEqual(shares["resnet50_res5_3x3"][0], (19 / 21) ** 2)
        self.assertEqual(shares["unet_reflect_3x3"][0], 1.0)  # reflect padding reads real values
        self.assertFalse(shares["mobilenet_dw_14"][1])  # depthwise is not dense work
        self.assertTrue(shares["whisper_conv1d_2_s2"][1])


HEADER = ("| layer | convgen ms | oneDNN ms | oneDNN + reorders ms | convgen GFLOP/s | oneDNN / convgen | "
          "oneDNN+reorders / convgen | share of peak |\n|---|---:|---:|---:|---:|---:|---:|---:|")

# Two layers: res5 (real work (19/21)^2 of the nominal) and a depthwise one; then a table of
# another kind, which must be skipped.
RESULTS = f"""\
## convgen's avx2 variant against oneDNN using avx2

### 1 thread (measured FMA peak 100 GFLOP/s)

{HEADER}
| resnet50_res5_3x3 | 1.0 | 0.9 | 1.0 | 81 | 0.90x | 1.00x | 81.0% |
| mobilenet_dw_14 | 1.0 | 0.8 | 2.0 | 30 | 0.80x | 2.00x | 30.0% |
| **geometric mean** | | | | | **0.85x** | **1.41x** | |

| layer | default ms | tuned ms | tuned knobs | best autoscheduler ms | oneDNN ms | tuned / default | oneDNN / tuned |
|---|---:|---:|---|---:|---:|---:|---:|
| resnet50_res5_3x3 | 2.124 | 2.124 | (default) | 76.885 (Mullapudi2016) | 1.728 | 1.00x | 0.81x |
"""


class ResultsTables(unittest.TestCase):
    def test_reads_the_comparison_tables_only(self):
        [(section, heading, rows)] = list(target_bounds.tables(RESULTS))
        self.assertEqual(section, "convgen's avx2 variant against oneDNN using avx2")
        self.assertEqual(rows, {"resnet50_res5_3x3": (0.90, 1.00, 0.81), "mobilenet_dw_14": (0.80, 2.00, 0.30)})

    def test_bounds(self):
        path = temporary_file(RESULTS)
        try:
            out = printed(target_bounds.main, ["target_bounds.py", path])
        finally:
            os.unlink(path)
        [row] = [line for line in out.splitlines() if line.startswith("| resnet50_res5_3x3")]
        # Real work 81.9%: convgen does it at 81% x 0.819 = 66.3% of peak, oneDNN at 66.3 / 0.9 =
        # 73.7%; at 100% the layer would take 0.663 of convgen's 1.0 ms, so 1.0 / 0.663 = 1.51x
        # including reorders. Geomean including reorders sqrt(1.0 * 2.0) = 1.41 >= 1.3, so
        # the 1.3x needs the dense layer at (1.3 / 1.414)^2 = 0.845 of its share: 56%.
        self.assertEqual([c.strip() for c in row.strip("|").split("|")],
                         ["resnet50_res5_3x3", "81.9%", "66.3%", "73.7%", "1.51x", "56%"])
        # With res5 at its bound: sqrt(1.508 * 2.0) = 1.74x.
        self.assertIn("as measured: 1.74x.", out)

    def test_reads_every_table_of_the_committed_results(self):
        found = list(target_bounds.tables(open(os.path.join(BENCH, "RESULTS.md")).read()))
        self.assertGreaterEqual(len(found), 2)  # 1 and 2 threads, per measured variant
        suite = target_bounds.real_work_shares()
        for section, heading, rows in found:
            self.assertEqual(set(rows), set(suite), heading)


ANNOTATE = """\
    0.00 :   1000:  vpxor  %xmm0,%xmm0,%xmm0
   10.00 :   1004:  vmovaps %ymm0,(%rax,%rcx,1)
    0.00 :   1009:  dec    %rsi
    0.00 :   100c:  jne    1004 <kernel+0x4>
   30.00 :   1010:  vfmadd231ps %ymm1,%ymm2,%ymm3
   20.00 :   1016:  vmovaps %ymm3,0x20(%rsp)
   20.00 :   101c:  vfmadd231ps 0x20(%rsp),%ymm2,%ymm4
    9.00 :   1022:  vmaskmovps %ymm4,%ymm5,(%rdi)
    5.00 :   1027:  vextractps $0x1,%xmm4,0x4(%rdi)
    0.00 :   102d:  vmovaps %ymm4,%ymm6
    0.00 :   1031:  ret
    6.00 :   1032:  vmovups %zmm0,(%rdi){%k1}
"""


class PerfBlocks(unittest.TestCase):
    def test_splits_at_jumps_their_targets_and_returns(self):
        path = temporary_file(ANNOTATE)
        try:
            blocks = list(perf_blocks.blocks(perf_blocks.read(path)))
            out = printed(perf_blocks.main, [path, "--min", "5"])
        finally:
            os.unlink(path)
        self.assertEqual([b[0][1] for b in blocks], [0x1000, 0x1004, 0x1010, 0x1032])
        lines = [line.split() for line in out.splitlines()[1:]]
        # The zero-fill loop: one vector store. The FMA block: 2 FMAs; a spill, a masked store
        # and an extracted lane (3 stores; the register move is none); 2 stack references.
        # The last: a store through a mask register.
        self.assertEqual(lines, [["1004", "10.0%", "3", "0", "1", "0", "0", "loop"],
                                 ["1010", "84.0%", "7", "2", "3", "2", "1"],
                                 ["1032", "6.0%", "1", "0", "1", "0", "1"]])


if __name__ == "__main__":
    unittest.main()
