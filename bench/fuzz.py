#!/usr/bin/env python3
"""Fuzz chatcompletion.py with mutated documents, corrupted JSON text and random SSE streams.

Run from the repository root:

    python bench/fuzz.py                          # 10,000 cases, seed 0
    python bench/fuzz.py --cases 20000 --seed 7
    python bench/fuzz.py --cases 1000000 --seconds 1500
    python bench/fuzz.py --seed 7 --replay 1234   # show case 1234 of seed 7 and run it again

Each case is built by its own random.Random, seeded with the run's seed and the case number,
so every case can be replayed alone (and a run is the same on every machine and Python).
A case is one of:

- mutate:  a seed document with 1-4 random mutations, parsed as a response or a chunk;
- random:  a random JSON value as the whole document;
- python:  a value JSON cannot hold (tuple, set, bytes, NaN, cycles, ...) at the root or inside;
- text:    a serialized document, truncated or corrupted, given to loads() or loads_chunk();
- stream:  random server-sent-events text given to iter_chunks() and accumulate();
- chunks:  a list of (mutated) chunk documents given to accumulate();
- handbuilt: a parsed seed with one field somewhere replaced, as a test double would be built,
           by a random JSON or Python value, a list or tuple of models, or another model.

Checks, per case:

1. nothing but ValidationError (or its subclass StreamError) escapes;
2. an accepted document comes back from to_dict() equal to the input: same JSON types (bool is
   not int), numbers equal by value (an integral float in an integer field may come back as int),
   NaN matching NaN; an accumulated stream survives to_dict() -> from_dict() -> to_dict();
3. what strict mode accepts, lenient mode accepts too;
4. the parse takes no longer than TIME_PER_BYTE per input byte + TIME_FIXED (re-measured before
   it counts);
5. a rejection names a problem (never only the "document rejected" fallback, which means the fast
   path and the explaining pass disagree);
6. for a quarter of the mutate cases, one array of objects read as [item] and as ARRAY_COPIES
   copies of item gives the same verdict (items are checked one by one, whatever the bulk path);
7. over the run, live objects do not pile up (checked every MEMORY_CHECK_EVERY cases);
8. loads() on text decides as json.loads() followed by from_dict() would;
9. accumulate() refuses a list of chunks only when one of them does not parse on its own;
10. an object built by hand pickles, copies and deep-copies to an equal object, to_dict() turns
   it into something json.dumps() writes whenever its odd value is JSON-like, and from_dict()
   of that accepts it or raises ValidationError;
11. a stream read from pieces of its text (bytes cut anywhere, a file, one str or bytes)
   decides, and accumulates, exactly as its whole text does.

Seeds are a few documents written below and, when ../shared/corpus exists beside the repository,
every responses/*.json and every data line of streams/*.sse (read in place).
Standard library only.  Exit status 1 if any check failed, else 0.
"""

import argparse
import collections
import copy
import dataclasses
import decimal
import gc
import http
import io
import json
import math
import os
import pickle
import platform
import random
import reprlib
import sys
import time
import traceback
from types import MappingProxyType
from typing import Any, Callable, Counter, Dict, List, NamedTuple, Optional, Sequence, Tuple

try:
    import resource  # Unix only: memory limits and peak memory
except ImportError:  # pragma: no cover
    resource = None  # type: ignore[assignment]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository

import chatcompletion as cc  # noqa: E402  (needs the sys.path entry above)

# --------------------------------------------------------------------------- constants

DEFAULT_CASES = 10_000
DEFAULT_SEED = 0
CORPUS_DIR = os.path.join(REPO_ROOT, "..", "shared", "corpus")

# Kinds of case and how often each is built.
CASE_KINDS = ("mutate", "random", "python", "text", "stream", "chunks", "handbuilt")
CASE_WEIGHTS = (48, 6, 8, 14, 15, 9, 6)

STRICT_CHANCE = 0.5  # a case parses in strict mode, else lenient
CROSS_MODEL_CHANCE = 0.1  # a response seed goes to the chunk model, or the other way round
CORPUS_CHANCE = 0.5  # a seed comes from the corpus (when there is one), else from the built-in ones
MIN_MUTATIONS = 1
MAX_MUTATIONS = 4

# A mutation's target is where a random descent from the root stops.
ROOT_STOP = 0.03  # chance to stop at the root
WALK_STOP = 0.2  # chance to stop at any other container
MAX_WALK_DEPTH = 40  # never descend into the deep values the fuzzer itself nests

MAX_RANDOM_DEPTH = 4  # nesting of ordinary random values
DEEP_JSON_LEVELS = 950  # deepest nesting put in a document (json.loads stops near 1000)
MAX_DEPTH = getattr(cc, "MAX_DEPTH", 10_000)
DEEP_PYTHON_LEVELS = (2_000, MAX_DEPTH - 100, MAX_DEPTH + 2_000)  # values built in Python, not JSON text
LONG_STRING = 100_000  # longest random string
HUGE_DIGITS = 5_000  # an int longer than Python 3.11's 4300-digit str() limit
REPEAT_MAX = 1_000  # most copies of one array item a mutation adds
REPEAT_MAX_BYTES = 2_000_000  # ... and at most this much JSON text of them
# How the chunks of a stream are changed: each stream picks one chance that a chunk gets 1-2
# mutations (most streams must stay readable for accumulate() to be reached).
CHUNK_MUTATION_CHANCES = (0.0, 0.0, 0.1, 0.35)
ODD_CHUNK_CHANCE = 0.03  # a chunk replaced by a response, and (again) by a provider's error object
REPEAT_CHUNK_CHANCE = 0.2  # a chunk sent twice
ARRAY_CHECK_CHANCE = 0.25  # a mutate case also checks that one array's length changes nothing
ARRAY_COPIES = 9  # longer than any small-array cut-off a bulk path may have
EVERY_CHUNK_CHANCE = 0.5  # a stream's chunks all get the same change (what accumulate() merges)
DELTA_PATH: Tuple[Any, ...] = ("choices", 0, "delta")
DELTA_FOCUS = 0.6  # ... made inside the first choice's delta, when there is one

# Timing: a parse slower than TIME_FIXED + TIME_PER_BYTE * size is re-measured REMEASURE times and
# flagged if the fastest run is still too slow.  Time per byte is reported for inputs of at least
# RATE_MIN_BYTES (below that the fixed cost of a call dominates).
TIME_PER_BYTE = 5e-6
TIME_FIXED = 1e-3
REMEASURE = 3
RATE_MIN_BYTES = 1_024

# Memory: every MEMORY_CHECK_EVERY cases, after gc.collect(), the live objects are counted and the
# resident memory read.  More than OBJECTS_GROWTH objects beyond the first count is a failure
# (something outlives its case); the run stops early above MEMORY_STOP of resident memory.  The
# address space is capped at MEMORY_CAP where the system allows, so that a runaway case raises
# MemoryError rather than waking the system's OOM killer.
MEMORY_CHECK_EVERY = 1_000
OBJECTS_GROWTH = 100_000
MEMORY_STOP = 4 << 30
MEMORY_CAP = 8 << 30

SHOWN_FAILURES = 5
MORE_DISTINCT_EXCEPTIONS = 15  # also keep the first case of this many further distinct exceptions
PREVIEW_CHARS = 300
REPLAY_PREVIEW_CHARS = 4_000
PROGRESS_STEPS = 10

FAILURE_KINDS = {
    "exception": "exceptions other than ValidationError",
    "round-trip": "round-trip differences",
    "strict-not-lenient": "strict accepted but lenient rejected",
    "no-reason": "rejections without a reason (fast path and explanation disagree)",
    "array": "an array of one item and of copies of it read differently",
    "text": "loads() decided otherwise than json.loads() followed by from_dict()",
    "accumulate": "accumulate() refused chunks that each parse",
    "pieces": "a stream read otherwise in pieces than as its whole text",
    "slow": f"slower than {TIME_PER_BYTE * 1e6:g} us/byte + {TIME_FIXED * 1e3:g} ms",
    "memory": f"live objects growing by more than {OBJECTS_GROWTH} over the run (a leak)",
    "seed": "built-in seeds rejected",
    "fuzzer": "errors in this script itself (not in the module)",
}

MODELS: Dict[str, Any] = {
    "response": cc.CreateChatCompletionResponse,
    "chunk": cc.CreateChatCompletionStreamResponse,
}
TEXT_PARSERS: Dict[str, Callable[..., Any]] = {"response": cc.loads, "chunk": cc.loads_chunk}

# --------------------------------------------------------------------------- interesting values

INTERESTING_INTS = (
    0, 1, -1, 2, 7, 255, 256, 2**31 - 1, 2**31, -2**31, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -2**63,
    2**64 - 1, 2**64, 2**64 + 1, -2**64, -2**64 - 1, 10**30, -10**30, 2**128, 10**308, 10**400,
)
INTERESTING_FLOATS = (
    0.0, -0.0, 1.0, 2.0, -2.0, 0.5, -1.5, 3.14, 1e16, 2.0**53, 2.0**64, 1e308, -1e308,
    1.7976931348623157e308, 5e-324, 1e-300, -0.00005, float("inf"), float("-inf"),
)
INTERESTING_STRINGS = (
    "", " ", "stop", "length", "tool_calls", "content_filter", "function_call", "assistant", "user",
    "system", "tool", "developer", "function", "custom", "url_citation", "chat.completion",
    "chat.completion.chunk", "moderation_results", "moderation_result", "error", "text", "image",
    "auto", "default", "flex", "scale", "priority", "fast", "[DONE]", "null", "true", "0", "1.5",
    "Stop", "STOP", "MISSING", "héllo", "日本語", "😀", "\u0000", "\ud800", "\udfff", "\u2028",
    "\ufeff", "a\nb", "a\r\nb", "data: {}", '{"a": 1}', "\\", '"',
)
INTERESTING_KEYS = (
    "", " ", "0", "-1", "a b", "x.y", "[0]", "a-b", "$ref", "extra", "__class__", "__dict__",
    "__slots__", "_plans", "to_dict", "MISSING", "None", "error", "delta", "message", "index",
    "type", "reasoning_content", "😀", "ключ", "\u0000", "\ud800", "k" * 300,
)
STRING_ALPHABET = "abcXYZ019 _-.:/\\\"'{}[],\n\t\u00e9\u4e2d\U0001f600\u0000\ud800\u2028\ufeff"

