"""What the benchmark scripts share: the layer suite, the geometric mean, and writing a
markdown table."""
import csv
import math
import os

SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.csv")
TEXT_FIELDS = ("name", "padding_mode", "act")


def read_suite():
    """The rows of bench/layers.csv (its comment lines skipped), as csv.DictReader gives them:
    every value a string."""
    rows = [line for line in open(SUITE) if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(rows))


def numbers(row):
    """A suite row's numeric fields (all but TEXT_FIELDS), as ints."""
    return {k: int(v) for k, v in row.items() if k not in TEXT_FIELDS}


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def write_markdown(path, lines):
    """Writes the lines to `path` and prints them."""
    open(path, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
