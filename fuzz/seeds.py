#!/usr/bin/env python3
"""Writes the seed inputs the fuzz/corpus/ directories started from (no numpy needed).

    python3 fuzz/seeds.py        # adds the seeds to fuzz/corpus/{spec,npy,layer_shapes}/

Files are named by the SHA-1 of their contents, as libFuzzer names what it adds, so
running this again adds nothing new. Spec seeds are the spec strings of
tests/test_dsl.cpp (valid and broken) plus a few written here; .npy seeds are valid
files of every supported kind and one of each malformation the reader reports.
"""
import ast
import hashlib
import pathlib
import random
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(harness, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    directory = CORPUS / harness
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def spec_seeds():
    # C++ string literals mentioning a layer or an activation, unescaped.
    source = (ROOT / "tests" / "test_dsl.cpp").read_text()
    for literal in re.findall(r'"((?:[^"\\\n]|\\.)*)"', source):
        if re.search(r"Conv|ReLU|nn\.", literal):
            try:
                yield ast.literal_eval('"' + literal + '"')
            except (ValueError, SyntaxError):
                pass
    yield from [
        "Conv2d(8, 14, kernel_size=(3, 2), stride=(2, 1))",
        "Conv1d(4, 2, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=2, "
        "bias=False, padding_mode=reflect)",
        "Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), padding=same)",
        "Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False) -> ReLU()",
        "torch.nn.Conv2d(in_channels=16, out_channels=32, kernel_size=[3, 1], groups=16, "
        "padding_mode='circular', padding=(1, 0)) -> torch.nn.ReLU(inplace=True)",
        "nn.Conv1d(80, 384, 3, padding=1)",
        "Conv2d(4, 8, 1, groups=2, bias=False)",
        "Conv2d(1, 2147483647, 1)",
        "Conv2d(1, 1, 2147483647)",
        "Conv2d(1, 1, 3, dilation=1073741824)",
        "Conv1d(1, 1, 2, padding='same', dilation=2147483647)",
        "Conv2d(1, 1, 1, padding=2147483647, padding_mode='circular')",
    ]


def npy(major, header, data=b"", pad=True):
    """An .npy file: magic, version, header length, header (padded like NumPy), data."""
    header = header.encode() if isinstance(header, str) else header
    length_size = 2 if major == 1 else 4
    if pad:
        header += b" " * ((-(6 + 2 + length_size + len(header) + 1)) % 64) + b"\n"
    length = struct.pack("<H" if major == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + length + header + data


def npy_dict(descr="<f4", shape="(2, 3)", fortran="False"):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def npy_seeds():
    f4 = lambda *v: struct.pack("<%df" % len(v), *v)
    f8 = lambda *v: struct.pack("<%dd" % len(v), *v)
    valid = npy(1, npy_dict(), f4(0, 1, 2, 3, 4, 5))
    yield valid
    yield npy(2, npy_dict(shape="(3,)"), f4(1, -2, 3.5))
    yield npy(3, npy_dict(descr="<f8", shape="(2, 1)"), f8(1e300, -1e-300))
    yield npy(1, npy_dict(shape="()"), f4(7))
    yield npy(1, npy_dict(shape="(0, 3)"))
    yield npy(1, npy_dict(shape="(0, 9223372036854775807, 9223372036854775807)"))
    yield npy(1, npy_dict(shape="(4,)", fortran="True"), f4(1, 2, 3, 4))
    yield npy(1, "{\"shape\":(1,2,),\"descr\":\"<f4\",\"fortran_order\":False}", f4(1, 2))
    yield npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", f4(1, 2))
    # Malformed: the reader must refuse each with an IoError.
    yield b""
    yield b"\x93NUM"
    yield b"PK\x03\x04 not an npy file"
    yield b"\x93NUMPY\x01"
    yield b"\x93NUMPY\x04\x00\x10\x00"
    yield b"\x93NUMPY\x01\x01\x10\x00"
    yield b"\x93NUMPY\x02\x00\xff\xff\xff\xff{}"
    yield valid[:40]
    yield valid[:-1]
    yield valid + b"\x00"
    yield npy(1, npy_dict(descr="<i8", shape="(1,)"), b"\x01" * 8)
    yield npy(1, npy_dict(descr=">f4", shape="(1,)"), f4(1))
    yield npy(1, npy_dict(shape="(2, 2)", fortran="True"), f4(1, 2, 3, 4))
    yield npy(1, npy_dict(shape="(-1, 3)"))
    yield npy(1, npy_dict(shape="(99999999999999999999,)"))
    yield npy(1, npy_dict(shape="(4294967296, 4294967296)"))
    yield npy(1, npy_dict(shape="(3)"), f4(1, 2, 3))
    yield npy(1, npy_dict(shape="(" + "1, " * 65 + ")"), f4(1))
    yield npy(1, "{'descr': '<f4', 'shape': (1,), }", f4(1))
    yield npy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f4(1))
    yield npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", f4(1))
    yield npy(1, "{'descr': '<\\f4', 'fortran_order': False, 'shape': (1,), }", f4(1))
    yield npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f4(1), pad=False)
    yield npy(1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), } trailing", f4(1))


def layer_seeds():
    # The first byte picks the layer (the 11 of kSpecs in fuzz_layer_shapes.cpp, then 11:
    # spec text follows); the rest pick views. All-zero tails are the plain valid case,
    # random ones a few variations.
    rng = random.Random(2024)
    for spec in range(11):
        yield bytes([spec])
        for _ in range(3):
            yield bytes([spec] + [rng.choice([0, 0, 0, rng.randrange(256)]) for _ in range(rng.randrange(4, 40))])
    for text in [b"Conv2d(2, 2, 1, groups=2)", b"Conv1d(1, 2, 2, dilation=3, padding='same')"]:
        yield bytes([11, len(text)]) + text


def main():
    for harness, seeds in [("spec", spec_seeds()), ("npy", npy_seeds()), ("layer_shapes", layer_seeds())]:
        count = 0
        for seed in seeds:
            write(harness, seed)
            count += 1
        print("fuzz/corpus/%s: %d seeds" % (harness, count))


if __name__ == "__main__":
    main()