KNOWN_KEYS: Tuple[str, ...] = tuple(sorted(
    {f.name for name in cc.__all__ for model in [getattr(cc, name, None)]
     if dataclasses.is_dataclass(model) for f in dataclasses.fields(model)} - {"extra"}))

SSE_COMMENTS = (": keep-alive", ": OPENROUTER PROCESSING", ":", ": ping 2025-01-01 00:00:00.000000")
SSE_EVENTS = ("message", "error", "", "completion", "ping", "delta", "done")
SSE_GARBAGE = (
    "data", "data:", "data: ", "garbage", "event:error", "event: error", "data: [DONE] ", "data:[DONE]",
    "data: null", "data: 1", "data: []", 'data: "x"', "data: {", "data: }", "data: NaN",
    "data: Infinity", "data: 1e999", "data: -0", "retry: x", "id: 7", "retry: 3000", "\ufeffdata: {}",
    "DATA: {}", " data: {}", 'data: {"error": "boom"}', 'data: {"error": null}', "data: " + "[" * 2000,
)
SSE_ERRORS: Tuple[Any, ...] = (
    {"error": {"message": "Internal server error", "type": "server_error", "code": 500}},
    {"error": "boom"}, {"error": None}, {"error": {"message": None}}, {"error": [1, 2]},
    {"error": {"message": "x" * 300, "code": None}}, {"error": {"code": "rate_limit"}},
)
TEXT_TOKENS = (
    "{", "}", "[", "]", '"', ",", ":", "\\", "0", "-", "e", ".", " ", "\n", "null", "true", "NaN",
    "Infinity", "-Infinity", "1e999", "\u0000", "\ud800", "€", "😀", "\\ud800", "\\u0000", '"x":',
)
TEXT_BAD_BYTES = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80", b"\xf0\x9f", b"\x00", b"\xef\xbb\xbf")


class StrSubclass(str):
    """A str that is not exactly str."""


class BrokenRepr:
    """An object whose repr() fails (error messages quote values)."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


# --------------------------------------------------------------------------- built-in seeds

CREATED = 1_735_689_600
MODEL_NAME = "gpt-4o-2024-08-06"


def _token(token: str, logprob: float, top: bool = True) -> Dict[str, Any]:
    entry: Dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
    if top:
        entry["top_logprobs"] = [_token(token, logprob, False), _token(" Hi", -1.5, False),
                                 _token("Hey", -2.25, False), {"token": "\ufffd", "logprob": -9.5, "bytes": None}]
    return entry


def _tokens(text: str) -> List[Dict[str, Any]]:
    """Logprobs for the words of ``text``: enough entries that arrays of them take any bulk path."""
    words = text.replace(" ", "\0 ").split("\0")
    return [_token(word, -0.125 * (i + 1)) for i, word in enumerate(words)]


def _usage() -> Dict[str, Any]:
    return {
        "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _moderation() -> Dict[str, Any]:
    return {
        "input": {"type": "moderation_results", "model": "omni-moderation-latest", "results": [{
            "type": "moderation_result", "model": "omni-moderation-latest", "flagged": False,
            "categories": {"hate": False, "violence": False},
            "category_scores": {"hate": 0.0001, "violence": 0.002},
            "category_applied_input_types": {"hate": ["text"], "violence": ["text", "image"]},
        }]},
        "output": {"type": "error", "code": "moderation_unavailable", "message": "Moderation is unavailable."},
    }


def builtin_responses() -> Dict[str, Any]:
    """Responses that strict mode accepts, between them using every field."""
    head = {"id": "chatcmpl-fuzz", "object": "chat.completion", "created": CREATED, "model": MODEL_NAME}
    full = dict(head, choices=[
        {"index": 0, "message": {
            "role": "assistant", "content": "Hello",
            "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_2", "type": "custom", "custom": {"name": "run_sql", "input": "SELECT 1"}},
            ],
            "function_call": {"name": "get_weather", "arguments": "{}"},
            "refusal": None,
            "audio": {"id": "audio_1", "data": "UklGRg==", "expires_at": CREATED + 3600, "transcript": "Hello"},
            "annotations": [{"type": "url_citation", "url_citation": {
                "end_index": 5, "start_index": 0, "title": "Example", "url": "https://example.com/"}}],
         },
         "logprobs": {"content": _tokens("Hello there, how are you?"), "refusal": None},
         "finish_reason": "tool_calls"},
        {"index": 1, "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
         "logprobs": {"content": None, "refusal": _tokens("I can't help with that.")},
         "finish_reason": "content_filter"},
    ], moderation=_moderation(), usage=_usage(), service_tier="default", system_fingerprint="fp_fuzz",
        metadata={"user": "fuzz", "purpose": "test"})
    minimal = dict(head, choices=[{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": None},
                                   "logprobs": None, "finish_reason": "stop"}])
    no_choices = dict(head, choices=[], usage=_usage(), service_tier=None, metadata=None, moderation=None)
    legacy = dict(head, choices=[{"index": 0, "message": {
        "role": "assistant", "content": None, "refusal": None,
        "function_call": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}, "audio": None, "annotations": []},
        "logprobs": None, "finish_reason": "function_call"}], service_tier="flex")
    many = dict(head, choices=[{"index": i, "message": {"role": "assistant", "content": f"Answer {i}", "refusal": None},
                                "logprobs": None, "finish_reason": "stop"} for i in range(6)], usage=_usage())
    return {"response_full": full, "response_minimal": minimal, "response_no_choices": no_choices,
            "response_legacy_function_call": legacy, "response_six_choices": many}


def _chunk(choices: List[Any], **more: Any) -> Dict[str, Any]:
    document: Dict[str, Any] = {"id": "chatcmpl-fuzz", "object": "chat.completion.chunk", "created": CREATED,
                                "model": MODEL_NAME, "service_tier": "default", "system_fingerprint": "fp_fuzz",
                                "choices": choices}
    document.update(more)
    return document


def _delta(delta: Dict[str, Any], finish: Optional[str] = None, **more: Any) -> Dict[str, Any]:
    choice: Dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    choice.update(more)
    return choice


def builtin_chunks() -> Dict[str, Any]:
    """Stream chunks in stream order; all but the content-parts ones are valid in strict mode."""
    return {
        "chunk_role": _chunk([_delta({"role": "assistant", "content": "", "refusal": None})], obfuscation="x1"),
        "chunk_content": _chunk([_delta({"content": "Hello"},
                                        logprobs={"content": [_token("Hello", -0.25)], "refusal": None})]),
        "chunk_tool_call_start": _chunk([_delta({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                                 "function": {"name": "get_weather",
                                                                              "arguments": ""}}]})]),
        "chunk_tool_call_arguments": _chunk([_delta({"tool_calls": [
            {"index": 0, "function": {"arguments": "{\"city\": \"Paris\"}"}}]})]),
        "chunk_function_call": _chunk([_delta({"function_call": {"name": "lookup", "arguments": "{}"}})]),
        "chunk_refusal": _chunk([_delta({"refusal": "I can't"})]),
        "chunk_tool_call_extra": _chunk([_delta({"tool_calls": [
            {"index": 0, "function": {"arguments": "}"}, "extra_content": {"google": {"thought_signature": "c2ln"}}}]})]),
        "chunk_content_parts": _chunk([_delta({"content": [{"type": "text", "text": "Hel"}],
                                               "reasoning_content": "thinking"})]),
        "chunk_thinking_parts": _chunk([_delta({"content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "Let me"}]}]})]),
        "chunk_thinking_parts_more": _chunk([_delta({"content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": " think."}]}, {"type": "text", "text": "Hi"}]})]),
        "chunk_finish": _chunk([_delta({}, "tool_calls")]),
        "chunk_usage": _chunk([], usage=_usage(), moderation=_moderation()),
    }


LENIENT_ONLY_SEEDS = frozenset({"chunk_content_parts", "chunk_thinking_parts", "chunk_thinking_parts_more"})

# --------------------------------------------------------------------------- seeds and cases


class Seed(NamedTuple):
    name: str
    kind: str  # "response" or "chunk"
    text: str  # JSON text, decoded afresh for every case


class Seeds(NamedTuple):
    builtin: Dict[str, List[Seed]]  # by kind
    corpus_responses: List[Seed]
    corpus_streams: List[Tuple[str, List[str]]]  # (file name, chunk JSON texts in stream order)
    skipped_lines: int  # corpus data lines that are not JSON


class Case(NamedTuple):
    number: int
    kind: str  # one of CASE_KINDS
    model: str  # "response", "chunk", "stream" or "chunks"
    strict: bool
    payload: Any  # document, JSON text, SSE source factory or list of chunk documents
    display: Any  # what to show of the input
    notes: str  # how the case was built
    size: int  # input size in bytes (estimated for values JSON cannot encode)
    timed: bool  # False when the size means nothing (cyclic values)
    pair: Optional[Tuple[Any, Any, str]] = None  # the document with one array as [item] and as copies of it


@dataclasses.dataclass
class Failure:
    case: int
    what: str
    message: str
    detail: str
    preview: str


@dataclasses.dataclass
class Tally:
    seed: int
    cases: int = 0
    kinds: Counter[str] = dataclasses.field(default_factory=collections.Counter)
    parses: Dict[str, List[int]] = dataclasses.field(default_factory=dict)  # label -> [accepted, rejected]
    cross_checks: int = 0
    failure_counts: Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failures: Dict[str, List[Failure]] = dataclasses.field(default_factory=dict)
    signatures: Counter[str] = dataclasses.field(default_factory=collections.Counter)
    text_differs: int = 0
    text_differs_example: str = ""
    worst_rate: Tuple[float, int, int] = (0.0, 0, -1)  # (us/byte, size, case)
    worst_time: Tuple[float, int, int] = (0.0, 0, -1)  # (seconds, size, case)
    worst_share: Tuple[float, int, int] = (0.0, 0, -1)  # (time / bound, size, case)
    memory_base: Optional[Tuple[int, int, int]] = None  # (live objects, resident bytes, after case)
    memory_peak: int = 0
    stopped: str = ""  # why the run stopped before its cases or seconds were used up
    verbose: bool = False


# --------------------------------------------------------------------------- loading seeds


def load_seeds() -> Seeds:
    builtin: Dict[str, List[Seed]] = {"response": [], "chunk": []}
    for name, document in builtin_responses().items():
        builtin["response"].append(Seed("builtin:" + name, "response", json.dumps(document)))
    for name, document in builtin_chunks().items():
        builtin["chunk"].append(Seed("builtin:" + name, "chunk", json.dumps(document)))
    responses: List[Seed] = []
    streams: List[Tuple[str, List[str]]] = []
    skipped = 0
    if os.path.isdir(CORPUS_DIR):
        folder = os.path.join(CORPUS_DIR, "responses")
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as stream:
                    responses.append(Seed("corpus:responses/" + name, "response", stream.read()))
        folder = os.path.join(CORPUS_DIR, "streams")
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if not name.endswith(".sse"):
                continue
            texts = []
            with open(os.path.join(folder, name), encoding="utf-8") as stream:
                for line in stream.read().replace("\r\n", "\n").replace("\r", "\n").split("\n"):
                    if not line.startswith("data:"):
                        continue
                    data = line[6:] if line.startswith("data: ") else line[5:]
                    try:
                        json.loads(data)
                    except ValueError:
                        skipped += 1  # [DONE] and other non-JSON payloads
                        continue
                    texts.append(data)
            if texts:
                streams.append((name, texts))
    return Seeds(builtin, responses, streams, skipped)


def pick_seed(rng: random.Random, seeds: Seeds, kind: str) -> Seed:
    if rng.random() < CORPUS_CHANCE:
        if kind == "response" and seeds.corpus_responses:
            return rng.choice(seeds.corpus_responses)
        if kind == "chunk" and seeds.corpus_streams:
            name, texts = rng.choice(seeds.corpus_streams)
            index = rng.randrange(len(texts))
            return Seed(f"corpus:streams/{name}:{index}", "chunk", texts[index])
    return rng.choice(seeds.builtin[kind])


# --------------------------------------------------------------------------- random values


def random_int(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.5:
        return rng.randint(-1000, 1000)
    if r < 0.8:
        return rng.choice(INTERESTING_INTS)
    if r < 0.99:
        return rng.choice((1, -1)) * (int(10 ** rng.randint(20, 400)) + rng.randint(0, 9))
    return rng.choice((1, -1)) * int(10 ** HUGE_DIGITS)


def random_float(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.5:
        return rng.choice(INTERESTING_FLOATS)
    if r < 0.75:
        return rng.uniform(-1e6, 1e6)
    if r < 0.9:
        return float(rng.randint(-100, 100))  # integral, like 2.0
    return rng.random()


def random_string(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return rng.choice(INTERESTING_STRINGS)
    if r < 0.98:
        return "".join(rng.choice(STRING_ALPHABET) for _ in range(rng.randint(0, 12)))
    return rng.choice("x€😀") * rng.randint(1_000, LONG_STRING)


def random_key(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return rng.choice(KNOWN_KEYS)
    if r < 0.8:
        return rng.choice(INTERESTING_KEYS)
    return random_string(rng)[:40]


def random_scalar(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.1:
        return None
    if r < 0.2:
        return rng.random() < 0.5
    if r < 0.45:
        return random_int(rng)
    if r < 0.65:
        return random_float(rng)
    return random_string(rng)


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value; dict keys lean towards the model's own field names."""
    r = rng.random()
    if depth >= MAX_RANDOM_DEPTH or r < 0.55:
        return random_scalar(rng)
    if r < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.98:
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return nested(rng, rng.randint(2, 60))


