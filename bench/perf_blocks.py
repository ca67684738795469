#!/usr/bin/env python3
"""Where a kernel's samples fall, block by block: perf annotate's output split into basic blocks.

    perf record -o k.data build-bench/bench/convgen_bench --layers mobilenet_dw_14 \\
        --threads 1 --processes 1 --min-time 2
    perf report -i k.data --stdio | grep convgen_kernel      # the kernel's symbol
    perf annotate -i k.data --stdio -s SYMBOL > k.txt
    python3 bench/perf_blocks.py k.txt [--min 1.0]

A block starts at a jump target or after a jump, return or trap. For every block holding at
least --min percent of the symbol's samples it prints the share, the instruction count, the
FMAs, the vector stores (whole vectors, masked, and single lanes extracted to memory), the
references to the stack through %rsp (spills, reloads and locals; a frame kept in %rbp is
not counted), the masked loads and stores, and whether it is a loop (its last jump goes back
to its start). An inner FMA loop with no stack references is a register tile that fits;
stores to the stack within an FMA block are spills.
"""
import argparse
import re

LINE = re.compile(r"\s*([0-9.]+)\s*:\s*([0-9a-f]+):\s*(.*)")
JUMP = re.compile(r"j\w+\s+([0-9a-f]+)")
BLOCK_END = re.compile(r"(j\w+|ret\w*|ud2)\b")
# A vector register (or, for vmaskmov/vpmaskmov, a mask and a vector) stored to memory.
VECTOR_STORE = re.compile(r"(vmov\w+|vp?maskmov\w+|vextract\w+)\s+(\$\w+,)?%[xyz]mm\d+,(%[xyz]mm\d+,)?[^%]*\(")
MASKED_MEMORY = re.compile(r"vp?maskmov|\).*\{%k\d\}|\{%k\d\}.*\(")


def read(path):
    """(share, address, instruction) for every annotated instruction."""
    rows = []
    for line in open(path):
        m = LINE.match(line)
        if m:
            rows.append((float(m.group(1)), int(m.group(2), 16), m.group(3).split("#")[0].split("<")[0].strip()))
    return rows


def blocks(rows):
    targets = {int(m.group(1), 16) for _, _, ins in rows for m in [JUMP.match(ins)] if m}
    block = []
    for row in rows:
        if block and (row[1] in targets or BLOCK_END.match(block[-1][2])):
            yield block
            block = []
        block.append(row)
    if block:
        yield block


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("annotate", help="the output of perf annotate --stdio -s SYMBOL")
    parser.add_argument("--min", type=float, default=1.0, help="the least share of samples to print a block (percent)")
    args = parser.parse_args(argv)
    print("address   share  instrs  fma  stores  stack  masked")
    for block in blocks(read(args.annotate)):
        share = sum(r[0] for r in block)
        if share < args.min:
            continue
        ins = [r[2] for r in block]
        last_jump = JUMP.match(ins[-1])
        loop = " loop" if last_jump and int(last_jump.group(1), 16) == block[0][1] else ""
        print(f"{block[0][1]:8x} {share:5.1f}%  {len(ins):6d} {sum('vfmadd' in i for i in ins):4d} "
              f"{sum(bool(VECTOR_STORE.match(i)) for i in ins):7d} {sum('(%rsp' in i for i in ins):6d} "
              f"{sum(bool(MASKED_MEMORY.search(i)) for i in ins):7d}{loop}")


if __name__ == "__main__":
    main()
