#!/usr/bin/env python3
"""Benchmark chatcompletion.py against json.loads and optional peers.

Run from the repository root:

    python bench/bench.py                   # timings, import time, memory
    python bench/bench.py --quick           # fewer rounds and runs
    python bench/bench.py --only logprobs   # timings of one payload only
    python bench/bench.py --memory          # one section only (also --timings, --import-time)
    python bench/bench.py --profile         # cProfile of lenient from_dict on the logprobs payload
    python bench/bench.py --cli             # command-line throughput (--jobs 1 and 2) and memory on a batch file

Every timing is a paired ratio: rounds of ``json.loads`` of the same payload text alternate
with rounds of the operation, and the table shows median(operation) / median(json.loads).
The garbage collector stays on while timing; gc.collect() runs between rounds, and objects
alive before a payload's timings (imports, payloads) are gc.freeze()-d so that neither those
collections nor the timed ones walk the peers' import heap.  ``--no-peers`` skips openai,
msgspec and pydantic but keeps the standard-library floor.
Peers (openai, msgspec) are measured when importable; see bench/requirements.txt.
The hand-written "unchecked floor" is plain __slots__ classes filled without any checks:
roughly the best pure Python can do.  Standard library only.
"""

import argparse
import cProfile
import gc
import importlib.util
import json
import os
import platform
import pstats
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository

import chatcompletion as cc  # noqa: E402  (needs the sys.path entry above)

# --------------------------------------------------------------------------- constants

SEED = 20240611
CREATED = 1_735_689_600
MODEL = "gpt-4o-2024-08-06"
SYSTEM_FINGERPRINT = "fp_f9f4fb6dbf"

PAYLOADS = ("typical", "tool_calls", "logprobs", "n8", "stream")
RESPONSE_PAYLOADS = PAYLOADS[:4]
TYPICAL_WORDS = 200
N8_CHOICES = 8
N8_WORDS = 100
TOOL_CALLS = 3
LOGPROB_CHOICES = 4
LOGPROB_TOKENS = 500
TOP_LOGPROBS = 5
STREAM_CHUNKS = 2000  # role chunk + content chunks + finish chunk + usage chunk

ROUNDS = 21
QUICK_ROUNDS = 7
MIN_ROUNDS = 5
HALF_ROUND_SECONDS = 0.015  # json.loads half + operation half: a round of about 30 ms
QUICK_HALF_ROUND_SECONDS = 0.005
MAX_CELL_SECONDS = 5.0  # slow peers get fewer rounds (never fewer than MIN_ROUNDS)

IMPORT_RUNS = 30
QUICK_IMPORT_RUNS = 8
IMPORTTIME_RUNS = 10
QUICK_IMPORTTIME_RUNS = 3
PROFILE_CALLS = 50

# Targets.
LENIENT_MAX = 0.8  # lenient from_dict / json.loads, on typical and logprobs
LENIENT_PAYLOADS = ("typical", "logprobs")
CONSTRUCT_SPEEDUP_MIN = 10.0  # construct_type / lenient from_dict, on typical
STRICT_OVER_LENIENT_MAX = 1.2
TO_DICT_MAX = 0.5
DUMPS_MAX = 1.5  # times json.dumps of the same document: json.dumps alone costs 1.3 to 1.7x json.loads
ACCUMULATE_OVER_PARSE_MAX = 2.0
IMPORT_MS_MAX = 15.0
MEMORY_RATIO_MAX = 0.75
MEMORY_MIN_PYTHON = (3, 10)

# Row names.
LENIENT = "from_dict lenient"
STRICT = "from_dict strict"
TO_DICT = "to_dict"
DUMPS = "dumps"
JSON_DUMPS = "json.dumps of the same"
LOADS = "loads"
ACCUMULATE = "accumulate"
ACC_OVER_PARSE = "accumulate / parse chunks"
OPENAI_VALIDATE = "openai model_validate"
OPENAI_CONSTRUCT = "openai construct_type"
MSGSPEC = "msgspec convert"
FLOOR = "unchecked floor"
PEER_ROWS = (OPENAI_VALIDATE, OPENAI_CONSTRUCT, MSGSPEC)
FIRST_USE = "import chatcompletion + first loads() of typical"
FROZEN_FLOOR = "25 frozen, slotted dataclasses of six fields, and nothing else"
FROZEN_FLOOR_CODE = """\
import sys
from dataclasses import dataclass
slots = {"slots": True} if sys.version_info >= (3, 10) else {}
for i in range(25):
    fields = {f"f{j}": None for j in range(6)}
    namespace = {"__annotations__": dict.fromkeys(fields, object), "__doc__": "A model.", **fields}
    dataclass(frozen=True, eq=False, repr=False, **slots)(type(f"Model{i}", (), namespace))
"""

NOT_APPLICABLE = "—"
NOT_AVAILABLE = "n/a"
NOT_INSTALLED = "not installed"
SKIPPED = "skipped"
ERROR = "error"

WORDS = (
    "the", "a", "model", "returns", "tokens", "with", "each", "request", "and", "response",
    "context", "window", "of", "to", "in", "is", "for", "that", "this", "data", "stream",
    "function", "call", "result", "value", "example", "because", "however", "which", "can",
    "should", "will", "Python", "JSON", "parser", "fast", "simple", "2024", "3.5", "100%",
    "users", "server", "client", "API", "you", "it", "are", "not", "more", "than",
)
NON_ASCII_WORDS = ("—", "café", "naïve", "résumé", "→")  # GPT output has the odd em dash
NON_ASCII_SHARE = 0.02
PUNCTUATION = (".", ",", ";", ":", "!", "?")
TOOL_NAMES = ("get_weather", "search_documents", "create_calendar_event")
CITIES = ("Paris", "Tokyo", "São Paulo", "Zürich", "New York")