def nested(rng: random.Random, levels: int) -> Any:
    """A value nested ``levels`` deep: lists, objects or both, around a random scalar."""
    style = rng.choice(("list", "dict", "mixed"))
    key = random_key(rng)
    value = random_scalar(rng)
    for level in range(levels):
        if style == "list" or (style == "mixed" and level % 2):
            value = [value]
        else:
            value = {key: value}
    return value


def python_value(rng: random.Random) -> Tuple[Any, str, bool]:
    """A value JSON cannot hold (or a Python-only spelling of one): (value, label, cyclic)."""
    choice = rng.randrange(30)
    if choice == 0:
        return (1, "a"), "tuple", False
    if choice == 1:
        return {1, 2}, "set", False
    if choice == 2:
        return frozenset(), "frozenset", False
    if choice == 3:
        return b"stop", "bytes", False
    if choice == 4:
        return bytearray(b"{}"), "bytearray", False
    if choice == 5:
        return object(), "object()", False
    if choice == 6:
        return float("nan"), "nan", False
    if choice == 7:
        return {1: "a"}, "dict with an int key", False
    if choice == 8:
        return {None: 1, "a": 2}, "dict with a None key", False
    if choice == 9:
        return {(1, 2): "a"}, "dict with a tuple key", False
    if choice == 10:
        return complex(1, 2), "complex", False
    if choice == 11:
        return decimal.Decimal("1.5"), "Decimal", False
    if choice == 12:
        return collections.OrderedDict([("role", "assistant"), ("content", "x")]), "OrderedDict", False
    if choice == 13:
        return StrSubclass(rng.choice(("stop", "assistant", "function", "x"))), "str subclass", False
    if choice == 14:
        return http.HTTPStatus.OK, "IntEnum member", False
    if choice == 15:
        return cc.FinishReason.STOP, "str enum member", False
    if choice == 16:
        return cc.MISSING, "MISSING", False
    if choice == 17:
        return MappingProxyType({"a": 1}), "mappingproxy", False
    if choice == 18:
        return range(3), "range", False
    if choice == 19:
        return int, "type", False
    if choice == 20:
        return BrokenRepr(), "object with a broken repr", False
    if choice == 21:
        return [1, (2,), {"a": {3}}], "list holding a tuple and a set", False
    if choice == 22:
        return {StrSubclass("id"): "x", "a": StrSubclass("b")}, "str subclass key", False
    if choice == 23:
        return memoryview(b"x"), "memoryview", False
    if choice == 24:
        cycle: List[Any] = [1]
        cycle.append(cycle)
        return cycle, "cyclic list", True
    if choice == 25:
        loop: Dict[str, Any] = {"a": 1}
        loop["self"] = loop
        return loop, "cyclic dict", True
    if choice == 26:
        return float(rng.choice(("inf", "-inf"))), "infinity", False
    levels = rng.choice(DEEP_PYTHON_LEVELS)
    return nested(rng, levels), f"value nested {levels} deep", False


# --------------------------------------------------------------------------- paths

Path = Tuple[Any, ...]


def walk(rng: random.Random, document: Any) -> List[Path]:
    """The paths of one random descent from the root, root first."""
    path: Path = ()
    paths = [path]
    node = document
    while len(path) < MAX_WALK_DEPTH:
        if isinstance(node, dict) and node:
            key: Any = rng.choice(list(node))
        elif isinstance(node, list) and node:
            key = rng.randrange(len(node))
        else:
            break
        if rng.random() < (WALK_STOP if path else ROOT_STOP):
            break
        path += (key,)
        node = node[key]
        paths.append(path)
    return paths


def get_at(document: Any, path: Path) -> Any:
    for key in path:
        document = document[key]
    return document


def set_at(document: Any, path: Path, value: Any) -> Any:
    """Put ``value`` at ``path``; returns the (possibly new) root."""
    if not path:
        return value
    get_at(document, path[:-1])[path[-1]] = value
    return document


def find(rng: random.Random, document: Any, wanted: Callable[[Any, Path], bool], tries: int = 4) -> Optional[Path]:
    """A random path on a random descent whose value is wanted, or None."""
    for _ in range(tries):
        found = [path for path in walk(rng, document) if wanted(get_at(document, path), path)]
        if found:
            return rng.choice(found)
    return None


def show_path(path: Path) -> str:
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif isinstance(key, str) and key.isidentifier():
            text += f".{key}" if text else key
        else:
            text += f"[{json.dumps(key)[:40]}]"
    return text or "<root>"


def clone(value: Any) -> Any:
    """A copy of a JSON value (the same object when JSON cannot copy it)."""
    try:
        return json.loads(json.dumps(value))
    except (ValueError, TypeError, RecursionError):
        return value


# --------------------------------------------------------------------------- mutations

Mutation = Callable[[random.Random, Any], Tuple[Any, str]]


