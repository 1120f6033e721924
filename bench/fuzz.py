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
           by a random JSON or Python value, a list or tuple of models, or another model;
- hostile: a large adversarial input built cheaply (HOSTILE_MIN_BYTES to HOSTILE_MAX_BYTES
           characters, log-uniform): long keys over long arrays of bad values, more bad items
           than MAX_KEPT_PROBLEMS, nesting near json's limit (or, built in Python, past
           MAX_DEPTH) with problems at the bottom, huge error bodies and error events, huge
           documents under the lenient floor, long streams ending in an error; given to
           from_dict(), loads()/loads_chunk(), iter_chunks() or accumulate(), and held to the
           time bound of check 4 and the memory bound of check 16.

Mutate and text cases start from an error body (../shared/corpus/errors, and a few built in) now
and then, so that mutations turn error bodies into documents and documents into error bodies.

Checks, per case:

1. nothing but ValidationError (or its subclasses APIError and StreamError) escapes;
2. an accepted document comes back from to_dict() equal to the input: same JSON types (bool is
   not int), numbers equal by value (an integral float in an integer field may come back as int),
   NaN matching NaN; an accumulated stream survives to_dict() -> from_dict() -> to_dict();
   and (documents up to KEYS_CHECK_BYTES) every model in it reports as present_keys() exactly
   the known keys its JSON object had and as null_keys() those of them that were null (an empty
   instance standing for a missing or null object reports none); an object built by hand
   reports the known keys its to_dict() writes;
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
   decides, and accumulates, exactly as its whole text does;
12. (2.0) from_dict(), loads() and loads_chunk() of the two top-level models raise APIError, in
   both modes, exactly when the document is an error body: a dict whose "error" is not null, or
   whose "object" is "error" and that has no "choices"; its .error is the provider's value (the
   "error" value or the whole flat body, the very object given to from_dict()), .message, .code
   and .type are read from it, and it has one problem, at <root>;
13. (2.0) every rejection, whatever raised it, has 1..MAX_KEPT_PROBLEMS problems, unkept only once
   MAX_KEPT_PROBLEMS are kept, every path at most MAX_PATH characters, every message at most
   MESSAGE_BOUND, and str() at most STR_BOUND characters (MAX_LISTED_PROBLEMS listed problems,
   each a path shown in MAX_SHOWN_PATH + 3 and a message, and a last line); hostile cases built
   with n bad items also check that len(errors) + unkept counts every problem (the count for
   n items follows from the counts for 1 and 2);
14. (2.0) strict mode never accepts a document (or a stream chunk) holding NaN or an infinity
   anywhere; and a document lenient mode accepts (up to NON_FINITE_MAX_BYTES) is accepted again,
   by lenient mode, with one of its non-integral floats (or, lacking one, a new unknown root key)
   made NaN, Infinity or -Infinity, and round-trips with that value, while strict refuses it;
15. (2.0) a top-level document (or stream chunk) that lenient mode accepts has at least one
   known key (present_keys() is not empty), and is none of what the floor refuses: no known
   key, a request body (messages and no choices), a Responses API event (a str "type" and
   sequence_number, no choices), another API's object ("object" a non-empty str not starting
   with "chat.completion" and not "text_completion", no choices), or the other top-level
   model's object without a choice that has this model's own key (message / delta);
16. (2.0) bounded cost of rejections: every MEMORY_MEASURE_EVERY-th case whose parse rejects,
   and every hostile case, parses again under tracemalloc, whose peak must stay within
   MEMORY_FIXED + MEMORY_PER_BYTE per input byte (values built in Python nested thousands of
   levels deep, a few bytes each, included); such a rejection also pickles to an equal exception (type, problems, unkept, and .error/.message/.code/.type
   for APIError, .chunks for StreamError).