Json = Dict[str, Any]
Op = Callable[[], Any]
Cell = Union[float, str]
Cells = Dict[Tuple[str, str], Cell]
PeerFuncs = Tuple[Callable[[Json], Any], Callable[[Json], Any]]  # (response, chunk)
Peers = Dict[str, Union[PeerFuncs, str]]  # a row name -> its functions, or why it has none


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def has_stream_api() -> bool:
    return hasattr(cc, "CreateChatCompletionStreamResponse")


def has_accumulate() -> bool:
    return has_stream_api() and hasattr(cc, "accumulate")


# --------------------------------------------------------------------------- payloads


def random_id(rng: random.Random, prefix: str, length: int, alphabet: str) -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def random_words(rng: random.Random, count: int) -> List[str]:
    """``count`` words, each after the first with its leading space, some with punctuation."""
    words = []
    for i in range(count):
        word = rng.choice(NON_ASCII_WORDS if rng.random() < NON_ASCII_SHARE else WORDS)
        if rng.random() < 0.08:
            word += rng.choice(PUNCTUATION)
        words.append(word if i == 0 else " " + word)
    return words


def usage(prompt_tokens: int, completion_tokens: int) -> Json:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message(content: Optional[str], tool_calls: Optional[List[Json]] = None) -> Json:
    result: Json = {"role": "assistant", "content": content}
    if tool_calls is not None:
        result["tool_calls"] = tool_calls
    result["refusal"] = None
    result["annotations"] = []
    return result


def choice(index: int, msg: Json, logprobs: Optional[Json], finish_reason: str) -> Json:
    return {"index": index, "message": msg, "logprobs": logprobs, "finish_reason": finish_reason}


def response(rng: random.Random, choices: List[Json], prompt_tokens: int, completion_tokens: int) -> Json:
    return {
        "id": random_id(rng, "chatcmpl-", 29, string.ascii_letters + string.digits),
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": choices,
        "usage": usage(prompt_tokens, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def top_logprob(token: str, logprob: float) -> Json:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def token_logprob(rng: random.Random, token: str) -> Json:
    logprob = -rng.expovariate(4.0)
    alternatives = [token] + [rng.choice(WORDS) for _ in range(TOP_LOGPROBS - 1)]
    tops = [top_logprob(alternatives[0], logprob)]
    previous = logprob
    for alternative in alternatives[1:]:
        previous -= rng.expovariate(0.8)
        tops.append(top_logprob(" " + alternative, previous))
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode("utf-8")),
        "top_logprobs": tops,
    }


def make_typical(rng: random.Random) -> Json:
    text = "".join(random_words(rng, TYPICAL_WORDS))
    return response(rng, [choice(0, message(text), None, "stop")], 812, 264)


def make_tool_calls(rng: random.Random) -> Json:
    calls = []
    for name in TOOL_NAMES[:TOOL_CALLS]:
        arguments = {"query": "".join(random_words(rng, 6)), "city": rng.choice(CITIES), "limit": rng.randint(1, 20)}
        calls.append({
            "id": random_id(rng, "call_", 24, string.ascii_letters + string.digits),
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))},
        })
    return response(rng, [choice(0, message(None, calls), None, "tool_calls")], 1544, 87)


def make_logprobs(rng: random.Random) -> Json:
    choices = []
    for index in range(LOGPROB_CHOICES):
        tokens = random_words(rng, LOGPROB_TOKENS)
        logprobs = {"content": [token_logprob(rng, token) for token in tokens], "refusal": None}
        choices.append(choice(index, message("".join(tokens)), logprobs, "length"))
    return response(rng, choices, 95, LOGPROB_CHOICES * LOGPROB_TOKENS)


def make_n8(rng: random.Random) -> Json:
    choices = [choice(i, message("".join(random_words(rng, N8_WORDS))), None, "stop") for i in range(N8_CHOICES)]
    return response(rng, choices, 230, N8_CHOICES * 130)


def chunk(chunk_id: str, choices: List[Json]) -> Json:
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": choices,
    }


def chunk_choice(delta: Json, finish_reason: Optional[str] = None) -> Json:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def make_stream(rng: random.Random) -> List[Json]:
    chunk_id = random_id(rng, "chatcmpl-", 29, string.ascii_letters + string.digits)
    words = random_words(rng, STREAM_CHUNKS - 3)
    chunks = [chunk(chunk_id, [chunk_choice({"role": "assistant", "content": "", "refusal": None})])]
    chunks.extend(chunk(chunk_id, [chunk_choice({"content": word})]) for word in words)
    chunks.append(chunk(chunk_id, [chunk_choice({}, "stop")]))
    usage_chunk = chunk(chunk_id, [])
    usage_chunk["usage"] = usage(120, len(words))
    chunks.append(usage_chunk)
    return chunks


def build_payloads() -> Dict[str, Any]:
    """Every payload as decoded JSON: a dict for responses, a list of chunk dicts for the stream."""
    rng = random.Random(SEED)
    return {
        "typical": make_typical(rng),
        "tool_calls": make_tool_calls(rng),
        "logprobs": make_logprobs(rng),
        "n8": make_n8(rng),
        "stream": make_stream(rng),
    }


