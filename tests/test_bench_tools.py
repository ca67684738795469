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


class ResultsTables(unittest.TestCase):
    def test_reads_every_table_of_the_committed_results(self):
        found = list(target_bounds.tables(open(os.path.join(BENCH, "RESULTS.md")).read()))
        self.assertGreaterEqual(len(found), 2)  # 1 and 2 threads, per measured variant
        suite = target_bounds.real_work_shares()
        for section, heading, rows in found:
            self.assertIn("oneDNN", section)
            self.assertEqual(set(rows), set(suite), heading)
            for primitive, with_reorders, share in rows.values():
                self.assertGreater(primitive, 0)
                self.assertGreater(share, 0)

    def test_a_made_up_table(self):
        markdown = "\n".join([
            "## convgen's avx2 variant against oneDNN using avx2",
            "### 1 thread (measured FMA peak 100 GFLOP/s)",
            "| layer | convgen ms | oneDNN ms | oneDNN + reorders ms | convgen GFLOP/s | oneDNN / convgen | "
            "oneDNN+reorders / convgen | share of peak |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            "| resnet50_res5_3x3 | 1.0 | 0.9 | 1.2 | 80 | 0.90x | 1.20x | 80.0% |",
            "| **geometric mean** | | | | | **0.90x** | **1.20x** | |",
        ])
        [(section, heading, rows)] = list(target_bounds.tables(markdown))
        self.assertEqual(rows, {"resnet50_res5_3x3": (0.90, 1.20, 0.80)})


ANNOTATE = """\
    0.00 :   1000:  vpxor  %xmm0,%xmm0,%xmm0
   10.00 :   1004:  vmovaps %ymm0,(%rax,%rcx,1)
    0.00 :   1009:  dec    %rsi
    0.00 :   100c:  jne    1004 <kernel+0x4>
   30.00 :   1010:  vfmadd231ps %ymm1,%ymm2,%ymm3
   20.00 :   1016:  vmovaps %ymm3,0x20(%rsp)
   39.00 :   101c:  vfmadd231ps 0x20(%rsp),%ymm2,%ymm4
    1.00 :   1022:  ret
"""


class PerfBlocks(unittest.TestCase):
    def test_splits_at_jumps_and_their_targets(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(ANNOTATE)
        try:
            blocks = list(perf_blocks.blocks(perf_blocks.read(f.name)))
            self.assertEqual([b[0][1] for b in blocks], [0x1000, 0x1004, 0x1010])
            out = io.StringIO()
            sys.argv = ["perf_blocks.py", f.name, "--min", "5"]
            with redirect_stdout(out):
                perf_blocks.main()
        finally:
            os.unlink(f.name)
        lines = out.getvalue().splitlines()[1:]
        # The zero-fill loop: one vector store, a loop; the FMA block: 2 FMAs, a spill and a reload.
        self.assertEqual(lines[0].split(), ["1004", "10.0%", "3", "0", "1", "0", "0", "loop"])
        self.assertEqual(lines[1].split(), ["1010", "90.0%", "4", "2", "1", "2", "0"])


if __name__ == "__main__":
    unittest.main()