Seeds are a few documents written below and, when ../shared/corpus exists beside the repository,
every responses/*.json, errors/*.json and every data line of streams/*.sse (read in place).
A failure whose cause is already known (see KNOWN_FINDINGS) is still counted as a failure, and
shown once per kind of failure and cause, so that one known cause does not hide the others.
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
import tracemalloc
from types import MappingProxyType
from typing import Any, Callable, Counter, Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple

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
CASE_KINDS = ("mutate", "random", "python", "text", "stream", "chunks", "handbuilt", "hostile")
CASE_WEIGHTS = (48, 6, 8, 14, 15, 9, 6, 0.2)

STRICT_CHANCE = 0.5  # a case parses in strict mode, else lenient
CROSS_MODEL_CHANCE = 0.1  # a response seed goes to the chunk model, or the other way round
CORPUS_CHANCE = 0.5  # a seed comes from the corpus (when there is one), else from the built-in ones
ERROR_SEED_CHANCE = 0.04  # a mutate or text case starts from an error body
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

# The rules of 2.0 (read from the module, so that the checks follow its limits).
MAX_KEPT_PROBLEMS = cc.MAX_KEPT_PROBLEMS
MAX_LISTED_PROBLEMS = cc.MAX_LISTED_PROBLEMS
MAX_PATH = cc.MAX_PATH
MAX_SHOWN_PATH = cc.MAX_SHOWN_PATH
MAX_SHOWN_MESSAGE = cc.MAX_SHOWN_MESSAGE
# The longest problem message: the floor lists five keys of the document, an API error its
# server's message and code, each shortened to MAX_SHOWN_MESSAGE; 200 more for the words around.
MESSAGE_BOUND = 5 * (MAX_SHOWN_MESSAGE + 4) + 200
# str(ValidationError): MAX_LISTED_PROBLEMS problems, each its path shown in MAX_SHOWN_PATH + 3
# characters, ": " and a message; a newline each, and the "... and N more problems" line.
STR_BOUND = MAX_LISTED_PROBLEMS * (MAX_SHOWN_PATH + 3 + 2 + MESSAGE_BOUND + 1) + 100
KEYS_CHECK_BYTES = 100_000  # present_keys()/null_keys() are compared for documents up to this size
NON_FINITE_MAX_BYTES = 100_000  # the NaN/Infinity variant is tried on accepted documents up to this size
NON_FINITE_VALUES = (float("nan"), float("inf"), float("-inf"))
NON_FINITE_KEY = "fuzz_non_finite"

# Memory of a rejection: every MEMORY_MEASURE_EVERY-th case whose parse rejects (and every
# hostile case) parses again under tracemalloc; its peak must stay under
# MEMORY_FIXED + MEMORY_PER_BYTE * input size.  (Decoding JSON text alone takes up to about 30
# bytes per byte: a one-key dict is 184 bytes for 8 bytes of text.)
MEMORY_MEASURE_EVERY = 200
MEMORY_PER_BYTE = 100
MEMORY_FIXED = 4 << 20
# (Before 8373adb a problem at the bottom of a value built in Python 9,900 levels deep, ~60 KB,
# cost 13-40 MB: a path text of up to MAX_PATH characters kept on every level above it.  Now ~3 MB.)

# Hostile cases: the input's size is drawn log-uniformly from this range (bytes).
HOSTILE_MIN_BYTES = 16_000
HOSTILE_MAX_BYTES = 1_000_000
HOSTILE_MAX_DEPTH = 900  # nesting in JSON text: json.loads stops near the recursion limit (1000)
HOSTILE_MAX_ITEMS = 30_000  # bad items at most (tracemalloc makes each of their allocations slow)

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
    "api-error": "APIError raised for a document that is no error body, or not raised for one, "
                 "or not holding the provider's error",
    "problems": f"a rejection with no problem or more than {MAX_KEPT_PROBLEMS}, problems miscounted, a path "
                f"over {MAX_PATH} chars, a message over {MESSAGE_BOUND}, or str() over {STR_BOUND}",
    "non-finite": "strict accepted NaN or Infinity, or lenient refused a document for a NaN or Infinity alone",
    "floor": "lenient accepted a top-level document that is plainly not a chat completion",
    "present-keys": "present_keys() or null_keys() differ from the keys the JSON had",
    "rejection-memory": f"a rejection's peak memory over {MEMORY_PER_BYTE} bytes/byte + {MEMORY_FIXED >> 20} MB",
    "hostile": "a hostile input accepted, or refused otherwise than it must be",
    "pickle-error": "a ValidationError that does not pickle to an equal one",
    "memory": f"live objects growing by more than {OBJECTS_GROWTH} over the run (a leak)",
    "seed": "built-in seeds rejected",
    "fuzzer": "errors in this script itself (not in the module)",
}

# Causes already found and written up in /work/scratch/fuzz-findings.md: (name, category, a test of
# the failure's message).  A failure they match is still a failure; it is shown once per cause.
# (F1 prefixed paths past MAX_PATH and F2 the floor's escaped quotes are fixed in 8373adb.)
KNOWN_FINDINGS: Tuple[Tuple[str, str, Callable[[str], bool]], ...] = ()

MODELS: Dict[str, Any] = {
    "response": cc.CreateChatCompletionResponse,
    "chunk": cc.CreateChatCompletionStreamResponse,
}
TEXT_PARSERS: Dict[str, Callable[..., Any]] = {"response": cc.loads, "chunk": cc.loads_chunk}
# The known keys of every model class (a null instance's class is a subclass: looked up by MRO).
MODEL_KEYS: Dict[type, FrozenSet[str]] = {
    model: frozenset(f.name for f in dataclasses.fields(model) if f.name != "extra")
    for name in cc.__all__ for model in [getattr(cc, name)]
    if isinstance(model, type) and dataclasses.is_dataclass(model)}
# The floor, per top-level model: the other model's "object", and the key a choice of this model has.
FLOOR_RULES: Dict[str, Tuple[str, str]] = {"response": ("chat.completion.chunk", "message"),
                                           "chunk": ("chat.completion", "delta")}

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


def builtin_errors() -> Dict[str, Any]:
    """Error bodies, each of which both models refuse with APIError in both modes."""
    return {
        "error_openai": {"error": {"message": "The model `gpt-5` does not exist or you do not have access to it.",
                                   "type": "invalid_request_error", "param": None, "code": "model_not_found"}},
        "error_int_code": {"error": {"message": "Rate limit exceeded", "code": 429,
                                     "metadata": {"headers": {"X-RateLimit-Limit": "20"}}}, "user_id": "u_1"},
        "error_string": {"error": "Internal Server Error"},
        "error_vllm_flat": {"object": "error", "message": "This model's maximum context length is 4096 tokens.",
                            "type": "BadRequestError", "param": None, "code": 400},
        "error_midstream_chunk": _chunk([_delta({"content": ""}, "error")],
                                        error={"message": "Provider disconnected", "code": 502}),
        "error_in_response": dict(builtin_responses()["response_minimal"],
                                  error={"message": "partial response", "type": "server_error"}),
    }


LENIENT_ONLY_SEEDS = frozenset({"chunk_content_parts", "chunk_thinking_parts", "chunk_thinking_parts_more"})

# --------------------------------------------------------------------------- seeds and cases


class Seed(NamedTuple):
    name: str
    kind: str  # "response" or "chunk"
    text: str  # JSON text, decoded afresh for every case


class Seeds(NamedTuple):
    builtin: Dict[str, List[Seed]]  # by kind: "response", "chunk", "error"
    corpus_responses: List[Seed]
    corpus_errors: List[Seed]
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
    worst_memory: Tuple[float, int, int, int] = (0.0, 0, -1, 0)  # (bytes/byte, size, case, peak bytes)
    worst_memory_share: Tuple[float, int, int, int] = (0.0, 0, -1, 0)  # (peak / bound, size, case, peak bytes)
    worst_hostile_rate: Tuple[float, int, int] = (0.0, 0, -1)  # (us/byte, size, case)
    coverage: Counter[str] = dataclasses.field(default_factory=collections.Counter)  # what the 2.0 checks saw
    last_elapsed: float = 0.0  # the time of the last primary parse
    memory_base: Optional[Tuple[int, int, int]] = None  # (live objects, resident bytes, after case)
    memory_peak: int = 0
    stopped: str = ""  # why the run stopped before its cases or seconds were used up
    verbose: bool = False


# --------------------------------------------------------------------------- loading seeds


def load_seeds() -> Seeds:
    builtin: Dict[str, List[Seed]] = {"response": [], "chunk": [], "error": []}
    for name, document in builtin_responses().items():
        builtin["response"].append(Seed("builtin:" + name, "response", json.dumps(document)))
    for name, document in builtin_chunks().items():
        builtin["chunk"].append(Seed("builtin:" + name, "chunk", json.dumps(document)))
    for name, document in builtin_errors().items():
        builtin["error"].append(Seed("builtin:" + name, "error", json.dumps(document)))
    responses: List[Seed] = []
    errors: List[Seed] = []
    streams: List[Tuple[str, List[str]]] = []
    skipped = 0
    if os.path.isdir(CORPUS_DIR):
        folder = os.path.join(CORPUS_DIR, "responses")
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as stream:
                    responses.append(Seed("corpus:responses/" + name, "response", stream.read()))
        folder = os.path.join(CORPUS_DIR, "errors")
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as stream:
                    errors.append(Seed("corpus:errors/" + name, "error", stream.read()))
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
    return Seeds(builtin, responses, errors, streams, skipped)


def pick_seed(rng: random.Random, seeds: Seeds, kind: str) -> Seed:
    if rng.random() < CORPUS_CHANCE:
        if kind == "response" and seeds.corpus_responses:
            return rng.choice(seeds.corpus_responses)
        if kind == "chunk" and seeds.corpus_streams:
            name, texts = rng.choice(seeds.corpus_streams)
            index = rng.randrange(len(texts))
            return Seed(f"corpus:streams/{name}:{index}", "chunk", texts[index])
        if kind == "error" and seeds.corpus_errors:
            return rng.choice(seeds.corpus_errors)
    return rng.choice(seeds.builtin[kind])


def pick_document_seed(rng: random.Random, seeds: Seeds) -> Tuple[Seed, str]:
    """A seed for a mutate or text case, and the model it is given to."""
    if rng.random() < ERROR_SEED_CHANCE:
        return pick_seed(rng, seeds, "error"), rng.choice(("response", "chunk"))
    seed = pick_seed(rng, seeds, rng.choice(("response", "chunk")))
    return seed, other_model(seed.kind) if rng.random() < CROSS_MODEL_CHANCE else seed.kind


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
        return cc.FunctionCall(name="x"), "model instance", False
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
    seed, model = pick_document_seed(rng, seeds)
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
    seed, model = pick_document_seed(rng, seeds)
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
    # Each chunk's size on its own: a value that several chunks share is read once per chunk.
    return Case(number, "chunks", "chunks", False, documents, documents, "; ".join(notes),
                sum(json_size(document) for document in documents) + len(documents), not cyclic)


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


# --------------------------------------------------------------------------- hostile cases

NO_MESSAGE = object()  # a Hostile that does not say what .message must be


class Hostile(NamedTuple):
    """A large adversarial input.  ``make(n)`` builds it with n bad parts, so that (when ``counted``)
    the number of problems for n follows from the numbers for 1 and 2."""

    name: str  # which builder, and how
    form: str  # "from_dict", "loads", "stream" (iter_chunks() then accumulate()) or "chunks" (accumulate())
    model: str  # "response" or "chunk"
    strict: bool
    make: Callable[[int], Any]
    n: int
    expect: str  # "problems", "api" (APIError), "stream-error" (StreamError) or "floor" (one problem, at <root>)
    counted: bool
    message: Any = NO_MESSAGE  # the .message an APIError or StreamError must have
    chunks: int = -1  # the number of chunks a StreamError must hold (when not -1)


SKELETON_TEXTS = {"response": json.dumps(builtin_responses()["response_minimal"]),
                  "chunk": json.dumps(_chunk([_delta({"content": "x"})]))}
HOSTILE_CHARS = ("k", "é", "😀", '"', "\\", "\u2028", "a b", "\u0000")


def skeleton(model: str) -> Dict[str, Any]:
    """A small document of the model that strict mode accepts."""
    document: Dict[str, Any] = json.loads(SKELETON_TEXTS[model])
    return document


def in_form(form: str, make_document: Callable[[int], Any]) -> Callable[[int], Any]:
    """``make_document`` turned into a maker of the input the form takes."""
    if form == "loads":
        return lambda n: json.dumps(make_document(n))
    if form == "stream":
        return lambda n: "data: " + json.dumps(make_document(n)) + "\n\ndata: [DONE]\n\n"
    if form == "chunks":
        return lambda n: [make_document(n)]
    return make_document


def pick_form(rng: random.Random, model: str, strict: bool, forms: Sequence[str] = ()) -> str:
    if not forms:
        forms = ("from_dict", "loads") if model == "response" else ("from_dict", "loads", "stream", "chunks")
    if strict:  # accumulate() of documents reads them in lenient mode
        forms = [form for form in forms if form != "chunks"] or ["from_dict"]
    return rng.choice(list(forms))


def long_text(rng: random.Random, length: int) -> str:
    block = rng.choice(HOSTILE_CHARS)
    return (block * (length // len(block) + 1))[:max(1, length)]


def moderation_with(field: str, value: Any) -> Dict[str, Any]:
    results = {"type": "moderation_results", "model": "m", "results": [{
        "type": "moderation_result", "model": "m", "flagged": False, "categories": {}, "category_scores": {},
        "category_applied_input_types": {}}]}
    results["results"][0][field] = value  # type: ignore[index]
    return {"input": results, "output": json.loads(json.dumps(results))}


# Where the n bad items go: (model or "any", place, item).
ITEM_PLACES: Tuple[Tuple[str, str, Any], ...] = (
    ("response", "choices", {"index": "x"}),
    ("response", "choices", 7),
    ("response", "logprobs", {"token": 1, "logprob": -1.5, "bytes": None, "top_logprobs": []}),
    ("response", "tool_calls", {"id": "c", "type": "function", "function": {"name": 5, "arguments": "{}"}}),
    ("response", "annotations", {"type": "url_citation",
                                 "url_citation": {"start_index": "a", "end_index": 1, "url": "u", "title": "t"}}),
    ("response", "scores", "high"),
    ("response", "metadata", 1),
    ("chunk", "choices", {"index": 0, "delta": {"role": 5}}),
    ("chunk", "tool_calls", {"index": "a"}),
    ("any", "bytes", "x"),
    ("any", "bytes", 1.5),
    ("any", "nan", float("nan")),  # strict only
)


def place_items(document: Dict[str, Any], model: str, place: str, item: Any, n: int, key: str) -> None:
    """Put n copies of ``item`` (or n keys holding it) at ``place`` in a skeleton document."""
    choice = document["choices"][0]
    if place == "choices":
        document["choices"] = [item] * n
    elif place == "logprobs":
        choice["logprobs"] = {"content": [item] * n, "refusal": None}
    elif place == "tool_calls":
        choice["message" if model == "response" else "delta"]["tool_calls"] = [item] * n
    elif place == "annotations":
        choice["message"]["annotations"] = [item] * n
    elif place == "scores":
        document["moderation"] = moderation_with("category_scores", {f"c{i}": item for i in range(n)})
    elif place == "metadata":
        document["metadata"] = {f"{i}:{key}": item for i in range(n)}
    elif place == "bytes":
        choice["logprobs"] = {"content": [{"token": "t", "logprob": -1.0, "bytes": [item] * n, "top_logprobs": []}],
                              "refusal": None}
    else:
        document["x"] = [item] * n


def hostile_items(rng: random.Random, target: int) -> Hostile:
    """More bad items than MAX_KEPT_PROBLEMS (or as many as the size allows), at a known field."""
    model_of, place, item = rng.choice(ITEM_PLACES)
    model = rng.choice(("response", "chunk")) if model_of == "any" else model_of
    strict = place == "nan" or rng.random() < 0.3
    key = long_text(rng, rng.choice((1, 100, 2_000))) if place == "metadata" else ""
    form = pick_form(rng, model, strict)
    each = len(json.dumps(item)) + 2 + (len(key) + 8 if place in ("metadata", "scores") else 0)
    n = max(1, min(HOSTILE_MAX_ITEMS, target // each))

    def make(count: int) -> Any:
        document = skeleton(model)
        place_items(document, model, place, item, count, key)
        return document
    return Hostile(f"items: {n} x {short(item)} at {place}" + (f", keys of {len(key)} chars" if key else ""),
                   form, model, strict, in_form(form, make), n, "problems", True)


def key_chain(keys: Sequence[str], bottom: Any) -> Any:
    value = bottom
    for key in reversed(keys):
        value = {key: value}
    return value


def hostile_long_keys(rng: random.Random, target: int) -> Hostile:
    """Long keys over a long array of bad values: every problem's path runs through the keys."""
    model = rng.choice(("response", "chunk"))
    length = int(math.exp(rng.uniform(math.log(1_000), math.log(max(2_000, target // 2)))))
    depth = rng.randint(1, 6)
    keys = [f"{level}{long_text(rng, length // depth)}" for level in range(depth)]
    style = rng.choice(("nan", "python", "input types"))
    bottom_item: Any
    if style == "nan":  # strict: NaN is no JSON
        strict, bottom_item, each = True, float("nan"), 5
        form = pick_form(rng, model, strict)
    elif style == "python":  # lenient: values JSON cannot hold
        strict, bottom_item, each, form = False, rng.choice((set(), b"x", (1,))), 16, "from_dict"
    else:  # lenient, JSON: category_applied_input_types {long key: [1, 1, ...]}
        model, strict, bottom_item, each = "response", rng.random() < 0.3, 1, 2
        form = pick_form(rng, model, strict)
    n = max(1, min(HOSTILE_MAX_ITEMS, (target - length) // each))

    def make(count: int) -> Any:
        document = skeleton(model)
        if style == "input types":
            document["moderation"] = moderation_with("category_applied_input_types",
                                                     key_chain(keys[:1], [bottom_item] * count))
        else:
            document["x"] = key_chain(keys, [bottom_item] * count)
        return document
    return Hostile(f"long keys: {depth} of {length // depth} chars over {n} x {short(bottom_item)} ({style})",
                   form, model, strict, in_form(form, make), n, "problems", True)


def hostile_deep(rng: random.Random, target: int) -> Hostile:
    """Nesting near json's limit (JSON text), or past MAX_DEPTH (built in Python), with bad values
    at the bottom."""
    model = rng.choice(("response", "chunk"))
    key = long_text(rng, rng.choice((1, 10, 200, 2_000)))
    if rng.random() < 0.6:  # JSON text, strict, NaN at the bottom
        depth = rng.randint(50, HOSTILE_MAX_DEPTH)
        style = rng.choice(("dict", "list", "mixed"))
        opening, closing = [], []
        for level in range(depth):
            if style == "list" or (style == "mixed" and level % 2):
                opening.append("[")
                closing.append("]")
            else:
                opening.append("{" + json.dumps(key) + ": ")
                closing.append("}")
        prefix, suffix = "".join(opening), "".join(reversed(closing))
        n = max(1, min(HOSTILE_MAX_ITEMS, (target - len(prefix) - len(suffix)) // 5))
        head = SKELETON_TEXTS[model][:-1] + ', "x": ' + prefix

        def text(count: int) -> str:
            return head + "[" + ", ".join(["NaN"] * count) + "]" + suffix + "}"
        form = pick_form(rng, model, True)
        if form == "loads":
            make: Callable[[int], Any] = text
        elif form == "stream":
            make = lambda count: "data: " + text(count) + "\n\n"  # noqa: E731
        else:
            make = lambda count: json.loads(text(count))  # noqa: E731
        return Hostile(f"deep: {depth} levels ({style}) of keys of {len(key)} chars over {n} NaN",
                       form, model, True, make, n, "problems", True)
    # Built in Python: lenient, values JSON cannot hold at the bottom; past MAX_DEPTH, one problem.
    past = rng.random() < 0.3
    depth = rng.randint(MAX_DEPTH + 10, MAX_DEPTH + 2_000) if past else rng.randint(1_000, MAX_DEPTH - 100)
    n = max(1, min(HOSTILE_MAX_ITEMS, (target - depth * (len(key) + 4)) // 16))
    item: Any = rng.choice((set(), b"x", (1,)))

    def build(count: int) -> Any:
        value: Any = [item] * count
        for _ in range(depth):
            value = {key: value}
        document = skeleton(model)
        document["x"] = value
        return document
    return Hostile(f"deep: {depth} levels built in Python, keys of {len(key)} chars, over {n} x {short(item)}",
                   "from_dict", model, False, build, n, "problems", not past)


def hostile_error(rng: random.Random, target: int) -> Hostile:
    """An error body (or an error event) with a huge message, code or value."""
    model = rng.choice(("response", "chunk"))
    strict = rng.random() < 0.5
    message = long_text(rng, target)
    shape = rng.randrange(7)
    expected: Any = message
    if shape == 0:
        code = rng.choice((long_text(rng, min(target, 100_000)), 500, None, 429.0, True))
        document: Any = {"error": {"message": message, "type": "server_error", "code": code}}
    elif shape == 1:
        document = {"error": message}
    elif shape == 2:
        document = {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
    elif shape == 3:
        count = max(1, target // 40)
        document = {"error": {"code": 400, "details": [{"reason": "x" * 20, "i": 1}] * count}}
        expected = None
    elif shape == 4:
        document = skeleton(model)
        document["error"] = {"message": message, "code": "overloaded"}
    elif shape == 5:
        document = {"error": {"message": message}, "choices": "not a list", "id": 7}
    else:  # an error event in a stream, after a chunk
        chunk = json.dumps(skeleton("chunk"))
        text = f"data: {chunk}\n\nevent: error\ndata: {message}\n\n"
        return Hostile(f"error: an error event of {len(message)} chars", "stream", "chunk", strict,
                       lambda n: text, 1, "stream-error", False, message, 1)
    forms = ("from_dict", "loads", "stream") if model == "chunk" else ("from_dict", "loads")
    form = rng.choice(forms)
    text_of = json.dumps(document)
    if form == "loads":
        make: Callable[[int], Any] = lambda n: text_of  # noqa: E731
    elif form == "stream":
        make = lambda n: "data: " + text_of + "\n\n"  # noqa: E731
    else:
        make = lambda n: document  # noqa: E731
    return Hostile(f"error: shape {shape}, a message of {len(message)} chars", form, model, strict, make, 1,
                   "stream-error" if form == "stream" else "api", False, expected)


def hostile_floor(rng: random.Random, target: int) -> Hostile:
    """A large document plainly not a chat completion: lenient mode refuses it with one problem."""
    model = rng.choice(("response", "chunk"))
    strict = rng.random() < 0.2
    shape = rng.randrange(7)
    if shape == 0:  # no known key: a few huge keys
        count = rng.randint(1, 8)
        length = max(1, target // count)
        keys = [f"{i}{long_text(rng, length)}" for i in range(count)]
        make: Callable[[int], Any] = lambda n: {key: [1, 2] for key in keys}  # noqa: E731
    elif shape == 1:  # a Responses API event with a huge delta
        delta = long_text(rng, target)
        make = lambda n: {"type": "response.output_text.delta", "sequence_number": 7,  # noqa: E731
                          "item_id": "msg_1", "delta": delta}
    elif shape == 2:  # ... with a huge type
        kind = long_text(rng, target)
        make = lambda n: {"type": kind, "sequence_number": 1}  # noqa: E731
    elif shape == 3:  # another API's object: a huge embeddings list, or a huge "object"
        if rng.random() < 0.5:
            count = max(1, target // 700)
            item = {"object": "embedding", "index": 0, "embedding": [0.0125] * 64}
            make = lambda n: {"object": "list", "data": [item] * count,  # noqa: E731
                              "model": "text-embedding-3-small"}
        else:
            kind = "x" + long_text(rng, target)
            make = lambda n: {"object": kind, "id": "x"}  # noqa: E731
    elif shape == 4:  # a request body
        count = max(1, target // 60)
        make = lambda n: {"model": "gpt-4o", "stream": True,  # noqa: E731
                          "messages": [{"role": "user", "content": "What is the weather? " * 2}] * count}
    else:  # the other model's documents
        count = max(1, target // 90)
        if model == "response":
            choice: Any = {"index": 0, "delta": {"content": "Hello there, how are you?"}, "finish_reason": None}
            head = skeleton("chunk")
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}
            head = skeleton("response")

        def make(n: int) -> Any:
            document = json.loads(json.dumps(head))
            document["choices"] = [choice] * count
            return document
    form = rng.choice(("from_dict", "loads"))
    return Hostile(f"floor: shape {shape}", form, model, strict, in_form(form, make), 1,
                   "problems" if strict else "floor", False)


def hostile_stream(rng: random.Random, target: int) -> Hostile:
    """Many good chunks, then a bad one or an error event."""
    chunk = SKELETON_TEXTS["chunk"]
    count = max(1, target // (len(chunk) + 8))
    strict = rng.random() < 0.3
    body = f"data: {chunk}\n\n" * count
    if rng.random() < 0.5:
        message = long_text(rng, rng.choice((10, 1_000, 100_000)))
        text = body + f"event: error\ndata: {message}\n\n"
        return Hostile(f"stream: {count} chunks, then an error event", "stream", "chunk", strict,
                       lambda n: text, 1, "stream-error", False, message, count)
    text = body + 'data: {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", ' \
                  '"choices": [{"index": "bad", "delta": {}}]}\n\n'
    return Hostile(f"stream: {count} chunks, then a bad one", "stream", "chunk", strict, lambda n: text, 1,
                   "problems", False)


HOSTILE_BUILDERS: Tuple[Callable[[random.Random, int], Hostile], ...] = (
    hostile_items, hostile_long_keys, hostile_deep, hostile_error, hostile_floor, hostile_stream)
HOSTILE_WEIGHTS = (4, 3, 3, 3, 2, 1)


def hostile_size(form: str, payload: Any) -> int:
    if isinstance(payload, str):
        return len(payload.encode("utf-8", "surrogatepass"))
    return json_size(payload)


def build_hostile(rng: random.Random, number: int, seeds: Seeds) -> Case:
    target = int(math.exp(rng.uniform(math.log(HOSTILE_MIN_BYTES), math.log(HOSTILE_MAX_BYTES))))
    spec = rng.choices(HOSTILE_BUILDERS, HOSTILE_WEIGHTS)[0](rng, target)
    payload = spec.make(spec.n)
    notes = f"{spec.name}; {spec.form}; expect {spec.expect}" + ("" if spec.counted else ", not counted")
    return Case(number, "hostile", f"{spec.model} {spec.form}", spec.strict, (spec, payload), payload, notes,
                hostile_size(spec.form, payload), True)


BUILDERS: Dict[str, Callable[[random.Random, int, Seeds], Case]] = {
    "mutate": build_mutate, "random": build_random, "python": build_python,
    "text": build_text, "stream": build_stream, "chunks": build_chunks, "handbuilt": build_handbuilt,
    "hostile": build_hostile,
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


# --------------------------------------------------------------------------- the rules of 2.0

NOT_A_DOCUMENT = object()  # what text decodes to when json.loads refuses it


def error_body(document: Any) -> Tuple[bool, Any]:
    """Whether a decoded document is an error body, and the provider's error value it holds:
    a dict whose "error" is not null (that value), or whose "object" is "error" and that has no
    "choices" (the flat form of older vLLM and FastChat: the whole body)."""
    if not isinstance(document, dict):
        return False, None
    error = document.get("error")
    if error is not None:
        return True, error
    if document.get("object") == "error" and "choices" not in document:
        return True, document
    return False, None


def api_fields_difference(exc: Any, error: Any) -> Optional[str]:
    """How .message, .code and .type disagree with the provider's error, or None.  Each holds the
    error's own value where that has the attribute's type, else None."""
    fields = error if isinstance(error, dict) else {}
    wanted = {"message": (str,), "code": (str, int), "type": (str,)}
    for name, types in wanted.items():
        value = fields.get(name)
        if name == "message" and isinstance(error, str):
            value = error
        ok = isinstance(value, types) and not isinstance(value, bool)
        got = getattr(exc, name, None)
        if ok and got != value:
            return f".{name} is {short(got)}, but the error's is {short(value)}"
        if not ok and got is not None:
            return f".{name} is {short(got)}, but the error has no {name} of that type"
    return None


def check_api_error(tally: Tally, case: Case, label: str, status: str, result: Any, document: Any,
                    same_object: bool) -> None:
    """APIError exactly when the document is an error body; its .error the provider's value."""
    if status == "crashed":
        return
    expected, error = error_body(document)
    raised = status == "rejected" and isinstance(result, cc.APIError)
    if expected:
        seen = "error bodies refused with APIError" if raised else "error bodies not refused with APIError"
        tally.coverage[seen] += 1
    if expected and not raised:
        detail = f": {type(result).__name__}: {str(result)[:200]}" if status == "rejected" else ""
        record(tally, "api-error", case, f"{label}: an error body was {status}{detail}")
        return
    if raised and not expected:
        record(tally, "api-error", case, f"{label}: APIError for a document that is no error body: {str(result)[:200]}")
        return
    if not raised:
        return
    wrong = []
    if type(result) is not cc.APIError:
        wrong.append(f"raised {type(result).__name__}, not APIError")
    if result.error is not error:
        if same_object:
            wrong.append(".error is not the very value given (the provider's error as sent)")
        elif case.timed:
            difference = first_difference(error, result.error)
            if difference is not None:
                wrong.append(f".error differs from the provider's: {difference}")
    difference = api_fields_difference(result, error)
    if difference is not None:
        wrong.append(difference)
    if len(result.errors) != 1 or result.errors[0].path != "<root>":
        first = result.errors[0].path[:80] if result.errors else "-"
        wrong.append(f"{len(result.errors)} problems, the first at {first}")
    if wrong:
        record(tally, "api-error", case, f"{label}: " + "; ".join(wrong))


def check_rejection(tally: Tally, case: Case, label: str, exc: Any) -> None:
    """Every rejection: 1..MAX_KEPT_PROBLEMS problems, unkept only past them, short paths,
    messages and str()."""
    errors = exc.errors
    count = len(errors)
    unkept = exc.unkept
    if not 1 <= count <= MAX_KEPT_PROBLEMS:
        record(tally, "problems", case, f"{label}: {count} problems kept (1..{MAX_KEPT_PROBLEMS} expected)")
    if type(unkept) is not int or unkept < 0 or (unkept and count != MAX_KEPT_PROBLEMS):
        record(tally, "problems", case, f"{label}: unkept {unkept!r} with {count} problems kept")
    if not count:
        return
    longest = max(errors, key=lambda problem: len(problem.path))
    if len(longest.path) > MAX_PATH:
        record(tally, "problems", case, f"{label}: path of {len(longest.path)} characters "
                                        f"(MAX_PATH {MAX_PATH}): {longest.path[:60]!r}...")
    longest = max(errors, key=lambda problem: len(problem.message))
    if len(longest.message) > MESSAGE_BOUND:
        record(tally, "problems", case, f"{label}: message of {len(longest.message)} characters "
                                        f"(bound {MESSAGE_BOUND}): {longest.message[:100]!r}...")
    text = str(exc)
    if len(text) > STR_BOUND:
        record(tally, "problems", case, f"{label}: str() of {len(text)} characters (bound {STR_BOUND}): "
                                        f"{text[:100]!r}...")


def has_non_finite(value: Any) -> bool:
    """Whether a value holds NaN or an infinity anywhere (containers met twice are read once)."""
    stack = [value]
    seen = set()
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, (dict, list, tuple, MappingProxyType)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, (dict, MappingProxyType)) else item)
    return False


def non_finite_variant(document: Any, number: int) -> Optional[Tuple[Any, str]]:
    """A copy of an accepted document with one non-integral float (a value in a field that takes
    floats) made NaN, Infinity or -Infinity; lacking one, with a new unknown root key holding it."""
    text = json_text(document)
    if text is None:
        return None
    variant = json.loads(text)
    floats: List[Path] = []
    stack: List[Tuple[Path, Any]] = [((), variant)]
    while stack:
        path, item = stack.pop()
        if type(item) is float:
            if math.isfinite(item) and not item.is_integer():
                floats.append(path)
        elif type(item) is dict:
            stack.extend((path + (key,), value) for key, value in item.items())
        elif type(item) is list:
            stack.extend((path + (index,), value) for index, value in enumerate(item))
    value = NON_FINITE_VALUES[number % len(NON_FINITE_VALUES)]
    if floats:
        path = floats[number % len(floats)]
        return set_at(variant, path, value), f"{show_path(path)} made {value}"
    if isinstance(variant, dict) and NON_FINITE_KEY not in variant:
        variant[NON_FINITE_KEY] = value
        return variant, f"{NON_FINITE_KEY} = {value} added"
    return None


def floor_reason(document: Any, model: str) -> Optional[str]:
    """What the floor under lenient mode refuses this top-level document as (design of 2.0), or None."""
    if not isinstance(document, dict):
        return None
    keys = MODEL_KEYS[MODELS[model]]
    if not any(isinstance(key, str) and key in keys for key in document):
        return "a document with no known key"
    other, own_key = FLOOR_RULES[model]
    kind = document.get("object")
    choices = document.get("choices")
    if isinstance(kind, str) and kind == other and not (isinstance(choices, list) and any(
            isinstance(choice, dict) and own_key in choice for choice in choices)):
        return f"the other model's object ({other}, no choice with {own_key!r})"
    if "choices" in document:
        return None
    if isinstance(document.get("type"), str) and "sequence_number" in document:
        return "a Responses API event (type and sequence_number, no choices)"
    if "messages" in document:
        return "a request body (messages, no choices)"
    if isinstance(kind, str) and kind and not kind.startswith("chat.completion") and kind != "text_completion":
        return f"another API's object ({short(kind)}, no choices)"
    return None


_KEYS_OF_TYPE: Dict[type, Optional[FrozenSet[str]]] = {}


def model_keys(value: Any) -> Optional[FrozenSet[str]]:
    """The known keys of a model instance (a null instance's class is a subclass), None for a non-model."""
    kind = type(value)
    try:
        return _KEYS_OF_TYPE[kind]
    except KeyError:
        pass
    found = next((MODEL_KEYS[klass] for klass in kind.__mro__ if klass in MODEL_KEYS), None)
    _KEYS_OF_TYPE[kind] = found
    return found


def keys_difference(parsed: Any, document: Any) -> Optional[str]:
    """Where present_keys() or null_keys() of a parsed model (or a model inside it) differ from the
    keys its JSON object had; an object that was null or missing reports no key."""
    stack: List[Tuple[Any, Any, str]] = [(parsed, document, "")]
    while stack:
        obj, data, where = stack.pop()
        keys = model_keys(obj)
        if keys is None:
            continue
        if isinstance(data, dict):
            expected = frozenset(key for key in keys if key in data)
            expected_null = frozenset(key for key in expected if data[key] is None)
        else:
            expected = expected_null = frozenset()
        present, null = obj.present_keys(), obj.null_keys()
        if present != expected or null != expected_null:
            return (f"{where or '<root>'}: present_keys() {sorted(present)}, null_keys() {sorted(null)}; "
                    f"the JSON had {sorted(expected)}, null {sorted(expected_null)}")
        for key in keys:
            value = getattr(obj, key)
            sub = data.get(key) if isinstance(data, dict) else None
            if model_keys(value) is not None:
                stack.append((value, sub, f"{where}.{key}"))
            elif isinstance(value, tuple) and value and model_keys(value[0]) is not None:
                items = sub if isinstance(sub, list) else []
                stack.extend((item, items[index] if index < len(items) else None, f"{where}.{key}[{index}]")
                             for index, item in enumerate(value))
    return None


def check_accepted(tally: Tally, case: Case, label: str, strict: bool, parsed: Any, document: Any,
                   model: str, reparse: Callable[[Any, bool], Any]) -> None:
    """The 2.0 checks of an accepted top-level document (``reparse(document, strict)`` parses one
    the way the case does)."""
    if strict and has_non_finite(document):
        record(tally, "non-finite", case, f"{label}: strict accepted a document holding NaN or Infinity")
    if not parsed.present_keys():
        record(tally, "floor", case, f"{label}: accepted with no known key present (present_keys() is empty)")
    reason = floor_reason(document, model)
    if reason is not None and not error_body(document)[0]:
        record(tally, "floor", case, f"{label}: accepted {reason}")
    if case.size <= KEYS_CHECK_BYTES:
        tally.coverage["present_keys()/null_keys() compared"] += 1
        difference = keys_difference(parsed, document)
        if difference is not None:
            record(tally, "present-keys", case, f"{label}: {difference}")
    if not strict and case.size <= NON_FINITE_MAX_BYTES:
        check_non_finite_variant(tally, case, label, document, reparse)


def check_non_finite_variant(tally: Tally, case: Case, label: str, document: Any,
                             reparse: Callable[[Any, bool], Any]) -> None:
    made = non_finite_variant(document, case.number)
    if made is None:
        return
    variant, note = made
    tally.coverage["NaN/Infinity variants of accepted documents"] += 1
    name = f"{label} ({note})"
    status, result = attempt(tally, case, name, lambda: reparse(variant, False), primary=False)
    if status == "rejected":
        record(tally, "non-finite", case, f"{name}: lenient refused it: {str(result)[:200]}")
    elif status == "accepted":
        check_round_trip(tally, case, name, result, variant)
    status, result = attempt(tally, case, name + " strict", lambda: reparse(variant, True), primary=False)
    if status == "accepted":
        record(tally, "non-finite", case, f"{name}: strict accepted it")


def peak_memory(run: Callable[[], Any]) -> int:
    """The peak of the memory (tracemalloc) that one call allocates."""
    tracemalloc.start()
    try:
        try:
            run()
        except Exception:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def check_memory(tally: Tally, case: Case, label: str, run: Callable[[], Any]) -> None:
    """A rejection's peak memory stays within MEMORY_FIXED + MEMORY_PER_BYTE per input byte."""
    size = case.size
    bound = MEMORY_FIXED + MEMORY_PER_BYTE * size
    peak = peak_memory(run)
    if peak > bound:
        peak = min(peak, peak_memory(run))  # the first run may have filled caches
    tally.coverage["rejections measured with tracemalloc"] += 1
    if size >= RATE_MIN_BYTES and peak / size > tally.worst_memory[0]:
        tally.worst_memory = (peak / size, size, case.number, peak)
    if peak / bound > tally.worst_memory_share[0]:
        tally.worst_memory_share = (peak / bound, size, case.number, peak)
    if peak > bound:
        record(tally, "rejection-memory", case, f"{label}: peak {peak >> 10} KB for {size} bytes "
                                                f"(bound {bound >> 10} KB)")


def check_pickle(tally: Tally, case: Case, label: str, exc: Any) -> None:
    """A rejection pickles to an equal exception."""
    try:
        again = pickle.loads(pickle.dumps(exc, pickle.HIGHEST_PROTOCOL))
    except RecursionError as error:
        try:  # a value nested hundreds deep (in the error, or in chunks read before it) is past pickle's own limit
            plain = [chunk.to_dict() for chunk in getattr(exc, "chunks", ())]
            pickle.dumps((getattr(exc, "error", None), plain), pickle.HIGHEST_PROTOCOL)
        except RecursionError:
            tally.coverage["rejections too deep for pickle itself"] += 1
            return
        record(tally, "pickle-error", case, f"{label}: RecursionError: {str(error)[:200]}")
        return
    except Exception as error:
        if case.kind not in ("python", "chunks"):  # an error body may hold what pickle refuses
            record(tally, "pickle-error", case, f"{label}: {type(error).__name__}: {str(error)[:200]}")
        return
    wrong = []
    if type(again) is not type(exc):
        wrong.append(f"{type(exc).__name__} comes back as {type(again).__name__}")
    if again.errors != exc.errors or again.unkept != exc.unkept or str(again) != str(exc):
        wrong.append("errors, unkept or str() differ")
    if isinstance(exc, cc.APIError):
        if (again.message, again.code, again.type) != (exc.message, exc.code, exc.type):
            wrong.append(".message, .code or .type differ")
        if case.kind not in ("python", "chunks", "handbuilt") and first_difference(exc.error, again.error) is not None:
            wrong.append(".error differs")
    if isinstance(exc, cc.StreamError) and len(again.chunks) != len(exc.chunks):
        wrong.append(".chunks differ")
    if wrong:
        record(tally, "pickle-error", case, f"{label}: " + "; ".join(wrong))


# --------------------------------------------------------------------------- running cases


def describe(case: Case) -> str:
    mode = "strict" if case.strict else "lenient"
    return f"case {case.number}: {case.kind}, {case.model} {mode}: {case.notes}"


def known_finding(category: str, message: str) -> Optional[str]:
    for name, known_category, test in KNOWN_FINDINGS:
        if known_category == category and test(message):
            return name
    return None


def record(tally: Tally, category: str, case: Optional[Case], message: str, detail: str = "",
           what: str = "", shown: Any = None, signature: Optional[str] = None, number: int = -1) -> None:
    """Count a failure and keep it for the report: the first SHOWN_FAILURES of each kind, and the
    first of each further signature (an exception's type and place, a known finding's name);
    a failure of a known cause is kept only once."""
    tally.failure_counts[category] += 1
    known = known_finding(category, message)
    if known is not None:
        signature = known
    distinct = False
    if signature is not None:
        key = f"{category}: {signature}"
        distinct = key not in tally.signatures
        tally.signatures[key] += 1
    kept = tally.failures.setdefault(category, [])
    if known is not None:
        room = len(kept) + 1 if distinct else 0
    else:
        room = SHOWN_FAILURES + (MORE_DISTINCT_EXCEPTIONS if distinct else 0)
    if len(kept) < room or tally.verbose:
        message = f"[{known}] {message}" if known is not None else message
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
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    record(tally, "exception", case, f"{action}: {type(exc).__name__}: {str(exc)[:200]}", detail, signature=signature)


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


def check_time(tally: Tally, case: Case, run: Callable[[], Any], elapsed: float) -> float:
    """Flag a parse slower than the linear bound and keep the worst times (re-measured, so that a
    pause of the machine or the garbage collector is not taken for the parser's cost); returns
    the time that counted."""
    bound = TIME_FIXED + TIME_PER_BYTE * case.size
    rate = elapsed / case.size * 1e6 if case.size >= RATE_MIN_BYTES else 0.0
    if case.kind == "hostile":  # large and slow by design: kept apart, re-measured only when it counts
        if elapsed > bound or rate > tally.worst_hostile_rate[0]:
            elapsed = fastest(run, elapsed)
            if elapsed > bound:
                record(tally, "slow", case, f"{elapsed * 1e3:.1f} ms for {case.size} bytes "
                                            f"(bound {bound * 1e3:.1f} ms)")
            if case.size >= RATE_MIN_BYTES and elapsed / case.size * 1e6 > tally.worst_hostile_rate[0]:
                tally.worst_hostile_rate = (elapsed / case.size * 1e6, case.size, case.number)
        return elapsed
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
    return elapsed


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
            elapsed = check_time(tally, case, run, elapsed)
        tally.last_elapsed = elapsed
    if status == "rejected":
        if all(p.message == "document rejected" for p in result.errors):
            record(tally, "no-reason", case, f"{label}: {str(result)[:200]}")
        check_rejection(tally, case, label, result)
        if primary and case.timed and case.number % MEMORY_MEASURE_EVERY == 0 and case.kind != "hostile":
            check_memory(tally, case, label, run)
            check_pickle(tally, case, label, result)
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
                judge: Callable[[bool, str, str, Any], None], label: str) -> None:
    """Strict acceptance implies lenient acceptance: test it from whichever side the case ran
    (``judge(strict, label, status, result)`` then checks the other mode's outcome)."""
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
    judge(other, other_label, other_status, result)


def check_document(tally: Tally, case: Case) -> None:
    model = MODELS[case.model]
    document = case.payload
    label = f"{case.model} {'strict' if case.strict else 'lenient'}"

    def judge(strict: bool, name: str, status: str, result: Any) -> None:
        check_api_error(tally, case, name, status, result, document, same_object=True)
        if status == "accepted":
            check_round_trip(tally, case, name, result, document)
            check_accepted(tally, case, name, strict, result, document, case.model,
                           lambda variant, mode: model.from_dict(variant, strict=mode))
        elif status == "rejected" and not strict:
            count_floor(tally, result, document, case.model)

    status, result = attempt(tally, case, label, lambda: model.from_dict(document, strict=case.strict))
    judge(case.strict, label, status, result)
    cross_check(tally, case, status, lambda strict: model.from_dict(document, strict=strict), judge, case.model)
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
    decoded: List[Any] = []

    def document() -> Any:
        """json.loads(text) (once), NOT_A_DOCUMENT if it refuses, or its RecursionError."""
        if not decoded:
            try:
                decoded.append(json.loads(text))
            except RecursionError as exc:
                decoded.append(exc)
            except (ValueError, TypeError):
                decoded.append(NOT_A_DOCUMENT)
        return decoded[0]

    def judge(strict: bool, name: str, status: str, result: Any) -> None:
        expected = document()
        if isinstance(expected, RecursionError) or (
                status == "rejected" and str(result) == "<root>: invalid JSON: nested too deeply"):
            # json.loads's depth limit counts its caller's frames: near it, the verdict depends on where it is called.
            if status == "accepted":
                record(tally, "text", case, f"{name}: accepted what json.loads refuses ({expected!r})")
            return
        check_api_error(tally, case, name, status, result, expected, same_object=False)
        if status == "accepted":
            if expected is NOT_A_DOCUMENT:
                record(tally, "text", case, f"{name}: accepted what json.loads refuses")
                return
            check_round_trip(tally, case, name, result, expected)
            check_accepted(tally, case, name, strict, result, expected, case.model,
                           lambda variant, mode: parse(json.dumps(variant), strict=mode))
        elif status == "rejected" and not strict:
            count_floor(tally, result, expected, case.model)

    status, result = attempt(tally, case, label, lambda: parse(text, strict=case.strict))
    judge(case.strict, label, status, result)
    if status == "rejected":
        check_text_verdict(tally, case, label, result)
    cross_check(tally, case, status, lambda strict: parse(text, strict=strict), judge, case.model + " text")


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

    def judge(strict: bool, name: str, status: str, result: Any) -> None:
        if status == "accepted":
            check_accumulated(tally, case, name, result)
            check_stream_chunks(tally, case, name, lambda: factory(), strict)

    status, result = attempt(tally, case, label, lambda: read(case.strict))
    judge(case.strict, label, status, result)
    cross_check(tally, case, status, read, judge, "stream")
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


def check_stream_chunks(tally: Tally, case: Case, label: str, source: Callable[[], Any], strict: bool) -> None:
    """Each chunk of an accepted stream: a known key present, none of what the floor refuses,
    and (strict) no NaN or Infinity."""
    try:
        for number, chunk in enumerate(cc.iter_chunks(source(), strict=strict)):
            if not chunk.present_keys():
                record(tally, "floor", case, f"{label}: chunk {number} accepted with no known key present")
                return
            document = chunk.to_dict()
            if strict and has_non_finite(document):
                record(tally, "non-finite", case, f"{label}: strict accepted chunk {number} holding NaN or Infinity")
                return
            reason = floor_reason(document, "chunk")
            if reason is not None:
                record(tally, "floor", case, f"{label}: chunk {number} accepted: {reason}")
                return
    except cc.ValidationError as exc:
        record(tally, "pieces", case, f"{label}: accepted, then refused on a second reading: {str(exc)[:200]}")
    except Exception as exc:
        record_exception(tally, case, label + " (each chunk)", exc)


def count_floor(tally: Tally, error: Any, document: Any, model: str) -> None:
    """Count the lenient refusals that are the floor's (one problem, at <root>, no APIError)."""
    if len(error.errors) == 1 and error.errors[0].path == "<root>" and not isinstance(error, cc.APIError) \
            and floor_reason(document, model) is not None:
        tally.coverage["lenient refusals by the floor"] += 1


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
    # Built by hand, an object reports as present the known keys its to_dict() writes.
    try:
        keys, extra = MODEL_KEYS[type(built)], built.extra
        written = frozenset(key for key in document if key in keys and key not in extra)
        present = built.present_keys() - frozenset(extra)
        if written != present or not built.null_keys() <= built.present_keys():
            record(tally, "present-keys", case, f"to_dict() writes the known keys {sorted(written)}, present_keys() "
                                                f"is {sorted(present)}, null_keys() {sorted(built.null_keys())}")
    except Exception as exc:
        record_exception(tally, case, "present_keys() of an object built by hand", exc)
    attempt(tally, case, f"{case.model} from_dict(to_dict())", lambda: MODELS[case.model].from_dict(document),
            primary=False)


def hostile_run(spec: Hostile, payload: Any) -> Callable[[], Any]:
    if spec.form == "from_dict":
        return lambda: MODELS[spec.model].from_dict(payload, strict=spec.strict)
    if spec.form == "loads":
        return lambda: TEXT_PARSERS[spec.model](payload, strict=spec.strict)
    if spec.form == "stream":
        return lambda: cc.accumulate(cc.iter_chunks(payload, strict=spec.strict))
    return lambda: cc.accumulate(payload)


def hostile_label(spec: Hostile) -> str:
    mode = "strict" if spec.strict else "lenient"
    if spec.form in ("stream", "chunks"):
        return f"{spec.form} {mode} (hostile)"
    return f"{spec.model}{' text' if spec.form == 'loads' else ''} {mode} (hostile)"


def problem_count(spec: Hostile, n: int) -> int:
    """len(errors) + unkept for the input with n bad parts; -1 if it is accepted."""
    try:
        hostile_run(spec, spec.make(n))()
    except cc.ValidationError as exc:
        return len(exc.errors) + exc.unkept
    return -1


def check_hostile(tally: Tally, case: Case) -> None:
    spec, payload = case.payload
    label = hostile_label(spec)
    run = hostile_run(spec, payload)
    tally.coverage["hostile " + spec.name.partition(":")[0]] += 1
    status, result = attempt(tally, case, label, run)
    if status == "crashed":
        return
    if status == "accepted":
        record(tally, "hostile", case, f"{label}: accepted ({spec.expect} expected)")
        return
    check_memory(tally, case, label, run)
    check_pickle(tally, case, label, result)
    if spec.expect == "api":
        check_api_error(tally, case, label, status, result, payload if spec.form == "from_dict"
                        else json.loads(payload), same_object=spec.form == "from_dict")
    elif spec.expect == "stream-error":
        if not isinstance(result, cc.StreamError):
            record(tally, "api-error", case, f"{label}: {type(result).__name__}, not StreamError: {str(result)[:200]}")
            return
        if spec.chunks >= 0 and len(result.chunks) != spec.chunks:
            record(tally, "api-error", case, f"{label}: StreamError holds {len(result.chunks)} chunks, "
                                             f"not the {spec.chunks} read before the error")
    elif isinstance(result, cc.APIError):
        record(tally, "api-error", case, f"{label}: APIError for a document that is no error body: {str(result)[:200]}")
        return
    if spec.message is not NO_MESSAGE and getattr(result, "message", None) != spec.message:
        record(tally, "api-error", case, f"{label}: .message is {short(getattr(result, 'message', None))}, "
                                         f"not the server's {short(spec.message)}")
    if spec.expect == "floor" and (len(result.errors) != 1 or result.errors[0].path != "<root>"):
        record(tally, "hostile", case, f"{label}: the floor's refusal has {len(result.errors)} problems, "
                                       f"the first: {str(result.errors[0])[:200]}")
    if spec.counted:
        one, two = problem_count(spec, 1), problem_count(spec, 2)
        if one < 0 or two <= one:
            record(tally, "hostile", case, f"{label}: {one} problems with 1 bad part, {two} with 2: "
                                           "the bad parts are not counted one by one")
            return
        expected = one + (spec.n - 1) * (two - one)
        kept, unkept = len(result.errors), result.unkept
        if kept != min(expected, MAX_KEPT_PROBLEMS) or kept + unkept != expected:
            record(tally, "problems", case, f"{label}: {kept} kept + {unkept} unkept = {kept + unkept}, but there "
                                            f"are {expected} problems ({one} with 1 bad part, {two} with 2)")


CHECKS: Dict[str, Callable[[Tally, Case], None]] = {
    "mutate": check_document, "random": check_document, "python": check_document,
    "text": check_text, "stream": check_stream, "chunks": check_chunks, "handbuilt": check_handbuilt,
    "hostile": check_hostile,
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
    for seed in seeds.builtin["error"] + seeds.corpus_errors:
        document = json.loads(seed.text)
        for model in ("response", "chunk"):
            for strict in (False, True):
                mode = "strict" if strict else "lenient"
                try:
                    MODELS[model].from_dict(document, strict=strict)
                    outcome = "accepted"
                except cc.APIError as exc:
                    if exc.error is document.get("error", document) and exc.errors[0].path == "<root>":
                        continue
                    outcome = f"APIError with .error {short(exc.error)}"
                except Exception as exc:
                    outcome = f"{type(exc).__name__}: {str(exc)[:300]}"
                record(tally, "seed", None, f"{seed.name} as a {model}, {mode}: {outcome} (APIError expected)",
                       what=f"seed {seed.name}", shown=document)
    for kind in ("response", "chunk"):
        for seed in seeds.builtin[kind]:
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
            except cc.ValidationError as exc:
                if not strict:
                    rejected_lenient.append(name + (" (APIError)" if isinstance(exc, cc.APIError) else ""))
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
    lines = [f"seeds: {builtin_count} built-in, {len(corpus) + len(seeds.corpus_errors)} from the corpus "
             f"({len(seeds.corpus_responses)} responses, {len(seeds.corpus_errors)} error bodies, "
             f"{len(corpus) - len(seeds.corpus_responses)} chunks from {len(seeds.corpus_streams)} streams; "
             f"{seeds.skipped_lines} non-JSON data lines skipped)"]
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
            if number == SHOWN_FAILURES and category == "exception":
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
        prefix = category + ": "
        signatures = [(key[len(prefix):], n) for key, n in tally.signatures.most_common() if key.startswith(prefix)]
        if signatures:
            out.write("    distinct exceptions:\n" if category == "exception" else "    by cause:\n")
            for signature, n in signatures:
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
    if tally.coverage:
        out.write("  seen by the 2.0 checks:\n")
        for what, n in sorted(tally.coverage.items()):
            out.write(f"    {what:<52} {n:>8}\n")
    out.write("  failures:\n")
    print_failures(tally, out, full=False)
    per_byte, size, number = tally.worst_rate
    out.write(f"  worst time per byte (inputs >= {RATE_MIN_BYTES} bytes): {per_byte:.3f} us/byte "
              f"(input {size} bytes, case {number})\n")
    seconds, size, number = tally.worst_time
    out.write(f"  worst absolute time: {seconds * 1e3:.2f} ms (input {size} bytes, case {number})\n")
    share, size, number = tally.worst_share
    out.write(f"  closest to the time bound: {share * 100:.1f}% of it (input {size} bytes, case {number})\n")
    per_byte, size, number = tally.worst_hostile_rate
    out.write(f"  worst time per byte of a hostile case: {per_byte:.3f} us/byte (input {size} bytes, case {number})\n")
    per_byte, size, number, peak = tally.worst_memory
    out.write(f"  worst rejection memory per byte (tracemalloc peak, inputs >= {RATE_MIN_BYTES} bytes): "
              f"{per_byte:.1f} bytes/byte (peak {peak >> 10} KB, input {size} bytes, case {number})\n")
    share, size, number, peak = tally.worst_memory_share
    out.write(f"  closest to the memory bound: {share * 100:.1f}% of it (peak {peak >> 10} KB, input {size} bytes, "
              f"case {number})\n")
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
