#!/usr/bin/env python3
"""Benchmark the streaming side of chatcompletion.py: events, async reading, partial JSON, and the
accumulator's cost as streams double in size.

Run from the repository root:

    python bench/streaming.py            # every section
    python bench/streaming.py --quick    # fewer rounds

Sections:

- events: iter_events() over a stream's text against iter_chunks() + accumulate() of the same text
  (both read and parse the text; the ratio is what the events add), on the bench payload's text
  stream (2,000 chunks) and on a tool-call stream whose arguments arrive in 2,000 pieces;
- async: aiter_chunks() over an async generator of the stream's bytes in 1,024-byte pieces,
  against iter_chunks() over the same pieces;
- partial JSON: one incremental parser fed a tool call's arguments (about 1, 2 and 4 MB) in
  10,000, 20,000 and 40,000 pieces, reading value() after every piece;
- accumulator: every path of accumulate() with the stream's size doubling (content text,
  tool-call arguments, logprobs, an unknown string key, an unknown list merged by index one item
  per chunk and all in one delta, content parts); per-chunk time should stay flat.

Each timing is the best of several runs (time.perf_counter).  Standard library only.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Sequence

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True

import chatcompletion as cc  # noqa: E402
import bench  # noqa: E402  (its payloads)

SEED = 20241202
RUNS = 5
QUICK_RUNS = 2
PIECE_BYTES = 1024
TOOL_PIECES = 2000
PARTIAL_SIZES = ((1, 10_000), (2, 20_000), (4, 40_000))  # (MB, pieces)
DOUBLING = (1_000, 2_000, 4_000, 8_000, 16_000)

Json = Dict[str, Any]


def best(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sse(chunks: Sequence[Json]) -> bytes:
    return "".join("data: " + json.dumps(chunk) + "\n\n" for chunk in chunks).encode() + b"data: [DONE]\n\n"


def chunk(delta: Json, finish_reason: Any = None, **choice: Any) -> Json:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason, **choice}]}


def arguments_text(rng: random.Random, size: int) -> str:
    """A tool call's arguments: an object with long strings, arrays of numbers and of objects."""
    value: Json = {"rows": [], "notes": []}
    length = 0
    while length < size:
        row = {"id": rng.randrange(10 ** 6), "score": round(rng.random(), 4), "tags": ["a", "b\u00e9"]}
        note = " ".join(rng.choice(bench.WORDS) for _ in range(40)) + " \"quoted\" \\ done"
        value["rows"].append(row)
        value["notes"].append(note)
        length += len(json.dumps(row)) + len(note) + 8
    return json.dumps(value)


def cut(text: str, pieces: int) -> List[str]:
    step = max(1, len(text) // pieces)
    return [text[start:start + step] for start in range(0, len(text), step)]


def tool_stream(rng: random.Random) -> List[Json]:
    text = arguments_text(rng, 200_000)
    first = {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                             "function": {"name": "store", "arguments": ""}}]}
    chunks = [chunk(first)]
    chunks += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
               for piece in cut(text, TOOL_PIECES)]
    chunks.append(chunk({}, "tool_calls"))
    return chunks


