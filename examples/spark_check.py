"""Check JSON Lines files with Spark (PySpark, local or on a cluster such as Databricks):
addPyFile ships chatcompletion.py to the executors, mapPartitions turns each partition's lines
into a Summary through check_document(), and the partial summaries are merged in partition
order, so the summary printed is the one ``python chatcompletion.py FILE...`` prints for the
same files (see docs/command-line.md).

    pip install pyspark            # and Java: apt-get install default-jre-headless
    python examples/spark_check.py [--strict] [--path KEYS] [--master local[*]] FILE...

Spark's textFile reads .gz and .bz2 by the file's name.
"""

import argparse
import functools
import os
import sys
from typing import Iterable, Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(HERE, "..", "chatcompletion.py")
sys.path.insert(0, os.path.dirname(MODULE))

import chatcompletion  # noqa: E402  (on the driver, to merge and print)


def summarise(lines: Iterable[str], strict: bool, path: str) -> Iterator[chatcompletion.Summary]:
    """One partition's summary: runs on an executor, which imports the file addPyFile sent."""
    import chatcompletion as checker

    summary = checker.Summary()
    for line in lines:
        if line.strip():  # blank lines are no documents, as on the command line
            summary.add(checker.check_document(line, strict=strict, path=path))
    yield summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="FILE")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--path", default="", metavar="KEYS")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args()
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master(args.master).appName("chatcompletion check").getOrCreate()
    try:
        context = spark.sparkContext
        context.setLogLevel("ERROR")
        context.addPyFile(MODULE)
        lines = context.textFile(",".join(os.path.abspath(p) for p in args.paths))
        strict, path = args.strict, args.path
        partials = lines.mapPartitions(lambda part: summarise(part, strict, path)).collect()  # in partition order
    finally:
        spark.stop()
    summary = functools.reduce(chatcompletion.Summary.merge, partials, chatcompletion.Summary())
    print("\n".join(summary.lines()))
    return 1 if summary.invalid or summary.request_errors else 0


if __name__ == "__main__":
    sys.exit(main())
