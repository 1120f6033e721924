"""Check JSON Lines files with Dask: each partition's lines go through check_document() into a
Summary, and the partial summaries are merged in order, so the summary printed is the one
``python chatcompletion.py FILE...`` prints for the same files (see docs/command-line.md).

    pip install "dask[bag]"
    python examples/dask_check.py [--strict] [--path KEYS] FILE...      # .gz and .bz2 by name

Each worker process imports chatcompletion.py from the checkout, found through sys.path.
"""

import argparse
import functools
import os
import sys
from typing import Iterable, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dask.bag  # noqa: E402

import chatcompletion  # noqa: E402


def summarise(lines: Iterable[str], strict: bool, path: str) -> List[chatcompletion.Summary]:
    """One partition's summary, in a list: a partition of a bag is a list of items."""
    summary = chatcompletion.Summary()
    for line in lines:
        if line.strip():  # blank lines are no documents, as on the command line
            summary.add(chatcompletion.check_document(line, strict=strict, path=path))
    return [summary]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="FILE")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--path", default="", metavar="KEYS")
    parser.add_argument("--scheduler", default="processes", choices=("processes", "threads", "synchronous"))
    args = parser.parse_args()
    lines = dask.bag.read_text(args.paths, encoding="utf-8-sig")
    partials = lines.map_partitions(summarise, args.strict, args.path).compute(scheduler=args.scheduler)
    summary = functools.reduce(chatcompletion.Summary.merge, partials, chatcompletion.Summary())
    print("\n".join(summary.lines()))
    return 1 if summary.invalid or summary.request_errors else 0


if __name__ == "__main__":
    sys.exit(main())