def section_events(runs: int) -> None:
    rng = random.Random(SEED)
    streams = {"text (2,000 chunks)": sse(bench.build_payloads()["stream"]),
               f"tool call ({TOOL_PIECES:,} argument pieces)": sse(tool_stream(rng))}
    print("## Events against accumulating\n")
    print("| stream | accumulate(iter_chunks()) | iter_events() | events | events per second | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, text in streams.items():
        plain = best(lambda: cc.accumulate(cc.iter_chunks(text)), runs)
        count = sum(1 for _ in cc.iter_events(text))
        events = best(lambda: sum(1 for _ in cc.iter_events(text)), runs)
        print(f"| {name} | {plain * 1e3:.1f} ms | {events * 1e3:.1f} ms | {count:,} | "
              f"{count / events:,.0f} | {events / plain:.2f}x |")
    print()


async def _async_pieces(pieces: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _read_async(pieces: Sequence[bytes]) -> int:
    return sum([1 async for _ in cc.aiter_chunks(_async_pieces(pieces))])


def section_async(runs: int) -> None:
    text = sse(bench.build_payloads()["stream"])
    pieces = [text[start:start + PIECE_BYTES] for start in range(0, len(text), PIECE_BYTES)]
    sync = best(lambda: sum(1 for _ in cc.iter_chunks(iter(pieces))), runs)
    loop = asyncio.new_event_loop()
    try:
        asynchronous = best(lambda: loop.run_until_complete(_read_async(pieces)), runs)
    finally:
        loop.close()
    print("## Async against sync reading\n")
    print(f"The bench text stream ({len(text):,} bytes, 2,000 chunks) in {len(pieces):,} pieces of "
          f"{PIECE_BYTES:,} bytes.\n")
    print("| reader | time | ratio |")
    print("|---|---:|---:|")
    print(f"| iter_chunks | {sync * 1e3:.1f} ms | 1.00x |")
    print(f"| aiter_chunks (async generator source) | {asynchronous * 1e3:.1f} ms | {asynchronous / sync:.2f}x |")
    print()


def section_partial(runs: int) -> None:
    rng = random.Random(SEED)
    print("## Partial JSON: arguments in pieces, value() after every piece\n")
    print("| arguments | pieces | time | per MB |")
    print("|---:|---:|---:|---:|")
    for megabytes, count in PARTIAL_SIZES:
        text = arguments_text(rng, megabytes * 1_000_000)
        pieces = cut(text, count)

        def run() -> None:
            parser = cc._PartialJSON()
            for piece in pieces:
                parser.feed(piece)
                parser.value()
            assert parser.complete
        seconds = best(run, max(1, runs // 2))
        print(f"| {len(text) / 1e6:.1f} MB | {len(pieces):,} | {seconds:.3f} s | {seconds / (len(text) / 1e6):.3f} s |")
    print()


def doubling_streams(rng: random.Random) -> Dict[str, Callable[[int], List[Json]]]:
    token = {"token": "x", "logprob": -0.5, "bytes": [120], "top_logprobs": [{"token": "y", "logprob": -1.0,
                                                                            "bytes": [121]}]}
    return {
        "content text": lambda n: [chunk({"content": rng.choice(bench.WORDS) + " "}) for _ in range(n)],
        "tool-call arguments": lambda n: [chunk({"tool_calls": [{"index": 0, "function": {"arguments": "[1,"}}]})
                                          for _ in range(n)],
        "logprobs": lambda n: [chunk({"content": "x"}, logprobs={"content": [token], "refusal": None})
                               for _ in range(n)],
        "unknown string key (reasoning_content)": lambda n: [chunk({"reasoning_content": "hm "}) for _ in range(n)],
        "unknown list, a new index per chunk": lambda n: [
            chunk({"reasoning_details": [{"type": "reasoning.text", "text": "t", "index": i}]}) for i in range(n)],
        "unknown list, all items in one delta": lambda n: [
            chunk({"reasoning_details": [{"type": "reasoning.text", "text": "t", "index": i} for i in range(n)]})],
        "content parts": lambda n: [chunk({"content": [{"type": "text", "text": "x"}]}) for _ in range(n)],
    }


def section_accumulator(runs: int) -> None:
    rng = random.Random(SEED)
    print("## The accumulator as streams double\n")
    print("Microseconds per chunk (per item, for the single delta) for accumulate() of parsed chunks; "
          "flat rows are linear.\n")
    print("| path | " + " | ".join(f"{n:,}" for n in DOUBLING) + " |")
    print("|---|" + "---:|" * len(DOUBLING))
    for name, make in doubling_streams(rng).items():
        cells = []
        for n in DOUBLING:
            chunks = [cc.CreateChatCompletionStreamResponse.from_dict(d) for d in make(n)]
            seconds = best(lambda: cc.accumulate(chunks), max(1, runs // 2))
            cells.append(f"{seconds / n * 1e6:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    runs = QUICK_RUNS if args.quick else RUNS
    print(f"# chatcompletion {cc.__version__}, CPython {platform.python_version()}, {platform.machine()}, "
          f"{bench.cpu_model()}, {os.cpu_count()} cores\n")
    section_events(runs)
    section_async(runs)
    section_partial(runs)
    section_accumulator(runs)


if __name__ == "__main__":
    main()
