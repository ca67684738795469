"""What the benchmark scripts share: the geometric mean, and writing a markdown table."""
import math


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def write_markdown(path, lines):
    """Writes the lines to `path` and prints them."""
    open(path, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