def wire_text(data: Any) -> str:
    """JSON text as OpenAI writes it: compact, non-ASCII kept."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- the unchecked floor
# Plain classes with __slots__, filled by hand-written functions that trust their input.


class FloorTopLogprob:
    __slots__ = ("token", "logprob", "bytes")

    def __init__(self, token: Any, logprob: Any, bytes_: Any) -> None:
        self.token = token
        self.logprob = logprob
        self.bytes = bytes_


class FloorTokenLogprob:
    __slots__ = ("token", "logprob", "bytes", "top_logprobs")

    def __init__(self, token: Any, logprob: Any, bytes_: Any, top_logprobs: Any) -> None:
        self.token = token
        self.logprob = logprob
        self.bytes = bytes_
        self.top_logprobs = top_logprobs


class FloorLogprobs:
    __slots__ = ("content", "refusal")

    def __init__(self, content: Any, refusal: Any) -> None:
        self.content = content
        self.refusal = refusal


class FloorFunction:
    __slots__ = ("name", "arguments")

    def __init__(self, name: Any, arguments: Any) -> None:
        self.name = name
        self.arguments = arguments


class FloorToolCall:
    __slots__ = ("id", "type", "function")

    def __init__(self, id_: Any, type_: Any, function: Any) -> None:
        self.id = id_
        self.type = type_
        self.function = function


class FloorMessage:
    __slots__ = ("role", "content", "tool_calls", "refusal", "annotations")

    def __init__(self, role: Any, content: Any, tool_calls: Any, refusal: Any, annotations: Any) -> None:
        self.role = role
        self.content = content
        self.tool_calls = tool_calls
        self.refusal = refusal
        self.annotations = annotations


class FloorChoice:
    __slots__ = ("index", "message", "logprobs", "finish_reason")

    def __init__(self, index: Any, message_: Any, logprobs: Any, finish_reason: Any) -> None:
        self.index = index
        self.message = message_
        self.logprobs = logprobs
        self.finish_reason = finish_reason


class FloorPromptDetails:
    __slots__ = ("cached_tokens", "audio_tokens")

    def __init__(self, cached_tokens: Any, audio_tokens: Any) -> None:
        self.cached_tokens = cached_tokens
        self.audio_tokens = audio_tokens


class FloorCompletionDetails:
    __slots__ = ("reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens")

    def __init__(self, reasoning: Any, audio: Any, accepted: Any, rejected: Any) -> None:
        self.reasoning_tokens = reasoning
        self.audio_tokens = audio
        self.accepted_prediction_tokens = accepted
        self.rejected_prediction_tokens = rejected


class FloorUsage:
    __slots__ = ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
                 "completion_tokens_details")

    def __init__(self, prompt: Any, completion: Any, total: Any, prompt_details: Any, completion_details: Any) -> None:
        self.prompt_tokens = prompt
        self.completion_tokens = completion
        self.total_tokens = total
        self.prompt_tokens_details = prompt_details
        self.completion_tokens_details = completion_details


class FloorResponse:
    __slots__ = ("id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint")

    def __init__(self, id_: Any, object_: Any, created: Any, model: Any, choices: Any, usage_: Any,
                 service_tier: Any, system_fingerprint: Any) -> None:
        self.id = id_
        self.object = object_
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage_
        self.service_tier = service_tier
        self.system_fingerprint = system_fingerprint


class FloorDelta:
    __slots__ = ("role", "content", "refusal", "tool_calls")

    def __init__(self, role: Any, content: Any, refusal: Any, tool_calls: Any) -> None:
        self.role = role
        self.content = content
        self.refusal = refusal
        self.tool_calls = tool_calls


class FloorChunkChoice:
    __slots__ = ("index", "delta", "logprobs", "finish_reason")

    def __init__(self, index: Any, delta: Any, logprobs: Any, finish_reason: Any) -> None:
        self.index = index
        self.delta = delta
        self.logprobs = logprobs
        self.finish_reason = finish_reason


class FloorChunk:
    __slots__ = ("id", "object", "created", "model", "system_fingerprint", "choices", "usage")

    def __init__(self, id_: Any, object_: Any, created: Any, model: Any, system_fingerprint: Any, choices: Any,
                 usage_: Any) -> None:
        self.id = id_
        self.object = object_
        self.created = created
        self.model = model
        self.system_fingerprint = system_fingerprint
        self.choices = choices
        self.usage = usage_


def floor_token_logprob(d: Json) -> FloorTokenLogprob:
    tops = [FloorTopLogprob(t["token"], t["logprob"], t["bytes"]) for t in d["top_logprobs"]]
    return FloorTokenLogprob(d["token"], d["logprob"], d["bytes"], tops)


def floor_logprobs(d: Optional[Json]) -> Optional[FloorLogprobs]:
    if d is None:
        return None
    content = d.get("content")
    refusal = d.get("refusal")
    return FloorLogprobs(
        None if content is None else [floor_token_logprob(t) for t in content],
        None if refusal is None else [floor_token_logprob(t) for t in refusal],
    )


def floor_message(d: Json) -> FloorMessage:
    calls = d.get("tool_calls")
    if calls is not None:
        calls = [FloorToolCall(c["id"], c["type"], FloorFunction(c["function"]["name"], c["function"]["arguments"]))
                 for c in calls]
    return FloorMessage(d["role"], d["content"], calls, d.get("refusal"), d.get("annotations"))


def floor_usage(d: Optional[Json]) -> Optional[FloorUsage]:
    if d is None:
        return None
    prompt = d.get("prompt_tokens_details")
    completion = d.get("completion_tokens_details")
    return FloorUsage(
        d["prompt_tokens"], d["completion_tokens"], d["total_tokens"],
        None if prompt is None else FloorPromptDetails(prompt.get("cached_tokens"), prompt.get("audio_tokens")),
        None if completion is None else FloorCompletionDetails(
            completion.get("reasoning_tokens"), completion.get("audio_tokens"),
            completion.get("accepted_prediction_tokens"), completion.get("rejected_prediction_tokens")),
    )


def floor_response(d: Json) -> FloorResponse:
    choices = [FloorChoice(c["index"], floor_message(c["message"]), floor_logprobs(c["logprobs"]), c["finish_reason"])
               for c in d["choices"]]
    return FloorResponse(d["id"], d["object"], d["created"], d["model"], choices, floor_usage(d.get("usage")),
                         d.get("service_tier"), d.get("system_fingerprint"))


def floor_chunk(d: Json) -> FloorChunk:
    choices = []
    for c in d["choices"]:
        delta = c["delta"]
        choices.append(FloorChunkChoice(
            c["index"],
            FloorDelta(delta.get("role"), delta.get("content"), delta.get("refusal"), delta.get("tool_calls")),
            floor_logprobs(c.get("logprobs")),
            c.get("finish_reason"),
        ))
    return FloorChunk(d["id"], d["object"], d["created"], d["model"], d.get("system_fingerprint"), choices,
                      floor_usage(d.get("usage")))


# --------------------------------------------------------------------------- peers


def msgspec_converters() -> PeerFuncs:
    """msgspec.convert into frozen Structs equivalent to chatcompletion's models (every field optional)."""
    import msgspec

    class MTopLogprob(msgspec.Struct, frozen=True):
        token: Optional[str] = None
        logprob: Optional[float] = None
        bytes: Optional[Tuple[int, ...]] = None

    class MTokenLogprob(msgspec.Struct, frozen=True):
        token: Optional[str] = None
        logprob: Optional[float] = None
        bytes: Optional[Tuple[int, ...]] = None
        top_logprobs: Optional[Tuple[MTopLogprob, ...]] = None

    class MLogprobs(msgspec.Struct, frozen=True):
        content: Optional[Tuple[MTokenLogprob, ...]] = None
        refusal: Optional[Tuple[MTokenLogprob, ...]] = None

    class MFunction(msgspec.Struct, frozen=True):
        name: Optional[str] = None
        arguments: Optional[str] = None

    class MToolCall(msgspec.Struct, frozen=True):
        id: Optional[str] = None
        type: Optional[str] = None
        function: Optional[MFunction] = None

    class MMessage(msgspec.Struct, frozen=True):
        role: Optional[str] = None
        content: Optional[str] = None
        tool_calls: Optional[Tuple[MToolCall, ...]] = None
        refusal: Optional[str] = None
        annotations: Optional[Tuple[Dict[str, Any], ...]] = None

    class MChoice(msgspec.Struct, frozen=True):
        index: Optional[int] = None
        message: Optional[MMessage] = None
        logprobs: Optional[MLogprobs] = None
        finish_reason: Optional[str] = None

    class MPromptDetails(msgspec.Struct, frozen=True):
        cached_tokens: Optional[int] = None
        audio_tokens: Optional[int] = None

    class MCompletionDetails(msgspec.Struct, frozen=True):
        reasoning_tokens: Optional[int] = None
        audio_tokens: Optional[int] = None
        accepted_prediction_tokens: Optional[int] = None
        rejected_prediction_tokens: Optional[int] = None

    class MUsage(msgspec.Struct, frozen=True):
        prompt_tokens: Optional[int] = None
        completion_tokens: Optional[int] = None
        total_tokens: Optional[int] = None
        prompt_tokens_details: Optional[MPromptDetails] = None
        completion_tokens_details: Optional[MCompletionDetails] = None

    class MResponse(msgspec.Struct, frozen=True):
        id: Optional[str] = None
        object: Optional[str] = None
        created: Optional[int] = None
        model: Optional[str] = None
        choices: Optional[Tuple[MChoice, ...]] = None
        usage: Optional[MUsage] = None
        service_tier: Optional[str] = None
        system_fingerprint: Optional[str] = None

    class MDelta(msgspec.Struct, frozen=True):
        role: Optional[str] = None
        content: Optional[str] = None
        refusal: Optional[str] = None
        tool_calls: Optional[Tuple[Dict[str, Any], ...]] = None

    class MChunkChoice(msgspec.Struct, frozen=True):
        index: Optional[int] = None
        delta: Optional[MDelta] = None
        logprobs: Optional[MLogprobs] = None
        finish_reason: Optional[str] = None

    class MChunk(msgspec.Struct, frozen=True):
        id: Optional[str] = None
        object: Optional[str] = None
        created: Optional[int] = None
        model: Optional[str] = None
        system_fingerprint: Optional[str] = None
        choices: Optional[Tuple[MChunkChoice, ...]] = None
        usage: Optional[MUsage] = None

    convert = msgspec.convert
    return (lambda d: convert(d, type=MResponse)), (lambda d: convert(d, type=MChunk))


