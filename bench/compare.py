#!/usr/bin/env python3
"""Compare this checkout's chatcompletion.py with another version of it, paired in one run.

    git show v1:chatcompletion.py > /tmp/before.py      # any earlier version of the file
    python bench/compare.py /tmp/before.py

For each bench/bench.py payload and operation (from_dict lenient and strict, to_dict), rounds of
the other version and of this one alternate, and the table shows median(this) / median(other):
below 1.00x this version is faster.  Both versions run in the same process on the same decoded
payloads, so load on the machine falls on both alike.  Standard library only.
"""

import argparse
import gc
import importlib.util
import os
import platform
import statistics
import sys
import time
from types import ModuleType
from typing import Any, Callable, Dict, List, Tuple

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True

ROUNDS = 21
ROUND_SECONDS = 0.02
OPERATIONS = ("from_dict lenient", "from_dict strict", "to_dict")


def load(path: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def operation(module: ModuleType, name: str, payload: str, data: Any) -> Callable[[], Any]:
    if payload == "stream":
        model = module.CreateChatCompletionStreamResponse
        if name == "to_dict":
            parsed = [model.from_dict(chunk) for chunk in data]
            return lambda: [chunk.to_dict() for chunk in parsed]
        strict = name.endswith("strict")
        return lambda: [model.from_dict(chunk, strict=strict) for chunk in data]
    model = module.CreateChatCompletionResponse
    if name == "to_dict":
        parsed = model.from_dict(data)
        return parsed.to_dict
    strict = name.endswith("strict")
    return lambda: model.from_dict(data, strict=strict)


def calls_for(fn: Callable[[], Any]) -> int:
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(ROUND_SECONDS / once))


def timed(fn: Callable[[], Any], calls: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def paired(before: Callable[[], Any], after: Callable[[], Any], rounds: int) -> Tuple[float, float]:
    calls = calls_for(before)
    first: List[float] = []
    second: List[float] = []
    for _ in range(rounds):
        first.append(timed(before, calls))
        second.append(timed(after, calls))
    return statistics.median(first), statistics.median(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", help="the other version's chatcompletion.py")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    other = load(args.other, "chatcompletion_other")
    this = load(os.path.join(REPO_ROOT, "chatcompletion.py"), "chatcompletion")
    import bench  # its payloads; imports this checkout's module, already loaded above
    payloads: Dict[str, Any] = bench.build_payloads()
    for module in (other, this):  # first use outside the timings
        for payload, data in payloads.items():
            for name in OPERATIONS:
                operation(module, name, payload, data)()
    gc.freeze()
    print(f"this checkout ({this.__version__}) against {args.other} ({other.__version__}), CPython "
          f"{platform.python_version()}, {platform.machine()}, {bench.cpu_model()}, {args.rounds} rounds\n")
    print("| operation | " + " | ".join(payloads) + " |")
    print("|---|" + "---:|" * len(payloads))
    for name in OPERATIONS:
        cells = []
        for payload, data in payloads.items():
            before, after = paired(operation(other, name, payload, data), operation(this, name, payload, data),
                                   args.rounds)
            cells.append(f"{after / before:.2f}x")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