def mutate_replace(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = walk(rng, document)[-1]
    value = random_value(rng)
    return set_at(document, path, value), f"replace {show_path(path)} with {short(value)}"


def mutate_delete(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = find(rng, document, lambda value, p: bool(p) and isinstance(get_at(document, p[:-1]), dict))
    if path is None:
        return mutate_replace(rng, document)
    del get_at(document, path[:-1])[path[-1]]
    return document, f"delete {show_path(path)}"


def mutate_add_key(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = find(rng, document, lambda value, p: isinstance(value, dict))
    if path is None:
        return mutate_replace(rng, document)
    key = random_key(rng) if rng.random() < 0.5 else rng.choice(INTERESTING_KEYS)
    value = random_value(rng)
    get_at(document, path)[key] = value
    return document, f"add {show_path(path + (key,))} = {short(value)}"


def mutate_wrap(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = walk(rng, document)[-1]
    return set_at(document, path, [get_at(document, path)]), f"wrap {show_path(path)} in a list"


def mutate_list_to_dict(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = find(rng, document, lambda value, p: isinstance(value, list))
    if path is not None:
        items = get_at(document, path)
        value: Any = {str(i): item for i, item in enumerate(items)} if rng.random() < 0.7 else {}
        return set_at(document, path, value), f"replace list {show_path(path)} with a dict"
    path = find(rng, document, lambda value, p: isinstance(value, dict))
    if path is None:
        return mutate_replace(rng, document)
    return set_at(document, path, list(get_at(document, path).values())), f"replace dict {show_path(path)} with a list"


def mutate_int_to_true(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = find(rng, document, lambda value, p: type(value) is int, tries=8)
    if path is None:
        path = walk(rng, document)[-1]
    flag = rng.random() < 0.8
    return set_at(document, path, flag), f"set {show_path(path)} to {flag}"


def swapped(rng: random.Random, value: Any) -> Any:
    """The same content in another JSON type, where there is one."""
    if isinstance(value, bool):
        return rng.choice((int(value), "true" if value else "false", None))
    if isinstance(value, int):
        if abs(value) < 10**300 and rng.random() < 0.5:
            return float(value)
        return str(value) if abs(value) < 10**4000 else 0
    if isinstance(value, float):
        if math.isfinite(value) and rng.random() < 0.5:
            return int(value)
        return repr(value)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit() and len(stripped) < 4000:
            return int(stripped)
        return rng.choice((len(value), [value], {value: value}, None))
    if value is None:
        return rng.choice(("null", 0, False, {}, []))
    if isinstance(value, list):
        text = json_text(value)
        return rng.choice(({str(i): item for i, item in enumerate(value)}, len(value), (text or "[]")[:100]))
    return rng.choice((list(value.values()), list(value), [[k, v] for k, v in value.items()]))


def mutate_swap_type(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = walk(rng, document)[-1]
    value = swapped(rng, get_at(document, path))
    return set_at(document, path, value), f"swap type of {show_path(path)} to {short(value)}"


def mutate_duplicate(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = find(rng, document, lambda value, p: isinstance(value, list) and bool(value))
    if path is None:
        return mutate_replace(rng, document)
    items = get_at(document, path)
    if rng.random() < 0.7:
        index = rng.randrange(len(items))
        items.insert(index + 1, clone(items[index]))
        return document, f"duplicate {show_path(path + (index,))}"
    items.extend([clone(item) for item in items])
    return document, f"duplicate every item of {show_path(path)}"


def mutate_repeat(rng: random.Random, document: Any) -> Tuple[Any, str]:
    """Many copies of one array item (large inputs, for the timing check)."""
    path = find(rng, document, lambda value, p: isinstance(value, list) and bool(value))
    if path is None:
        return mutate_replace(rng, document)
    items = get_at(document, path)
    index = rng.randrange(len(items))
    try:
        text = json.dumps(items[index])
    except (ValueError, TypeError, RecursionError):
        return mutate_replace(rng, document)
    copies = min(rng.randint(2, REPEAT_MAX), max(1, REPEAT_MAX_BYTES // len(text)))
    items[index + 1:index + 1] = [json.loads(text) for _ in range(copies)]
    return document, f"repeat {show_path(path + (index,))} {copies} times"


def mutate_root(rng: random.Random, document: Any) -> Tuple[Any, str]:
    choices: Tuple[Any, ...] = ([document], [document, document], None, 0, True, 1.5, "chat.completion", [], "")
    value = choices[rng.randrange(len(choices))]
    return value, f"make the root {short(value)}"


def mutate_deep(rng: random.Random, document: Any) -> Tuple[Any, str]:
    path = walk(rng, document)[-1]
    levels = rng.randint(2, 100) if rng.random() < 0.5 else rng.randint(500, DEEP_JSON_LEVELS)
    return set_at(document, path, nested(rng, levels)), f"replace {show_path(path)} with a value nested {levels} deep"


MUTATIONS: Tuple[Mutation, ...] = (
    mutate_replace, mutate_delete, mutate_add_key, mutate_wrap, mutate_list_to_dict, mutate_int_to_true,
    mutate_swap_type, mutate_duplicate, mutate_repeat, mutate_root, mutate_deep,
)
MUTATION_WEIGHTS = (24, 12, 12, 7, 6, 6, 10, 8, 3, 3, 4)


def mutate(rng: random.Random, document: Any, count: int, notes: List[str]) -> Any:
    for _ in range(count):
        mutation = rng.choices(MUTATIONS, MUTATION_WEIGHTS)[0]
        document, note = mutation(rng, document)
        notes.append(note)
    return document


# --------------------------------------------------------------------------- sizes and previews


def json_text(value: Any) -> Optional[str]:
    """The value's JSON text, or None when json.dumps cannot write it (huge int, cycle, too deep)."""
    try:
        return json.dumps(value)
    except (ValueError, TypeError, RecursionError, OverflowError):
        return None


def json_size(value: Any) -> int:
    """The length of the value's JSON text; estimated when json.dumps cannot write it."""
    text = json_text(value)
    return len(text) if text is not None else estimated_size(value)


def estimated_size(value: Any) -> int:
    """About how long the JSON text of a value would be; containers are counted once (cycles end)."""
    size = 0
    seen = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list, tuple, set, frozenset)):
            if id(item) in seen:
                size += 4
                continue
            seen.add(id(item))
            size += 2 + len(item)
            if isinstance(item, dict):
                for key, child in item.items():
                    size += len(key) + 3 if isinstance(key, str) else 8
                    stack.append(child)
            else:
                stack.extend(item)
        elif isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            size += int(abs(item).bit_length() * 0.30103) + 2
        else:
            size += 16
    return size


_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlevel = 6


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """A bounded one-line picture of an input, JSON where possible."""
    if isinstance(value, (str, bytes, bytearray)):
        text = repr(value[:limit]) + (f"... ({len(value)} in all)" if len(value) > limit else "")
        return text if isinstance(value, str) else f"{type(value).__name__}: {text}"
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError, OverflowError):
        try:
            text = "(Python value) " + _REPR.repr(value)
        except Exception:
            text = f"(Python value of type {type(value).__name__})"
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text)} chars in all)"
    return text


def short(value: Any) -> str:
    return preview(value, 40)


# --------------------------------------------------------------------------- building cases


def document_case(number: int, kind: str, model: str, strict: bool, document: Any, notes: List[str],
                  timed: bool = True) -> Case:
    return Case(number, kind, model, strict, document, document, "; ".join(notes), json_size(document), timed)


def other_model(kind: str) -> str:
    return "chunk" if kind == "response" else "response"


def build_mutate(rng: random.Random, number: int, seeds: Seeds) -> Case:
    seed = pick_seed(rng, seeds, rng.choice(("response", "chunk")))
    model = other_model(seed.kind) if rng.random() < CROSS_MODEL_CHANCE else seed.kind
    notes = [f"seed {seed.name}"]
    document = mutate(rng, json.loads(seed.text), rng.randint(MIN_MUTATIONS, MAX_MUTATIONS), notes)
    case = document_case(number, "mutate", model, rng.random() < STRICT_CHANCE, document, notes)
    return case._replace(pair=array_pair(rng, document)) if rng.random() < ARRAY_CHECK_CHANCE else case


def array_pair(rng: random.Random, document: Any) -> Optional[Tuple[Any, Any, str]]:
    """Two copies of the document: one array of objects cut down to one of its items, and the
    same array holding ARRAY_COPIES copies of that item.  Items are checked one by one, so both
    must be accepted or both rejected, however an implementation reads long arrays."""
    path = find(rng, document, lambda value, p: isinstance(value, list) and any(isinstance(x, dict) for x in value))
    if path is None:
        return None
    index = rng.choice([i for i, x in enumerate(get_at(document, path)) if isinstance(x, dict)])
    text, item = json_text(document), json_text(get_at(document, path)[index])
    if text is None or item is None:
        return None
    one = set_at(json.loads(text), path, [json.loads(item)])
    many = set_at(json.loads(text), path, [json.loads(item) for _ in range(ARRAY_COPIES)])
    return one, many, f"{show_path(path)} as [item {index}] and as {ARRAY_COPIES} copies of it"


def build_random(rng: random.Random, number: int, seeds: Seeds) -> Case:
    if rng.random() < 0.5:
        document: Any = random_value(rng)
    else:
        document = {random_key(rng): random_value(rng) for _ in range(rng.randint(1, 10))}
    model = rng.choice(("response", "chunk"))
    return document_case(number, "random", model, rng.random() < STRICT_CHANCE, document, ["random value"])


def build_python(rng: random.Random, number: int, seeds: Seeds) -> Case:
    value, label, cyclic = python_value(rng)
    model = rng.choice(("response", "chunk"))
    if rng.random() < 0.3:
        document, notes = value, [f"root is a {label}"]
    else:
        seed = pick_seed(rng, seeds, model)
        notes = [f"seed {seed.name}"]
        document = mutate(rng, json.loads(seed.text), rng.randint(0, 1), notes)
        path = walk(rng, document)[-1]
        document = set_at(document, path, value)
        notes.append(f"put a {label} at {show_path(path)}")
    return document_case(number, "python", model, rng.random() < STRICT_CHANCE, document, notes, timed=not cyclic)


def serialize(rng: random.Random, document: Any) -> Optional[str]:
    """The document's JSON text in one of several styles; None if json.dumps cannot write it."""
    style = rng.randrange(4)
    try:
        if style == 0:
            return json.dumps(document)
        if style == 1:
            return json.dumps(document, separators=(",", ":"))
        if style == 2:
            return json.dumps(document, separators=(",\n", ": "))  # multi-line; indent= is slow pure Python
        return json.dumps(document, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError, OverflowError):
        return None


def corrupt_text(rng: random.Random, text: str) -> Tuple[str, str]:
    choice = rng.randrange(8)
    at = rng.randint(0, len(text))
    if choice == 0:
        return text[:at], f"truncate at {at}"
    if choice == 1:
        end = min(len(text), at + rng.randint(1, 20))
        return text[:at] + text[end:], f"delete {at}:{end}"
    if choice == 2:
        token = rng.choice(TEXT_TOKENS)
        return text[:at] + token + text[at:], f"insert {token!r} at {at}"
    if choice == 3:
        char = rng.choice(STRING_ALPHABET)
        return text[:at] + char + text[at + 1:], f"replace char {at} with {char!r}"
    if choice == 4:
        end = min(len(text), at + rng.randint(1, 50))
        return text[:end] + text[at:], f"duplicate {at}:{end}"
    if choice == 5:
        levels = rng.randint(500, 3000)
        return "[" * levels + text + "]" * levels, f"nest in {levels} arrays"
    if choice == 6:
        nines = "9" * rng.randint(4000, 6000)
        return text[:at] + nines + text[at:], f"insert {len(nines)} digits at {at}"
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if not digits:
        return text[:at], f"truncate at {at}"
    at = rng.choice(digits)
    char = rng.choice("0123456789.-e")
    return text[:at] + char + text[at + 1:], f"change digit {at} to {char!r}"


def encode_text(rng: random.Random, text: str) -> Tuple[Any, str]:
    """The text as given to loads(): str, bytes in some encoding (maybe broken), or not text at all."""
    r = rng.random()
    if r < 0.5:
        return text, "str"
    if r < 0.75:
        return text.encode("utf-8", "surrogatepass"), "utf-8 bytes"
    if r < 0.82:
        encoding = rng.choice(("utf-8-sig", "utf-16", "utf-16-le", "utf-32", "utf-32-be"))
        return text.encode(encoding, "surrogatepass"), f"{encoding} bytes"
    if r < 0.88:
        return bytearray(text.encode("utf-8", "surrogatepass")), "utf-8 bytearray"
    if r < 0.96:
        data = text.encode("utf-8", "surrogatepass")
        at = rng.randint(0, len(data))
        bad = rng.choice(TEXT_BAD_BYTES)
        return data[:at] + bad + data[at:], f"utf-8 bytes with {bad!r} at {at}"
    odd = (None, 123, ["{}"], {"id": "x"}, memoryview(b"{}"), 1.5, ("{}",))
    value = odd[rng.randrange(len(odd))]
    return value, f"not text: {type(value).__name__}"


def build_text(rng: random.Random, number: int, seeds: Seeds) -> Case:
    seed = pick_seed(rng, seeds, rng.choice(("response", "chunk")))
    model = other_model(seed.kind) if rng.random() < CROSS_MODEL_CHANCE else seed.kind
    notes = [f"seed {seed.name}"]
    document = mutate(rng, json.loads(seed.text), rng.randint(0, 2), notes)
    text = serialize(rng, document)
    if text is None:
        text = seed.text
        notes.append("(mutated document not serializable: seed text used)")
    if rng.random() < 0.85:
        for _ in range(rng.randint(1, 3)):
            text, note = corrupt_text(rng, text)
            notes.append(note)
    payload, form = encode_text(rng, text)
    notes.append("as " + form)
    size = len(payload) if isinstance(payload, (str, bytes, bytearray)) else 16
    return Case(number, "text", model, rng.random() < STRICT_CHANCE, payload, payload, "; ".join(notes), size, True)


def get_or_none(document: Any, path: Path) -> Any:
    try:
        return get_at(document, path)
    except (KeyError, IndexError, TypeError):
        return None


def change_every_chunk(rng: random.Random, documents: List[Any], python_values: bool) -> str:
    """The same change at the same place in every chunk that has that place (merged by accumulate)."""
    template = rng.choice(documents)
    start: Path = DELTA_PATH if rng.random() < DELTA_FOCUS and isinstance(
        get_or_none(template, DELTA_PATH), dict) else ()
    path = start + walk(rng, get_at(template, start))[-1]
    r = rng.random()
    if python_values and r < 0.35:
        value, label, _ = python_value(rng)
    elif r < 0.5:
        levels = rng.randint(2, DEEP_JSON_LEVELS)
        value, label = nested(rng, levels), f"a value nested {levels} deep"
    else:
        value = random_value(rng)
        label = short(value)
    add = not path or (rng.random() < 0.4 and isinstance(get_at(template, path), dict))
    key = random_key(rng) if add else None
    for document in documents:
        if add:
            parent = get_or_none(document, path)
            if isinstance(parent, dict):
                parent[key] = clone(value)
        else:
            parent = get_or_none(document, path[:-1])
            last = path[-1]
            if isinstance(parent, dict) and isinstance(last, str):
                parent[last] = clone(value)
            elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                parent[last] = clone(value)
    where = show_path(path + (key,)) if add else show_path(path)
    return f"every chunk: set {where} to {label}"


def stream_documents(rng: random.Random, seeds: Seeds, notes: List[str], python_values: bool = False) -> List[Any]:
    """A run of chunk documents: corpus or built-in, some mutated, some repeated."""
    if seeds.corpus_streams and rng.random() < CORPUS_CHANCE:
        name, texts = rng.choice(seeds.corpus_streams)
        start = rng.randrange(len(texts))
        sources = texts[start:start + rng.randint(1, 8)]
        notes.append(f"chunks {start}..{start + len(sources) - 1} of corpus:streams/{name}")
    else:
        chunks = seeds.builtin["chunk"]
        picked = sorted(rng.sample(range(len(chunks)), rng.randint(1, len(chunks))))
        notes.append("built-in chunks " + ", ".join(chunks[i].name.split(":")[1] for i in picked))
        sources = [chunks[i].text for i in picked]
    documents: List[Any] = []
    mutation_chance = rng.choice(CHUNK_MUTATION_CHANCES)
    for text in sources:
        document = json.loads(text)
        r = rng.random()
        if r < mutation_chance:
            part_notes: List[str] = []
            document = mutate(rng, document, rng.randint(1, 2), part_notes)
            notes.append(f"chunk {len(documents)}: " + ", ".join(part_notes))
        elif r < mutation_chance + ODD_CHUNK_CHANCE:
            seed = pick_seed(rng, seeds, "response")
            document = json.loads(seed.text)
            notes.append(f"chunk {len(documents)}: response {seed.name}")
        elif r < mutation_chance + 2 * ODD_CHUNK_CHANCE:
            document = clone(rng.choice(SSE_ERRORS))
            notes.append(f"chunk {len(documents)}: error {short(document)}")
        documents.append(document)
        if rng.random() < REPEAT_CHUNK_CHANCE:
            documents.append(clone(document))
            notes.append(f"chunk {len(documents) - 1}: repeat of chunk {len(documents) - 2}")
    if rng.random() < EVERY_CHUNK_CHANCE:
        notes.append(change_every_chunk(rng, documents, python_values))
    return documents


def sse_text(rng: random.Random, documents: Sequence[Any], notes: List[str]) -> str:
    lines: List[str] = []
    for document in documents:
        if rng.random() < 0.08:
            lines.append(rng.choice(SSE_COMMENTS))
        if rng.random() < 0.08:
            lines.append("event: " + rng.choice(SSE_EVENTS))
        if rng.random() < 0.04:
            lines.append(rng.choice(("id: 1", "retry: 1000", "id:")))
        style = rng.random()
        payload = serialize(rng, document) if style < 0.1 else None
        if payload is not None and "\n" in payload:
            prefix = rng.choice(("data: ", "data:"))
            lines.extend(prefix + line for line in payload.split("\n"))  # one event, several data lines
        else:
            try:
                payload = json.dumps(document)
            except (ValueError, TypeError, RecursionError, OverflowError):
                payload = "{}"
            if style > 0.95:
                payload = payload[:rng.randint(0, len(payload))]
            lines.append(("data:" if rng.random() < 0.2 else "data: ") + payload)
        if rng.random() < 0.98:
            lines.append("")  # else the next event's data joins this one
    if rng.random() < 0.1:
        lines.insert(rng.randint(0, len(lines)), rng.choice(SSE_GARBAGE))
        notes.append("garbage line")
    if rng.random() < 0.05:
        lines[rng.randint(0, len(lines)):0] = ["event: error", "data: " + rng.choice(("boom", '{"message": "x"}')), ""]
        notes.append("error event")
    if rng.random() < 0.1:
        lines.insert(rng.randint(0, len(lines)), "data: [DONE]")
        notes.append("[DONE] inside")
    if rng.random() < 0.5:
        lines.extend(("data: [DONE]", ""))
    newline = rng.choice(("\n", "\n", "\n", "\r\n", "\r"))
    return newline.join(lines) + (newline if rng.random() < 0.8 else "")


def stream_source(rng: random.Random, text: str, notes: List[str]) -> Tuple[Callable[[], Any], bool]:
    """A factory for a fresh source of the stream text in one of the forms iter_chunks reads, and
    whether it holds exactly the text (so that it must read as the text itself does)."""
    data = text.encode("utf-8", "surrogatepass")
    exact = True
    if rng.random() < 0.08:
        exact = False
        at = rng.randint(0, len(data))
        bad = rng.choice(TEXT_BAD_BYTES)
        data = data[:at] + bad + data[at:]
        notes.append(f"bytes {bad!r} at {at}")
    form = rng.randrange(9)
    if form == 0:
        notes.append("as one str")
        return (lambda: text), True
    if form == 1:
        notes.append("as str lines with endings")
        lines = text.splitlines(True)  # also at U+2028 and the like, as httpx's iter_lines() does
        return (lambda: list(lines)), False
    if form == 2:
        notes.append("as str lines without endings")
        bare = text.splitlines()
        return (lambda: iter(bare)), False
    if form == 3:
        notes.append("as one bytes")
        return (lambda: data), exact
    if form in (4, 8):  # cut anywhere: inside lines, CRLFs and UTF-8 characters
        count = rng.randint(1, 12) if form == 4 else rng.randint(1, max(1, len(data)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, count)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        notes.append(f"as {len(pieces)} bytes pieces")
        # Text without a single line ending, in several pieces, reads as one line per piece (README).
        return (lambda: iter(pieces)), exact and (b"\n" in data or b"\r" in data or len(pieces) < 2)
    if form == 5:
        notes.append("as BytesIO")
        return (lambda: io.BytesIO(data)), exact
    if form == 6:
        notes.append("as StringIO")
        return (lambda: io.StringIO(text)), True
    notes.append("as bytearray")
    return (lambda: bytearray(data)), exact


def build_stream(rng: random.Random, number: int, seeds: Seeds) -> Case:
    notes: List[str] = []
    documents = stream_documents(rng, seeds, notes)
    text = sse_text(rng, documents, notes)
    factory, exact = stream_source(rng, text, notes)
    strict = rng.random() < 0.25
    return Case(number, "stream", "stream", strict, (factory, exact), text, "; ".join(notes), len(text), True)


def build_chunks(rng: random.Random, number: int, seeds: Seeds) -> Case:
    notes: List[str] = []
    documents = stream_documents(rng, seeds, notes, python_values=True)
    cyclic = any("cyclic" in note for note in notes)
    if rng.random() < 0.3:
        value, label, value_cyclic = python_value(rng)
        cyclic = cyclic or value_cyclic
        index = rng.randrange(len(documents))
        path = walk(rng, documents[index])[-1]
        documents[index] = set_at(documents[index], path, value)
        notes.append(f"put a {label} at chunk {index} {show_path(path)}")
        if rng.random() < 0.5:
            documents.insert(index + 1, documents[index])
            notes.append(f"chunk {index + 1}: the same object as chunk {index}")
    return Case(number, "chunks", "chunks", False, documents, documents, "; ".join(notes),
                json_size(documents), not cyclic)


def models_in(obj: Any) -> List[Tuple[Any, ...]]:
    """Paths (field names and tuple indexes) to every model inside a parsed object, itself first."""
    found: List[Tuple[Any, ...]] = []
    stack: List[Tuple[Any, Tuple[Any, ...]]] = [(obj, ())]
    while stack:
        value, path = stack.pop()
        if dataclasses.is_dataclass(value):
            found.append(path)
            stack.extend((getattr(value, f.name), path + (f.name,)) for f in dataclasses.fields(value))
        elif isinstance(value, tuple):
            stack.extend((item, path + (index,)) for index, item in enumerate(value))
    return found


def replaced(obj: Any, path: Tuple[Any, ...], value: Any) -> Any:
    """``obj`` with the value at ``path`` replaced, its parents rebuilt as a user would."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, tuple):
        return obj[:head] + (replaced(obj[head], rest, value),) + obj[head + 1:]
    return dataclasses.replace(obj, **{head: replaced(getattr(obj, head), rest, value)})


def odd_value(rng: random.Random, parsed: Any, paths: List[Tuple[Any, ...]]) -> Tuple[Any, str, bool]:
    """What a test double might hold: (value, label, whether json.dumps can write to_dict() of it)."""
    def model_at(path: Tuple[Any, ...]) -> Any:
        value = parsed
        for step in path:
            value = value[step] if isinstance(value, tuple) else getattr(value, step)
        return value
    choice = rng.randrange(6)
    if choice == 0:
        value = random_value(rng)
        return value, "a random JSON value", json_text(value) is not None
    if choice == 1:
        models = [model_at(rng.choice(paths)) for _ in range(rng.choice((1, 2, 17)))]
        return models, f"a list of {len(models)} models", True
    if choice == 2:
        models = [model_at(rng.choice(paths)) for _ in range(rng.choice((1, 17)))]
        return tuple(models), f"a tuple of {len(models)} models", True
    if choice == 3:
        return model_at(rng.choice(paths)), "another model", True
    if choice == 4:
        return {random_key(rng): model_at(rng.choice(paths)), "n": (1, 2)}, "a dict holding a model and a tuple", True
    value, label, _cyclic = python_value(rng)
    while _cyclic or label.startswith("value nested"):  # pickle and copy recurse; keep them shallow
        value, label, _cyclic = python_value(rng)
    return value, label, False


def build_handbuilt(rng: random.Random, number: int, seeds: Seeds) -> Case:
    seed = pick_seed(rng, seeds, rng.choice(("response", "chunk")))
    try:
        parsed = MODELS[seed.kind].from_dict(json.loads(seed.text))
    except cc.ValidationError:  # a recorded document that even lenient mode refuses
        seed = rng.choice(seeds.builtin[seed.kind])
        parsed = MODELS[seed.kind].from_dict(json.loads(seed.text))
    paths = models_in(parsed)
    holder = rng.choice(paths)
    target = parsed
    for step in holder:
        target = target[step] if isinstance(target, tuple) else getattr(target, step)
    field = rng.choice([f.name for f in dataclasses.fields(target) if f.name != "extra"] + ["extra"])
    value, label, writable = odd_value(rng, parsed, paths)
    if field in SCALAR_CONTAINERS:  # their items and values are written as they are (README)
        writable = False
    if field == "extra":
        value = {random_key(rng): value}
    built = replaced(parsed, holder + (field,), value)
    notes = f"seed {seed.name}; {'.'.join(map(str, holder + (field,))) or 'root'} := {label}"
    return Case(number, "handbuilt", seed.kind, False, (built, writable), label, notes, len(seed.text), False)


BUILDERS: Dict[str, Callable[[random.Random, int, Seeds], Case]] = {
    "mutate": build_mutate, "random": build_random, "python": build_python,
    "text": build_text, "stream": build_stream, "chunks": build_chunks, "handbuilt": build_handbuilt,
}


def make_case(seed: int, number: int, seeds: Seeds) -> Case:
    rng = random.Random(f"fuzz:{seed}:{number}")
    kind = rng.choices(CASE_KINDS, CASE_WEIGHTS)[0]
    return BUILDERS[kind](rng, number, seeds)


# --------------------------------------------------------------------------- comparing


def first_difference(expected: Any, actual: Any) -> Optional[str]:
    """Where two JSON values differ (bool is not int, 2.0 equals 2, NaN equals NaN), or None."""
    stack: List[Tuple[Any, Any, Any]] = [(None, expected, actual)]  # (path as (key, parent) links, a, b)
    while stack:
        link, a, b = stack.pop()
        if a is b:
            continue
        problem = ""
        if isinstance(a, dict) or isinstance(b, dict):
            if not (isinstance(a, dict) and isinstance(b, dict)):
                problem = "type"
            elif a.keys() != b.keys():
                missing = [k for k in a if k not in b][:5]
                added = [k for k in b if k not in a][:5]
                problem = f"keys differ: missing {missing}, added {added}"
            else:
                stack.extend(((key, link), a[key], b[key]) for key in a)
        elif isinstance(a, list) or isinstance(b, list):
            if not (isinstance(a, list) and isinstance(b, list)):
                problem = "type"
            elif len(a) != len(b):
                problem = f"length {len(a)} != {len(b)}"
            else:
                stack.extend(((index, link), x, y) for index, (x, y) in enumerate(zip(a, b)))
        elif isinstance(a, bool) or isinstance(b, bool):
            if not (isinstance(a, bool) and isinstance(b, bool) and a == b):
                problem = "value"
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            if a != b and not (a != a and b != b):
                problem = "value"
        elif isinstance(a, str) and isinstance(b, str):
            if a != b:
                problem = "value"
        elif a is None or b is None or a != b:
            problem = "value"
        if problem:
            keys = []
            while link is not None:
                keys.append(link[0])
                link = link[1]
            where = show_path(tuple(reversed(keys)))
            return f"{where}: {problem}: input {short(a)} ({type(a).__name__}), " \
                   f"to_dict {short(b)} ({type(b).__name__})"
    return None


# --------------------------------------------------------------------------- running cases


def describe(case: Case) -> str:
    mode = "strict" if case.strict else "lenient"
    return f"case {case.number}: {case.kind}, {case.model} {mode}: {case.notes}"


def record(tally: Tally, category: str, case: Optional[Case], message: str, detail: str = "",
           what: str = "", shown: Any = None, distinct: bool = False, number: int = -1) -> None:
    tally.failure_counts[category] += 1
    kept = tally.failures.setdefault(category, [])
    room = SHOWN_FAILURES + (MORE_DISTINCT_EXCEPTIONS if distinct else 0)
    if len(kept) < room or tally.verbose:
        if case is not None:
            number, what = case.number, what or describe(case)
            text = preview(case.display if shown is None else shown)
        else:
            text = "" if shown is None else preview(shown)
        kept.append(Failure(number, what, message, detail, text))


def record_exception(tally: Tally, case: Case, action: str, exc: BaseException) -> None:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if os.path.basename(f.filename) == "chatcompletion.py"]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f"{os.path.basename(where.filename)}:{where.lineno} in {where.name}" if where else "?"
    signature = f"{type(exc).__name__} at {place}"
    distinct = signature not in tally.signatures
    tally.signatures[signature] += 1
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    record(tally, "exception", case, f"{action}: {type(exc).__name__}: {str(exc)[:200]}", detail, distinct=distinct)


def count_parse(tally: Tally, label: str, accepted: bool) -> None:
    counts = tally.parses.setdefault(label, [0, 0])
    counts[0 if accepted else 1] += 1


def fastest(run: Callable[[], Any], first: float) -> float:
    best = first
    for _ in range(REMEASURE):
        start = time.perf_counter()
        try:
            run()
        except Exception:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def check_time(tally: Tally, case: Case, run: Callable[[], Any], elapsed: float) -> None:
    """Flag a parse slower than the linear bound and keep the worst times (re-measured, so that a
    pause of the machine or the garbage collector is not taken for the parser's cost)."""
    bound = TIME_FIXED + TIME_PER_BYTE * case.size
    rate = elapsed / case.size * 1e6 if case.size >= RATE_MIN_BYTES else 0.0
    if elapsed > bound or elapsed > tally.worst_time[0] or rate > tally.worst_rate[0] \
            or elapsed / bound > tally.worst_share[0]:
        elapsed = fastest(run, elapsed)
        if elapsed > bound:
            record(tally, "slow", case, f"{elapsed * 1e3:.1f} ms for {case.size} bytes "
                                        f"(bound {bound * 1e3:.1f} ms)")
    if case.size >= RATE_MIN_BYTES:
        rate = elapsed / case.size * 1e6
        if rate > tally.worst_rate[0]:
            tally.worst_rate = (rate, case.size, case.number)
    if elapsed > tally.worst_time[0]:
        tally.worst_time = (elapsed, case.size, case.number)
    if elapsed / bound > tally.worst_share[0]:
        tally.worst_share = (elapsed / bound, case.size, case.number)


def attempt(tally: Tally, case: Case, label: str, run: Callable[[], Any], primary: bool = True) -> Tuple[str, Any]:
    """Run one parse: ("accepted", result), ("rejected", ValidationError) or ("crashed", exception)."""
    start = time.perf_counter()
    try:
        result: Any = run()
        status = "accepted"
    except cc.ValidationError as exc:
        result, status = exc, "rejected"
    except Exception as exc:  # the failure this script looks for
        record_exception(tally, case, label, exc)
        return "crashed", exc
    elapsed = time.perf_counter() - start
    if primary:
        count_parse(tally, label, status == "accepted")
        if case.timed:
            check_time(tally, case, run, elapsed)
    if status == "rejected" and all(p.message == "document rejected" for p in result.errors):
        record(tally, "no-reason", case, f"{label}: {str(result)[:200]}")
    return status, result


def check_round_trip(tally: Tally, case: Case, label: str, parsed: Any, expected: Any) -> None:
    try:
        actual = parsed.to_dict()
    except Exception as exc:
        record_exception(tally, case, label + " to_dict", exc)
        return
    difference = first_difference(expected, actual)
    if difference is not None:
        record(tally, "round-trip", case, f"{label}: {difference}")
        return
    try:
        same_text = json.dumps(expected, sort_keys=True) == json.dumps(actual, sort_keys=True)
    except (ValueError, TypeError, RecursionError, OverflowError):
        return
    if not same_text:
        tally.text_differs += 1
        if not tally.text_differs_example:
            tally.text_differs_example = f"case {case.number}: {label}"


def check_accumulated(tally: Tally, case: Case, label: str, result: Any) -> None:
    """An accumulated response must read back as itself."""
    try:
        document = result.to_dict()
        again = cc.CreateChatCompletionResponse.from_dict(document)
    except cc.ValidationError as exc:
        record(tally, "round-trip", case, f"{label}: the accumulated response does not read back: {str(exc)[:200]}")
        return
    except Exception as exc:
        record_exception(tally, case, label + " result to_dict/from_dict", exc)
        return
    check_round_trip(tally, case, label + " result", again, document)


def cross_check(tally: Tally, case: Case, status: str, parse: Callable[[bool], Any],
                verify: Callable[[str, Any], None], label: str) -> None:
    """Strict acceptance implies lenient acceptance: test it from whichever side the case ran."""
    if status == "accepted" and case.strict:
        other = False
    elif status == "rejected" and not case.strict:
        other = True
    else:
        return
    tally.cross_checks += 1
    other_label = f"{label} {'strict' if other else 'lenient'} (cross-check)"
    other_status, result = attempt(tally, case, other_label, lambda: parse(other), primary=False)
    if case.strict and other_status == "rejected":
        record(tally, "strict-not-lenient", case, f"lenient rejects: {str(result)[:300]}")
    elif not case.strict and other_status == "accepted":
        record(tally, "strict-not-lenient", case, "strict accepts what lenient rejected")
    if other_status == "accepted":
        verify(other_label, result)


def check_document(tally: Tally, case: Case) -> None:
    model = MODELS[case.model]
    document = case.payload
    label = f"{case.model} {'strict' if case.strict else 'lenient'}"

    def verify(name: str, parsed: Any) -> None:
        check_round_trip(tally, case, name, parsed, document)

    status, result = attempt(tally, case, label, lambda: model.from_dict(document, strict=case.strict))
    if status == "accepted":
        verify(label, result)
    cross_check(tally, case, status, lambda strict: model.from_dict(document, strict=strict), verify, case.model)
    if case.pair is not None:
        check_array_pair(tally, case, model, label)


def check_array_pair(tally: Tally, case: Case, model: Any, label: str) -> None:
    one, many, note = case.pair  # type: ignore[misc]
    outcomes = []
    for document, name in ((one, "one item"), (many, "copies")):
        status, result = attempt(tally, case, f"{label} ({name})", lambda: model.from_dict(document, strict=case.strict),
                                 primary=False)
        if status == "accepted":
            check_round_trip(tally, case, f"{label} ({name})", result, document)
        outcomes.append((status, result))
    (first, one_result), (second, many_result) = outcomes
    if "crashed" not in (first, second) and first != second:
        errors = one_result if first == "rejected" else many_result
        record(tally, "array", case, f"{note}: {first} with one item, {second} with copies: {str(errors)[:300]}",
               shown=one)


def check_text(tally: Tally, case: Case) -> None:
    parse = TEXT_PARSERS[case.model]
    text = case.payload
    label = f"{case.model} text {'strict' if case.strict else 'lenient'}"

    def verify(name: str, parsed: Any) -> None:
        try:
            expected = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            record(tally, "text", case, f"{name}: accepted what json.loads refuses ({exc!r})")
            return
        check_round_trip(tally, case, name, parsed, expected)

    status, result = attempt(tally, case, label, lambda: parse(text, strict=case.strict))
    if status == "accepted":
        verify(label, result)
    elif status == "rejected":
        check_text_verdict(tally, case, label, result)
    cross_check(tally, case, status, lambda strict: parse(text, strict=strict), verify, case.model + " text")


def check_text_verdict(tally: Tally, case: Case, label: str, error: Any) -> None:
    """A rejection by loads() is json.loads's own error, or from_dict's verdict on what it decoded."""
    try:
        document = json.loads(case.payload)
    except (ValueError, TypeError, RecursionError) as exc:
        if isinstance(exc, (ValueError, RecursionError)) and not str(error).startswith(("<root>: invalid JSON",
                                                                                      "<root>: invalid UTF-8")):
            record(tally, "text", case, f"{label}: json.loads said {exc!r}, loads() said {str(error)[:200]}")
        return
    if str(error) == "<root>: invalid JSON: nested too deeply":
        return  # json.loads's depth limit counts its caller's frames: near it, the verdict depends on where it is called
    try:
        MODELS[case.model].from_dict(document, strict=case.strict)
    except cc.ValidationError as exc:
        if exc.errors != error.errors:
            record(tally, "text", case, f"{label}: from_dict said {str(exc)[:200]}, loads() said {str(error)[:200]}")
        return
    record(tally, "text", case, f"{label}: from_dict accepted what loads() rejected: {str(error)[:200]}")


def check_stream(tally: Tally, case: Case) -> None:
    factory, exact = case.payload
    label = f"stream {'strict' if case.strict else 'lenient'}"

    def read(strict: bool) -> Any:
        return cc.accumulate(cc.iter_chunks(factory(), strict=strict))

    def verify(name: str, result: Any) -> None:
        check_accumulated(tally, case, name, result)

    status, result = attempt(tally, case, label, lambda: read(case.strict))
    if status == "accepted":
        verify(label, result)
    cross_check(tally, case, status, read, verify, "stream")
    if exact and status != "crashed":
        whole_status, whole = attempt(tally, case, label + " (the whole text)",
                                      lambda: cc.accumulate(cc.iter_chunks(case.display, strict=case.strict)),
                                      primary=False)
        # Near the recursion limit, json.loads may say so of an array or of an object, depending
        # on the depth of the stack it is called from: the same verdict is enough there.
        near_limit = status == "rejected" and "recursion" in str(result) + str(whole)
        if whole_status != status or (status == "accepted" and whole != result) \
                or (status == "rejected" and whole.errors != result.errors and not near_limit):
            record(tally, "pieces", case, f"read as {status} in its pieces, {whole_status} as the whole text: "
                                          f"{str(result)[:150]} / {str(whole)[:150]}")


def check_chunks(tally: Tally, case: Case) -> None:
    status, result = attempt(tally, case, "chunks lenient", lambda: cc.accumulate(case.payload))
    if status == "accepted":
        check_accumulated(tally, case, "chunks lenient", result)
    elif status == "rejected":
        # accumulate() refuses a list only for a chunk that does not parse on its own.
        try:
            for chunk in case.payload:
                cc.CreateChatCompletionStreamResponse.from_dict(chunk)
        except cc.ValidationError:
            return
        except Exception as exc:
            record_exception(tally, case, "chunks lenient, one by one", exc)
            return
        record(tally, "accumulate", case, f"every chunk parses, but accumulate() said {str(result)[:200]}")


# Fields holding arrays or maps of scalars, whose items to_dict() writes as they are.
SCALAR_CONTAINERS = ("bytes", "metadata", "categories", "category_scores", "category_applied_input_types")
# Python values that pickle refuses, and values that are not equal to a copy of themselves.
UNPICKLABLE = ("memoryview", "mappingproxy")
UNEQUAL_TO_ITSELF = ("nan", "object()", "object with a broken repr")


def check_handbuilt(tally: Tally, case: Case) -> None:
    built, writable = case.payload
    for action, copy_of in (("pickle", lambda: pickle.loads(pickle.dumps(built, pickle.HIGHEST_PROTOCOL))),
                            ("copy", lambda: copy.copy(built)), ("deepcopy", lambda: copy.deepcopy(built))):
        try:
            again = copy_of()
        except (pickle.PicklingError, TypeError) as exc:
            if action == "copy" or case.display not in UNPICKLABLE:
                record_exception(tally, case, action, exc)
            continue
        except Exception as exc:
            record_exception(tally, case, action, exc)
            continue
        if again != built and case.display not in UNEQUAL_TO_ITSELF:
            record(tally, "round-trip", case, f"{action}: the copy is not equal to the object built by hand")
    try:
        document = built.to_dict()
    except Exception as exc:
        record_exception(tally, case, "to_dict", exc)
        return
    if writable:
        try:
            json.dumps(document)
        except Exception as exc:
            record_exception(tally, case, "json.dumps of to_dict()", exc)
    attempt(tally, case, f"{case.model} from_dict(to_dict())", lambda: MODELS[case.model].from_dict(document),
            primary=False)


CHECKS: Dict[str, Callable[[Tally, Case], None]] = {
    "mutate": check_document, "random": check_document, "python": check_document,
    "text": check_text, "stream": check_stream, "chunks": check_chunks, "handbuilt": check_handbuilt,
}


def run_case(tally: Tally, case: Case) -> None:
    tally.cases += 1
    tally.kinds[case.kind] += 1
    CHECKS[case.kind](tally, case)


def resident_bytes() -> Optional[int]:
    """The process's resident memory now (Linux), else its peak so far (Unix), else None."""
    try:
        with open("/proc/self/statm") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def cap_memory() -> None:
    """Cap the address space (where the system allows it) so a runaway case fails alone."""
    if resource is None:
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = MEMORY_CAP if hard == resource.RLIM_INFINITY else min(MEMORY_CAP, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError, AttributeError):
        pass


def watch_memory(tally: Tally, done: int) -> bool:
    """Record a leak (live objects piling up); False when the run should stop."""
    gc.collect()
    objects = len(gc.get_objects())
    now = resident_bytes() or 0
    tally.memory_peak = max(tally.memory_peak, now)
    if tally.memory_base is None:
        tally.memory_base = (objects, now, done)
        return True
    base_objects, base, after = tally.memory_base
    if objects - base_objects > OBJECTS_GROWTH and not tally.failure_counts["memory"]:
        record(tally, "memory", None, f"live objects grew from {base_objects} after case {after} to {objects} "
                                      f"after case {done} (resident memory {base >> 20} MB -> {now >> 20} MB): "
                                      "something outlives its case", what=f"cases {after}..{done}")
    if now > MEMORY_STOP:
        tally.stopped = f"stopped after case {done}: resident memory {now >> 20} MB (limit {MEMORY_STOP >> 20} MB)"
        return False
    return True


def build_and_run(tally: Tally, seed: int, number: int, seeds: Seeds) -> None:
    """One case; an error of this script is recorded (the run goes on), not taken for the module's."""
    try:
        run_case(tally, make_case(seed, number, seeds))
    except Exception as exc:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        record(tally, "fuzzer", None, f"{type(exc).__name__}: {str(exc)[:200]}", detail,
               what=f"case {number}", number=number)


def check_seeds(tally: Tally, seeds: Seeds) -> List[str]:
    """Every built-in seed must be accepted (strict too, unless marked lenient-only) and round-trip;
    corpus seeds are counted.  Returns summary lines."""
    for kind, builtin in seeds.builtin.items():
        for seed in builtin:
            document = json.loads(seed.text)
            for strict in (False, True):
                if strict and seed.name.split(":")[1] in LENIENT_ONLY_SEEDS:
                    continue
                mode = "strict" if strict else "lenient"
                try:
                    parsed = MODELS[kind].from_dict(document, strict=strict)
                except Exception as exc:
                    record(tally, "seed", None, f"{seed.name} {mode}: {type(exc).__name__}: {str(exc)[:300]}",
                           what=f"seed {seed.name}", shown=document)
                    continue
                difference = first_difference(document, parsed.to_dict())
                if difference is not None:
                    record(tally, "round-trip", None, f"{seed.name} {mode}: {difference}",
                           what=f"seed {seed.name}", shown=document)
    corpus: List[Tuple[str, str, str]] = [(s.name, "response", s.text) for s in seeds.corpus_responses]
    corpus += [(f"corpus:streams/{name}:{i}", "chunk", text)
               for name, texts in seeds.corpus_streams for i, text in enumerate(texts)]
    accepted = {False: 0, True: 0}
    rejected_lenient: List[str] = []
    for name, kind, text in corpus:
        document = json.loads(text)
        for strict in (False, True):
            try:
                parsed = MODELS[kind].from_dict(document, strict=strict)
            except cc.ValidationError:
                if not strict:
                    rejected_lenient.append(name)
                continue
            except Exception as exc:
                record(tally, "exception", None, f"{name}: {type(exc).__name__}: {exc}",
                       "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                       what=f"seed {name}", shown=document)
                continue
            accepted[strict] += 1
            difference = first_difference(document, parsed.to_dict())
            if difference is not None:
                record(tally, "round-trip", None, f"{name}: {difference}", what=f"seed {name}", shown=document)
    builtin_count = sum(len(v) for v in seeds.builtin.values())
    lines = [f"seeds: {builtin_count} built-in, {len(corpus)} from the corpus "
             f"({len(seeds.corpus_responses)} responses, {len(corpus) - len(seeds.corpus_responses)} "
             f"chunks from {len(seeds.corpus_streams)} streams; {seeds.skipped_lines} non-JSON data lines skipped)"]
    if corpus:
        lines.append(f"  corpus seeds accepted: lenient {accepted[False]}/{len(corpus)}, "
                     f"strict {accepted[True]}/{len(corpus)}")
        if rejected_lenient:
            lines.append(f"  corpus seeds lenient rejects: {len(rejected_lenient)}, e.g. {rejected_lenient[:5]}")
    return lines


# --------------------------------------------------------------------------- reporting


def print_failures(tally: Tally, out: Any, full: bool) -> None:
    for category, title in FAILURE_KINDS.items():
        count = tally.failure_counts[category]
        out.write(f"  {title}: {count}\n")
        for number, failure in enumerate(tally.failures.get(category, [])):
            if number == SHOWN_FAILURES:
                out.write("    then the first case of each further distinct exception:\n")
            out.write(f"    - {failure.what}\n")
            out.write(f"      {failure.message}\n")
            if failure.preview:
                out.write(f"      input: {failure.preview}\n")
            if failure.case >= 0:
                out.write(f"      replay: python bench/fuzz.py --seed {tally.seed} --replay {failure.case}\n")
            if failure.detail:
                lines = failure.detail.rstrip().splitlines()
                if not full:
                    lines = lines[-6:]
                out.write("".join(f"      | {line}\n" for line in lines))
        if category == "exception" and tally.signatures:
            out.write("    distinct exceptions:\n")
            for signature, n in tally.signatures.most_common():
                out.write(f"      {n:>7}  {signature}\n")


def print_summary(tally: Tally, seed_lines: Sequence[str], wanted: int, elapsed: float) -> None:
    out = sys.stdout
    rate = tally.cases / elapsed if elapsed > 0 else 0.0
    out.write("fuzz summary\n")
    out.write(f"  python {platform.python_version()} ({platform.python_implementation()}), "
              f"chatcompletion {getattr(cc, '__version__', '?')}\n")
    out.write(f"  seed {tally.seed}: {tally.cases} cases run (of {wanted}), {elapsed:.1f} s, {rate:,.0f} cases/s\n")
    for line in seed_lines:
        out.write(f"  {line}\n")
    out.write("  case kinds: " + ", ".join(f"{kind} {tally.kinds[kind]}" for kind in CASE_KINDS) + "\n")
    out.write("  parses (accepted / rejected):\n")
    for label in sorted(tally.parses):
        accepted, rejected = tally.parses[label]
        out.write(f"    {label:<24} {accepted:>8} / {rejected:<8}\n")
    out.write(f"  strict/lenient cross-checks: {tally.cross_checks}\n")
    out.write(f"  round trips equal as values but not as JSON text (sort_keys; e.g. 2.0 read as 2): "
              f"{tally.text_differs}" + (f" (first: {tally.text_differs_example})" if tally.text_differs else "") + "\n")
    out.write("  failures:\n")
    print_failures(tally, out, full=False)
    per_byte, size, number = tally.worst_rate
    out.write(f"  worst time per byte (inputs >= {RATE_MIN_BYTES} bytes): {per_byte:.3f} us/byte "
              f"(input {size} bytes, case {number})\n")
    seconds, size, number = tally.worst_time
    out.write(f"  worst absolute time: {seconds * 1e3:.2f} ms (input {size} bytes, case {number})\n")
    share, size, number = tally.worst_share
    out.write(f"  closest to the time bound: {share * 100:.1f}% of it (input {size} bytes, case {number})\n")
    total = sum(tally.failure_counts.values())
    if tally.memory_base is not None:
        objects, resident, after = tally.memory_base
        out.write(f"  memory: {objects} live objects and {resident >> 20} MB resident after case {after}, "
                  f"peak {tally.memory_peak >> 20} MB\n")
    if tally.stopped:
        out.write(f"  {tally.stopped}\n")
    out.write(f"  elapsed: {elapsed:.1f} s\n")
    out.write(f"  result: {'FAILED (' + str(total) + ' failures)' if total else 'OK'}\n")


def replay(seed: int, number: int, seeds: Seeds) -> int:
    case = make_case(seed, number, seeds)  # an error here shows its traceback
    tally = Tally(seed=seed, verbose=True)
    print(describe(case))
    print(f"input ({case.size} bytes): {preview(case.display, REPLAY_PREVIEW_CHARS)}")
    run_case(tally, case)
    print_failures(tally, sys.stdout, full=True)
    return 1 if sum(tally.failure_counts.values()) else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz chatcompletion.py (see the module docstring).")
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="number of cases (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--replay", type=int, default=None, metavar="CASE", help="show and run one case")
    args = parser.parse_args(argv)
    seeds = load_seeds()
    if args.replay is not None:
        return replay(args.seed, args.replay, seeds)
    cap_memory()
    tally = Tally(seed=args.seed)
    start = time.perf_counter()
    seed_lines = check_seeds(tally, seeds)
    step = max(1, args.cases // PROGRESS_STEPS)
    time_step = args.seconds / PROGRESS_STEPS if args.seconds else None
    next_time = time_step
    for number in range(args.cases):
        elapsed = time.perf_counter() - start
        if args.seconds is not None and elapsed >= args.seconds:
            break
        build_and_run(tally, args.seed, number, seeds)
        done = number + 1
        if done % MEMORY_CHECK_EVERY == 0 and not watch_memory(tally, done):
            break
        due_time = next_time is not None and elapsed >= next_time
        if done % step == 0 or due_time:
            if due_time and time_step is not None:
                while next_time is not None and next_time <= elapsed:
                    next_time += time_step
            failures = sum(tally.failure_counts.values())
            sys.stderr.write(f"fuzz: {done}/{args.cases} cases ({done * 100 // args.cases}%), "
                             f"{elapsed:.1f} s, {failures} failures\n")
    print_summary(tally, seed_lines, args.cases, time.perf_counter() - start)
    return 1 if sum(tally.failure_counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