def load_peers(enabled: bool) -> Tuple[Peers, Dict[str, str]]:
    """Each peer row's (response, chunk) functions, or why it has none; and the peers' versions."""
    peers: Peers = {FLOOR: (floor_response, floor_chunk)}
    versions: Dict[str, str] = {}
    if not enabled:
        for row in PEER_ROWS:
            peers[row] = SKIPPED
        return peers, versions
    try:
        import openai
        from openai._models import construct_type
        from openai.types.chat import ChatCompletion, ChatCompletionChunk
    except ImportError:
        peers[OPENAI_VALIDATE] = peers[OPENAI_CONSTRUCT] = NOT_INSTALLED
    else:
        versions["openai"] = openai.__version__
        peers[OPENAI_VALIDATE] = (ChatCompletion.model_validate, ChatCompletionChunk.model_validate)
        peers[OPENAI_CONSTRUCT] = (
            lambda d: construct_type(type_=ChatCompletion, value=d),
            lambda d: construct_type(type_=ChatCompletionChunk, value=d),
        )
    try:
        import pydantic
    except ImportError:
        pass
    else:
        versions["pydantic"] = pydantic.VERSION
    try:
        import msgspec
    except ImportError:
        peers[MSGSPEC] = NOT_INSTALLED
    else:
        versions["msgspec"] = msgspec.__version__
        peers[MSGSPEC] = msgspec_converters()
    return peers, versions


# --------------------------------------------------------------------------- timing


def time_calls(fn: Op, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def calibrate(fn: Op, seconds: float) -> Tuple[int, float]:
    """How many calls of ``fn`` take about ``seconds``, and the estimated seconds per call."""
    fn()  # warm up caches, lazily built validators and the like
    calls = 1
    while True:
        elapsed = time_calls(fn, calls)
        if elapsed >= seconds / 4 or calls >= 1 << 20:
            break
        calls *= 4
    per_call = elapsed / calls
    return max(1, round(seconds / per_call)), per_call


def paired_medians(reference: Op, op: Op, rounds: int, half_round: float) -> Tuple[float, float]:
    """Median seconds per call of ``reference`` and of ``op``, from interleaved rounds."""
    ref_calls, ref_per_call = calibrate(reference, half_round)
    op_calls, op_per_call = calibrate(op, half_round)
    round_seconds = ref_calls * ref_per_call + op_calls * op_per_call
    if round_seconds * rounds > MAX_CELL_SECONDS:
        rounds = max(MIN_ROUNDS, int(MAX_CELL_SECONDS / round_seconds)) | 1  # odd, for a true median
    ref_times: List[float] = []
    op_times: List[float] = []
    for _ in range(rounds):
        gc.collect()
        ref_times.append(time_calls(reference, ref_calls) / ref_calls)
        gc.collect()
        op_times.append(time_calls(op, op_calls) / op_calls)
    return statistics.median(ref_times), statistics.median(op_times)


def parse_or_none(parse: Callable[[], Any]) -> Any:
    """``parse()``, or None if it fails (the failure is reported by the from_dict row)."""
    try:
        return parse()
    except Exception:
        return None


def response_ops(data: Json, text: str, peers: Peers) -> Dict[str, Union[Op, str]]:
    model = cc.CreateChatCompletionResponse
    parsed = parse_or_none(lambda: model.from_dict(data))
    ops: Dict[str, Union[Op, str]] = {
        LENIENT: lambda: model.from_dict(data),
        STRICT: lambda: model.from_dict(data, strict=True),
        TO_DICT: ERROR if parsed is None else parsed.to_dict,
        DUMPS: ERROR if parsed is None else bind(cc.dumps, parsed),
        JSON_DUMPS: bind(json.dumps, data),
        LOADS: lambda: cc.loads(text),
        ACCUMULATE: NOT_APPLICABLE,
    }
    for row, funcs in peers.items():
        ops[row] = funcs if isinstance(funcs, str) else bind(funcs[0], data)
    return ops


def stream_ops(chunks: List[Json], texts: List[str], peers: Peers) -> Dict[str, Union[Op, str]]:
    ops: Dict[str, Union[Op, str]] = {}
    if has_stream_api():
        model = cc.CreateChatCompletionStreamResponse
        parsed = parse_or_none(lambda: [model.from_dict(c) for c in chunks])
        ops[LENIENT] = lambda: [model.from_dict(c) for c in chunks]
        ops[STRICT] = lambda: [model.from_dict(c, strict=True) for c in chunks]
        ops[TO_DICT] = ERROR if parsed is None else (lambda: [m.to_dict() for m in parsed])
        ops[DUMPS] = ERROR if parsed is None else bind_each(cc.dumps, parsed)
        ops[JSON_DUMPS] = bind_each(json.dumps, chunks)
        loads_chunk = getattr(cc, "loads_chunk", None)
        ops[LOADS] = NOT_AVAILABLE if loads_chunk is None else bind_each(loads_chunk, texts)
        if not has_accumulate():
            ops[ACCUMULATE] = NOT_AVAILABLE
        else:
            ops[ACCUMULATE] = ERROR if parsed is None else bind(cc.accumulate, parsed)
    else:
        for row in (LENIENT, STRICT, TO_DICT, DUMPS, JSON_DUMPS, LOADS, ACCUMULATE):
            ops[row] = NOT_AVAILABLE
    for row, funcs in peers.items():
        ops[row] = funcs if isinstance(funcs, str) else bind_each(funcs[1], chunks)
    return ops


def bind(fn: Callable[[Any], Any], arg: Any) -> Op:
    """``fn(arg)``, ready to time."""
    return lambda: fn(arg)


def bind_each(fn: Callable[[Any], Any], items: Sequence[Any]) -> Op:
    """``fn`` over every item, ready to time."""
    return lambda: [fn(item) for item in items]


def run_timings(payloads: Dict[str, Any], names: Sequence[str], peers: Peers, rounds: int,
                half_round: float, notes: List[str]) -> Tuple[Cells, Dict[str, float]]:
    """Every row's ratio to json.loads per payload, and json.loads' median seconds per payload."""
    cells: Cells = {}
    reference_seconds: Dict[str, float] = {}
    for name in names:
        data = payloads[name]
        if name == "stream":
            texts = [wire_text(c) for c in data]
            reference = bind_each(json.loads, texts)
            ops = stream_ops(data, texts, peers)
        else:
            text = wire_text(data)
            reference = bind(json.loads, text)
            ops = response_ops(data, text, peers)
        medians: List[float] = []
        # Objects alive before timing (imports, payloads) go to the permanent generation: the
        # collector stays on, but a full collection no longer walks the peers' import heap.
        gc.collect()
        gc.freeze()
        try:
            for row, op in ops.items():
                if isinstance(op, str):
                    cells[row, name] = op
                    continue
                try:
                    op()
                except Exception as exc:  # a peer or a mid-edit module refusing the payload
                    cells[row, name] = ERROR
                    notes.append(f"{row} on {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                    continue
                progress(f"timing {name}: {row}")
                ref_median, op_median = paired_medians(reference, op, rounds, half_round)
                cells[row, name] = op_median / ref_median
                medians.append(ref_median)
        finally:
            gc.unfreeze()
        if medians:
            reference_seconds[name] = statistics.median(medians)
        accumulate, parse = cells.get((ACCUMULATE, name)), cells.get((LENIENT, name))
        if isinstance(accumulate, float) and isinstance(parse, float):
            cells[ACC_OVER_PARSE, name] = accumulate / parse
        else:
            cells[ACC_OVER_PARSE, name] = NOT_APPLICABLE if name != "stream" else NOT_AVAILABLE
    return cells, reference_seconds


def check_round_trip(payloads: Dict[str, Any], names: Sequence[str], notes: List[str]) -> None:
    """Note any payload that from_dict(...).to_dict() does not give back unchanged, key order included."""
    for name in names:
        data = payloads[name]
        try:
            if name == "stream":
                if not has_stream_api():
                    continue
                model = cc.CreateChatCompletionStreamResponse
                same = all(wire_text(model.from_dict(c).to_dict()) == wire_text(c) for c in data)
                if has_accumulate():
                    accumulated: Any = cc.accumulate([model.from_dict(c) for c in data])
                    content = accumulated.choices[0].message.content
                    expected = "".join(c["choices"][0]["delta"].get("content", "") for c in data if c["choices"])
                    if content != expected:
                        notes.append("stream: accumulate() content differs from the concatenated deltas")
            else:
                same = wire_text(cc.CreateChatCompletionResponse.from_dict(data).to_dict()) == wire_text(data)
        except Exception as exc:
            notes.append(f"round trip of {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            continue
        if not same:
            notes.append(f"{name}: from_dict(d).to_dict() does not give back d's text (values or key order)")


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def print_header(versions: Dict[str, str]) -> None:
    print("# chatcompletion benchmark")
    print()
    print(f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs")
    print(f"- python: {sys.version.replace(chr(10), ' ')}")
    peers = ", ".join(f"{name} {version}" for name, version in sorted(versions.items())) or "none"
    print(f"- chatcompletion {getattr(cc, '__version__', '?')}; peers: {peers}")
    print()


def format_cell(cell: Optional[Cell]) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    return f"{cell:.2f}x"


def text_size(data: Any) -> int:
    """Bytes of the payload's UTF-8 JSON text (summed over the chunks of a stream)."""
    items = data if isinstance(data, list) else [data]
    return sum(len(wire_text(item).encode("utf-8")) for item in items)


def print_table(cells: Cells, reference_seconds: Dict[str, float], payloads: Dict[str, Any],
                names: Sequence[str], rows: Iterable[str]) -> None:
    print("## Time, as a ratio to json.loads of the same text (lower is faster)")
    print()
    print("| operation | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for row in rows:
        print(f"| {row} | " + " | ".join(format_cell(cells.get((row, name))) for name in names) + " |")
    print()
    absolute = ", ".join(f"{name} {reference_seconds[name] * 1e6:,.1f} µs ({text_size(payloads[name]) / 1e3:,.1f} kB)"
                         for name in names if name in reference_seconds)
    print(f"json.loads per call: {absolute}")
    if "stream" in names:
        print(f"stream: every row runs over all {STREAM_CHUNKS:,} chunks (from_dict lenient = parse chunks, "
              "loads = loads_chunk); its json.loads is the sum over the chunk texts; "
              "accumulate takes the pre-parsed chunk models.")
    print()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_targets(cells: Cells, names: Sequence[str]) -> None:
    print("## Targets")
    print()
    lines: List[str] = []

    def ratio(row: str, name: str) -> Optional[float]:
        cell = cells.get((row, name))
        return cell if isinstance(cell, float) else None

    for name in LENIENT_PAYLOADS:
        value = ratio(LENIENT, name)
        if value is not None:
            lines.append(f"{verdict(value <= LENIENT_MAX)}  lenient from_dict <= {LENIENT_MAX}x json.loads on {name}: "
                         f"{value:.2f}x")
    for name in RESPONSE_PAYLOADS:
        lenient, peer = ratio(LENIENT, name), ratio(OPENAI_VALIDATE, name)
        if lenient is not None and peer is not None:
            lines.append(f"{verdict(lenient < peer)}  lenient faster than openai model_validate on {name}: "
                         f"{lenient:.2f}x vs {peer:.2f}x json.loads (openai / lenient = {peer / lenient:.2f})")
    lenient, construct = ratio(LENIENT, "typical"), ratio(OPENAI_CONSTRUCT, "typical")
    if lenient is not None and construct is not None:
        speedup = construct / lenient
        lines.append(f"{verdict(speedup >= CONSTRUCT_SPEEDUP_MIN)}  >= {CONSTRUCT_SPEEDUP_MIN:.0f}x faster than "
                     f"openai construct_type on typical: {speedup:.1f}x "
                     f"({construct:.2f}x vs {lenient:.2f}x json.loads)")
    for name in names:
        lenient, strict = ratio(LENIENT, name), ratio(STRICT, name)
        if lenient is not None and strict is not None:
            lines.append(f"{verdict(strict <= STRICT_OVER_LENIENT_MAX * lenient)}  strict <= "
                         f"{STRICT_OVER_LENIENT_MAX}x lenient on {name}: {strict / lenient:.2f}x")
    for name in names:
        value = ratio(TO_DICT, name)
        if value is not None:
            lines.append(f"{verdict(value <= TO_DICT_MAX)}  to_dict <= {TO_DICT_MAX}x json.loads on {name}: "
                         f"{value:.2f}x")
    for name in names:
        value, floor = ratio(DUMPS, name), ratio(JSON_DUMPS, name)
        if value is not None and floor is not None:
            lines.append(f"{verdict(value <= DUMPS_MAX * floor)}  dumps <= {DUMPS_MAX}x json.dumps of the same "
                         f"document on {name}: {value / floor:.2f}x ({value:.2f}x json.loads)")
    value = ratio(ACC_OVER_PARSE, "stream")
    if value is not None:
        lines.append(f"{verdict(value <= ACCUMULATE_OVER_PARSE_MAX)}  accumulate <= "
                     f"{ACCUMULATE_OVER_PARSE_MAX:.0f}x parse chunks: {value:.2f}x")
    elif "stream" in names:
        lines.append(f"{NOT_AVAILABLE}  accumulate <= {ACCUMULATE_OVER_PARSE_MAX:.0f}x parse chunks: "
                     "streaming API not present")
    print("\n".join(f"- {line}" for line in lines) if lines else "- nothing measured")
    print()


# --------------------------------------------------------------------------- import time


def subprocess_env() -> Dict[str, str]:
    """The environment for child interpreters: the repo importable, bytecode cached outside it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "chatcompletion-bench-pycache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_python(args: List[str], env: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def parse_importtime(stderr: str) -> Dict[str, Tuple[int, int]]:
    """-X importtime output as {module: (self µs, cumulative µs)}."""
    result: Dict[str, Tuple[int, int]] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, module = line[len("import time:"):].split("|", 2)
        result[module.strip()] = (int(self_us), int(cumulative_us))
    return result


def run_import_time(runs: int, importtime_runs: int, with_peers: bool, first_text: str) -> None:
    print("## Import time (fresh interpreter, median over interleaved runs, minus `python -c pass`)")
    print()
    try:
        measure_import_time(runs, importtime_runs, with_peers, first_text)
    except (subprocess.CalledProcessError, KeyError, ValueError) as exc:
        detail = exc.stderr.strip().splitlines()[-1] if isinstance(exc, subprocess.CalledProcessError) else exc
        print(f"- failed: {detail}")
    print()


def measure_import_time(runs: int, importtime_runs: int, with_peers: bool, first_text: str) -> None:
    env = subprocess_env()
    statements = {
        "bare": "pass",
        "chatcompletion": "import chatcompletion",
        # Work the module defers to its first use shows up here.
        FIRST_USE: f"import chatcompletion; chatcompletion.loads({first_text!r})",
        # What any module pays whose models are frozen dataclasses: the floor for the target.
        "dataclasses": "import dataclasses",
        FROZEN_FLOOR: FROZEN_FLOOR_CODE,
    }
    for module in ("openai", "pydantic"):
        if not with_peers:
            continue
        if importlib.util.find_spec(module) is None:
            print(f"- {module}: {NOT_INSTALLED}")
        else:
            statements[module] = f"import {module}"
    samples: Dict[str, List[float]] = {name: [] for name in statements}
    for statement in statements.values():
        run_python(["-c", statement], env)  # compile and cache the bytecode first
    order = list(statements)
    for i in range(runs):
        progress(f"import time: run {i + 1}/{runs}")
        for name in order[i % len(order):] + order[:i % len(order)]:  # rotate who goes first
            start = time.perf_counter()
            run_python(["-c", statements[name]], env)
            samples[name].append(time.perf_counter() - start)
    bare = statistics.median(samples["bare"])
    print(f"- bare interpreter start: {bare * 1e3:.1f} ms")
    for name in order[1:]:
        extra_ms = (statistics.median(samples[name]) - bare) * 1e3
        target = f"  ({verdict(extra_ms <= IMPORT_MS_MAX)}: target <= {IMPORT_MS_MAX:.0f} ms)" \
            if name == "chatcompletion" else ""
        label = name if name in (FIRST_USE, FROZEN_FLOOR) else f"import {name}"
        print(f"- {label}: +{extra_ms:.1f} ms{target}")

    bare_modules = set(parse_importtime(run_python(["-X", "importtime", "-c", "pass"], env).stderr))
    self_us: List[int] = []
    cumulative_us: List[int] = []
    pulled: Dict[str, List[int]] = {}
    for _ in range(importtime_runs):
        timings = parse_importtime(run_python(["-X", "importtime", "-c", "import chatcompletion"], env).stderr)
        own_self, own_cumulative = timings["chatcompletion"]
        self_us.append(own_self)
        cumulative_us.append(own_cumulative)
        for module, (module_self, _) in timings.items():
            if module not in bare_modules and module != "chatcompletion":
                pulled.setdefault(module, []).append(module_self)
    heaviest = sorted(((statistics.median(v), m) for m, v in pulled.items()), reverse=True)[:5]
    print(f"- -X importtime, chatcompletion: self {statistics.median(self_us) / 1e3:.1f} ms, "
          f"cumulative {statistics.median(cumulative_us) / 1e3:.1f} ms (median of {importtime_runs})")
    print("- heaviest modules it pulls in (self): "
          + ", ".join(f"{module} {us / 1e3:.1f} ms" for us, module in heaviest))


# --------------------------------------------------------------------------- memory


def retained_bytes(build: Op) -> int:
    """Bytes still allocated after ``build()`` returns and temporaries are collected."""
    build()  # warm up lazily built caches so they are not counted
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del result
    return after - before


def run_memory(payloads: Dict[str, Any], peers: Peers) -> None:
    print("## Retained memory of the parsed logprobs payload (tracemalloc)")
    print()
    text = wire_text(payloads["logprobs"])
    builds: List[Tuple[str, Union[Op, str]]] = [
        ("dict from json.loads", lambda: json.loads(text)),
        ("chatcompletion.loads", lambda: cc.loads(text)),
    ]
    for row in (OPENAI_VALIDATE, OPENAI_CONSTRUCT, MSGSPEC, FLOOR):
        funcs = peers[row]
        builds.append((row, funcs if isinstance(funcs, str) else bind_loads(funcs[0], text)))
    dict_bytes = 0
    model_ratio: Optional[float] = None
    print("| result | bytes | ratio to dict |")
    print("|---|---:|---:|")
    for label, build in builds:
        if isinstance(build, str):
            print(f"| {label} | {build} | |")
            continue
        progress(f"memory: {label}")
        size = retained_bytes(build)
        dict_bytes = dict_bytes or size
        ratio = size / dict_bytes
        if label == "chatcompletion.loads":
            model_ratio = ratio
        print(f"| {label} | {size:,} | {ratio:.2f}x |")
    print()
    if model_ratio is not None:
        if sys.version_info >= MEMORY_MIN_PYTHON:
            print(f"- {verdict(model_ratio <= MEMORY_RATIO_MAX)}  chatcompletion.loads <= {MEMORY_RATIO_MAX}x "
                  f"the dict: {model_ratio:.2f}x")
        else:
            print(f"- {NOT_APPLICABLE}  memory target applies on Python >= 3.10 only (no slots here): "
                  f"{model_ratio:.2f}x")
    print()


def bind_loads(fn: Callable[[Json], Any], text: str) -> Op:
    return lambda: fn(json.loads(text))


# --------------------------------------------------------------------------- profile


def run_profile(payloads: Dict[str, Any]) -> None:
    data = payloads["logprobs"]
    from_dict = cc.CreateChatCompletionResponse.from_dict
    from_dict(data)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(PROFILE_CALLS):
        from_dict(data)
    profiler.disable()
    print(f"## cProfile: lenient from_dict on logprobs, {PROFILE_CALLS} calls, top 15 by tottime")
    print()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


# --------------------------------------------------------------------------- main


CLI_LINES = 100_000
QUICK_CLI_LINES = 20_000
CLI_RUNS = 3
CLI_JOBS = (1, 2)


def batch_lines(payloads: Dict[str, Any], count: int) -> List[str]:
    """Lines of OpenAI Batch API output, alternating the typical and the tool-call responses."""
    bodies = [payloads["typical"], payloads["tool_calls"]]
    lines = []
    for number in range(count):
        line = {"id": f"batch_req_{number:06d}", "custom_id": f"request-{number}",
                "response": {"status_code": 200, "request_id": f"req_{number:06d}", "body": bodies[number % 2]},
                "error": None}
        lines.append(json.dumps(line, separators=(",", ":")))
    return lines


# Runs a command and prints its peak resident memory (KiB): that of the largest of its processes.
# A process of its own, so that the figure is not this process's size at fork.
PEAK_WRAPPER = ("import resource, subprocess, sys; status = subprocess.call(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(status)")


def run_child(args: List[str]) -> Tuple[float, int, int]:
    """Seconds, exit status and peak resident memory (KiB, of the largest process) of a command."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        done = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *args], stdout=devnull, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    return elapsed, done.returncode, int(done.stderr.split()[-1])


def run_cli_throughput(payloads: Dict[str, Any], count: int) -> None:
    """Lines per second of `python chatcompletion.py --quiet --jobs N FILE` (a process of its own,
    start-up included) against a loop of json.loads alone in this process, and peak memory."""
    print("## Command line on a JSON Lines batch file")
    print()
    script = os.path.join(os.path.dirname(os.path.abspath(cc.__file__)), "chatcompletion.py")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "batch_output.jsonl")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(batch_lines(payloads, count)) + "\n")
        size = os.path.getsize(path)

        def json_only() -> None:
            with open(path, "rb") as lines:
                for line in lines:
                    json.loads(line)

        best_json = float("inf")
        best: Dict[int, Tuple[float, int]] = {jobs: (float("inf"), 0) for jobs in CLI_JOBS}
        start_up = min(run_child([sys.executable, script, "--version"])[0] for _ in range(CLI_RUNS))
        for _ in range(CLI_RUNS):  # interleaved, best of each
            gc.collect()
            started = time.perf_counter()
            json_only()
            best_json = min(best_json, time.perf_counter() - started)
            for jobs in CLI_JOBS:
                elapsed, status, peak = run_child([sys.executable, script, "--quiet", "--jobs", str(jobs), path])
                if status != 0:
                    raise RuntimeError(f"the command line said {status} on a valid batch file")
                best[jobs] = (min(best[jobs][0], elapsed), max(best[jobs][1], peak))
    json_rate = count / best_json
    print(f"- file: {count:,} lines, {size / 1e6:.1f} MB (typical and tool-call responses, Batch API format)")
    print(f"- {os.cpu_count()} CPUs; the command line's start-up (--version): {start_up * 1000:.0f} ms, included below")
    print(f"- json.loads alone, in this process: {json_rate:,.0f} lines/s ({size / best_json / 1e6:.1f} MB/s)")
    for jobs in CLI_JOBS:
        elapsed, peak = best[jobs]
        print(f"- chatcompletion.py --quiet --jobs {jobs}: {count / elapsed:,.0f} lines/s "
              f"({size / elapsed / 1e6:.1f} MB/s, {count / elapsed / json_rate:.2f}x json.loads), "
              f"peak memory {peak / 1024:.0f} MiB")
    rate = count / max(best[1][0] - start_up, 1e-9)
    print(f"- {verdict(rate >= json_rate / 2)}  --jobs 1, start-up taken off, at least half of json.loads alone: "
          f"{rate:,.0f} lines/s, {rate / json_rate:.2f}x")
    print()


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and runs (a rough look)")
    parser.add_argument("--only", choices=PAYLOADS, help="time this payload only (skips import time and memory "
                        "unless asked for)")
    parser.add_argument("--no-peers", action="store_true", help="skip openai, msgspec and pydantic (keeps the floor)")
    parser.add_argument("--timings", action="store_true", help="run the timing table")
    parser.add_argument("--import-time", action="store_true", help="run the import-time section")
    parser.add_argument("--memory", action="store_true", help="run the memory section")
    parser.add_argument("--cli", action="store_true", help="run the command-line throughput section")
    parser.add_argument("--profile", action="store_true", help="cProfile lenient from_dict on logprobs, then exit")
    args = parser.parse_args(argv)
    if not (args.timings or args.import_time or args.memory or args.cli):
        args.timings = True
        args.import_time = args.memory = args.cli = args.only is None
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    payloads = build_payloads()
    if args.profile:
        run_profile(payloads)
        return 0
    peers, versions = load_peers(not args.no_peers)
    started = time.perf_counter()
    print_header(versions)
    if args.timings:
        names = [args.only] if args.only else list(PAYLOADS)
        notes: List[str] = []
        check_round_trip(payloads, names, notes)
        cells, reference_seconds = run_timings(
            payloads, names, peers,
            QUICK_ROUNDS if args.quick else ROUNDS,
            QUICK_HALF_ROUND_SECONDS if args.quick else HALF_ROUND_SECONDS,
            notes,
        )
        rows = [LENIENT, STRICT, TO_DICT, DUMPS, JSON_DUMPS, LOADS, ACCUMULATE, ACC_OVER_PARSE, *PEER_ROWS, FLOOR]
        print_table(cells, reference_seconds, payloads, names, rows)
        if notes:
            print("Notes:")
            print("\n".join(f"- {note}" for note in notes))
            print()
        print_targets(cells, names)
    if args.import_time:
        run_import_time(QUICK_IMPORT_RUNS if args.quick else IMPORT_RUNS,
                        QUICK_IMPORTTIME_RUNS if args.quick else IMPORTTIME_RUNS, not args.no_peers,
                        wire_text(payloads["typical"]))
    if args.memory:
        run_memory(payloads, peers)
    if args.cli:
        run_cli_throughput(payloads, QUICK_CLI_LINES if args.quick else CLI_LINES)
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
