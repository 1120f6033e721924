"""Read, check and write OpenAI chat-completion responses and stream chunks.

One file, standard library only.  ``loads`` and ``Model.from_dict`` turn the
JSON a chat-completion endpoint returns into frozen dataclasses; ``to_dict`` and
``dumps`` turn them back, losing nothing.  The default (lenient) mode accepts
what real OpenAI-compatible servers send; ``strict=True`` accepts exactly what
the OpenAI spec (2.3.0) allows.  ``iter_chunks`` reads a server-sent-events
stream and ``accumulate`` rebuilds the full response from its chunks.

Run ``python chatcompletion.py --help`` for the command-line checker.

The file reads in this order, each part under a banner of its name:

    the public part
        constants                   MAX_DEPTH and the other limits
        errors                      Problem, ValidationError, APIError, StreamError
        enums                       Object, FinishReason, Role, ...
        declaring a model           the base class, @_model, _required(), _optional()
        the response models         CreateChatCompletionResponse and what it holds
        the stream chunk models     CreateChatCompletionStreamResponse and what it holds
        text in, text out           loads, loads_chunk, dumps
        working with a response     normalize_finish_reason, split_think_tags, tool_message
        reading a stream            iter_chunks, aiter_chunks
        accumulating a stream       ChatCompletionAccumulator, accumulate, aaccumulate
        events as the stream goes   ChatCompletionEvents, iter_events, the event classes
        partial JSON                parse_partial_json
        checking many documents     check_document, DocumentCheck, Summary
    the implementation (private)
        JSON values and paths, kinds of field, the shared core (_Plan), generated
        code, the column path, preparing the models; then the rules behind each
        public part, in the same order
    the command line                main(), last
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # the command line: Ctrl-C exits with 130 and no traceback, from here on
    import signal

    _importing = True

    def _interrupted(signum: int, frame: object) -> None:
        if _importing:
            # Nothing is written yet: leave at once.  An exception raised here could surface
            # inside a class's creation, which Python 3.11 and older wrap in a RuntimeError.
            import os
            os._exit(130)
        raise SystemExit(130)

    signal.signal(signal.SIGINT, _interrupted)

import codecs
import collections
import copy
import enum
import importlib
import io
import json
import linecache
import math
import os
import re
import stat
import time
from dataclasses import FrozenInstanceError, dataclass, field, fields
from itertools import chain, islice, repeat
from operator import attrgetter, itemgetter, methodcaller
from types import MappingProxyType
from typing import (
    IO,
    Any,
    AsyncIterable,
    AsyncIterator,
    Callable,
    ClassVar,
    Deque,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    NamedTuple,
    NoReturn,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
)

if sys.version_info >= (3, 11):  # tells type checkers that @_model makes frozen dataclasses (PEP 681)
    from typing import dataclass_transform
else:  # older Pythons' typing has no such marker; nothing reads it at run time
    _Decorated = TypeVar("_Decorated")

    def dataclass_transform(**kwargs: Any) -> Callable[[_Decorated], _Decorated]:
        return lambda function: function

__all__ = [
    "ValidationError", "APIError", "StreamError", "Problem", "check_document", "DocumentCheck", "Summary",
    "loads", "dumps", "loads_chunk", "iter_chunks", "aiter_chunks", "accumulate", "aaccumulate",
    "ChatCompletionAccumulator", "iter_events", "aiter_events", "ChatCompletionEvents", "parse_partial_json",
    "StreamEvent", "TextDelta", "TextDone", "RefusalDelta", "RefusalDone", "ReasoningDelta", "ReasoningDone",
    "ToolCallStarted", "ToolCallArgumentsDelta", "ToolCallDone", "LogprobsDelta", "Finished", "UsageReported",
    "StreamDone",
    "normalize_finish_reason", "split_think_tags", "tool_message",
    "Object", "FinishReason", "Role", "ServiceTier", "ToolCallType", "AnnotationType",
    "ModerationType", "ModerationInputType",
    "CreateChatCompletionResponse", "ChatCompletion", "Choice", "Choices", "ChoiceLogprobs",
    "ChatCompletionResponseMessage", "ChatCompletionMessageToolCall", "FunctionCall",
    "ChatCompletionMessageCustomToolCall", "CustomToolCallInput", "Annotation", "AnnotationURLCitation",
    "ChatCompletionAudio", "ChatCompletionTokenLogprob", "TopLogprob", "CompletionUsage",
    "CompletionTokensDetails", "PromptTokensDetails", "ChatCompletionModeration",
    "ChatCompletionModerationResults", "ChatCompletionModerationError", "ModerationResultBody",
    "CreateChatCompletionStreamResponse", "ChatCompletionChunk", "ChunkChoice",
    "ChatCompletionStreamResponseDelta", "ChatCompletionMessageToolCallChunk", "ChoiceDeltaFunctionCall",
    "ToolCall", "ModerationOutcome", "ChoiceDelta",
]

__version__ = "2.0.0"


# --------------------------------------------------------------------------- constants

# Nesting deeper than this inside an unknown value is refused rather than followed;
# json.loads itself stops near the interpreter's recursion limit (about 1000).
MAX_DEPTH = 10_000 if sys.platform != "emscripten" else 1_000
# How deep JSON text may nest where the interpreter's stack is shallow (Pyodide): there json's C
# decoder overflows the JavaScript stack, fatally, before CPython's own guards raise RecursionError,
# so text nested deeper is refused before it is decoded.  None: the guards hold (CPython elsewhere).
MAX_TEXT_DEPTH: Optional[int] = 1_000 if sys.platform == "emscripten" else None
# How much of a value an error message quotes.
MAX_QUOTE = 60
# How many problems str(ValidationError) lists before summarising the rest.
MAX_LISTED_PROBLEMS = 20
# Problems kept per document or stream; the rest are counted (ValidationError.unkept).
MAX_KEPT_PROBLEMS = 1000
# How much of a server's error message str(APIError) and the command line show.
MAX_SHOWN_MESSAGE = 200
# How much of a very long path str(Problem) shows, and how much Problem.path keeps (its start and end).
MAX_SHOWN_PATH = 200
MAX_PATH = 1000
# How deep the accumulator merges unknown objects and content parts; deeper, the newer value wins.
MAX_MERGE_DEPTH = 8
# Distinct models and finish reasons a Summary keeps by name; the rest are counted as other.
MAX_KEPT_NAMES = 100
# How much of a body that shows no event a stream reader keeps, to say what it is (an error
# body, a response).
MAX_NOT_A_STREAM = 1 << 20
# Arrays of at least this many objects are checked column by column (see "the column path").
COLUMN_MIN = 16

_SLOTS: Dict[str, Any] = {"slots": True} if sys.version_info >= (3, 10) else {}


# --------------------------------------------------------------------------- errors


class Problem(NamedTuple):
    """One thing wrong with a document: where (a JSON path) and what.

    A path longer than MAX_PATH characters keeps its start and its end, with "..." between.
    """

    path: str
    message: str

    def __str__(self) -> str:
        path = self.path
        if len(path) > MAX_SHOWN_PATH:  # nesting hundreds deep
            path = path[: MAX_SHOWN_PATH // 2] + "..." + path[-MAX_SHOWN_PATH // 2:]
        return f"{path}: {self.message}"


class ValidationError(ValueError):
    """The document does not match the model.

    ``errors`` lists the problems found, up to MAX_KEPT_PROBLEMS; ``unkept`` counts the rest.
    """

    def __init__(self, errors: Sequence[Problem], unkept: int = 0) -> None:
        self.errors: Tuple[Problem, ...] = tuple(errors)
        self.unkept = unkept
        lines = [str(p) for p in self.errors[:MAX_LISTED_PROBLEMS]]
        more = max(len(self.errors) - MAX_LISTED_PROBLEMS, 0) + unkept
        if more:
            lines.append(f"... and {more} more problem{'' if more == 1 else 's'}")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> Any:
        return (type(self), (self.errors, self.unkept))


class APIError(ValidationError):
    """The document is an error the server returned, not a chat completion.

    ``error`` is the provider's error value as sent: the object under ``"error"``, or the whole
    body in the flat form (``"object": "error"``) that older vLLM and FastChat send.  ``message``,
    ``code`` and ``type`` are read from it where present, else None.
    """

    def __init__(self, error: Any, path: str = "<root>", context: str = "the server returned an error") -> None:
        self.error = error
        fields: Mapping[str, Any] = error if isinstance(error, dict) else {}
        message = fields.get("message", error if isinstance(error, str) else None)
        self.message: Optional[str] = message if isinstance(message, str) else None
        code = fields.get("code")
        self.code: Optional[Union[str, int]] = code if isinstance(code, (str, int)) and not isinstance(code, bool) \
            else None
        kind = fields.get("type")
        self.type: Optional[str] = kind if isinstance(kind, str) else None
        super().__init__([Problem(path, f"{context}: {_describe_error(error)}")])

    def __reduce__(self) -> Any:
        return (_restore_api_error, (type(self), self.__dict__.copy(), self.errors))


class StreamError(APIError):
    """The server reported an error inside a stream (an ``error`` event or an ``error`` object).

    ``error`` is the provider's error value as sent, ``chunks`` the chunks read before it.
    """

    def __init__(self, error: Any, path: str = "<stream>",
                 chunks: Sequence["CreateChatCompletionStreamResponse"] = ()) -> None:
        super().__init__(error, path, "the server sent an error")
        self.chunks: Tuple[CreateChatCompletionStreamResponse, ...] = tuple(chunks)


# --------------------------------------------------------------------------- enums
#
# The values the spec names.  Fields hold the strings as received, and these str enums
# compare equal to them.


class Object(str, enum.Enum):
    CHAT_COMPLETION = "chat.completion"
    CHAT_COMPLETION_CHUNK = "chat.completion.chunk"


class FinishReason(str, enum.Enum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    FUNCTION_CALL = "function_call"


class Role(str, enum.Enum):
    DEVELOPER = "developer"
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ServiceTier(str, enum.Enum):
    AUTO = "auto"
    DEFAULT = "default"
    FLEX = "flex"
    SCALE = "scale"
    PRIORITY = "priority"
    FAST = "fast"


class ToolCallType(str, enum.Enum):
    FUNCTION = "function"
    CUSTOM = "custom"


class AnnotationType(str, enum.Enum):
    URL_CITATION = "url_citation"


class ModerationType(str, enum.Enum):
    MODERATION_RESULTS = "moderation_results"
    MODERATION_RESULT = "moderation_result"
    ERROR = "error"


class ModerationInputType(str, enum.Enum):
    TEXT = "text"
    IMAGE = "image"


# --------------------------------------------------------------------------- declaring a model
#
# Each model below is a frozen dataclass made by @_model, with one declaration per field that
# says what the spec says: the JSON type, whether the key is required, and whether null is
# allowed.  Lenient mode derives from it: no key is required, null is allowed everywhere, enum
# values outside the spec are kept as plain strings, and message content may also be an array
# of parts.  What a field holds: a tuple for an array (never None), a read-only dict for a map
# and for ``extra``, a model instance for an object, the value itself for a scalar.


M = TypeVar("M", bound="_Model")


class _Model:
    """Behaviour shared by every model class: parsing, dumping, what the JSON had, pickling."""

    # Which known keys the JSON object had, a bit per field in declaration order; unset in an
    # object built by hand, whose keys follow from its values (see _hand_built_present).
    __slots__ = ("_present",)
    _present: int
    extra: Mapping[str, Any]  # each model declares it as its last field
    _plans: ClassVar[Tuple[_Plan, _Plan]]
    _twin: ClassVar[type]
    _keys: ClassVar[Tuple[str, ...]]
    _bits: ClassVar[Tuple[int, ...]]
    _required_bits: ClassVar[int]  # the keys the spec requires: what a hand-built object always writes
    _get_values: ClassVar[Any]  # an attrgetter of the known fields
    _model_class: ClassVar[type]  # the public class, also for its null instance's class
    _null: ClassVar[Any]  # the instance a required object field holds for JSON null
    _absent: ClassVar[Any]  # ... and for a missing key
    # Per field, for to_dict() of a hand-built object: key, bit, types written as they are, conversions.
    _hand_built_rules: ClassVar[Tuple[Tuple[str, int, FrozenSet[type], Dict[type, Callable[[Any], Any]]], ...]]

    @classmethod
    def from_dict(cls: Type[M], data: Any, *, strict: bool = False) -> M:
        """Check ``data`` (a decoded JSON object) and build the model; raises ValidationError.

        Only the module's own classes are built: on a subclass, from_dict() raises TypeError.
        """
        try:
            plan = cls._plans[1 if strict else 0]
        except AttributeError:
            plan = _plans_of(cls)[1 if strict else 0]
        if plan.model is not cls and cls not in _NULL_TYPES:  # a null instance's class builds its model
            raise TypeError(f"from_dict() builds chatcompletion's own classes, not a subclass: call "
                            f"{plan.model.__name__}.from_dict(), not {cls.__module__}.{cls.__qualname__}.from_dict()")
        result: M = plan.parse_root(data)
        return result

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object this model stands for: the keys it had (see present_keys()) in the
        spec's order, null as null, then unknown keys.  (Each model's own is generated on first use.)"""
        _prepare_models()
        result: Dict[str, Any] = self.to_dict()
        return result

    def present_keys(self) -> FrozenSet[str]:
        """The known keys that the JSON object had, null ones included (unknown keys are in ``extra``).

        For an object built by hand: the keys to_dict() writes, those the spec requires and those
        whose value is neither None nor empty.
        """
        present = _present_of(self)
        return frozenset(key for key, bit in zip(self._keys, self._bits) if present & bit)

    def null_keys(self) -> FrozenSet[str]:
        """The known keys whose value was JSON null (the field holds None, or an empty array or object)."""
        present = _present_of(self)
        return frozenset(key for key, bit, value in zip(self._keys, self._bits, self._get_values(self))
                         if present & bit and (value is None or type(value) in _NULL_TYPES))

    def __reduce__(self) -> Any:
        # Field by field rather than through to_dict(), so that a copy of an object built by hand,
        # holding what no parse would, is still exact.  Read-only maps travel as dicts, with
        # their places, so that a pickle names no private class.
        values = self._get_values(self) + (self.extra,)
        present = getattr(self, "_present", None)
        read_only = tuple(index for index, value in enumerate(values) if type(value) in _READ_ONLY_TYPES)
        if read_only:
            values = tuple(dict(value) if type(value) in _READ_ONLY_TYPES else value for value in values)
        return (_restore, (self._model_class, values, present, read_only))

    # One shared __eq__, __repr__ and __hash__, behaving as dataclass would generate them
    # (all fields compared and shown, ``extra`` left out of the hash), instead of a generated
    # copy per class: generating them is most of what importing the module would cost.
    # Equality is of the values: a missing key and a null compare equal, as both read None.

    def __eq__(self, other: object) -> bool:
        if getattr(other, "_model_class", None) is not self._model_class:
            return NotImplemented
        return bool(self._get_values(self) == self._get_values(other)
                    and self.extra == other.extra)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._get_values(self))

    def __repr__(self) -> str:
        values = self._get_values(self) + (self.extra,)
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._keys + ("extra",), values))
        return f"{self._model_class.__qualname__}({shown})"


@dataclass_transform(frozen_default=True)
def _model(cls: Type[M]) -> Type[M]:
    """Make a model class a frozen dataclass; its parsing machinery comes on first use."""
    cls = dataclass(frozen=True, eq=False, repr=False, **_SLOTS)(cls)
    # dataclass's own __setattr__ fails with TypeError for a name that is no field once slots
    # recreate the class (3.10+); every name is refused the same way, as frozen promises.
    cls.__setattr__ = _refuse_change  # type: ignore[method-assign]
    cls.__delattr__ = _refuse_change  # type: ignore[method-assign]
    declared = [f for f in fields(cls) if "decl" in f.metadata]  # type: ignore[arg-type]
    cls._keys = tuple(f.name for f in declared)
    cls._bits = tuple(1 << index for index in range(len(declared)))
    cls._required_bits = sum(1 << index for index, f in enumerate(declared) if f.metadata["decl"].required)
    cls._get_values = attrgetter(*cls._keys)
    cls._model_class = cls
    # The empty instances that a required object field holds when its key is missing or null.
    cls._absent = cls()
    object.__setattr__(cls._absent, "_present", 0)
    null_class = type(cls.__name__, (cls,), {"__slots__": (), "__doc__": "An object that was JSON null.",
                                             "__reduce__": lambda self: (_null_instance, (self._model_class,))})
    null_class.__qualname__ = cls.__qualname__
    cls._null = null_class()
    object.__setattr__(cls._null, "_present", 0)
    _NULL_TYPES.add(null_class)
    _MODELS.append(cls)
    return cls


def _refuse_change(self: Any, name: str, *value: Any) -> NoReturn:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


_MODELS: List["Type[_Model]"] = []


class _ReadOnlyDict(Dict[str, Any]):
    """What ``extra`` and the maps are stored as: a dict whose own methods refuse changes.

    A dict rather than a MappingProxyType, so that dataclasses.asdict(), copy.deepcopy(),
    pickle and json.dumps() take it as they take any dict.  As with a frozen dataclass and
    object.__setattr__, calling dict's methods on it directly gets around the refusal.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a parsed mapping is read-only; dict(it) gives a copy to change")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> Any:
        return (_ReadOnlyDict, (dict(self),))


class _NoExtra(_ReadOnlyDict):
    """The empty ``extra`` that every object without unknown keys shares.

    Its __init__ refuses to fill it too: the dict's own __init__ would, for every object at once.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if dict(*args, **kwargs):  # dataclasses.asdict() makes an empty one the same way
            self._refuse()


class _NullArray(Tuple[Any, ...]):
    """What an array field holds when the JSON had null: empty, as for a missing key or ``[]``,
    and written back as null."""

    __slots__ = ()

    def __reduce__(self) -> Any:
        return (_null_array, ())


def _null_array() -> "_NullArray":
    return _NULL_ARRAY


_NULL_ARRAY = tuple.__new__(_NullArray)
# The types of what a field holds for JSON null where None cannot stand: an array's, and each
# model's null instance (of a subclass of its own, so that to_dict() knows it by its type alone).
_NULL_TYPES: Set[type] = {_NullArray}


_NONE_TYPE: FrozenSet[type] = frozenset({type(None)})
_DICT_TYPE: FrozenSet[type] = frozenset({dict})
_LIST_TYPE: FrozenSet[type] = frozenset({list})
_TEXT_TYPES: FrozenSet[type] = frozenset({str, type(None)})
# What an array or a map is stored as, and what a hand-built object may hold instead.
_SEQUENCE_TYPES: FrozenSet[type] = frozenset({tuple, list})
_READ_ONLY_TYPES: FrozenSet[type] = frozenset({_ReadOnlyDict, _NoExtra, MappingProxyType})
_MAPPING_TYPES: FrozenSet[type] = _READ_ONLY_TYPES | {dict}


class _Decl:
    """What the spec says of a value: its JSON type; and, once it declares a field, whether the
    key is required and whether null is allowed (an array's items and a map's values are
    required and not null)."""

    def __init__(self, kind: str, *, enum_type: Optional[Type[enum.Enum]] = None, item: "Optional[_Decl]" = None,
                 model: Any = None, by_type: Optional[Dict[str, Any]] = None, fallback: Any = None,
                 only: Optional[Tuple[str, ...]] = None) -> None:
        self.kind = kind
        self.enum_type = enum_type
        self.item = item
        self.model = model
        self.by_type = by_type
        self.fallback = fallback
        self.only = only
        self.required = True
        self.nullable = False
        self.always = False

    def declare(self, required: bool, nullable: bool) -> Any:
        """A dataclass field holding this declaration, with the field's default."""
        decl = copy.copy(self)
        decl.required = required
        decl.nullable = nullable
        # An object the spec requires and never allows null is always an instance.
        decl.always = decl.kind in ("object", "oneof") and required and not nullable
        return field(default=decl.default(), metadata={"decl": decl})

    def default(self) -> Any:
        """What the field holds when its key is missing (and what keyword construction assumes)."""
        if self.kind == "array":
            return ()
        if self.always:
            return (self.model or self.fallback)._absent
        return None

    def make(self, strict: bool, top: bool = True) -> _Kind:
        # Lenient accepts null for any property, but array items and map values keep their type.
        nullable = self.nullable if (strict or not top) else True
        kind = self.kind
        if kind in ("str", "int", "number", "bool"):
            if strict and self.enum_type is not None:
                return _EnumKind(nullable, self.only or tuple(m.value for m in self.enum_type))
            return _ScalarKind(kind, nullable, finite=strict)
        if kind == "content":
            return _ContentKind() if not strict else _ScalarKind("str", self.nullable)
        if kind == "object":
            return _ObjectKind(self.model, strict, nullable, self.always)
        if kind == "oneof":
            assert self.by_type is not None
            return _OneOfKind(self.by_type, None if strict else self.fallback, strict, nullable, self.always, self.fallback)
        assert self.item is not None
        if kind == "array":
            return _ArrayKind(self.item.make(strict, top=False), nullable)
        return _MapKind(self.item.make(strict, top=False), nullable)


# What a field's type is declared with: str, int, float (a JSON number), bool, a str enum (a
# string the spec limits to the enum's values, or to ``only``), a model class (a JSON object),
# or what _array_of(), _map_of(), _one_of() and _content() return.
_Type = Union[type, _Decl]
_SCALAR_KINDS: Dict[type, str] = {str: "str", int: "int", float: "number", bool: "bool"}


def _type(spec: _Type, only: Optional[Tuple[str, ...]] = None) -> _Decl:
    if isinstance(spec, _Decl) and only is None:
        return spec
    if isinstance(spec, type) and spec in _SCALAR_KINDS and only is None:
        return _Decl(_SCALAR_KINDS[spec])
    if isinstance(spec, type) and issubclass(spec, enum.Enum) and issubclass(spec, str):
        if only is not None and not {member.value for member in spec}.issuperset(only):
            raise TypeError(f"only= names values {spec.__name__} does not have: {only!r}")
        return _Decl("str", enum_type=spec, only=only)
    if isinstance(spec, type) and issubclass(spec, _Model) and only is None:
        return _Decl("object", model=spec)
    raise TypeError(f"a field's type is str, int, float, bool, a str enum, a model class, or what _array_of(), "
                    f"_map_of(), _one_of() or _content() return; got {spec!r}"
                    + (" with only= (for str enums)" if only is not None else ""))


def _required(spec: _Type, *, null: bool = False, only: Optional[Tuple[str, ...]] = None) -> Any:
    """A key the spec requires; ``null``: the spec allows null; ``only``: the enum values it allows here."""
    return _type(spec, only).declare(True, null)


def _optional(spec: _Type, *, null: bool = False, only: Optional[Tuple[str, ...]] = None) -> Any:
    """A key the spec allows to be absent."""
    return _type(spec, only).declare(False, null)


def _array_of(spec: _Type) -> _Decl:
    return _Decl("array", item=_type(spec))


def _map_of(spec: _Type) -> _Decl:
    """A JSON object with free keys, each value of one type."""
    return _Decl("map", item=_type(spec))


def _one_of(by_type: Dict[str, Any], *, fallback: Any) -> _Decl:
    """An object that is one of several models, told apart by its ``type`` key; lenient mode reads
    an unknown or missing ``type`` as ``fallback``."""
    for model in (*by_type.values(), fallback):
        if not (isinstance(model, type) and issubclass(model, _Model)):
            raise TypeError(f"_one_of() takes model classes, got {model!r}")
    return _Decl("oneof", by_type=by_type, fallback=fallback)


def _content() -> _Decl:
    """A message's content: a string (strict), also an array of content parts (lenient)."""
    return _Decl("content")


_NO_EXTRA: Mapping[str, Any] = _NoExtra()


def _no_extra() -> Mapping[str, Any]:
    return _NO_EXTRA


def _extra() -> Any:
    """Unknown keys and their values, in the order received; read-only."""
    return field(default_factory=_no_extra, hash=False)


# --------------------------------------------------------------------------- the response models
# Field order is the order OpenAI's servers write the keys, so dumps() reproduces them.


@_model
class TopLogprob(_Model):
    """One of the most likely tokens at a position, with its log probability."""

    token: Optional[str] = _required(str)
    logprob: Optional[float] = _required(float)
    bytes: Tuple[int, ...] = _required(_array_of(int), null=True)
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionTokenLogprob(_Model):
    """A generated token, its log probability, UTF-8 bytes and the most likely alternatives."""

    token: Optional[str] = _required(str)
    logprob: Optional[float] = _required(float)
    bytes: Tuple[int, ...] = _required(_array_of(int), null=True)
    top_logprobs: Tuple[TopLogprob, ...] = _required(_array_of(TopLogprob))
    extra: Mapping[str, Any] = _extra()


@_model
class ChoiceLogprobs(_Model):
    """Log probabilities of a choice's content tokens and refusal tokens."""

    content: Tuple[ChatCompletionTokenLogprob, ...] = _required(_array_of(ChatCompletionTokenLogprob), null=True)
    refusal: Tuple[ChatCompletionTokenLogprob, ...] = _required(_array_of(ChatCompletionTokenLogprob), null=True)
    extra: Mapping[str, Any] = _extra()


@_model
class FunctionCall(_Model):
    """A function's name and its JSON-encoded arguments (a tool call's ``function``, or ``function_call``)."""

    name: Optional[str] = _required(str)
    arguments: Optional[str] = _required(str)
    extra: Mapping[str, Any] = _extra()

    def parse_arguments(self, path: str = "") -> Any:
        """The arguments' decoded JSON value; ``{}`` when they are null, missing or blank (servers
        send all three for a call without arguments).

        Arguments that are not JSON raise ValidationError at ``path`` + ``.arguments``: give the
        call's path, as ``message.tool_call_arguments()`` does, to have it named
        (``choices[0].message.tool_calls[1].function.arguments: invalid JSON: ...``).
        """
        return _decode_arguments(self.arguments, _join(path, "arguments"))


@_model
class ChatCompletionMessageToolCall(_Model):
    """A call to a function tool (``type`` ``"function"``)."""

    id: Optional[str] = _required(str)
    type: Optional[str] = _required(ToolCallType, only=("function",))
    function: FunctionCall = _required(FunctionCall)
    extra: Mapping[str, Any] = _extra()


@_model
class CustomToolCallInput(_Model):
    """A custom tool's name and the free-form input the model wrote for it."""

    name: Optional[str] = _required(str)
    input: Optional[str] = _required(str)
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionMessageCustomToolCall(_Model):
    """A call to a custom tool (``type`` ``"custom"``)."""

    id: Optional[str] = _required(str)
    type: Optional[str] = _required(ToolCallType, only=("custom",))
    custom: CustomToolCallInput = _required(CustomToolCallInput)
    extra: Mapping[str, Any] = _extra()


@_model
class AnnotationURLCitation(_Model):
    """Where a web source is cited in the content (character offsets) and what it is."""

    end_index: Optional[int] = _required(int)
    start_index: Optional[int] = _required(int)
    title: Optional[str] = _required(str)
    url: Optional[str] = _required(str)
    extra: Mapping[str, Any] = _extra()


@_model
class Annotation(_Model):
    """A note on the message content; the spec knows URL citations."""

    type: Optional[str] = _required(AnnotationType)
    url_citation: AnnotationURLCitation = _required(AnnotationURLCitation)
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionAudio(_Model):
    """Audio the model spoke: base64 data, its transcript, and when the id expires."""

    id: Optional[str] = _required(str)
    data: Optional[str] = _required(str)
    expires_at: Optional[int] = _required(int)
    transcript: Optional[str] = _required(str)
    extra: Mapping[str, Any] = _extra()


ToolCall = Union[ChatCompletionMessageToolCall, ChatCompletionMessageCustomToolCall]
_TOOL_CALL_TYPES = {"function": ChatCompletionMessageToolCall, "custom": ChatCompletionMessageCustomToolCall}


@_model
class ChatCompletionResponseMessage(_Model):
    """The assistant message of a choice."""

    role: Optional[str] = _required(Role, only=("assistant",))
    content: Optional[Union[str, Tuple[Dict[str, Any], ...]]] = _required(_content(), null=True)
    tool_calls: Tuple[ToolCall, ...] = _optional(
        _array_of(_one_of(_TOOL_CALL_TYPES, fallback=ChatCompletionMessageToolCall)))
    function_call: Optional[FunctionCall] = _optional(FunctionCall)
    refusal: Optional[str] = _required(str, null=True)
    audio: Optional[ChatCompletionAudio] = _optional(ChatCompletionAudio, null=True)
    annotations: Tuple[Annotation, ...] = _optional(_array_of(Annotation))
    extra: Mapping[str, Any] = _extra()

    @property
    def text(self) -> Optional[str]:
        """The content as plain text: the string itself, or the ``text`` of its ``"text"`` parts
        joined; None when there is no text."""
        return _text_of(self.content)

    @property
    def reasoning(self) -> Optional[str]:
        """The reasoning text, from whichever field the server put it in; None when there is none.

        The first of these that holds text: ``reasoning_content`` (DeepSeek, Kimi, Qwen, SGLang,
        llama.cpp), ``reasoning`` (vLLM, OpenRouter, Groq), the text and summary items of
        OpenRouter's ``reasoning_details``, Mistral's ``thinking`` content parts.  Servers that
        send two of them send the same text twice, so it is read once.  ``<think>`` tags inside
        the content are not read (see split_think_tags).
        """
        return _reasoning_of(self.content, self.extra)

    def tool_call_arguments(self, path: str = "message") -> Tuple[Any, ...]:
        """One value per tool call, in order: a function call's decoded arguments (as
        ``FunctionCall.parse_arguments``), a custom tool call's ``input`` as plain text.

        Every call is tried, and one ValidationError lists each call whose arguments are not
        JSON, at ``path`` (where this message sits, e.g. ``"choices[0].message"``).
        """
        return _tool_call_arguments(self, path)

    def to_request(self, *, spec_only: bool = False, keep: Sequence[str] = ()) -> Dict[str, Any]:
        """This message as the next chat-completions request takes it: a new, plain dict.

        ``role``, ``content`` (the text; null when there is none), ``refusal``, ``audio`` as
        ``{"id": ...}``, ``tool_calls`` and ``function_call``; nothing response-only.  By default
        it also keeps what providers require back: ``reasoning_content`` (DeepSeek, Kimi) and
        Gemini's thought signatures (``extra_content``, on the message and on each tool call);
        other unknown keys are dropped, except those named in ``keep``.  ``spec_only=True`` gives
        exactly the spec's fields, for servers that reject anything else.
        """
        return _to_request(self, spec_only, (keep,) if isinstance(keep, str) else tuple(keep))


@_model
class Choice(_Model):
    """One choice of a response (the spec's inline ``choices`` item)."""

    index: Optional[int] = _required(int)
    message: ChatCompletionResponseMessage = _required(ChatCompletionResponseMessage)
    logprobs: Optional[ChoiceLogprobs] = _required(ChoiceLogprobs, null=True)
    finish_reason: Optional[str] = _required(FinishReason)
    extra: Mapping[str, Any] = _extra()

    @property
    def normalized_finish_reason(self) -> Optional[str]:
        """``normalize_finish_reason(finish_reason)``, told by the message too: a choice that ended
        like ``stop`` but carries tool calls counts as ``tool_calls`` (Gemini's streams say
        ``stop``), one with a named legacy ``function_call`` as ``function_call``."""
        return _choice_finish_reason(self)


Choices = Choice


@_model
class CompletionTokensDetails(_Model):
    """How the completion tokens break down."""

    reasoning_tokens: Optional[int] = _optional(int)
    audio_tokens: Optional[int] = _optional(int)
    accepted_prediction_tokens: Optional[int] = _optional(int)
    rejected_prediction_tokens: Optional[int] = _optional(int)
    text_tokens: Optional[int] = _optional(int)
    extra: Mapping[str, Any] = _extra()


@_model
class PromptTokensDetails(_Model):
    """How the prompt tokens break down."""

    cached_tokens: Optional[int] = _optional(int)
    audio_tokens: Optional[int] = _optional(int)
    text_tokens: Optional[int] = _optional(int)
    image_tokens: Optional[int] = _optional(int)
    cache_write_tokens: Optional[int] = _optional(int)
    extra: Mapping[str, Any] = _extra()


@_model
class CompletionUsage(_Model):
    """Token counts for the request."""

    prompt_tokens: Optional[int] = _required(int)
    completion_tokens: Optional[int] = _required(int)
    total_tokens: Optional[int] = _required(int)
    prompt_tokens_details: Optional[PromptTokensDetails] = _optional(PromptTokensDetails)
    completion_tokens_details: Optional[CompletionTokensDetails] = _optional(CompletionTokensDetails)
    extra: Mapping[str, Any] = _extra()


@_model
class ModerationResultBody(_Model):
    """One moderation verdict: flagged or not, per category."""

    type: Optional[str] = _required(ModerationType, only=("moderation_result",))
    model: Optional[str] = _required(str)
    flagged: Optional[bool] = _required(bool)
    categories: Optional[Mapping[str, bool]] = _required(_map_of(bool))
    category_scores: Optional[Mapping[str, float]] = _required(_map_of(float))
    category_applied_input_types: Optional[Mapping[str, Tuple[str, ...]]] = _required(
        _map_of(_array_of(ModerationInputType)))
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionModerationResults(_Model):
    """Moderation results for the input or the output."""

    type: Optional[str] = _required(ModerationType, only=("moderation_results",))
    model: Optional[str] = _required(str)
    results: Tuple[ModerationResultBody, ...] = _required(_array_of(ModerationResultBody))
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionModerationError(_Model):
    """Why moderation could not run."""

    type: Optional[str] = _required(ModerationType, only=("error",))
    code: Optional[str] = _required(str)
    message: Optional[str] = _required(str)
    extra: Mapping[str, Any] = _extra()


ModerationOutcome = Union[ChatCompletionModerationResults, ChatCompletionModerationError]
_MODERATION_TYPES = {"moderation_results": ChatCompletionModerationResults, "error": ChatCompletionModerationError}


@_model
class ChatCompletionModeration(_Model):
    """Moderation of the request's input and the model's output."""

    input: ModerationOutcome = _required(_one_of(_MODERATION_TYPES, fallback=ChatCompletionModerationResults))
    output: ModerationOutcome = _required(_one_of(_MODERATION_TYPES, fallback=ChatCompletionModerationResults))
    extra: Mapping[str, Any] = _extra()


@_model
class CreateChatCompletionResponse(_Model):
    """A chat completion (``"object": "chat.completion"``)."""

    id: Optional[str] = _required(str)
    object: Optional[str] = _required(Object, only=("chat.completion",))
    created: Optional[int] = _required(int)
    model: Optional[str] = _required(str)
    choices: Tuple[Choice, ...] = _required(_array_of(Choice))
    moderation: Optional[ChatCompletionModeration] = _optional(ChatCompletionModeration, null=True)
    usage: Optional[CompletionUsage] = _optional(CompletionUsage)
    service_tier: Optional[str] = _optional(ServiceTier, null=True)
    system_fingerprint: Optional[str] = _optional(str)
    metadata: Optional[Mapping[str, str]] = _optional(_map_of(str), null=True)
    extra: Mapping[str, Any] = _extra()


ChatCompletion = CreateChatCompletionResponse


# --------------------------------------------------------------------------- the stream chunk models


@_model
class ChoiceDeltaFunctionCall(_Model):
    """A fragment of a function's name and arguments (in a tool-call chunk or a legacy ``function_call``)."""

    name: Optional[str] = _optional(str)
    arguments: Optional[str] = _optional(str)
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionMessageToolCallChunk(_Model):
    """A fragment of a tool call; fragments with the same ``index`` add up to one call."""

    index: Optional[int] = _required(int)
    id: Optional[str] = _optional(str)
    type: Optional[str] = _optional(ToolCallType, only=("function",))
    function: Optional[ChoiceDeltaFunctionCall] = _optional(ChoiceDeltaFunctionCall)
    extra: Mapping[str, Any] = _extra()


@_model
class ChatCompletionStreamResponseDelta(_Model):
    """What a stream chunk adds to a choice's message."""

    role: Optional[str] = _optional(Role)
    content: Optional[Union[str, Tuple[Dict[str, Any], ...]]] = _optional(_content(), null=True)
    tool_calls: Tuple[ChatCompletionMessageToolCallChunk, ...] = _optional(
        _array_of(ChatCompletionMessageToolCallChunk))
    function_call: Optional[ChoiceDeltaFunctionCall] = _optional(ChoiceDeltaFunctionCall)
    refusal: Optional[str] = _optional(str, null=True)
    extra: Mapping[str, Any] = _extra()

    @property
    def text(self) -> Optional[str]:
        """The text this chunk adds to the content, as ``ChatCompletionResponseMessage.text`` reads it."""
        return _text_of(self.content)

    @property
    def reasoning(self) -> Optional[str]:
        """The reasoning text this chunk adds, as ``ChatCompletionResponseMessage.reasoning`` reads it."""
        return _reasoning_of(self.content, self.extra)


ChoiceDelta = ChatCompletionStreamResponseDelta


@_model
class ChunkChoice(_Model):
    """One choice of a stream chunk."""

    index: Optional[int] = _required(int)
    delta: ChatCompletionStreamResponseDelta = _required(ChatCompletionStreamResponseDelta)
    logprobs: Optional[ChoiceLogprobs] = _optional(ChoiceLogprobs, null=True)
    finish_reason: Optional[str] = _required(FinishReason, null=True)
    extra: Mapping[str, Any] = _extra()


@_model
class CreateChatCompletionStreamResponse(_Model):
    """A stream chunk (``"object": "chat.completion.chunk"``)."""

    id: Optional[str] = _required(str)
    object: Optional[str] = _required(Object, only=("chat.completion.chunk",))
    created: Optional[int] = _required(int)
    model: Optional[str] = _required(str)
    service_tier: Optional[str] = _optional(ServiceTier, null=True)
    system_fingerprint: Optional[str] = _optional(str)
    choices: Tuple[ChunkChoice, ...] = _required(_array_of(ChunkChoice))
    moderation: Optional[ChatCompletionModeration] = _optional(ChatCompletionModeration, null=True)
    usage: Optional[CompletionUsage] = _optional(CompletionUsage, null=True)
    obfuscation: Optional[str] = _optional(str)
    extra: Mapping[str, Any] = _extra()


ChatCompletionChunk = CreateChatCompletionStreamResponse


# --------------------------------------------------------------------------- text in, text out


def loads(text: Union[str, bytes, bytearray], *, strict: bool = False) -> CreateChatCompletionResponse:
    """Parse and check the JSON text of a chat completion; raises ValidationError."""
    return CreateChatCompletionResponse.from_dict(_decode_json(text), strict=strict)


def loads_chunk(text: Union[str, bytes, bytearray], *, strict: bool = False) -> CreateChatCompletionStreamResponse:
    """Parse and check the JSON text of one stream chunk; raises ValidationError."""
    return CreateChatCompletionStreamResponse.from_dict(_decode_json(text), strict=strict)


def dumps(obj: Union[_Model, Sequence[_Model]], **json_options: Any) -> str:
    """The JSON text of any model, or of a list or tuple of models (``response.choices``) as a JSON
    array; keyword arguments go to json.dumps (``indent=2``, ``allow_nan=False``, ...)."""
    if isinstance(obj, _Model):
        return json.dumps(obj.to_dict(), **json_options)
    if isinstance(obj, (list, tuple)) and all(isinstance(item, _Model) for item in obj):
        return json.dumps([item.to_dict() for item in obj], **json_options)
    raise TypeError(f"dumps() takes a model, or a list or tuple of models, not {type(obj).__name__}"
                    + (" holding other values" if isinstance(obj, (list, tuple)) else ""))


# --------------------------------------------------------------------------- working with a response
#
# What applications do next with a response: read the reasoning, whatever field the server put
# it in; tell why a choice finished, whatever the server called it; decode tool arguments; send
# the assistant message back.  These only read: no stored field changes, and the round trip
# stays exact.  docs/reference.md has the tables and the sources.


def normalize_finish_reason(reason: Optional[str]) -> Optional[str]:
    """Map a finish reason as servers send it onto the spec's five (``stop``, ``length``,
    ``tool_calls``, ``content_filter``, ``function_call``); None when it cannot tell.

    Case and ``-``/``_`` do not matter (``STOP``, ``MAX_TOKENS``, ``tool-calls``).  Values that say
    the turn did not end normally (``error``, ``abort``, ``pause_turn``), unknown values, ``""``
    and null give None rather than a guess.  ``Choice.normalized_finish_reason`` also looks at the
    message.
    """
    if not isinstance(reason, str):
        return None
    return _FINISH_REASONS.get(reason.strip().lower().replace("-", "_"))


def split_think_tags(text: str) -> Tuple[Optional[str], str]:
    """``(reasoning, answer)`` from text that holds its reasoning in ``<think>`` tags.

    ``message.reasoning`` never reads these: tags in ``content`` are the model's own text, their
    shapes vary, and literal tags occur in real answers.  Call this when a server is known to
    leave them there.  Three shapes are split: ``<think>r</think>a`` at the start (after
    whitespace); ``r</think>a`` with no opening tag (chat templates that put ``<think>`` in the
    prompt: DeepSeek R1-0528 and V4, QwQ); and ``<think>r`` never closed (cut off by
    ``max_tokens``).  Anything else comes back as ``(None, text)``.  The reasoning is stripped,
    the answer stripped on the left.
    """
    start = len(text) - len(text.lstrip())
    if text.startswith(_THINK_OPEN, start):
        body = text[start + len(_THINK_OPEN):]
        end = body.find(_THINK_CLOSE)
        if end < 0:
            return body.strip() or None, ""
        return body[:end].strip() or None, body[end + len(_THINK_CLOSE):].lstrip()
    end = text.find(_THINK_CLOSE)
    if end >= 0 and _THINK_OPEN not in text[:end]:
        return text[:end].strip() or None, text[end + len(_THINK_CLOSE):].lstrip()
    return None, text


def tool_message(tool_call_id: str, content: Union[str, Sequence[Mapping[str, Any]]]) -> Dict[str, Any]:
    """The tool-result message for the next request: ``{"role": "tool", "tool_call_id": ..., "content": ...}``.

    ``content`` is a string, or a non-empty sequence of text parts ``{"type": "text", "text": str}``;
    anything else raises TypeError or ValueError (encode a structured result yourself, with
    ``json.dumps``).  ``tool_call_id`` is the call's ``id`` as received.
    """
    if not isinstance(tool_call_id, str):
        raise TypeError(f"tool_call_id must be a str, got {type(tool_call_id).__name__}")
    if isinstance(content, str):
        return {"role": "tool", "tool_call_id": tool_call_id, "content": content}
    if not isinstance(content, (list, tuple)):
        raise TypeError(f"content must be a str or a list of text parts, got {type(content).__name__}")
    if not content:
        raise ValueError("content must not be an empty list")
    parts = []
    for index, part in enumerate(content):
        if not (isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str)):
            raise ValueError(f"content[{index}] is not a text part {{'type': 'text', 'text': str}}")
        parts.append(_dump_json(part))
    return {"role": "tool", "tool_call_id": tool_call_id, "content": parts}


# --------------------------------------------------------------------------- reading a stream


def iter_chunks(source: Any, *, strict: bool = False, keep: bool = True) -> Iterator[CreateChatCompletionStreamResponse]:
    """Yield the chunks of a server-sent-events stream, checked as ``strict`` says.

    ``source`` is the stream's text in str or bytes pieces cut anywhere (``httpx``'
    ``iter_bytes()``; prefer it to httpx's ``iter_lines()``, which also splits at U+2028), an
    iterable of lines with or without their endings (``requests``' ``iter_lines()``), a binary
    or text file object (an ``http.client`` response, an open ``.sse`` file), or the whole
    stream as one str or bytes.  Comment lines, ``event:`` lines, multi-line data, CR/LF and a
    stream that ends without ``[DONE]`` are all handled; reading stops at ``[DONE]``.  For an
    async source, use aiter_chunks.

    An ``error`` event, a chunk that carries a non-null ``error``, or an error body marked
    ``"object": "error"`` (older vLLM) raises StreamError with the provider's error and (when
    ``keep`` is true) the chunks read before it.  A body that is no stream at all is never read
    as an empty one: an error body raises APIError, a complete response or other text a
    ValidationError that says what it is.  With ``keep=False`` nothing is retained between
    chunks, so a stream of any length reads in constant memory.  A chunk that fails its check
    raises ValidationError, its paths prefixed with the line number.
    """
    reader = _ChunkReader(strict, keep)
    for piece in _read_pieces(_pieces(source, "iter_chunks", "aiter_chunks")):
        yield from reader.feed(piece)
        if reader.done:
            return
    yield from reader.close()


async def aiter_chunks(source: Any, *, strict: bool = False,
                       keep: bool = True) -> AsyncIterator[CreateChatCompletionStreamResponse]:
    """iter_chunks for an async iterable of str or bytes pieces cut anywhere: httpx's
    ``response.aiter_bytes()``, aiohttp's ``response.content.iter_any()`` or ``iter_chunked(n)``,
    ``AsyncOpenAI``'s raw streaming response, Pyodide's ``pyfetch``.  Its chunks, errors and
    edge cases are exactly those of iter_chunks; reading stops at ``[DONE]``, and the source
    is then closed (``aclose()``) where it can be.
    """
    reader = _ChunkReader(strict, keep)
    pieces = _async_pieces(source, "aiter_chunks", "iter_chunks")
    async for piece in pieces:
        for chunk in reader.feed(piece):
            yield chunk
        if reader.done:
            close = getattr(pieces, "aclose", None)
            if close is not None:
                await close()
            return
    for chunk in reader.close():
        yield chunk


# --------------------------------------------------------------------------- accumulating a stream


class ChatCompletionAccumulator:
    """Rebuilds a full chat completion from stream chunks.

    ``add(chunk)`` takes each chunk in order; ``snapshot()`` returns the response so far at any
    point and ``result()`` the final one (the same thing, named for intent).  docs/streaming.md
    has the merge rules.  snapshot() rebuilds the whole response, so calling it after every
    chunk costs time quadratic in the stream's length: for a view per chunk, use
    ChatCompletionEvents.
    """

    def __init__(self) -> None:
        self._choices: Dict[int, _ChoiceState] = {}
        self._first: Dict[str, Any] = {}
        self._usage: Optional[CompletionUsage] = None
        self._moderation: Optional[ChatCompletionModeration] = None
        self._extra: Dict[str, Any] = {}
        self._track = False  # whether choices record the tool calls each chunk adds to (see ChatCompletionEvents)
        self.chunks: int = 0  # how many chunks add() has taken

    def add(self, chunk: CreateChatCompletionStreamResponse) -> None:
        """Take the next chunk (a parsed chunk, or a dict, which is parsed leniently)."""
        if not isinstance(chunk, CreateChatCompletionStreamResponse):
            chunk = CreateChatCompletionStreamResponse.from_dict(chunk)
        try:
            self._add(chunk)
        except (AttributeError, TypeError, _Invalid) as error:
            if hasattr(chunk, "_present"):  # parsed: the accumulator's own fault, not the chunk's
                raise
            # Only a chunk built by hand holds what no parse makes; say what is wrong with it.
            CreateChatCompletionStreamResponse.from_dict(chunk.to_dict())
            raise TypeError("add() takes chunks as from_dict() builds them, with models where the "
                            "chunk has objects; this one holds something else "
                            "(pass chunk.to_dict() instead)") from error

    def _add(self, chunk: CreateChatCompletionStreamResponse) -> None:
        self.chunks += 1
        first = self._first
        present = _present_of(chunk)
        for key, expected, bit in _FIRST_VALUE_TYPES:
            if key not in first or _empty(first[key]) or first[key] == 0:
                if not present & bit:
                    continue
                value = getattr(chunk, key)
                # A value of another type (only a chunk built by hand has one) is left out.
                fits = value is None or (isinstance(value, expected) and not isinstance(value, bool))
                if fits and (key not in first or not _empty(value)):
                    first[key] = value
        # Each nested model is absent, or of its model, or else (a dict in a chunk built by hand)
        # raises TypeError, which add() turns into the reason.
        usage = chunk.usage
        if usage is None:
            pass
        elif isinstance(usage, CompletionUsage):
            self._usage = usage
        else:
            raise TypeError
        moderation = chunk.moderation
        if moderation is None:
            pass
        elif isinstance(moderation, ChatCompletionModeration):
            self._moderation = moderation
        else:
            raise TypeError
        for key, value in chunk.extra.items():
            if value is not None or key not in self._extra:
                self._extra[key] = value
        if isinstance(chunk.choices, (tuple, list)):
            states = self._choices
            for choice in chunk.choices:
                index = choice.index
                if type(index) is not int:  # absent, or a bool or an odd value in a chunk built by hand
                    index = int(index) if isinstance(index, int) and not isinstance(index, bool) else 0
                state = states.get(index)
                if state is None:
                    state = states[index] = _ChoiceState(index, self._track)
                state.add(choice)

    def snapshot(self) -> CreateChatCompletionResponse:
        """The response gathered so far."""
        document: Dict[str, Any] = {}
        first = self._first
        for key in ("id", "object", "created", "model", "choices", "moderation", "usage", "service_tier",
                    "system_fingerprint"):
            if key == "object":
                document[key] = Object.CHAT_COMPLETION.value
            elif key == "choices":
                document[key] = [self._choices[i].to_dict() for i in sorted(self._choices)]
            elif key == "usage":
                if self._usage is not None:
                    document[key] = self._usage.to_dict()
            elif key == "moderation":
                if self._moderation is not None:
                    document[key] = self._moderation.to_dict()
            elif key in first:
                value = first[key]
                document[key] = value.value if isinstance(value, enum.Enum) else value
        _add_extras(document, self._extra, CreateChatCompletionResponse)
        return CreateChatCompletionResponse.from_dict(document)

    result = snapshot


def accumulate(chunks: Iterable[Any]) -> CreateChatCompletionResponse:
    """The full response that a sequence of chunks (parsed, or dicts) adds up to.

    A chunk that fails its check raises ValidationError, its paths prefixed with the chunk's
    index in ``chunks``, counted from 0 (``chunk 5: choices[0].delta.content``).
    """
    accumulator = ChatCompletionAccumulator()
    if hasattr(chunks, "__aiter__") and not hasattr(chunks, "__iter__"):
        raise TypeError("accumulate() reads a synchronous iterable; for an async one (aiter_chunks()) use aaccumulate()")
    try:
        items = iter(chunks)
    except TypeError:
        raise ValidationError([Problem("<root>", f"expected an iterable of chunks, got {_json_type(chunks)}")]) from None
    for position, chunk in enumerate(items):
        _add_at(accumulator, position, chunk)
    return accumulator.result()


async def aaccumulate(chunks: AsyncIterable[Any]) -> CreateChatCompletionResponse:
    """accumulate() for an async iterable of chunks: ``await aaccumulate(aiter_chunks(response.aiter_bytes()))``."""
    if not hasattr(chunks, "__aiter__"):
        raise TypeError(f"aaccumulate() reads an async iterable; for {type(chunks).__name__} use accumulate()")
    accumulator = ChatCompletionAccumulator()
    position = 0
    async for chunk in chunks:
        _add_at(accumulator, position, chunk)
        position += 1
    return accumulator.result()


# --------------------------------------------------------------------------- events as the stream goes
#
# What a user interface needs while a stream arrives: that text came, that reasoning started and
# ended, that a tool call's arguments are complete.  ChatCompletionEvents turns each chunk into
# typed events, by the accumulator's own rules, so that the last event's response is exactly
# what accumulate() returns.  Each chunk costs time in proportion to what it adds; what an event
# has gathered so far (the text, the arguments) is joined only when read.


@dataclass(frozen=True, **_SLOTS)
class StreamEvent:
    """The base of every event that iter_events() yields; ``choice`` is the choice's index."""


class _SoFar:
    """Pieces gathered for one choice or call, shared by its events; each event reads its prefix."""

    __slots__ = ("pieces",)

    def __init__(self) -> None:
        self.pieces: List[str] = []

    def add(self, piece: str) -> int:
        self.pieces.append(piece)
        return len(self.pieces)

    def text(self, count: Optional[int] = None) -> str:
        return "".join(self.pieces if count is None else self.pieces[:count])


@dataclass(frozen=True, **_SLOTS)
class _Gathering(StreamEvent):
    choice: int
    delta: str
    _so_far: _SoFar = field(repr=False, compare=False)
    _count: int = field(repr=False, compare=False)


@dataclass(frozen=True, **_SLOTS)
class TextDelta(_Gathering):
    """Text the choice's message gained; ``text`` is all of it so far."""

    @property
    def text(self) -> str:
        return self._so_far.text(self._count)


@dataclass(frozen=True, **_SLOTS)
class TextDone(StreamEvent):
    """The choice's text is complete (its choice finished, or the stream ended)."""

    choice: int
    text: str


@dataclass(frozen=True, **_SLOTS)
class RefusalDelta(_Gathering):
    """Refusal text the choice's message gained; ``refusal`` is all of it so far."""

    @property
    def refusal(self) -> str:
        return self._so_far.text(self._count)


@dataclass(frozen=True, **_SLOTS)
class RefusalDone(StreamEvent):
    choice: int
    refusal: str


@dataclass(frozen=True, **_SLOTS)
class ReasoningDelta(_Gathering):
    """Reasoning text, from whichever field the server used (as ``message.reasoning`` reads it);
    ``reasoning`` is all of it so far."""

    @property
    def reasoning(self) -> str:
        return self._so_far.text(self._count)


@dataclass(frozen=True, **_SLOTS)
class ReasoningDone(StreamEvent):
    """The reasoning is complete: the text or a tool call began, the choice finished, or the stream ended."""

    choice: int
    reasoning: str


@dataclass(frozen=True, **_SLOTS)
class ToolCallStarted(StreamEvent):
    """A tool call began; ``index`` is its place in the message's ``tool_calls``."""

    choice: int
    index: int
    id: Optional[str]
    name: Optional[str]


@dataclass(frozen=True, **_SLOTS)
class ToolCallArgumentsDelta(_Gathering):
    """More of a tool call's arguments.  ``arguments`` is the text so far; ``parsed`` is the JSON
    value it holds so far, by parse_partial_json's rules.  ``parsed`` is the parser's live value,
    which the call's later events go on changing (a copy per event would make a stream's cost
    quadratic): ``copy.deepcopy`` it to keep it as it was."""

    index: int = 0
    parsed: Any = None

    @property
    def arguments(self) -> str:
        return self._so_far.text(self._count)


@dataclass(frozen=True, **_SLOTS)
class ToolCallDone(StreamEvent):
    """A tool call is complete: the next call began, its choice finished, or the stream ended
    (never just because its arguments happen to parse).  ``arguments`` is their decoded JSON
    value, as ``FunctionCall.parse_arguments()`` gives it, or None when they are not JSON."""

    choice: int
    index: int
    call: ToolCall
    arguments: Any


@dataclass(frozen=True, **_SLOTS)
class LogprobsDelta(StreamEvent):
    """Log probabilities that came with the choice's tokens."""

    choice: int
    content: Tuple[ChatCompletionTokenLogprob, ...]
    refusal: Tuple[ChatCompletionTokenLogprob, ...]


@dataclass(frozen=True, **_SLOTS)
class Finished(StreamEvent):
    """The choice finished: the reason as sent, and normalized (see Choice.normalized_finish_reason)."""

    choice: int
    finish_reason: str
    normalized: Optional[str]


@dataclass(frozen=True, **_SLOTS)
class UsageReported(StreamEvent):
    """The stream reported token usage (usually once, in the last chunk)."""

    usage: CompletionUsage


@dataclass(frozen=True, **_SLOTS)
class StreamDone(StreamEvent):
    """The last event: the full response, equal to what accumulate() returns."""

    response: CreateChatCompletionResponse


class ChatCompletionEvents:
    """Typed events from the chunks of a stream, fed in one at a time.

    ``add(chunk)`` takes the next chunk (parsed, or a dict) and returns the events it brings;
    ``finish()`` returns the events the end of the stream brings, the last of which is
    StreamDone with the full response.  iter_events() and aiter_events() do this for a stream's
    text.  Per choice: TextDelta and TextDone, RefusalDelta and RefusalDone, ReasoningDelta and
    ReasoningDone, ToolCallStarted, ToolCallArgumentsDelta and ToolCallDone, LogprobsDelta and
    Finished; per stream: UsageReported and StreamDone.
    """

    def __init__(self) -> None:
        self.accumulator: ChatCompletionAccumulator = ChatCompletionAccumulator()
        self.accumulator._track = True
        self._choices: Dict[int, _ChoiceEvents] = {}

    def add(self, chunk: Union[CreateChatCompletionStreamResponse, Mapping[str, Any]]) -> List[StreamEvent]:
        """The events that this chunk brings, in order."""
        if not isinstance(chunk, CreateChatCompletionStreamResponse):
            chunk = CreateChatCompletionStreamResponse.from_dict(chunk)
        self.accumulator.add(chunk)
        events: List[StreamEvent] = []
        states = self.accumulator._choices
        for choice in chunk.choices:
            index = choice.index if type(choice.index) is int else 0
            state = states[index]
            told = self._choices.get(index)
            if told is None:
                told = self._choices[index] = _ChoiceEvents()
            self._choice_events(index, choice, state, told, events)
        if chunk.usage is not None:
            events.append(UsageReported(chunk.usage))
        return events

    def finish(self) -> List[StreamEvent]:
        """The events that the end of the stream brings: what is still open is done, then StreamDone."""
        events: List[StreamEvent] = []
        for index in sorted(self._choices):
            self._close(index, self._choices[index], events)
        events.append(StreamDone(self.accumulator.result()))
        return events

    def _choice_events(self, index: int, choice: ChunkChoice, state: "_ChoiceState", told: _ChoiceEvents,
                       events: List[StreamEvent]) -> None:
        delta = choice.delta
        reasoning = delta.reasoning
        if reasoning:
            if told.reasoning is None:
                told.reasoning = _SoFar()
            told.reasoning_open = True
            events.append(ReasoningDelta(index, reasoning, told.reasoning, told.reasoning.add(reasoning)))
        text = delta.text
        if text:
            self._end_reasoning(index, told, events)
            if told.text is None:
                told.text = _SoFar()
            events.append(TextDelta(index, text, told.text, told.text.add(text)))
        if delta.refusal:
            if told.refusal is None:
                told.refusal = _SoFar()
            events.append(RefusalDelta(index, delta.refusal, told.refusal, told.refusal.add(delta.refusal)))
        touched = state.touched
        if touched:
            self._end_reasoning(index, told, events)
            for call in touched:
                self._call_events(index, call, state, told, events)
            touched.clear()
        logprobs = choice.logprobs
        if logprobs is not None and (logprobs.content or logprobs.refusal):
            events.append(LogprobsDelta(index, logprobs.content, logprobs.refusal))
        reason = state.finish_reason
        if isinstance(reason, str) and reason and reason != told.finish_reason:
            self._close(index, told, events)
            told.finish_reason = reason
            normalized = normalize_finish_reason(reason)
            if normalized == "stop" and state.tool_calls:
                normalized = "tool_calls"
            events.append(Finished(index, reason, normalized))

    def _call_events(self, index: int, call: "_ToolCallState", state: "_ChoiceState", told: _ChoiceEvents,
                     events: List[StreamEvent]) -> None:
        key = id(call)
        known = told.calls.get(key)
        if known is None:
            # A new call: those before it in this choice are done.
            while told.open_calls:
                self._call_done(index, *told.open_calls.pop(0), told, events)
            place = len(told.calls)
            known = told.calls[key] = (place, _SoFar(), _PartialJSON())
            told.open_calls.append((place, call))
            told.seen[key] = 0
            events.append(ToolCallStarted(index, place, call.id if isinstance(call.id, str) else None,
                                          call.function.name if isinstance(call.function.name, str) else None))
        place, so_far, partial = known
        seen = told.seen[key]
        pieces = call.function.arguments
        if len(pieces) > seen:
            piece = "".join(pieces[seen:])
            told.seen[key] = len(pieces)
            if piece:
                partial.feed(piece)
                events.append(ToolCallArgumentsDelta(index, piece, so_far, so_far.add(piece), place, partial.value()))

    def _call_done(self, index: int, place: int, call: "_ToolCallState", told: _ChoiceEvents,
                   events: List[StreamEvent]) -> None:
        document = call.to_dict()
        kind = document.get("type")
        model: Type[_Model] = ChatCompletionMessageToolCall
        if isinstance(kind, str):
            model = _TOOL_CALL_TYPES.get(kind, ChatCompletionMessageToolCall)
        built: ToolCall = model.from_dict(document)  # type: ignore[assignment]
        arguments: Any = None
        if isinstance(built, ChatCompletionMessageToolCall):
            try:
                arguments = _decode_arguments(_function_of(built)[1], "arguments")
            except ValidationError:
                arguments = None
        events.append(ToolCallDone(index, place, built, arguments))

    def _end_reasoning(self, index: int, told: _ChoiceEvents, events: List[StreamEvent]) -> None:
        if told.reasoning_open and told.reasoning is not None:
            told.reasoning_open = False
            events.append(ReasoningDone(index, told.reasoning.text()))

    def _close(self, index: int, told: _ChoiceEvents, events: List[StreamEvent]) -> None:
        self._end_reasoning(index, told, events)
        while told.open_calls:
            self._call_done(index, *told.open_calls.pop(0), told, events)
        if told.text is not None:
            events.append(TextDone(index, told.text.text()))
            told.text = None
        if told.refusal is not None:
            events.append(RefusalDone(index, told.refusal.text()))
            told.refusal = None


def iter_events(source: Any, *, strict: bool = False) -> Iterator[StreamEvent]:
    """Typed events as a server-sent-events stream goes (see ChatCompletionEvents); ``source``
    is what iter_chunks takes.  The last event is StreamDone, holding the full response."""
    events = ChatCompletionEvents()
    for chunk in iter_chunks(source, strict=strict, keep=False):
        yield from events.add(chunk)
    yield from events.finish()


async def aiter_events(source: Any, *, strict: bool = False) -> AsyncIterator[StreamEvent]:
    """iter_events for an async iterable of str or bytes pieces (what aiter_chunks takes)."""
    events = ChatCompletionEvents()
    async for chunk in aiter_chunks(source, strict=strict, keep=False):
        for event in events.add(chunk):
            yield event
    for event in events.finish():
        yield event


# --------------------------------------------------------------------------- partial JSON
#
# A streamed tool call's arguments, read as they arrive (the parser is _PartialJSON, below).


def parse_partial_json(text: str) -> Any:
    """The value that an unfinished JSON text holds so far (a streamed tool call's ``arguments``).

    Everything finished is there as json.loads would give it, plus the member being read when
    it can only grow: an unfinished string as its text so far (a half-read escape, or a high
    surrogate waiting for its low half, held back), while an unfinished number, a literal not
    yet spelled out (``tru``), an unfinished key and a key whose value has not begun are left
    out.  Objects and arrays appear as soon as they open.  ``""`` gives None.  Text that can
    never become JSON gives what was read before the first character that makes it so.  NaN
    and Infinity are accepted, as json.loads accepts them; nesting deeper than 500 is refused.
    Never raises.  ChatCompletionEvents keeps one incremental parser per tool call, so that the
    whole of a stream's arguments costs linear time.
    """
    parser = _PartialJSON()
    parser.feed(text)
    return parser.value()


# --------------------------------------------------------------------------- checking many documents


@dataclass(frozen=True)
class DocumentCheck:
    """What check_document() found in one document: a flat record of plain values, picklable.

    ``kind`` is "response", "chunk", "error body" or "batch line" (the command line also makes
    records of kind "stream"); ``status`` is "valid", "invalid" or "error" (the server reported
    an error).  Problems are kept up to MAX_KEPT_PROBLEMS, the rest counted in ``unkept_problems``.
    Model names and errors are shortened to MAX_SHOWN_MESSAGE characters.  Token counts are 0
    where the document has none; ``has_usage`` says whether it reported usage at all.
    """

    kind: str
    status: str
    valid: bool
    problems: Tuple[Problem, ...] = ()
    unkept_problems: int = 0
    model: Optional[str] = None
    finish_reasons: Tuple[Optional[str], ...] = ()
    has_usage: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    tool_calls: int = 0
    refusals: int = 0
    error: Optional[str] = None
    error_code: Optional[str] = None
    status_code: Optional[int] = None
    custom_id: Optional[str] = None


def check_document(document: Any, *, strict: bool = False, path: str = "") -> DocumentCheck:
    """Check one decoded document (or its JSON text) and return a DocumentCheck.

    The document may be a response, a chunk, an error body, or a line of OpenAI Batch API output.
    ``path`` names where the document sits inside a wrapping record, keys joined by dots
    ("response" or "response.body"); a record without it is invalid.  Never raises for bad input.
    """
    if isinstance(document, (str, bytes, bytearray)):
        if isinstance(document, str) and document.startswith("\ufeff"):  # a file's first line, read as text
            document = document[1:]
        try:
            document = _json_loads(document)
        except RecursionError:
            return _invalid_record("response", Problem("<root>", "invalid JSON: nested too deeply"))
        except ValueError as exc:
            return _invalid_record("response", Problem("<root>", f"invalid JSON: {exc}"))
    return _check(document, strict, path)[0]


@dataclass
class Summary:
    """Counts over many DocumentCheck records: add() one, merge() another summary.

    Merging the summaries of two parts, in any order, gives the summary of one pass over both.
    Of the distinct models, and of the finish reasons, the MAX_KEPT_NAMES first in sorted order
    are counted by name and the rest in ``other_models`` and ``other_finish_reasons``: a rule
    that gives the same names however the documents are split.  A missing name counts as "(none)".
    """

    documents: int = 0
    valid: int = 0
    invalid: int = 0
    request_errors: int = 0
    models: Dict[str, int] = field(default_factory=dict)
    other_models: int = 0
    finish_reasons: Dict[str, int] = field(default_factory=dict)
    other_finish_reasons: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    tool_calls: int = 0
    refusals: int = 0

    def add(self, record: DocumentCheck) -> None:
        self.documents += 1
        if record.status == "valid":
            self.valid += 1
        elif record.status == "error":
            self.request_errors += 1
            return
        else:
            self.invalid += 1
            return
        model = "(none)" if record.model is None else record.model
        models = self.models
        if model in models:
            models[model] += 1
        else:
            self.other_models += _count_name(models, model, 1)
        reasons = self.finish_reasons
        for reason in record.finish_reasons:
            name = "(none)" if reason is None else reason
            if name in reasons:
                reasons[name] += 1
            else:
                self.other_finish_reasons += _count_name(reasons, name, 1)
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.total_tokens += record.total_tokens
        self.cached_tokens += record.cached_tokens
        self.reasoning_tokens += record.reasoning_tokens
        self.tool_calls += record.tool_calls
        self.refusals += record.refusals

    def merge(self, other: "Summary") -> "Summary":
        """Add another summary's counts to this one; returns self."""
        if other is self:
            other = copy.deepcopy(other)
        for name in ("documents", "valid", "invalid", "request_errors", "other_models", "other_finish_reasons",
                     "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens",
                     "tool_calls", "refusals"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.other_models += _merge_names(self.models, other.models)
        self.other_finish_reasons += _merge_names(self.finish_reasons, other.finish_reasons)
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The summary as the command line's --json prints it."""
        return {"documents": self.documents, "valid": self.valid, "invalid": self.invalid,
                "request_errors": self.request_errors, "models": dict(sorted(self.models.items())),
                "other_models": self.other_models, "finish_reasons": dict(sorted(self.finish_reasons.items())),
                "other_finish_reasons": self.other_finish_reasons,
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens,
                           "cached": self.cached_tokens, "reasoning": self.reasoning_tokens,
                           "total": self.total_tokens},
                "tool_calls": self.tool_calls, "refusals": self.refusals}

    def lines(self) -> List[str]:
        """The summary as the command line prints it, one string a line."""
        def counts(table: Dict[str, int], other: int) -> str:
            text = ", ".join(f"{_report_name(name)} ({n})" for name, n in sorted(table.items(), key=lambda kv: (-kv[1], kv[0])))
            if other:
                text += f", other ({other})"
            return text or "-"
        head = f"{_plural(self.documents, 'document')}: {self.valid} valid, {self.invalid} invalid"
        if self.request_errors:
            head += ", " + _plural(self.request_errors, "request error")
        return [
            "summary: " + head,
            "  models: " + counts(self.models, self.other_models),
            "  finish reasons: " + counts(self.finish_reasons, self.other_finish_reasons),
            f"  tokens: prompt {self.prompt_tokens} (cached {self.cached_tokens}), completion {self.completion_tokens} "
            f"(reasoning {self.reasoning_tokens}), total {self.total_tokens}",
            f"  tool calls: {self.tool_calls}, refusals: {self.refusals}",
        ]


# --------------------------------------------------------------------------- the implementation
#
# Everything below is private: what the public part above is made of.


# --------------------------------------------------------------------------- JSON values and paths


class _Missing(enum.Enum):
    """A key absent from the JSON, inside the machinery only: no attribute ever holds it."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "_MISSING"


_MISSING = _Missing.MISSING


class _Invalid(Exception):
    """Raised by the fast path; the caller then runs the explaining pass to say why.

    Always raised as the class, so each rejection gets a fresh instance: re-raising one shared
    instance would chain every traceback onto it and keep the rejected documents alive.
    """


def _restore_api_error(cls: Type[APIError], state: Dict[str, Any], errors: Tuple[Problem, ...]) -> APIError:
    error = cls.__new__(cls)
    ValidationError.__init__(error, errors)
    error.__dict__.update(state)
    return error


_JSON_SCALARS: FrozenSet[type] = frozenset((str, int, float, bool, type(None)))
_isfinite = math.isfinite


def _json_type(value: Any) -> str:
    t = type(value)
    if t is bool:
        return "bool"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "str"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return t.__name__


def _quote(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    try:
        text = repr(value)
    except Exception:  # a user's own object with a broken __repr__
        text = "?"
    if len(text) > MAX_QUOTE:
        text = text[: MAX_QUOTE - 3] + "..."
    return " " + text


def _got(expected: str, value: Any) -> str:
    return f"expected {expected}, got {_json_type(value)}{_quote(value)}"


def _join(path: str, key: Any) -> str:
    """The path of ``key`` inside the value at ``path``, kept to MAX_PATH characters."""
    if isinstance(key, int):
        path = f"{path}[{key}]"
    elif isinstance(key, str) and key.isidentifier() and len(key) <= MAX_QUOTE:
        path = f"{path}.{key}" if path else key
    else:
        name = json.dumps(key if len(key) <= MAX_QUOTE else key[:MAX_QUOTE - 3] + "...") if isinstance(key, str) \
            else _quote(key).strip()
        path = f"{path}[{name}]"
    return _cut(path)


def _cut(path: str) -> str:
    """A path kept to MAX_PATH characters: its start and its end, with "..." between."""
    if len(path) > MAX_PATH:
        path = path[:MAX_PATH // 2] + "..." + path[-(MAX_PATH // 2 - 3):]
    return path


def _path_or_root(path: str) -> str:
    return path or "<root>"


class _Where:
    """Where the explaining pass is, as a chain of keys from the root: a small object per value
    visited, turned into path text only for a problem kept, each link's text made once.

    So explaining costs time and memory linear in the document, however long its keys and
    however deep its paths (a path's text is kept to MAX_PATH characters).
    """

    __slots__ = ("parent", "key", "text")

    def __init__(self, parent: "Optional[_Where]", key: Any) -> None:
        self.parent = parent
        self.key = key
        self.text: Optional[str] = None

    def path(self) -> str:
        chain: List[_Where] = []
        where: Optional[_Where] = self
        while where is not None and where.text is None:
            chain.append(where)
            where = where.parent
        text = "" if where is None else where.text or ""
        # The text is kept on the parent (for its other children's problems) and on every 32nd
        # link, so that a walk is short and a deep chain keeps few texts of up to MAX_PATH each.
        for position, link in enumerate(reversed(chain), 1):
            text = _join(text, link.key)
            if link is self.parent or not position % 32:
                link.text = text
        return text


class _Problems:
    """The problems found in one document: the first MAX_KEPT_PROBLEMS, and a count of the rest."""

    __slots__ = ("kept", "unkept")

    def __init__(self) -> None:
        self.kept: List[Problem] = []
        self.unkept = 0

    def add(self, where: Optional[_Where], message: str) -> None:
        if len(self.kept) < MAX_KEPT_PROBLEMS:
            self.kept.append(Problem(_path_or_root(where.path()) if where is not None else "<root>", message))
        else:
            self.unkept += 1

    def error(self) -> ValidationError:
        return ValidationError(self.kept, self.unkept)


def _copy_json(value: Any, dumping: bool = False) -> Any:
    """A deep copy of a JSON value, refusing anything JSON cannot hold.

    Iterative, so nesting as deep as json.loads produces cannot overflow the stack.
    Subclasses of the JSON types come back as the plain types.  ``dumping`` is for to_dict(),
    which meets what a hand-built object holds: models, tuples and other mappings are converted,
    and anything else is passed on as it is, for json.dumps() or from_dict() to judge.
    """
    t = type(value)
    if t in _JSON_SCALARS:
        return value
    root, pending = _new_container(value, dumping)
    stack: List[Tuple[Any, Any, int]] = [(value, root, 1)] if pending else []
    while stack:
        source, target, depth = stack.pop()
        if depth > MAX_DEPTH:
            if dumping:  # to_dict() of an object built by hand
                raise ValueError(f"a value nested more than {MAX_DEPTH} levels deep, or circular")
            raise _Invalid
        if isinstance(target, list):
            for item in source:
                if type(item) in _JSON_SCALARS:
                    target.append(item)
                else:
                    copy, pending = _new_container(item, dumping)
                    target.append(copy)
                    if pending:
                        stack.append((item, copy, depth + 1))
        else:
            for key, item in source.items():
                if type(key) is not str:
                    if isinstance(key, str):
                        key = str.__str__(key)
                    elif not dumping:
                        raise _Invalid
                if type(item) in _JSON_SCALARS:
                    target[key] = item
                else:
                    copy, pending = _new_container(item, dumping)
                    target[key] = copy
                    if pending:
                        stack.append((item, copy, depth + 1))
    return root


def _new_container(value: Any, dumping: bool) -> Tuple[Any, bool]:
    """An empty container to copy ``value`` into (or a plain scalar), and whether to fill it."""
    if isinstance(value, dict):
        return {}, True
    if isinstance(value, list):
        return [], True
    if isinstance(value, bool):
        return bool(value), False
    if isinstance(value, str):
        return str.__str__(value), False
    if isinstance(value, int):
        return int(value), False
    if isinstance(value, float):
        return float(value), False
    if type(value) is _Text:  # what the accumulator gathered
        return "".join(value.pieces), False
    if not dumping:
        raise _Invalid
    if isinstance(value, _Model):
        return value.to_dict(), False
    if isinstance(value, tuple):
        return [], True
    if isinstance(value, Mapping):
        return {}, True
    return value, False


def _all_finite(column: List[Any]) -> bool:
    """Whether a column of numbers holds no NaN or infinity.  Their sum is finite only if they all
    are (NaN or an infinity makes it NaN or infinite): one quick C-level pass in the usual case."""
    try:
        if _isfinite(sum(column)):
            return True
    except (TypeError, OverflowError):  # a null, or ints too large for a float
        pass
    return all(_isfinite(value) for value in column if type(value) is float)  # finite values may overflow


def _has_non_finite(value: Any) -> bool:
    """Whether a JSON value (as _copy_json makes them) holds NaN or an infinity anywhere."""
    stack = [value]
    while stack:
        item = stack.pop()
        t = type(item)
        if t is float:
            if not _isfinite(item):
                return True
        elif t is list:
            stack.extend(item)
        elif t is dict:
            stack.extend(item.values())
    return False


def _dump_json(value: Any) -> Any:
    """to_dict() of a value that no parse would have stored where it is (see _copy_json)."""
    return _copy_json(value, True)


def _explain_json(value: Any, where: Optional[_Where], problems: _Problems, finite: bool = False) -> None:
    """Report what makes ``value`` something other than JSON (the explaining twin of _copy_json);
    ``finite`` also reports NaN and the infinities (strict mode)."""
    stack: List[Tuple[Any, Optional[_Where], int]] = [(value, where, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, (str, int, float)) or item is None:
            if finite and isinstance(item, float) and not _isfinite(item):
                problems.add(where, f"expected a finite number, got {item!r}: NaN and Infinity are not JSON")
            continue
        if depth > MAX_DEPTH:
            problems.add(where, f"nested deeper than {MAX_DEPTH} levels")
            return
        if isinstance(item, list):
            stack.extend((x, _Where(where, i), depth + 1) for i, x in enumerate(item))
        elif isinstance(item, dict):
            for key, x in item.items():
                if not isinstance(key, str):
                    problems.add(where, f"object key must be str, got {_json_type(key)}{_quote(key)}")
                else:
                    stack.append((x, _Where(where, key), depth + 1))
        else:
            problems.add(where, f"expected a JSON value, got {type(item).__name__}")


def _at(place: str, path: str) -> str:
    """A problem's path in a document that sits at ``place`` in a sequence: ``line 7`` of a stream
    or file, ``chunk 5`` of an iterable (counted from 0, as Python indexes it).  One grammar
    everywhere: ``line 7: choices[0].delta.content``, ``line 7: <root>``."""
    return _cut(f"{place}: {path}")


def _placed(error: ValidationError, place: str) -> ValidationError:
    """``error`` with every path at ``place`` (see _at)."""
    return ValidationError([Problem(_at(place, problem.path), problem.message) for problem in error.errors],
                           error.unkept)


def _under(prefix: str, path: str) -> str:
    """A problem's path inside the value that ``prefix`` names (a batch line's body: ``response.body``)."""
    if path == "<root>":
        return prefix
    return _cut(prefix + path if path.startswith("[") else prefix + "." + path)


# --------------------------------------------------------------------------- kinds of field
#
# A kind knows how to check and convert one JSON value (``parse``, raising _Invalid on the
# fast path), how to say what is wrong with it (``explain``), and how to turn the converted
# value back into JSON (``dump``).  Each model field has one kind per mode, chosen once at
# import; the shared core in _Plan does the rest.


class _Kind:
    nullable = False
    # What the field holds for JSON null, and for a missing key (the dataclass default).
    null: Any = None
    default: Any = None
    # The exact Python types that parse() returns unchanged.
    plain: FrozenSet[type] = frozenset()
    # Whether dump() must convert the stored value (nested models, tuples, mappings), and the
    # types of value it converts its own way: what parse() stores, and what a hand-built object
    # may hold instead (a list for a tuple, a dict for a read-only map).
    needs_dump = False
    stored: FrozenSet[type] = frozenset()

    def parse(self, value: Any) -> Any:
        raise NotImplementedError

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        """Convert a value of one of the ``stored`` types."""
        return value

    def dump_any(self, value: Any) -> Any:
        """Convert any value: dump() for what this kind stores, anything else as JSON."""
        return self.dump(value) if type(value) in self.stored else _dump_json(value)


class _ScalarKind(_Kind):
    """str, int, number or bool; a string may be held to an enum's values (strict mode only).

    Enum values are kept as the plain strings received: the str enums compare equal to them,
    and no conversion is paid in either direction.
    """

    def __init__(self, name: str, nullable: bool, only: Optional[Tuple[str, ...]] = None,
                 finite: bool = False) -> None:
        self.name = name
        self.nullable = nullable
        self.only: Optional[FrozenSet[str]] = frozenset(only) if only is not None else None
        # Strict mode refuses NaN and the infinities, which JSON cannot write; lenient keeps them
        # (servers send -Infinity logprobs), so a float is kept as it is only there.
        self.finite = finite and name == "number"
        base = {"str": (str,), "int": (int,), "number": (int, float), "bool": (bool,)}[name]
        nulls = (type(None),) if nullable else ()
        kept = (int,) if self.finite else base
        self.plain = frozenset(kept + nulls) if only is None else frozenset(nulls)
        self.accepts = frozenset(base + nulls)  # the JSON types of the field, enum or not
        self.expected = name
        if only is not None:
            self.expected = "one of " + ", ".join(repr(value) for value in only)
        if nullable:
            self.expected += " or null"

    def parse(self, value: Any) -> Any:
        t = type(value)
        if value is None:
            if self.nullable:
                return None
            raise _Invalid
        name = self.name
        if name == "str":
            if t is not str:
                if not isinstance(value, str):
                    raise _Invalid
                value = str.__str__(value)
            if self.only is not None and value not in self.only:
                raise _Invalid
            return value
        if t is bool:
            if name == "bool":
                return value
            raise _Invalid
        if name == "bool":
            raise _Invalid
        if t is int:
            return value
        if t is float:
            if name == "number":
                if self.finite and not _isfinite(value):
                    raise _Invalid
                return value
            # JSON Schema counts 2.0 as an integer; keep the annotation honest by storing int.
            if value.is_integer():
                return int(value)
            raise _Invalid
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float):
            return self.parse(float(value))
        raise _Invalid

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        try:
            self.parse(value)
        except _Invalid:
            if isinstance(value, float) and not _isfinite(value) and self.name == "number":
                problems.add(where, f"expected a finite number, got {value!r}: NaN and Infinity are not JSON")
            else:
                problems.add(where, _got(self.expected, value))


class _EnumKind(_ScalarKind):
    """A string held to an enum's values (strict mode); the usual case is checked first."""

    only: FrozenSet[str]

    def __init__(self, nullable: bool, only: Tuple[str, ...]) -> None:
        super().__init__("str", nullable, only)

    def parse(self, value: Any) -> Any:
        if type(value) is str and value in self.only:
            return value
        return super().parse(value)


class _ModelKind(_Kind):
    """A kind whose stored values are models (``stored`` holds their classes)."""

    needs_dump = True

    def dump(self, value: Any) -> Any:
        return value.to_dict()

    def dump_any(self, value: Any) -> Any:
        # The base class's, without its call to dump(): to_dict() of logprobs 4% faster (bench/compare.py).
        if type(value) in self.stored:
            return value.to_dict()
        return _dump_json(value)


class _ObjectKind(_ModelKind):
    """A nested model."""

    def __init__(self, model: "Type[_Model]", strict: bool, nullable: bool, always: bool) -> None:
        self.model = model
        self.stored = frozenset({model})
        self.plan = _plans_of(model)[strict]
        self.nullable = nullable
        # An object the spec requires is always an instance: empty, and marked as null when it was.
        self.null = model._null if always else None
        self.default = model._absent if always else None
        self.plain = _NONE_TYPE if nullable and not always else frozenset()
        self.build = (self.plan.taking_null() if always and nullable else self.plan).build

    def parse(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return self.null
            raise _Invalid
        return self.build(value)

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        if not isinstance(value, dict):
            if not (value is None and self.nullable):
                problems.add(where, _got("object or null" if self.nullable else "object", value))
            return
        self.plan.explain(value, where, problems)


class _OneOfKind(_ModelKind):
    """Models told apart by their ``type`` key (tool calls, moderation results)."""

    def __init__(self, by_type: "Dict[str, Type[_Model]]", fallback: "Optional[Type[_Model]]",
                 strict: bool, nullable: bool, always: bool, empty: "Type[_Model]") -> None:
        self.by_type = by_type
        self.stored = frozenset(by_type.values())
        self.nullable = nullable
        self.null = empty._null if always else None
        self.default = empty._absent if always else None
        self.plain = _NONE_TYPE if nullable and not always else frozenset()
        self.plans = {tag: _plans_of(model)[strict] for tag, model in by_type.items()}
        self.fallback_plan = _plans_of(fallback)[strict] if fallback is not None else None

    def _plan_for(self, value: Any) -> Optional[_Plan]:
        """The plan for a value's ``type``, else the fallback (lenient mode), else None."""
        tag = value.get("type") if isinstance(value, dict) else None
        plan = self.plans.get(tag) if isinstance(tag, str) else None
        return plan if plan is not None else self.fallback_plan

    def parse(self, value: Any) -> Any:
        if value is None and self.nullable:
            return self.null
        plan = self._plan_for(value)
        if plan is None:
            raise _Invalid
        return plan.build(value)

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        if value is None and self.nullable:
            return
        if not isinstance(value, dict):
            problems.add(where, _got("object or null" if self.nullable else "object", value))
            return
        plan = self._plan_for(value)
        if plan is None:
            tags = " or ".join(repr(t) for t in self.by_type)
            problems.add(_Where(where, "type"), _got(tags, value.get("type", _MISSING))
                                    if "type" in value else f"required key is missing (one of {tags})")
            return
        plan.explain(value, where, problems)


class _ArrayKind(_Kind):
    """A JSON array, stored as a tuple of converted items (or _NULL_ARRAY, for null)."""

    needs_dump = True

    default = ()
    null = _NULL_ARRAY

    def __init__(self, item: _Kind, nullable: bool) -> None:
        self.item = item
        self.nullable = nullable
        self.stored = _SEQUENCE_TYPES
        self.item_plain = item.plain if not item.needs_dump else frozenset()
        self.item_needs_dump = item.needs_dump
        # Items that are models go straight to their plan, many at a time.
        self.item_plan = item.plan if isinstance(item, _ObjectKind) and not item.nullable else None

    def parse(self, value: Any) -> Any:
        if type(value) is not list:
            if value is None and self.nullable:
                return _NULL_ARRAY
            if not isinstance(value, list):
                raise _Invalid
            value = list(value)
        if not value:
            return ()
        if self.item_plan is not None:
            if len(value) < COLUMN_MIN:
                return tuple(map(self.item_plan.build, value))
            return tuple(_build_many(self.item_plan, value))
        # One C-level pass over the item types checks arrays of scalars (bytes) at once.
        if self.item_plain and self.item_plain.issuperset(map(type, value)):
            return tuple(value)
        return tuple(map(self.item.parse, value))

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        if not isinstance(value, list):
            if not (value is None and self.nullable):
                problems.add(where, _got("array" + (" or null" if self.nullable else ""), value))
            return
        for index, item in enumerate(value):
            self.item.explain(item, _Where(where, index), problems)

    def dump(self, value: Any) -> Any:
        # Items of scalars are not checked: such arrays (bytes) are long and many, and a hand-built
        # object holding odd items writes them as they are, for from_dict() to refuse.
        if not self.item_needs_dump:
            return list(value)
        return list(map(self.item.dump_any, value))


class _MapKind(_Kind):
    """A JSON object with free keys and typed values, stored as a read-only mapping."""

    needs_dump = True

    def __init__(self, value: _Kind, nullable: bool) -> None:
        self.value = value
        self.nullable = nullable
        self.stored = _MAPPING_TYPES
        self.plain = _NONE_TYPE if nullable else frozenset()

    def parse(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        if not isinstance(value, dict):
            raise _Invalid
        parse = self.value.parse
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Invalid
            result[str.__str__(key)] = parse(item)
        return _ReadOnlyDict(result)

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        if value is None and self.nullable:
            return
        if not isinstance(value, dict):
            problems.add(where, _got("object" + (" or null" if self.nullable else ""), value))
            return
        for key, item in value.items():
            if not isinstance(key, str):
                problems.add(where, f"object key must be str, got {_json_type(key)}{_quote(key)}")
            else:
                self.value.explain(item, _Where(where, key), problems)

    def dump(self, value: Any) -> Any:
        if not self.value.needs_dump:  # values are not checked, as in arrays of scalars
            return dict(value)
        dump_any = self.value.dump_any
        return {key: dump_any(item) for key, item in value.items()}


class _ContentKind(_Kind):
    """Lenient message content: a string, null, or an array of content parts (Mistral)."""

    needs_dump = True
    nullable = True
    plain = _TEXT_TYPES
    stored = _SEQUENCE_TYPES

    def parse(self, value: Any) -> Any:
        if type(value) is str or value is None:
            return value
        if isinstance(value, str):
            return str.__str__(value)
        if not isinstance(value, list):
            raise _Invalid
        parts = []
        for part in value:
            if not isinstance(part, dict):
                raise _Invalid
            parts.append(_copy_json(part))
        return tuple(parts)

    def explain(self, value: Any, where: Optional[_Where], problems: _Problems) -> None:
        if isinstance(value, str) or value is None:
            return
        if not isinstance(value, list):
            problems.add(where, _got("str, null or array of content parts", value))
            return
        for index, part in enumerate(value):
            if not isinstance(part, dict):
                problems.add(_Where(where, index), _got("object", part))
            else:
                _explain_json(part, _Where(where, index), problems)

    def dump(self, value: Any) -> Any:
        return _dump_json(value)


# --------------------------------------------------------------------------- the shared core


class _Plan:
    """Everything needed to parse or explain one model in one mode, computed once, on first use.

    ``build`` checks and converts one object (``_build_many`` a long list of them), raising
    _Invalid without saying why; only ``explain`` says what is wrong.  Every model uses this one core.
    """

    def __init__(self, model: "Type[_Model]", strict: bool) -> None:
        decls: List[Tuple[str, _Decl]] = [
            (f.name, f.metadata["decl"]) for f in fields(model) if "decl" in f.metadata]  # type: ignore[arg-type]
        self.model = model
        self.keys: Tuple[str, ...] = tuple(name for name, _ in decls)
        self.keyset: FrozenSet[str] = frozenset(self.keys)
        self.size = len(self.keys)
        self.kinds: Tuple[_Kind, ...] = tuple(d.make(strict) for _, d in decls)
        self.required: Tuple[bool, ...] = tuple(strict and d.required for _, d in decls)
        self.bits: Tuple[int, ...] = model._bits
        # Per known field: the value types kept as they are, the parse for the rest, and the
        # value for a missing key.  A nested model's parse is its plan's build, which takes null
        # itself where the field does (see taking_null): one call less per nested object, and
        # parsing 3 to 9% faster (bench/compare.py).
        self.plains: Tuple[FrozenSet[type], ...] = tuple(kind.plain for kind in self.kinds)
        self.parsers: Tuple[Callable[[Any], Any], ...] = tuple(
            kind.build if isinstance(kind, _ObjectKind) else kind.parse for kind in self.kinds)
        self.defaults: Tuple[Any, ...] = tuple(kind.default for kind in self.kinds)
        self.required_bits = sum(bit for bit, required in zip(self.bits, self.required) if required)
        self.required_keys = frozenset(key for key, required in zip(self.keys, self.required) if required)
        self.getters = tuple(itemgetter(key) for key in self.keys)
        self.column_parsers = tuple(map(_column_parser, self.kinds))
        self.twin = model._twin
        self.strict = strict
        self.mode = "strict" if strict else "lenient"
        # For the two top-level models, the check that the document is a chat completion at all.
        self.document: Optional[_Document] = _DOCUMENTS.get(model.__name__)
        # Check and convert one object (raising _Invalid without saying why): generated code.
        self.null: Any = None
        self.build: Callable[[Any], Any] = _generated_build(self)
        # Objects from columns (see _build_many): generated when first needed, as few models are.
        self.build_rows: Optional[Callable[..., List[Any]]] = None

    def extras(self, data: Mapping[Any, Any]) -> Mapping[str, Any]:
        keyset = self.keyset
        extra = {}
        for key, value in data.items():
            if key not in keyset:
                if type(key) is not str:
                    if not isinstance(key, str):
                        raise _Invalid
                    key = str.__str__(key)
                extra[key] = _copy_json(value)
                if self.strict and _has_non_finite(extra[key]):
                    raise _Invalid
        return _ReadOnlyDict(extra)

    def explain(self, data: Any, where: Optional[_Where], problems: _Problems) -> None:
        if not isinstance(data, dict):
            problems.add(where, _got("object", data))
            return
        for key, kind, required in zip(self.keys, self.kinds, self.required):
            if key in data:
                kind.explain(data[key], _Where(where, key), problems)
            elif required:
                problems.add(_Where(where, key), "required key is missing")
        keyset = self.keyset
        for key, value in data.items():
            if not isinstance(key, str):
                problems.add(where, f"object key must be str, got {_json_type(key)}{_quote(key)}")
            elif key not in keyset:
                _explain_json(value, _Where(where, key), problems, self.strict)

    def taking_null(self) -> "_Plan":
        """This plan, but building the model's null instance from JSON null: what a required
        object field parses with in lenient mode, which saves that field a call."""
        plan = copy.copy(self)
        plan.null = self.model._null
        plan.build = _generated_build(plan)
        return plan

    def parse_root(self, data: Any) -> Any:
        """build(), raising ValidationError that says why when it refuses.  (A top-level model's
        build() also refuses, with a ValidationError, what is no chat completion at all.)"""
        try:
            return self.build(data)
        except (_Invalid, RecursionError):
            self.reject(data)

    def reject(self, data: Any) -> NoReturn:
        """Raise the ValidationError that says why build() refused ``data``."""
        if self.document is not None:
            error = _error_of(data)
            if error is not _MISSING:  # strict mode refuses an error body for its missing keys; say what it is
                raise APIError(error)
        problems = _Problems()
        try:
            self.explain(data, None, problems)
        except RecursionError:
            problems.add(None, "nested too deeply")
        if not problems.kept:
            # The fast path and the explanation disagree; refuse rather than guess.
            problems.add(None, "document rejected")
        raise problems.error()


# --------------------------------------------------------------------------- generated code
#
# build() and to_dict() are written out for each model and mode from its declarations, the
# first time the models are used, as dataclasses writes __init__: a few lines of straight code
# per field instead of a turn of a generic loop over the object's keys.  That pays for keeping
# the record of the keys present (see _Model._present): the generic loop with that record was
# 12 to 20% slower than before it, the generated code is not.  The source of each function is
# registered with linecache under a name such as "<chatcompletion: Choice.build, lenient>", so
# that tracebacks and debuggers show it.


_BUILD_TEMPLATE = '''\
def build(data):
    """Check and convert one {model} object ({mode}); raises _Invalid without saying why."""
    if type(data) is not dict:
        if data is None and null is not None:
            return null
        if not isinstance(data, dict):
            raise _Invalid
    present = 0
{fields}\
    extra = _NO_EXTRA if len(data) == counts[present] else extras(data)
{required}\
{construct}\
{document}    return instance
'''
_BUILD_FIELD = '''\
    if {key!r} in data:
        f_{key} = data[{key!r}]
        present |= {bit}
{convert}\
    else:
        f_{key} = default_{index}
'''
_BUILD_CONVERT = '''\
        if type(f_{key}) not in plain_{index}:
            f_{key} = parse_{index}(f_{key})
'''
_BUILD_CONVERT_ALWAYS = '''\
        f_{key} = parse_{index}(f_{key})
'''
_BUILD_REQUIRED = '''\
    if present & {bits} != {bits}:
        raise _Invalid
'''
# A top-level model's: the usual document passes three tests; anything else is looked at closely.
_BUILD_DOCUMENT = '''\
    if not (present & {choices_bit} and extra is _NO_EXTRA and f_object == {own!r}):
        document.check(data, instance)
'''

# to_dict() of a parsed object knows the type of each value it holds, as a parse stores it: a
# scalar is written as it is, a nested object is its model or stands for null, an array is a
# tuple or stands for null.  An object built by hand may hold anything, and goes through
# _hand_built_to_dict(), which checks each value as it writes it.
_TO_DICT_TEMPLATE = '''\
def to_dict(self):
    """The JSON object this {model} stands for: the keys it had, in the spec's order, null as
    null, then unknown keys."""
    try:
        present = self._present
    except AttributeError:
        return _hand_built_to_dict(self)
    result = {{}}
{fields}\
    extra = self.extra
    if extra is not _NO_EXTRA:
        _add_extra(result, extra, self)
    return result
'''
_TO_DICT_FIELD = '''\
    if present & {bit}:
        value = self.{key}
        result[{key!r}] = {expression}
'''
_TO_DICT_SCALAR = "value"
_TO_DICT_CONTENT = "value if type(value) is not tuple else dump_{index}(value)"
_TO_DICT_OBJECT = "to_dict_{index}(value) if type(value) is model_{index} else None"
_TO_DICT_ONE_OF = "value.to_dict() if type(value) in models_{index} else None"
_TO_DICT_SCALARS = "list(value) if type(value) is tuple else None"
_TO_DICT_OBJECTS = "list(map(to_dict_{index}, value)) if type(value) is tuple else None"
_TO_DICT_ONE_OF_EACH = "[item.to_dict() for item in value] if type(value) is tuple else None"
_TO_DICT_OTHER = "value if type(value) in plain_{index} else convert_{index}[type(value)](value)"


def _generated(source: str, name: str, namespace: Dict[str, Any]) -> Any:
    """Compile one generated function, its source registered for tracebacks; returns it."""
    filename = f"<chatcompletion: {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace.update(type=type, len=len, isinstance=isinstance, dict=dict)  # found first, as globals
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name.rpartition(".")[2].partition(",")[0]]


class _BitCounts(Dict[int, int]):
    """How many keys a record of keys present holds, counted once per record."""

    def __missing__(self, present: int) -> int:
        self[present] = count = bin(present).count("1")
        return count


_BIT_COUNTS = _BitCounts()


def _generated_build(plan: "_Plan") -> Callable[[Any], Any]:
    namespace: Dict[str, Any] = {"_Invalid": _Invalid, "_MISSING": _MISSING, "_NO_EXTRA": _NO_EXTRA,
                                 "null": plan.null, "counts": _BIT_COUNTS, "extras": plan.extras,
                                 "twin": plan.twin, "new": object.__new__, "model": plan.model}
    fields = []
    for index, (key, plain, parse, default, bit) in enumerate(
            zip(plan.keys, plan.plains, plan.parsers, plan.defaults, plan.bits)):
        namespace.update({f"plain_{index}": plain, f"parse_{index}": parse, f"default_{index}": default})
        convert = (_BUILD_CONVERT if plain else _BUILD_CONVERT_ALWAYS).format(key=key, index=index)
        fields.append(_BUILD_FIELD.format(key=key, index=index, bit=bit, convert=convert))
    required = _BUILD_REQUIRED.format(bits=plan.required_bits) if plan.required_bits else ""
    document = ""
    if plan.document is not None:
        namespace["document"] = plan.document
        document = _BUILD_DOCUMENT.format(choices_bit=plan.document.choices_bit, own=plan.document.own)
    source = _BUILD_TEMPLATE.format(model=plan.model.__name__, mode=plan.mode, fields="".join(fields),
                                    required=required, construct=_construction(plan.keys, "    "),
                                    document=document)
    name = f"{plan.model.__name__}.build, {plan.mode}" + (", taking null" if plan.null is not None else "")
    function: Callable[[Any], Any] = _generated(source, name, namespace)
    return function


# The construction twin.  Every object a parse or an unpickling makes is first made as an
# instance of its model's twin: a class with the model's layout but not its freeze, whose
# fields are set plainly; then it is handed the public class (allowed between classes of one
# layout).  A frozen dataclass's own __init__ sets each field through object.__setattr__
# instead: 704 ns against 224 ns to make a ChatCompletionTokenLogprob (timeit, CPython 3.11.7),
# and parsing as a whole 1.6 to 1.75 times slower.  The generated build() and build_rows() do
# it inline, which saves another 5 to 13% of parsing over calling a twin's __init__
# (bench/compare.py); _restore() does it in a loop.

def _construction(keys: Tuple[str, ...], indent: str) -> str:
    """The generated lines that make ``instance`` from the locals f_<key>, ``extra`` and
    ``present``, through the construction twin: build() and build_rows() share them."""
    lines = ["instance = new(twin)", *(f"instance.{key} = f_{key}" for key in keys), "instance.extra = extra",
             "instance._present = present", "instance.__class__ = model"]
    return "".join(f"{indent}{line}\n" for line in lines)


def _twin_of(model: "Type[_Model]") -> type:
    """The model's construction twin: the same layout, without the freeze."""
    namespace: Dict[str, Any] = {"__doc__": model.__doc__, "__qualname__": model.__qualname__}
    if _SLOTS:
        namespace["__slots__"] = model._keys + ("extra",)
    return type(model.__name__, (_Model,), namespace)


class _Converters(Dict[type, Callable[[Any], Any]]):
    """Per field, how to_dict() writes each type of value: anything unlisted is copied as JSON."""

    def __missing__(self, kind: type) -> Callable[[Any], Any]:
        return _dump_json


def _generated_to_dict(model: "Type[_Model]", plan: "_Plan") -> Callable[[Any], Dict[str, Any]]:
    # For a hand-built object, per field: the types written as they are, and a conversion for
    # each other type: the field's own kind for what it stores, null for what stands for null, a
    # model writes itself, and any other container is copied as JSON.
    anywhere: Dict[type, Callable[[Any], Any]] = {**dict.fromkeys(_MODELS, methodcaller("to_dict")),
                                                  **dict.fromkeys(_NULL_TYPES, _dump_null)}
    namespace: Dict[str, Any] = {"_NO_EXTRA": _NO_EXTRA, "_hand_built_to_dict": _hand_built_to_dict,
                                 "_add_extra": _add_extra, "map": map, "list": list}
    rules = []
    fields = []
    for index, (key, kind, bit) in enumerate(zip(plan.keys, plan.kinds, plan.bits)):
        own = kind.model.to_dict if isinstance(kind, _ObjectKind) else (
            methodcaller("to_dict") if isinstance(kind, _ModelKind) else kind.dump)
        plain = kind.plain if not kind.needs_dump or isinstance(kind, _ContentKind) else kind.plain & _NONE_TYPE
        convert = _Converters({**anywhere, **dict.fromkeys(kind.stored, own)})
        rules.append((key, bit, plain, convert))
        item = kind.item if isinstance(kind, _ArrayKind) else None
        if not kind.needs_dump:
            expression = _TO_DICT_SCALAR
        elif isinstance(kind, _ContentKind):
            expression = _TO_DICT_CONTENT
            namespace[f"dump_{index}"] = kind.dump
        elif isinstance(kind, _ObjectKind):
            expression = _TO_DICT_OBJECT
            namespace.update({f"to_dict_{index}": kind.model.to_dict, f"model_{index}": kind.model})
        elif isinstance(kind, _OneOfKind):
            expression = _TO_DICT_ONE_OF
            namespace[f"models_{index}"] = kind.stored
        elif item is not None and not item.needs_dump:
            expression = _TO_DICT_SCALARS
        elif isinstance(item, _ObjectKind):
            expression = _TO_DICT_OBJECTS
            namespace[f"to_dict_{index}"] = item.model.to_dict
        elif isinstance(item, _OneOfKind):
            expression = _TO_DICT_ONE_OF_EACH
        else:
            expression = _TO_DICT_OTHER
            namespace.update({f"plain_{index}": plain, f"convert_{index}": convert})
        fields.append(_TO_DICT_FIELD.format(key=key, bit=bit, expression=expression.format(index=index)))
    model._hand_built_rules = tuple(rules)
    source = _TO_DICT_TEMPLATE.format(model=model.__name__, fields="".join(fields))
    function: Callable[[Any], Dict[str, Any]] = _generated(source, f"{model.__name__}.to_dict", namespace)
    return function


def _hand_built_to_dict(instance: Any) -> Dict[str, Any]:
    """to_dict() of an object built by hand, whose fields may hold anything: each value is checked
    as it is written (see _generated_to_dict)."""
    present = _hand_built_present(instance)
    result: Dict[str, Any] = {}
    for key, bit, plain, convert in instance._hand_built_rules:
        if present & bit:
            value = getattr(instance, key)
            result[key] = value if type(value) in plain else convert[type(value)](value)
    extra = instance.extra
    if extra is not _NO_EXTRA:
        _add_extra(result, extra, instance)
    return result


def _add_extra(result: Dict[str, Any], extra: Mapping[str, Any], instance: Any) -> None:
    if type(extra) is not _ReadOnlyDict and not isinstance(extra, Mapping):
        raise TypeError(f"{type(instance).__name__}.extra must be a mapping, got {type(extra).__name__}")
    for key, value in extra.items():
        if key not in result:
            result[key] = _dump_json(value)


# --------------------------------------------------------------------------- the column path
#
# Long arrays of objects (logprobs: an object per token, each with its top_logprobs) are checked
# column by column.  One server writes every object of an array alike, so one set of keys covers
# them all, and a field's values across all the objects are checked by one C-level pass (a
# frozenset's issuperset() over their types) instead of a test per object, then the objects are
# made row by row by the generated build_rows().  Arrays of COLUMN_MIN objects or more take this
# path: without it, parsing the logprobs payload is 1.27 (lenient) to 1.41 (strict) times slower
# (bench/compare.py against COLUMN_MIN set out of reach, CPython 3.11.7).  Whatever a column
# check refuses goes object by object through build(), which decides.


def _build_many(plan: _Plan, items: List[Any]) -> List[Any]:
    """Build a list of objects; column by column when they all have the same known keys.

    One server writes every object of an array alike, so one key set usually covers them
    all; a key none of them has becomes a column of the field's default.
    """
    count = len(items)
    if count < COLUMN_MIN or not _DICT_TYPE.issuperset(map(type, items)):
        return list(map(plan.build, items))
    sizes = set(map(len, items))
    if len(sizes) != 1:
        return list(map(plan.build, items))
    columns: List[Any] = []
    shape: Sequence[str] = ()
    if sizes == {plan.size}:  # the common case: every item has every known key
        try:
            columns = [list(map(getter, items)) for getter in plan.getters]
            shape = plan.keys
        except KeyError:
            pass
    if not shape:
        # The keys, in order, of every item: one server writes them alike.
        shapes = set(map(tuple, items))
        shape = shapes.pop()
        if shapes or not plan.keyset.issuperset(shape) or not plan.required_keys.issubset(shape):
            return list(map(plan.build, items))
        columns = [list(map(getter, items)) if key in shape else [kind.default] * count
                   for key, getter, kind in zip(plan.keys, plan.getters, plan.kinds)]
    columns = [parse_column(column) if key in shape else column
               for key, parse_column, column in zip(plan.keys, plan.column_parsers, columns)]
    present = sum(bit for key, bit in zip(plan.keys, plan.bits) if key in shape)
    if plan.build_rows is None:
        plan.build_rows = _generated_build_rows(plan)
    return plan.build_rows(present, *columns)


def _column_parser(kind: _Kind) -> Callable[[List[Any]], List[Any]]:
    """What parse() does to one field's values across many objects, in bulk where it can."""
    parse = kind.parse
    if isinstance(kind, _ScalarKind):  # enum strings included
        accepts, finite, only = kind.accepts, kind.finite, kind.only

        def scalars(column: List[Any]) -> List[Any]:
            if accepts.issuperset(map(type, column)) and not (finite and not _all_finite(column)) \
                    and (only is None or only.issuperset(column)):
                return column
            return list(map(parse, column))
        return scalars
    if isinstance(kind, _ContentKind):
        def contents(column: List[Any]) -> List[Any]:
            return column if _TEXT_TYPES.issuperset(map(type, column)) else list(map(parse, column))
        return contents
    if isinstance(kind, _ObjectKind):
        plan = kind.plan

        def objects(column: List[Any]) -> List[Any]:
            return _build_many(plan, column) if _DICT_TYPE.issuperset(map(type, column)) else list(map(parse, column))
        return objects
    if isinstance(kind, _ArrayKind):
        item_plan, item_plain = kind.item_plan, kind.item_plain

        def arrays(column: List[Any]) -> List[Any]:
            if _LIST_TYPE.issuperset(map(type, column)):
                if not any(column):
                    return [()] * len(column)
                if item_plan is not None:
                    # Every array's objects as one column, then cut back into one tuple per array.
                    built = iter(_build_many(item_plan, list(chain.from_iterable(column))))
                    return list(map(tuple, map(islice, repeat(built), map(len, column))))
                if item_plain and item_plain.issuperset(map(type, chain.from_iterable(column))):
                    return list(map(tuple, column))
            return list(map(parse, column))
        return arrays

    def one_by_one(column: List[Any]) -> List[Any]:
        return list(map(parse, column))
    return one_by_one


_BUILD_ROWS_TEMPLATE = '''\
def build_rows(present, {columns}):
    """{model} objects from columns of converted values, one per row, all with the keys ``present``."""
    instances = []
    append = instances.append
    extra = _NO_EXTRA
    for {fields} in zip({columns}):
{construct}\
        append(instance)
    return instances
'''


def _generated_build_rows(plan: "_Plan") -> Callable[..., List[Any]]:
    keys = plan.keys
    source = _BUILD_ROWS_TEMPLATE.format(
        model=plan.model.__name__, columns=", ".join(f"c_{key}" for key in keys),
        fields=", ".join(f"f_{key}" for key in keys) + ",", construct=_construction(keys, "        "))
    namespace = {"_NO_EXTRA": _NO_EXTRA, "twin": plan.twin, "new": object.__new__, "model": plan.model,
                 "zip": zip}
    function: Callable[..., List[Any]] = _generated(source, f"{plan.model.__name__}.build_rows, {plan.mode}",
                                                    namespace)
    return function


# --------------------------------------------------------------------------- preparing the models


def _present_of(instance: _Model) -> int:
    try:
        return instance._present
    except AttributeError:
        return _hand_built_present(instance)


def _hand_built_present(instance: _Model) -> int:
    """The keys an object built by hand stands for: every key the spec requires, and each
    other key whose value is neither None nor an empty array."""
    present = instance._required_bits
    for bit, value in zip(instance._bits, instance._get_values(instance)):
        if not present & bit and value is not None and not (type(value) in _SEQUENCE_TYPES and not value):
            present |= bit
    return present


def _restore(model: "Type[_Model]", values: Tuple[Any, ...], present: Optional[int],
             read_only: Tuple[int, ...]) -> Any:
    """Unpickle what _Model.__reduce__ wrote: the fields' values, ``extra`` last."""
    if len(values) != len(model._keys) + 1:
        raise TypeError(f"cannot unpickle {model.__name__}: {len(values)} values for its {len(model._keys)} "
                        f"fields and extra (a pickle of another version of the module?)")
    if read_only:
        values = tuple(_ReadOnlyDict(value) if index in read_only else value for index, value in enumerate(values))
        if len(values) - 1 in read_only and not values[-1]:
            values = values[:-1] + (_NO_EXTRA,)  # shared again, as a parse shares it
    _plans_of(model)  # the twin comes with the plans
    instance: Any = object.__new__(model._twin)
    for key, value in zip(model._keys + ("extra",), values):
        setattr(instance, key, value)
    if present is not None:  # else built by hand: its keys follow from its values
        instance._present = present
    instance.__class__ = model
    return instance


def _null_instance(model: "Type[_Model]") -> Any:
    return model._null


def _plans_of(model: "Type[_Model]") -> Tuple[_Plan, _Plan]:
    try:
        return model._plans
    except AttributeError:
        _prepare_models()
        return model._plans


def _dump_null(value: Any) -> None:
    return None


def _prepare_models() -> None:
    """Give every model its construction twin, its two plans and its dumpers.

    Done once, on the first parse or dump, so that importing the module stays cheap.  Models
    are prepared in the order they were declared, nested ones first.
    """
    for cls in _MODELS:
        if "_plans" in cls.__dict__:
            continue
        cls._twin = _twin_of(cls)
        lenient = _Plan(cls, False)
        setattr(cls, "to_dict", _generated_to_dict(cls, lenient))
        # Last: a model that has _plans is ready to use.
        cls._plans = (lenient, _Plan(cls, True))


# --------------------------------------------------------------------------- what is a chat completion at all


class _Document:
    """The floor under lenient mode for one of the two top-level models: a document that is plainly
    something else (an error body, a request, another API's object, the other top-level model)
    is refused, saying what it looks like, rather than read as an empty completion.

    The rule, drawn from the recorded corpus: a document with ``choices`` is a completion, unless
    its ``object`` names the other model and no choice has this model's own key; one without
    ``choices`` is one unless it has no key of the model at all, or shows what else it is.
    """

    def __init__(self, model: "Type[_Model]", own: str, other: str, choice_key: str, reader: str,
                 other_name: str) -> None:
        self.choices_bit = model._bits[model._keys.index("choices")]
        self.own, self.other, self.choice_key, self.reader, self.other_name = own, other, choice_key, reader, other_name

    def check(self, data: Any, instance: Any) -> None:
        error = _error_of(data)
        if error is not _MISSING:
            raise APIError(error)
        problem = self.what_else(data, instance._present)
        if problem is not None:
            raise ValidationError([Problem("<root>", problem)])

    def what_else(self, data: Dict[str, Any], present: int) -> Optional[str]:
        kind = data.get("object")
        choices = data.get("choices")
        if kind == self.other and not (isinstance(choices, list) and any(
                isinstance(choice, dict) and self.choice_key in choice for choice in choices)):
            return f"this is {self.other_name} (\"object\": \"{kind}\"): read it with {self.reader}"
        if present & self.choices_bit:
            return None
        event = data.get("type")
        if isinstance(event, str) and "sequence_number" in data:
            return f"this is a Responses API stream event (\"type\": {_quote_short(event)}), not a chat completion"
        if not present:
            if not data:
                return "an empty object, not a chat completion"
            keys = ", ".join(_quote_short(key) for key in islice(data, 5)) + (", ..." if len(data) > 5 else "")
            return f"not a chat completion: it has none of its keys (it has {keys})"
        if "messages" in data:
            return "this is a chat-completion request (it has messages and no choices), not a response"
        if isinstance(kind, str) and kind and not kind.startswith("chat.completion") and kind != "text_completion":
            return f"this is another API's object (\"object\": {_quote_short(kind)}), not a chat completion"
        return None


def _quote_short(text: Any) -> str:
    return _shorten(json.dumps(text))


_DOCUMENTS: Dict[str, _Document] = {
    "CreateChatCompletionResponse": _Document(CreateChatCompletionResponse, "chat.completion", "chat.completion.chunk",
                                              "message", "loads_chunk", "a stream chunk"),
    "CreateChatCompletionStreamResponse": _Document(CreateChatCompletionStreamResponse, "chat.completion.chunk",
                                                    "chat.completion", "delta", "loads", "a complete response"),
}


# --------------------------------------------------------------------------- JSON text


_DECODER = json.JSONDecoder()
_JSON_WHITESPACE = " \t\n\r"


_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_text_depth(text: str, limit: int) -> None:
    """Raise RecursionError, as json.loads does elsewhere, for text that nests deeper than ``limit``."""
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise RecursionError("JSON text nested too deeply")
        elif token in "]}":
            depth -= 1


def _json_loads(source: Union[str, bytes, bytearray]) -> Any:
    """json.loads(source), without its per-call overhead (about a microsecond) on plain JSON text.

    Anything else (leading whitespace, extra data, errors) goes through json.loads itself, so the
    result and every error are exactly what json.loads gives.
    """
    text = source if isinstance(source, str) else source.decode(json.detect_encoding(source), "surrogatepass")
    if MAX_TEXT_DEPTH is not None and text.count("[") + text.count("{") > MAX_TEXT_DEPTH:
        _check_text_depth(text, MAX_TEXT_DEPTH)
    try:
        value, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        return json.loads(source)
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return json.loads(source)
    return value


def _decode_json(text: Union[str, bytes, bytearray]) -> Any:
    if not isinstance(text, (str, bytes, bytearray)):
        raise ValidationError([Problem("<root>", f"expected JSON text (str or bytes), got {type(text).__name__}")])
    try:
        return _json_loads(text)
    except RecursionError:
        raise ValidationError([Problem("<root>", "invalid JSON: nested too deeply")]) from None
    except UnicodeDecodeError as exc:
        raise ValidationError([Problem("<root>", f"invalid UTF-8: {exc}")]) from None
    except ValueError as exc:  # json.JSONDecodeError, and int digit limits
        raise ValidationError([Problem("<root>", f"invalid JSON: {exc}")]) from None


# --------------------------------------------------------------------------- working with a response: the rules


# Every value seen in real traffic, keyed in lower case with "-" read as "_"; docs/reference.md
# has the table with its sources.
_FINISH_REASONS: Mapping[str, Optional[str]] = {
    # the spec's five
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "content_filter": "content_filter", "function_call": "function_call",
    # a natural end
    "eos": "stop", "eos_token": "stop", "end_turn": "stop", "stop_sequence": "stop",
    "complete": "stop", "completed": "stop",
    # tool calls
    "tool_use": "tool_calls", "tool": "tool_calls", "tool_call": "tool_calls",
    # out of tokens or context
    "max_tokens": "length", "model_length": "length", "model_context_window_exceeded": "length",
    "error_limit": "length",
    # filtered
    "safety": "content_filter", "recitation": "content_filter", "blocklist": "content_filter",
    "prohibited_content": "content_filter", "spii": "content_filter", "language": "content_filter",
    "image_safety": "content_filter", "image_prohibited_content": "content_filter",
    "image_recitation": "content_filter", "sensitive": "content_filter",
    "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
    "error_toxic": "content_filter", "refusal": "content_filter",
    # cannot tell, or not a normal end
    "": None, "error": None, "abort": None, "network_error": None, "insufficient_system_resource": None,
    "pause_turn": None, "compaction": None, "user_cancel": None, "timeout": None, "other": None, "unknown": None,
    "finish_reason_unspecified": None, "malformed_function_call": None, "unexpected_tool_call": None,
    "too_many_tool_calls": None, "missing_thought_signature": None, "malformed_response": None,
    "image_other": None, "no_image": None, "failed": None, "incomplete": None, "in_progress": None,
    "engine_overloaded": None,
}


def _choice_finish_reason(choice: Choice) -> Optional[str]:
    reason = normalize_finish_reason(choice.finish_reason)
    if reason == "stop":
        message = choice.message
        if message.tool_calls:
            return "tool_calls"
        function_call = message.function_call
        if function_call is not None and function_call.name:  # Snowflake sends {"name": ""} on every message
            return "function_call"
    return reason


def _text_of(content: Optional[Union[str, Tuple[Dict[str, Any], ...]]]) -> Optional[str]:
    if content is None or isinstance(content, str):
        return content
    texts = [part["text"] for part in content
             if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)]
    return "".join(texts) if texts else None


def _reasoning_of(content: Optional[Union[str, Tuple[Dict[str, Any], ...]]], extra: Mapping[str, Any]) -> Optional[str]:
    """The first spelling that holds text: servers that send two send the same text twice."""
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value:
            return value
    return _details_text(extra.get("reasoning_details")) or _thinking_text(content) or None


# OpenRouter's reasoning_details items that carry text, and the key it is under.
_DETAIL_TEXT_KEYS: Mapping[Any, str] = {"reasoning.text": "text", "reasoning.summary": "summary"}


def _details_text(details: Any) -> str:
    if not isinstance(details, (list, tuple)):
        return ""
    texts = []
    for item in details:
        if isinstance(item, Mapping):
            key = _DETAIL_TEXT_KEYS.get(item.get("type"))
            value = item.get(key) if key is not None else None
            if isinstance(value, str):
                texts.append(value)
    return "".join(texts)


def _thinking_text(content: Optional[Union[str, Tuple[Dict[str, Any], ...]]]) -> str:
    """The text of Mistral's ``{"type": "thinking", "thinking": [{"type": "text", "text": ...}]}`` parts."""
    if content is None or isinstance(content, str):
        return ""
    texts = []
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "thinking":
            thinking = part.get("thinking")
            if isinstance(thinking, str):
                texts.append(thinking)
            elif isinstance(thinking, (list, tuple)):
                texts.extend(chunk["text"] for chunk in thinking
                             if isinstance(chunk, Mapping) and chunk.get("type") == "text"
                             and isinstance(chunk.get("text"), str))
    return "".join(texts)


_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def _decode_arguments(arguments: Optional[str], path: str) -> Any:
    if arguments is None or not arguments.strip():
        return {}
    try:
        return _json_loads(arguments)
    except RecursionError:
        raise ValidationError([Problem(path, "invalid JSON: nested too deeply")]) from None
    except ValueError as exc:
        raise ValidationError([Problem(path, f"invalid JSON: {exc}")]) from None


def _function_of(call: ChatCompletionMessageToolCall) -> Tuple[Optional[str], Optional[str]]:
    """A function call's name and arguments; from the call itself when it has no ``function`` (the
    flat ``{"name", "arguments"}`` call of llama.cpp's documentation, kept in ``extra``)."""
    name, arguments = call.function.name, call.function.arguments
    if name is None and arguments is None:
        flat_name, flat_arguments = call.extra.get("name"), call.extra.get("arguments")
        if isinstance(flat_name, str):
            name = flat_name
        if isinstance(flat_arguments, str):
            arguments = flat_arguments
    return name, arguments


def _tool_call_arguments(message: ChatCompletionResponseMessage, path: str) -> Tuple[Any, ...]:
    values: List[Any] = []
    problems: List[Problem] = []
    for index, call in enumerate(message.tool_calls):
        if isinstance(call, ChatCompletionMessageCustomToolCall):
            values.append(call.custom.input or "")
            continue
        try:
            values.append(_decode_arguments(_function_of(call)[1], _join(path, "tool_calls") + f"[{index}].function.arguments"))
        except ValidationError as exc:
            problems.extend(exc.errors)
            values.append(None)
    if problems:
        raise ValidationError(problems)
    return tuple(values)


# Unknown keys that to_request() sends back by default: what a provider requires on the next turn.
_KEEP_ON_MESSAGE = (
    "reasoning_content",  # DeepSeek (thinking mode) and Kimi answer 400 without it beside tool calls
    "extra_content",  # Gemini: {"google": {"thought_signature": ...}}
    "thought_signature",  # Gemini, beside extra_content on the message
)
_KEEP_ON_TOOL_CALL = (
    "extra_content",  # Gemini 3: tool_calls[].extra_content.google.thought_signature, 400 without it
)


def _to_request(message: ChatCompletionResponseMessage, spec_only: bool, keep: Tuple[str, ...]) -> Dict[str, Any]:
    if spec_only and keep:
        raise ValueError("keep= names unknown keys to send back; spec_only=True sends none")
    request: Dict[str, Any] = {"role": "assistant", "content": message.text}
    if message.refusal:
        request["refusal"] = message.refusal
    audio = message.audio
    if audio is not None and audio.id:  # Snowflake sends an all-empty audio object on every message
        request["audio"] = {"id": audio.id}
    if message.tool_calls:
        request["tool_calls"] = [_tool_call_request(call, spec_only) for call in message.tool_calls]
    function_call = message.function_call
    if function_call is not None and function_call.name:
        request["function_call"] = {"name": function_call.name, "arguments": _arguments_text(function_call.arguments)}
    if not spec_only:
        _keep_extra(request, message.extra, _KEEP_ON_MESSAGE + keep)
    return request


def _tool_call_request(call: ToolCall, spec_only: bool) -> Dict[str, Any]:
    if isinstance(call, ChatCompletionMessageCustomToolCall):
        request: Dict[str, Any] = {"id": call.id or "", "type": "custom",
                                   "custom": {"name": call.custom.name or "", "input": call.custom.input or ""}}
    else:
        name, arguments = _function_of(call)
        request = {"id": call.id or "", "type": "function",
                   "function": {"name": name or "", "arguments": _arguments_text(arguments)}}
    if not spec_only:
        _keep_extra(request, call.extra, _KEEP_ON_TOOL_CALL)
    return request


def _arguments_text(arguments: Optional[str]) -> str:
    """Arguments as sent back: as received, or "{}" when blank (Vertex rejects "null")."""
    return arguments if arguments is not None and arguments.strip() else "{}"


def _keep_extra(request: Dict[str, Any], extra: Mapping[str, Any], keys: Iterable[str]) -> None:
    for key in keys:
        if key in extra and key not in request:
            request[key] = _dump_json(extra[key])


# --------------------------------------------------------------------------- reading a stream: the decoder


_DONE = "[DONE]"
# SSE field names; a line with another name, before any event, is kept to tell what the body is.
_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})


class _SSEDecoder:
    """Server-sent events from a stream's text, pushed in a piece at a time: one core for every
    reader (iter_chunks, aiter_chunks, iter_events, the command line).

    ``feed(piece)`` returns the events the piece completes, as (event type, data, line number
    of the event's last data line); ``close()`` those the end completes.  Pieces may be text
    cut anywhere (``iter_bytes()``, ``iter_content()``), lines with their endings (a file), or
    lines without them (``requests``' ``iter_lines()``).  Once a piece holds a line ending, a
    piece without one is the start of a line, and waits for the rest.  An empty piece after one
    without a line ending is a blank line from a source of lines without endings; from then on,
    every piece is a whole line.  Until one of the two shows, pieces wait; at the end, they are
    lines.  CR, LF and CRLF end lines, and nothing else does, as the server-sent-events rules say.
    """

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.pieces = 0
        self.started = False  # whether any text has come yet: a byte order mark before it is dropped
        self.endings: Optional[bool] = None  # whether the source sends line endings; None until it shows
        self.waiting: List[str] = []  # pieces without a line ending, until it shows
        self.pending: List[str] = []  # the start of a line whose end has not come yet
        self.after_cr = False  # the last piece ended with CR, so an LF opening this one ends no new line
        self.line = 0
        self.event = ""
        self.data: List[str] = []
        self.last_data = 0
        self.dispatched = False
        # Lines that are no SSE field, kept until an event shows the body is a stream.
        self.foreign: List[str] = []
        self.foreign_size = 0

    def feed(self, piece: Union[str, bytes, bytearray]) -> List[Tuple[str, str, int]]:
        events: List[Tuple[str, str, int]] = []
        for line in self.lines(piece):
            self.take_line(line, events)
        return events

    def close(self) -> List[Tuple[str, str, int]]:
        events: List[Tuple[str, str, int]] = []
        # Pieces that never showed a line ending are lines without endings, or one line cut anywhere;
        # for telling what a body without events is, they are read as the latter too.
        whole = "".join(self.waiting) if self.endings is None and len(self.waiting) > 1 else None
        lines = self.waiting + (["".join(self.pending)] if self.pending and any(self.pending) else [])
        self.waiting, self.pending = [], []
        for line in lines:
            self.take_line(line, events)
        try:
            self.decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ValidationError([Problem("<stream>", f"invalid UTF-8 at the end of the stream, after piece "
                                                       f"{self.pieces} ({exc.reason})")]) from None
        if self.data and any(self.data):
            events.append((self.event, "\n".join(self.data), self.last_data))
            self.dispatched = True
        if not self.dispatched and self.foreign:
            raise _not_a_stream(whole if whole is not None else "\n".join(self.foreign), complete=True)
        return events

    def lines(self, piece: Union[str, bytes, bytearray]) -> List[str]:
        self.pieces += 1
        empty = not piece
        if isinstance(piece, (bytes, bytearray)):
            try:
                piece = self.decoder.decode(bytes(piece))
            except UnicodeDecodeError as exc:
                raise ValidationError([Problem("<stream>", f"invalid UTF-8 in piece {self.pieces} of the stream "
                                                           f"({exc.reason})")]) from None
        elif not isinstance(piece, str):
            raise ValidationError([Problem("<stream>", f"expected lines of str or bytes, got {type(piece).__name__}")])
        if not self.started and piece:
            self.started = True
            if piece[0] == "\ufeff":
                piece = piece[1:]
        if self.after_cr and piece:
            self.after_cr = False
            if self.endings and piece[0] == "\n":
                piece = piece[1:]
        if not piece:
            if empty and self.endings is False:
                return [""]
            if empty and self.endings is None and self.waiting:  # a blank line after a line without an ending
                self.endings = False
                lines, self.waiting = self.waiting + [""], []
                return lines
            return []
        self.after_cr = piece[-1] == "\r"
        if "\r" in piece:
            piece = piece.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in piece:
            if self.endings is False:
                return [piece]
            (self.pending if self.endings else self.waiting).append(piece)
            return []
        lines = piece.split("\n")
        if self.endings is False:  # a line holding line endings, from a source of lines without them
            if not lines[-1]:
                lines.pop()
            return lines
        if self.endings is None:
            self.endings = True
            self.pending, self.waiting = self.waiting, []
        lines[0] = "".join(self.pending) + lines[0]
        # After the last line ending: the start of the next line, or "" when the piece ends one.
        last = lines.pop()
        self.pending = [last] if last else []
        return lines

    def take_line(self, line: str, events: List[Tuple[str, str, int]]) -> None:
        self.line += 1
        if not line:
            # Empty data (a keep-alive "data:" line) dispatches nothing.
            if self.data and any(self.data):
                events.append((self.event, "\n".join(self.data), self.last_data))
                self.dispatched = True
            self.event, self.data = "", []
            return
        if line[0] == ":":
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self.data.append(value)
            self.last_data = self.line
        elif name == "event":
            self.event = value
        elif name not in _SSE_FIELDS and not self.dispatched and self.foreign is not None:
            self.foreign.append(line)
            self.foreign_size += len(line)
            if self.foreign_size > MAX_NOT_A_STREAM:
                raise _not_a_stream("\n".join(self.foreign), complete=False)


def _not_a_stream(text: str, complete: bool) -> ValidationError:
    """What a body read as a stream is, when it holds no event: the server's error, a complete
    response (the server ignored ``stream: true``), or something else, shown."""
    if complete:
        try:
            document = _json_loads(text)
        except (ValueError, RecursionError):
            document = _MISSING
        error = _error_of(document)
        if error is not _MISSING:
            return APIError(error, "<stream>", "the server returned an error, not a stream")
        if isinstance(document, dict) and "choices" in document:
            return ValidationError([Problem("<stream>", "this is a complete response, not a stream (the server "
                                                        "ignored stream: true?): read it with loads")])
    start = text.lstrip()[:MAX_QUOTE]
    return ValidationError([Problem("<stream>", f"not a server-sent-events stream: no data: line "
                                                f"{'in it' if complete else 'in its first ' + str(MAX_NOT_A_STREAM) + ' characters'}"
                                                f"; it starts with {json.dumps(start)}")])


class _ChunkReader:
    """Chunks from a stream's text, pushed in a piece at a time: what iter_chunks and aiter_chunks share."""

    def __init__(self, strict: bool, keep: bool) -> None:
        self.sse = _SSEDecoder()
        self.plan = _plans_of(CreateChatCompletionStreamResponse)[bool(strict)]
        self.keep = keep
        self.kept: List[CreateChatCompletionStreamResponse] = []
        self.done = False  # [DONE] came: reading stops

    def feed(self, piece: Union[str, bytes, bytearray]) -> Iterator[CreateChatCompletionStreamResponse]:
        return self.chunks(self.sse.feed(piece))

    def close(self) -> Iterator[CreateChatCompletionStreamResponse]:
        return self.chunks(self.sse.close())

    def chunks(self, events: List[Tuple[str, str, int]]) -> Iterator[CreateChatCompletionStreamResponse]:
        """The events' chunks, one at a time, so that a bad one raises only when reached."""
        for line, what, value in _read_events(events, self.plan):
            if what is _CHUNK:
                if self.keep:
                    self.kept.append(value)
                yield value
            elif what is _DONE:
                self.done = True
            elif what is _SERVER_ERROR:
                raise StreamError(value, _at(f"line {line}", "<root>"), self.kept)
            else:
                raise value


def _pieces(source: Any, reader: str, async_reader: str) -> Iterator[Any]:
    """The pieces of a synchronous source: the stream's text as one str or bytes, or an iterable."""
    if isinstance(source, (str, bytes, bytearray)):
        return iter((source,))
    if hasattr(source, "__aiter__") and not hasattr(source, "__iter__"):
        raise TypeError(f"{reader}() reads a synchronous source; for an async iterable (httpx's aiter_bytes(), "
                        f"aiohttp's iter_any()) use {async_reader}()")
    try:
        return iter(source)
    except TypeError:
        raise ValidationError([Problem("<stream>", "expected lines of str or bytes, a file, or the stream's text, "
                                                   f"got {type(source).__name__}")]) from None


def _read_pieces(pieces: Iterator[Any]) -> Iterator[Any]:
    """The pieces, where reading a text file opened with another encoding than the stream's is the stream's fault."""
    try:
        yield from pieces
    except UnicodeDecodeError as exc:
        raise ValidationError([Problem("<stream>", f"cannot decode the stream: {exc}")]) from None


def _async_pieces(source: Any, reader: str, sync_reader: str) -> AsyncIterator[Any]:
    if not hasattr(source, "__aiter__"):
        raise TypeError(f"{reader}() reads an async iterable of str or bytes pieces; for "
                        f"{type(source).__name__} use {sync_reader}()")
    pieces: AsyncIterator[Any] = source.__aiter__()
    return pieces


_CHUNK, _SERVER_ERROR, _BAD_JSON, _INVALID = "chunk", "server error", "bad JSON", "invalid"


def _error_of(document: Any) -> Any:
    """The error that a decoded body reports instead of a completion, or _MISSING.

    OpenAI, OpenRouter and Groq send ``{"error": {...}}`` (the last two mid-stream, with a 200
    status); older vLLM and FastChat send the error's own fields, marked ``"object": "error"``.
    """
    if not isinstance(document, dict):
        return _MISSING
    error = document.get("error")
    if error is not None:
        return error
    if document.get("object") == "error" and "choices" not in document:
        return document
    return _MISSING


def _read_events(events: Iterable[Tuple[str, str, int]], plan: _Plan) -> Iterator[Tuple[int, str, Any]]:
    """What each event of a stream is, up to ``[DONE]``, as (line, what, value): a chunk checked by
    ``plan`` (_CHUNK, the chunk), the server's error (_SERVER_ERROR, the error), an invalid one
    (_INVALID, the ValidationError, its paths at the line), then (_DONE, None) if the stream said
    so.  The stream readers and the command line share it."""
    for event, data, line in events:
        if data.startswith(_DONE):  # as openai-python reads it, so "[DONE] " ends the stream too
            yield line, _DONE, None
            return
        what, value = _read_event(event, data)
        if what is _BAD_JSON:
            what, value = _INVALID, ValidationError([Problem(_at(f"line {line}", "<root>"), value)])
        elif what is _CHUNK:
            try:
                value = plan.parse_root(value)
            except ValidationError as exc:
                what, value = _INVALID, _placed(exc, f"line {line}")
        yield line, what, value


def _read_event(event: str, data: str) -> Tuple[str, Any]:
    """What one event's data is: a chunk's document, the server's error, or bad JSON (and why).

    An ``error`` event, or a document that reports an error (see _error_of), is the server's error.
    """
    try:
        document = _json_loads(data)
    except (ValueError, RecursionError) as exc:
        if event == "error":
            return _SERVER_ERROR, data
        return _BAD_JSON, f"invalid JSON in data: {exc}"
    error = _error_of(document)
    if error is not _MISSING:
        return _SERVER_ERROR, error
    if event == "error":
        return _SERVER_ERROR, document
    return _CHUNK, document


def _describe_error(error: Any) -> str:
    """A server's error in one short line: its message and code, or its JSON, shortened."""
    try:
        if isinstance(error, dict):
            message = error.get("message")
            code = error.get("code", error.get("type"))
            if isinstance(message, str):
                if code is None:
                    return _shorten(message)
                return f"{_shorten(message)} ({_shorten(code if isinstance(code, str) else json.dumps(code))})"
        return _shorten(error if isinstance(error, str) else json.dumps(error))
    except (RecursionError, ValueError, TypeError):  # nested deeper than json.dumps writes; NaN in a code
        return "(an error value that cannot be shown)"


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_MESSAGE else text[:MAX_SHOWN_MESSAGE - 3] + "..."


# --------------------------------------------------------------------------- accumulating a stream: the merge rules


# Keys whose strings are text streamed in pieces, joined even when a piece repeats the last one.
_STREAMED_TEXT_KEYS = frozenset({"content", "text", "reasoning", "reasoning_content", "thinking", "refusal",
                                 "transcript", "data", "summary", "input"})


class _Text:
    """A string streamed in pieces under an unknown key, joined once, when the response is built
    (see _new_container), so that long reasoning streams join in linear time."""

    __slots__ = ("pieces",)

    def __init__(self, first: str) -> None:
        self.pieces = [first]


def _add_piece(into: Dict[str, Any], key: str, old: "Union[str, _Text]", value: str) -> None:
    """Add the next piece of a string.  A piece equal to the last one is dropped, unless its key is
    one of _STREAMED_TEXT_KEYS: labels such as ``channel`` or ``format`` come on every chunk, and
    Groq sends a finished tool's ``arguments`` again with its output."""
    text = old if isinstance(old, _Text) else _Text(old)
    if key in _STREAMED_TEXT_KEYS or value != text.pieces[-1]:
        text.pieces.append(value)
    into[key] = text


def _merge_json(into: Dict[str, Any], delta: Mapping[str, Any], depth: int = 0) -> None:
    """Merge an unknown delta object into what was gathered so far.

    Strings are joined and lists extended (objects carrying an ``index`` merge into the entry with
    that index), except ``id``, ``type`` and ``index``, which keep their first non-null value;
    nested objects merge the same way, down to MAX_MERGE_DEPTH; any other value replaces what
    was there.  Joined strings are gathered as _Text and joined when the response is built.
    """
    for key, value in delta.items():
        if value is None:
            into.setdefault(key, None)
            continue
        old = into.get(key)
        if old is None:
            # Built by merging rather than copied, so that fragments sharing an index within
            # this first list come together, as they do in later chunks.
            if depth < MAX_MERGE_DEPTH and isinstance(value, list):
                into[key] = _IndexedList()
                _extend_json(into[key], value, depth + 1)
            elif depth < MAX_MERGE_DEPTH and isinstance(value, dict):
                into[key] = {}
                _merge_json(into[key], value, depth + 1)
            else:
                into[key] = _copy_json(value)
        elif key in ("id", "type", "index"):
            continue
        elif isinstance(value, str) and isinstance(old, (str, _Text)):
            _add_piece(into, key, old, value)
        elif depth < MAX_MERGE_DEPTH and isinstance(old, dict) and isinstance(value, dict):
            _merge_json(old, value, depth + 1)
        elif depth < MAX_MERGE_DEPTH and isinstance(old, list) and isinstance(value, list):
            if not isinstance(old, _IndexedList):  # a list that replaced another value
                into[key] = old = _IndexedList.of(old)
            _extend_json(old, value, depth + 1)
        else:
            into[key] = _copy_json(value)


class _IndexedList(List[Any]):
    """A list gathered from deltas, with its objects by ``index``: finding the entry an item merges
    into takes a lookup, not a scan, so that a list of n items costs n steps, not n squared
    (OpenRouter's ``reasoning_details``: 32,000 items took 22 s with the scan)."""

    __slots__ = ("by_index",)

    def __init__(self) -> None:
        super().__init__()
        self.by_index: Dict[Any, Dict[str, Any]] = {}

    @classmethod
    def of(cls, items: List[Any]) -> "_IndexedList":
        indexed = cls()
        for item in items:
            indexed.add(item)
        return indexed

    def add(self, item: Any) -> None:
        self.append(item)
        if isinstance(item, dict):
            index = item.get("index")
            if isinstance(index, (int, float)):  # the first entry with an index is the one items merge into
                self.by_index.setdefault(index, item)


def _extend_json(into: "_IndexedList", items: Sequence[Any], depth: int) -> None:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("index"), int):
            entry = into.by_index.get(item["index"])
            if entry is not None:
                _merge_json(entry, item, depth)
                continue
        into.add(_copy_json(item))


def _merge_parts(into: List[Any], parts: Sequence[Any], depth: int = 0) -> None:
    """Join content parts: a part continues the last one when both are objects of the same string ``type``.

    Their strings are joined and their lists of parts merged the same way, down to MAX_MERGE_DEPTH.
    """
    for part in parts:
        last = into[-1] if into else None
        # Only a string type can continue a part (and comparing two deep values could overflow).
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(kind, str) and isinstance(last, dict) and last.get("type") == kind:
            for key, value in part.items():
                old = last.get(key)
                if key == "type" or value is None:
                    continue
                if isinstance(value, str) and isinstance(old, (str, _Text)):
                    _add_piece(last, key, old, value)
                elif depth < MAX_MERGE_DEPTH and isinstance(old, list) and isinstance(value, list):
                    _merge_parts(old, value, depth + 1)
                else:
                    last[key] = _copy_json(value)
        else:
            into.append(_copy_json(part))


class _FunctionState:
    """A function call gathered from its pieces: a tool call's ``function``, and the legacy
    ``function_call`` of a delta, by the same rules."""

    __slots__ = ("seen", "name", "arguments", "extra")

    def __init__(self) -> None:
        self.seen = False
        self.name: Any = _MISSING
        self.arguments: List[str] = []
        self.extra: Dict[str, Any] = {}

    def add(self, function: Optional[ChoiceDeltaFunctionCall]) -> None:
        if function is None:
            return
        if not isinstance(function, ChoiceDeltaFunctionCall):
            raise TypeError  # as in ChatCompletionAccumulator._add
        self.seen = True
        if _empty(self.name) and isinstance(function.name, str) and function.name:
            self.name = function.name
        if isinstance(function.arguments, str):
            self.arguments.append(function.arguments)
        if function.extra:
            _merge_json(self.extra, function.extra)

    def to_dict(self) -> Dict[str, Any]:
        result: Dict[str, Any] = {}
        if self.name is not _MISSING:
            result["name"] = self.name
        result["arguments"] = "".join(self.arguments)
        _add_extras(result, self.extra, FunctionCall)
        return result


class _ToolCallState:
    __slots__ = ("index", "id", "type", "function", "extra")

    def __init__(self, index: Any) -> None:
        self.index = index
        self.id: Any = _MISSING
        self.type: Any = _MISSING
        self.function = _FunctionState()
        self.extra: Dict[str, Any] = {}

    def add(self, call: ChatCompletionMessageToolCallChunk) -> None:
        call_id = call.id
        if isinstance(call_id, str) and (call_id or self.id is _MISSING or self.id is None):
            if _empty(self.id):
                self.id = call_id
        elif call_id is None and self.id is _MISSING and _present_of(call) & _TOOL_CALL_CHUNK_ID:
            self.id = None
        if _empty(self.type) and isinstance(call.type, str) and call.type:
            self.type = call.type
        self.function.add(call.function)
        if call.extra:
            _merge_json(self.extra, call.extra)

    def to_dict(self) -> Dict[str, Any]:
        result: Dict[str, Any] = {}
        if self.id is not _MISSING:
            result["id"] = self.id
        if self.type is not _MISSING:
            result["type"] = self.type
        if self.function.seen:
            result["function"] = self.function.to_dict()
        model = _TOOL_CALL_TYPES.get(self.type, ChatCompletionMessageToolCall) if isinstance(self.type, str) \
            else ChatCompletionMessageToolCall
        _add_extras(result, self.extra, model)
        return result


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or value == ""


def _add_extras(document: Dict[str, Any], extra: Mapping[str, Any], model: Type[_Model]) -> None:
    """Add a chunk's unknown keys to the response being rebuilt, where it has no value of its own.

    A key unknown to the chunk may be a typed field of the response (a delta's ``audio`` or
    ``annotations``, a chunk's ``metadata``); it is carried over only when its value fits that
    field, so that what the chunks' check accepted always adds up to a response.
    """
    plan = _plans_of(model)[0]
    for key, value in extra.items():
        if key in document:
            continue
        if key in plan.keyset:
            index = plan.keys.index(key)
            plain, parse = plan.plains[index], plan.parsers[index]
            try:
                value = _copy_json(value)  # joins what was gathered in pieces, so that it can be checked
                if type(value) not in plain:
                    parse(value)
            except (_Invalid, RecursionError):
                continue
        # Other unknown keys are copied, and their pieces joined, by the parse of the response.
        document[key] = value


_TOKEN_LOGPROB_TYPE = frozenset({ChatCompletionTokenLogprob})


def _gather_tokens(gathered: Optional[List[ChatCompletionTokenLogprob]],
                   tokens: Sequence[Any]) -> List[ChatCompletionTokenLogprob]:
    """Add a chunk's logprob tokens to those gathered so far (None before the first)."""
    if not _TOKEN_LOGPROB_TYPE.issuperset(map(type, tokens)):
        raise TypeError  # as in ChatCompletionAccumulator._add
    if gathered is None:
        gathered = []
    gathered.extend(tokens)
    return gathered


class _ChoiceState:
    __slots__ = ("index", "role", "content", "parts", "refusal", "tool_calls", "by_index", "function_call",
                 "logprobs_seen", "logprobs_content", "logprobs_refusal", "finish_reason", "message_extra",
                 "choice_extra", "content_seen", "refusal_seen", "touched")

    def __init__(self, index: int, track: bool = False) -> None:
        self.index = index
        # The tool calls each chunk added to, for ChatCompletionEvents (None: nobody asks).
        self.touched: Optional[List[_ToolCallState]] = [] if track else None
        self.role: Any = _MISSING
        self.content: List[str] = []
        self.content_seen = False
        self.parts: Optional[List[Dict[str, Any]]] = None
        self.refusal: List[str] = []
        self.refusal_seen = False
        self.tool_calls: List[_ToolCallState] = []
        self.by_index: Dict[Any, _ToolCallState] = {}
        self.function_call = _FunctionState()
        self.logprobs_seen = False
        self.logprobs_content: Optional[List[ChatCompletionTokenLogprob]] = None
        self.logprobs_refusal: Optional[List[ChatCompletionTokenLogprob]] = None
        self.finish_reason: Any = None
        self.message_extra: Dict[str, Any] = {}
        self.choice_extra: Dict[str, Any] = {}

    def add(self, choice: ChunkChoice) -> None:
        delta = choice.delta
        if delta is None:
            pass
        elif isinstance(delta, ChatCompletionStreamResponseDelta):
            self.add_delta(delta)
        else:
            raise TypeError  # as in ChatCompletionAccumulator._add
        logprobs = choice.logprobs
        if logprobs is None:
            pass
        elif isinstance(logprobs, ChoiceLogprobs):
            self.logprobs_seen = True
            # An array that was null or missing adds nothing; [] starts the list.
            present = _present_of(logprobs)
            if present & _LOGPROBS_CONTENT and isinstance(logprobs.content, (tuple, list)) \
                    and type(logprobs.content) is not _NullArray:
                self.logprobs_content = _gather_tokens(self.logprobs_content, logprobs.content)
            if present & _LOGPROBS_REFUSAL and isinstance(logprobs.refusal, (tuple, list)) \
                    and type(logprobs.refusal) is not _NullArray:
                self.logprobs_refusal = _gather_tokens(self.logprobs_refusal, logprobs.refusal)
        else:
            raise TypeError
        reason = choice.finish_reason
        # An empty reason (some servers send "" on every chunk) never replaces a real one.
        if reason is None:  # most chunks: tested first, as cheaply as can be
            pass
        elif isinstance(reason, str) and (reason or self.finish_reason is None):
            self.finish_reason = reason
        for key, value in choice.extra.items():
            if value is not None or key not in self.choice_extra:
                self.choice_extra[key] = value

    def add_delta(self, delta: ChatCompletionStreamResponseDelta) -> None:
        if _empty(self.role) and isinstance(delta.role, str) and delta.role:
            self.role = delta.role
        content = delta.content
        if isinstance(content, str):
            self.content_seen = True
            if self.parts is not None:
                if content:
                    _merge_parts(self.parts, [{"type": "text", "text": content}])
            else:
                self.content.append(content)
        elif isinstance(content, (tuple, list)):
            self.content_seen = True
            if self.parts is None:
                text = "".join(self.content)
                self.parts = [{"type": "text", "text": text}] if text else []
            # Parts are objects; anything else (only in a chunk built by hand) is left out.
            _merge_parts(self.parts, [part for part in content if isinstance(part, dict)])
        if isinstance(delta.refusal, str):
            self.refusal_seen = True
            self.refusal.append(delta.refusal)
        if isinstance(delta.tool_calls, (tuple, list)):
            for call in delta.tool_calls:
                state = self.tool_call_state(call)
                state.add(call)
                if self.touched is not None and (not self.touched or self.touched[-1] is not state):
                    self.touched.append(state)
        self.function_call.add(delta.function_call)
        if delta.extra:
            _merge_json(self.message_extra, delta.extra)

    def tool_call_state(self, call: ChatCompletionMessageToolCallChunk) -> _ToolCallState:
        index = call.index if isinstance(call.index, int) else None
        new_id = call.id if isinstance(call.id, str) and call.id else None
        if index is not None:
            state = self.by_index.get(index)
            # Groq and sglang send several calls at one index, each with its own id.
            if state is None or (new_id is not None and isinstance(state.id, str) and state.id
                                 and state.id != new_id):
                state = self._new_tool_call(index)
            return state
        # No index (Gemini, Ollama, Mistral): continue the last call unless this one plainly starts anew.
        last = self.tool_calls[-1] if self.tool_calls else None
        function = call.function if isinstance(call.function, ChoiceDeltaFunctionCall) else None
        names_new = function is not None and not _empty(function.name) and last is not None and not _empty(last.function.name)
        if last is None or names_new or (new_id is not None and not _empty(last.id) and last.id != new_id):
            return self._new_tool_call(None)
        return last

    def _new_tool_call(self, index: Any) -> _ToolCallState:
        state = _ToolCallState(index)
        self.tool_calls.append(state)
        if index is not None:
            self.by_index[index] = state
        return state

    def to_dict(self) -> Dict[str, Any]:
        # A message always has a role; when no delta carried one (Azure, LiteLLM's proxy), it is the assistant's.
        message: Dict[str, Any] = {"role": "assistant" if self.role is _MISSING else self.role}
        if self.parts is not None:
            message["content"] = self.parts
        else:
            message["content"] = "".join(self.content) if self.content_seen else None
        if self.tool_calls:
            message["tool_calls"] = [state.to_dict() for state in self.tool_calls]
        if self.function_call.seen:
            message["function_call"] = self.function_call.to_dict()
        message["refusal"] = "".join(self.refusal) if self.refusal_seen else None
        _add_extras(message, self.message_extra, ChatCompletionResponseMessage)
        logprobs: Any = None
        if self.logprobs_seen:
            logprobs = {
                "content": None if self.logprobs_content is None else [t.to_dict() for t in self.logprobs_content],
                "refusal": None if self.logprobs_refusal is None else [t.to_dict() for t in self.logprobs_refusal],
            }
        result: Dict[str, Any] = {"index": self.index, "message": message, "logprobs": logprobs,
                                  "finish_reason": self.finish_reason}
        _add_extras(result, self.choice_extra, Choice)
        return result


def _bit(model: "Type[_Model]", key: str) -> int:
    return model._bits[model._keys.index(key)]


_TOOL_CALL_CHUNK_ID = _bit(ChatCompletionMessageToolCallChunk, "id")
_LOGPROBS_CONTENT = _bit(ChoiceLogprobs, "content")
_LOGPROBS_REFUSAL = _bit(ChoiceLogprobs, "refusal")
# The chunk's values that the response takes from the first chunk that has them.
_FIRST_VALUE_TYPES = tuple((key, expected, _bit(CreateChatCompletionStreamResponse, key)) for key, expected in (
    ("id", str), ("model", str), ("created", int), ("system_fingerprint", str), ("service_tier", str)))


def _add_at(accumulator: ChatCompletionAccumulator, position: int, chunk: Any) -> None:
    """accumulator.add(chunk), a problem's path prefixed with the chunk's position."""
    try:
        accumulator.add(chunk)
    except APIError as exc:  # a chunk that is the server's error
        raise APIError(exc.error, _at(f"chunk {position}", exc.errors[0].path)) from None
    except ValidationError as exc:
        raise _placed(exc, f"chunk {position}") from None


# --------------------------------------------------------------------------- events: each choice's state


class _ChoiceEvents:
    """What the events of one choice have said so far."""

    __slots__ = ("text", "refusal", "reasoning", "reasoning_open", "calls", "open_calls", "seen", "finish_reason")

    def __init__(self) -> None:
        self.text: Optional[_SoFar] = None
        self.refusal: Optional[_SoFar] = None
        self.reasoning: Optional[_SoFar] = None
        self.reasoning_open = False
        self.calls: Dict[int, Tuple[int, _SoFar, _PartialJSON]] = {}  # per call state's id(): place, arguments
        self.open_calls: List[Tuple[int, _ToolCallState]] = []
        self.seen: Dict[int, int] = {}  # per call state's id(): how many argument pieces were told
        self.finish_reason: Optional[str] = None


# --------------------------------------------------------------------------- the partial-JSON parser


# Deepest nesting the partial-JSON parser accepts (see parse_partial_json); None means no limit.
_MAX_DEPTH = 500
# It accepts NaN, Infinity and -Infinity, as Python's json.loads does.
_ALLOW_NAN = True

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Characters a string can hold as they are. Everything else is a quote, an
# escape or a control character (which json.loads refuses).
_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_HEX = re.compile(r"[0-9a-fA-F]*")
# A number token is the longest run of these. If the run is not one valid
# number, the text is invalid ("01", "1.e5", "1-2").
_NUMBER_RUN = re.compile(r"[0-9eE.+-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_PREFIX = re.compile(
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.(?:[0-9]+(?:[eE][+-]?[0-9]*)?)?|[eE][+-]?[0-9]*)?)?"
)
# Replacing each run of 2+ digits by "1" leaves the number grammar in the same
# state, so the check for a number that arrives over many pieces only needs
# this short form ("12345.678e" checks the same as "1.1e"). Each piece then
# costs O(new characters), however long the number is.
_DIGIT_RUNS = re.compile(r"[0-9]{2,}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS: Dict[str, Any] = {"true": True, "false": False, "null": None}
if _ALLOW_NAN:
    _LITERALS.update({"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")})
# Literals are told apart by their first character ("-Infinity" starts in the number reader).
_LITERAL_BY_START = {word[0]: word for word in _LITERALS if word[0] != "-"}

# Parser states: what the next character may be.
_VALUE = 0  # a value (top level, after ':', after ',' in an array)
_ARRAY_FIRST = 1  # a value or ']' (just after '[')
_OBJECT_FIRST = 2  # a key or '}' (just after '{')
_KEY = 3  # a key (after ',' in an object)
_COLON = 4
_AFTER = 5  # ',' or the closer after a member; only whitespace at top level
_STRING = 6
_ESCAPE = 7  # after a backslash
_UNICODE = 8  # inside the four hex digits of \uXXXX
_NUMBER_STATE = 9
_LITERAL = 10
_FAILED = 11

_Container = Union[Dict[str, Any], List[Any]]


def _run_end(pattern: "re.Pattern[str]", text: str, i: int) -> int:
    """Where the run of ``pattern`` starting at text[i] ends (our patterns all match empty runs)."""
    match = pattern.match(text, i)
    assert match is not None
    return match.end()


class _PartialJSON:
    """Feed pieces of a JSON text, and read the value held so far at any time (see parse_partial_json).

    feed() reads only the new characters: a state machine with its own stack of the containers
    still open, which are real dicts and lists built as the text arrives, so that a stream of
    pieces costs time linear in its length (peers re-parse the whole text so far on every piece,
    which is quadratic).  value() returns the live root object, not a copy (a copy would cost
    the whole value on every call): the parser goes on changing it.  Numbers are shown only
    once a delimiter ends them, because ``1`` may still become ``12``; the one exception is a
    bare top-level number, which nothing but the end of the text can end.
    """

    __slots__ = (
        "_max_depth", "_state", "_failed", "_root", "_stack", "_key", "_handlers",
        "_chunks", "_in_key", "_value_string_open", "_high", "_hex",
        "_number_parts", "_number_shape", "_word", "_word_pos",
    )

    def __init__(self, max_depth: Optional[int] = _MAX_DEPTH) -> None:
        self._max_depth = max_depth
        self._state = _VALUE
        self._failed = False
        self._root: Any = None
        self._stack: List[_Container] = []  # open containers, innermost last
        self._key = ""  # innermost object's current key, set when its key string ends
        # Decoded text of the open string not yet shown by value(): a key's whole
        # text, or a value string's text since its slot was last written.
        self._chunks: List[str] = []
        self._in_key = False
        self._value_string_open = False  # a value string is open, and its slot is reserved
        self._high: Optional[int] = None  # a \uD800-\uDBFF waiting for its low half
        self._hex = ""
        self._number_parts: List[str] = []
        self._number_shape = ""  # the number so far with digit runs squeezed (see _DIGIT_RUNS)
        self._word = ""  # literal being spelled, and how much of it has been seen
        self._word_pos = 0
        # Indexed by state. One handler consumes at least one character, or
        # changes the state without consuming, so the loop in feed() always moves on.
        self._handlers: List[Callable[[str, int], int]] = [
            self._on_value, self._on_value, self._on_key, self._on_key, self._on_colon,
            self._on_after, self._on_string, self._on_escape, self._on_unicode,
            self._on_number, self._on_literal,
        ]

    # -- public API ---------------------------------------------------------

    @property
    def failed(self) -> bool:
        """The text so far can never become JSON. feed() now does nothing."""
        return self._failed

    @property
    def complete(self) -> bool:
        """The text so far is one whole JSON value, maybe followed by whitespace."""
        if self._failed or self._stack:
            return False
        if self._state == _AFTER:
            return True
        # a bare top-level number: whole once it is a valid number
        return self._state == _NUMBER_STATE and self._top_level_number() is not None

    def feed(self, piece: str) -> None:
        """Read the next piece of text. Costs O(len(piece))."""
        i, n = 0, len(piece)
        handlers = self._handlers
        while i < n and not self._failed:
            i = handlers[self._state](piece, i)

    def value(self) -> Any:
        """The value held so far. This is the live object; treat it as read-only."""
        if self._value_string_open and self._chunks:
            # Take the shown text out of its slot before appending. If nothing
            # else holds it, CPython then grows the str in place (amortised
            # O(new text)) instead of copying it, so a long string read after
            # every piece stays linear. Otherwise this is a plain copy.
            shown = self._take_last()
            shown += "".join(self._chunks)
            self._chunks = []
            self._set_last(shown)
        if self._state == _NUMBER_STATE and not self._stack:
            return self._top_level_number()
        return self._root

    # -- building the value -------------------------------------------------

    def _place(self, item: Any) -> None:
        """Put a new value where the grammar says the next value goes."""
        if not self._stack:
            self._root = item
            return
        top = self._stack[-1]
        if isinstance(top, list):
            top.append(item)
        else:
            top[self._key] = item

    def _set_last(self, item: Any) -> None:
        """Replace the value last placed (the open string's reserved slot)."""
        if not self._stack:
            self._root = item
            return
        top = self._stack[-1]
        if isinstance(top, list):
            top[-1] = item
        else:
            top[self._key] = item

    def _take_last(self) -> Any:
        """Remove and return the value last placed, leaving None in its slot."""
        if not self._stack:
            item, self._root = self._root, None
            return item
        top = self._stack[-1]
        if isinstance(top, list):
            item, top[-1] = top[-1], None
        else:
            item, top[self._key] = top[self._key], None
        return item

    def _scalar_done(self, item: Any) -> None:
        self._place(item)
        self._state = _AFTER

    def _fail(self) -> int:
        """Stop for good. Returns a dummy position for the handler to return (feed() stops)."""
        self._failed = True
        self._state = _FAILED
        return 0

    # -- state handlers: (piece, i) -> new i --------------------------------

    def _on_value(self, piece: str, i: int) -> int:
        c = piece[i]
        if c in " \t\n\r":
            return _run_end(_WHITESPACE, piece, i)
        if c == '"':
            self._place("")  # reserve the slot: an unfinished string is shown
            self._value_string_open = True
            self._in_key = False
            self._state = _STRING
        elif c == "{" or c == "[":
            if self._max_depth is not None and len(self._stack) >= self._max_depth:
                return self._fail()
            container: _Container = {} if c == "{" else []
            self._place(container)
            self._stack.append(container)
            self._state = _OBJECT_FIRST if c == "{" else _ARRAY_FIRST
        elif c == "]" and self._state == _ARRAY_FIRST:
            self._close()
        elif c == "-" or "0" <= c <= "9":
            self._number_parts = []
            self._number_shape = ""
            self._state = _NUMBER_STATE
            return i  # the number reader takes it from here
        elif c in _LITERAL_BY_START:
            self._word = _LITERAL_BY_START[c]
            self._word_pos = 0
            self._state = _LITERAL
            return i
        else:
            return self._fail()
        return i + 1

    def _on_key(self, piece: str, i: int) -> int:
        c = piece[i]
        if c in " \t\n\r":
            return _run_end(_WHITESPACE, piece, i)
        if c == '"':
            self._in_key = True
            self._state = _STRING
        elif c == "}" and self._state == _OBJECT_FIRST:
            self._close()
        else:
            return self._fail()
        return i + 1

    def _on_colon(self, piece: str, i: int) -> int:
        c = piece[i]
        if c in " \t\n\r":
            return _run_end(_WHITESPACE, piece, i)
        if c != ":":
            return self._fail()
        self._state = _VALUE
        return i + 1

    def _on_after(self, piece: str, i: int) -> int:
        c = piece[i]
        if c in " \t\n\r":
            return _run_end(_WHITESPACE, piece, i)
        if not self._stack:
            return self._fail()  # text after a complete top-level value
        is_object = isinstance(self._stack[-1], dict)
        if c == ",":
            self._state = _KEY if is_object else _VALUE
        elif c == ("}" if is_object else "]"):
            self._close()
        else:
            return self._fail()
        return i + 1

    def _close(self) -> None:
        self._stack.pop()
        self._state = _AFTER

    def _on_string(self, piece: str, i: int) -> int:
        if self._high is not None and piece[i] != "\\":
            self._flush_high()  # no low surrogate escape can follow now
        j = _run_end(_STRING_RUN, piece, i)
        if j > i:
            self._chunks.append(piece[i:j])
        if j == len(piece):
            return j
        c = piece[j]
        if c == '"':
            self._end_string()
        elif c == "\\":
            self._state = _ESCAPE
        else:
            return self._fail()  # raw control character
        return j + 1

    def _end_string(self) -> None:
        if self._in_key:
            self._key = "".join(self._chunks)
            self._state = _COLON
        else:
            shown = self._take_last()  # as in value(): lets CPython append in place
            shown += "".join(self._chunks)
            self._set_last(shown)
            self._value_string_open = False
            self._state = _AFTER
        self._chunks = []

    def _on_escape(self, piece: str, i: int) -> int:
        c = piece[i]
        if c == "u":
            self._hex = ""
            self._state = _UNICODE
            return i + 1
        decoded = _ESCAPES.get(c)
        if decoded is None:
            return self._fail()
        self._flush_high()
        self._chunks.append(decoded)
        self._state = _STRING
        return i + 1

    def _on_unicode(self, piece: str, i: int) -> int:
        part = piece[i:i + 4 - len(self._hex)]
        if _HEX.fullmatch(part) is None:
            return self._fail()
        self._hex += part
        i += len(part)
        if len(self._hex) < 4:
            return i  # wait for the rest of \uXXXX
        code = int(self._hex, 16)
        self._state = _STRING
        if self._high is not None:
            if 0xDC00 <= code <= 0xDFFF:
                self._chunks.append(chr(0x10000 + ((self._high - 0xD800) << 10) + (code - 0xDC00)))
                self._high = None
                return i
            self._flush_high()
        if 0xD800 <= code <= 0xDBFF:
            self._high = code  # held back: the next escape may complete the pair
        else:
            self._chunks.append(chr(code))
        return i

    def _flush_high(self) -> None:
        """Emit a high surrogate that turned out to be alone (json.loads keeps it too)."""
        if self._high is not None:
            self._chunks.append(chr(self._high))
            self._high = None

    def _on_number(self, piece: str, i: int) -> int:
        j = _run_end(_NUMBER_RUN, piece, i)
        run = piece[i:j]
        shape = self._number_shape + run
        self._number_parts.append(run)
        if j == len(piece):
            # The number may go on in the next piece. Fail now if it cannot.
            if _NUMBER_PREFIX.fullmatch(shape) is None:
                return self._fail()
            self._number_shape = _DIGIT_RUNS.sub("1", shape)
            return j
        if shape == "-" and piece[j] == "I" and _ALLOW_NAN:
            self._word = "-Infinity"
            self._word_pos = 1
            self._state = _LITERAL
            return j
        if _NUMBER.fullmatch(shape) is None:
            return self._fail()
        number = self._number_from("".join(self._number_parts), shape)
        if number is None:
            return self._fail()
        self._scalar_done(number)
        return j  # the delimiter is read in state _AFTER

    @staticmethod
    def _number_from(text: str, shape: str) -> Optional[Union[int, float]]:
        """The number json.loads would give for ``text``, or None if it refuses it."""
        try:
            if "." in shape or "e" in shape or "E" in shape:
                return float(text)
            return int(text)
        except ValueError:  # an int beyond sys.get_int_max_str_digits()
            return None

    def _top_level_number(self) -> Optional[Union[int, float]]:
        if _NUMBER.fullmatch(self._number_shape) is None:
            return None
        return self._number_from("".join(self._number_parts), self._number_shape)

    def _on_literal(self, piece: str, i: int) -> int:
        word, pos = self._word, self._word_pos
        part = piece[i:i + len(word) - pos]
        if not word.startswith(part, pos):
            return self._fail()
        pos += len(part)
        if pos == len(word):
            self._scalar_done(_LITERALS[word])
        else:
            self._word_pos = pos
        return i + len(part)


# --------------------------------------------------------------------------- checking many documents: the records


def _count_name(table: Dict[str, int], name: str, n: int) -> int:
    """Count a name n times, keeping the MAX_KEPT_NAMES first names in sorted order; returns the count
    that goes to "other" (this name's, or that of the name it displaces)."""
    if name in table:
        table[name] += n
        return 0
    if len(table) < MAX_KEPT_NAMES:
        table[name] = n
        return 0
    largest = max(table)
    if name < largest:  # a displaced name never comes back: every later one it meets is kept, and smaller
        table[name] = n
        return table.pop(largest)
    return n


def _merge_names(mine: Dict[str, int], theirs: Dict[str, int]) -> int:
    """Add theirs to mine; returns the count that goes to "other"."""
    return sum(_count_name(mine, name, n) for name, n in theirs.items())


def _invalid_record(kind: str, *problems: Problem, unkept: int = 0, **fields_: Any) -> DocumentCheck:
    return DocumentCheck(kind, "invalid", False, problems, unkept, **fields_)


def _name(value: Any) -> Optional[str]:
    if isinstance(value, enum.Enum):
        value = value.value
    return _shorten(value) if type(value) is str or isinstance(value, str) else None


def _record_of(response: CreateChatCompletionResponse, kind: str, custom_id: Optional[str] = None,
               status_code: Optional[int] = None) -> DocumentCheck:
    """The record of a valid response (or of the response a stream adds up to)."""
    # Type tests rather than truth tests: this runs once per line of a batch file.
    reasons: List[Optional[str]] = []
    tool_calls = refusals = 0
    if type(response.choices) is tuple:
        for choice in response.choices:
            reason = choice.finish_reason
            reasons.append(reason if type(reason) is str else _name(reason))
            message = choice.message
            if type(message) is ChatCompletionResponseMessage:
                if type(message.tool_calls) is tuple:
                    tool_calls += len(message.tool_calls)
                if type(message.function_call) is FunctionCall:
                    tool_calls += 1
                if type(message.refusal) is str and message.refusal:
                    refusals += 1
    prompt = completion = total = cached = reasoning = 0
    usage = response.usage
    has_usage = False
    if type(usage) is CompletionUsage:
        has_usage = True
        prompt = _count(usage.prompt_tokens)
        completion = _count(usage.completion_tokens)
        total = _count(usage.total_tokens)
        details = usage.prompt_tokens_details
        if type(details) is PromptTokensDetails:
            cached = _count(details.cached_tokens)
        completion_details = usage.completion_tokens_details
        if type(completion_details) is CompletionTokensDetails:
            reasoning = _count(completion_details.reasoning_tokens)
    model = response.model
    return DocumentCheck(kind, "valid", True, (), 0, model if type(model) is str and len(model) <= MAX_SHOWN_MESSAGE
                         else _name(model), tuple(reasons), has_usage, prompt, completion, total, cached, reasoning,
                         tool_calls, refusals, None, None, status_code, custom_id)


def _succeeded(line: Dict[str, Any]) -> Any:
    """The body of a Batch API line whose request succeeded: status 200, and no error on the line
    or for the body; else _MISSING.  (The body may still fail its check, as a null one does.)"""
    response = line.get("response")
    if type(response) is not dict or response.get("status_code") != 200 or line.get("error") is not None:
        return _MISSING
    body = response.get("body")
    if _error_of(body) is not _MISSING:
        return _MISSING
    return body


def _error_record(kind: str, error: Any, status_code: Optional[int] = None,
                  custom_id: Optional[str] = None) -> DocumentCheck:
    code = error.get("code", error.get("type")) if isinstance(error, dict) else None
    code_text = code if isinstance(code, str) else None if code is None else _describe_error(code)
    return DocumentCheck(kind, "error", False, error=None if error is _MISSING else _describe_error(error),
                         error_code=None if code_text is None else _shorten(code_text),
                         status_code=status_code, custom_id=custom_id)


def _count(value: Any) -> int:
    return value if type(value) is int else 0


def _at_path(document: Any, path: str) -> Tuple[Any, Optional[Problem]]:
    """The value at a dotted path (keys, or positions in arrays), or a problem saying where it stops."""
    value = document
    walked = ""
    for key in path.split("."):
        walked = f"{walked}.{key}" if walked else key
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING, Problem(walked, f"missing: the record has no {walked!r} to check")
    return value, None


def _check(document: Any, strict: bool, path: str = "",
           stream: bool = False) -> Tuple[DocumentCheck, str, str, Optional[CreateChatCompletionStreamResponse]]:
    """check_document()'s work, and what the command line prints of it: the record, the kind
    word and detail of its report line, and, with ``stream``, a valid chunk to accumulate."""
    if path:
        document, missing = _at_path(document, path)
        if missing is not None:
            return _invalid_record("response", missing), "record", "", None
    kind = _kind_of(document)
    if kind == "batch":
        custom_id = document.get("custom_id")
        custom_id = custom_id if isinstance(custom_id, str) else None
        body = _succeeded(document)
        if body is not _MISSING:
            try:
                parsed = CreateChatCompletionResponse.from_dict(body, strict=strict)
            except ValidationError as exc:
                problems = tuple(Problem(_under("response.body", p.path), p.message) for p in exc.errors)
                return (_invalid_record("batch line", *problems, unkept=exc.unkept, status_code=200,
                                        custom_id=custom_id), "batch line", "", None)
            return _record_of(parsed, "batch line", custom_id, 200), "batch line", "", None
        error = document.get("error")
        response = document.get("response")
        if error is not None:
            return _error_record("batch line", error, None, custom_id), "batch line", _describe_error(error), None
        if not isinstance(response, dict):
            record = _invalid_record("batch line", Problem("response", _got("object", response)), custom_id=custom_id)
            return record, "batch line", "", None
        # The request failed, or succeeded with an error for its body (which counts as failed).
        status = response.get("status_code", _MISSING)
        error = _error_of(response.get("body"))
        if type(status) is int:
            detail = f"status {status}"
        elif status is _MISSING:
            detail = "no status_code"
        else:
            detail = f"status {_json_type(status)}{_quote(status)}"
        if error is not _MISSING:
            detail += ": " + _describe_error(error)
        status_code = status if type(status) is int else None
        return _error_record("batch line", error, status_code, custom_id), "batch line", detail, None
    if kind == "error":
        label = "chunk" if document.get("object") == "chat.completion.chunk" else "response"
        error = _error_of(document)
        return (_error_record("error body", error), label, "the server returned an error: " + _describe_error(error),
                None)
    if kind == "chunk":
        try:
            chunk = CreateChatCompletionStreamResponse.from_dict(document, strict=strict)
        except ValidationError as exc:
            return _invalid_record("chunk", *exc.errors, unkept=exc.unkept), "chunk", "", None
        if stream:
            return DocumentCheck("chunk", "valid", True, model=_name(chunk.model)), "chunk", "", chunk
        single = ChatCompletionAccumulator()
        single.add(chunk)
        try:
            result = single.result()
        except ValidationError as exc:
            problems = tuple(Problem(_at("accumulated response", p.path), p.message) for p in exc.errors)
            return _invalid_record("chunk", *problems), "chunk", "1 valid chunk", None
        return _record_of(result, "chunk"), "chunk", "model " + _report_name(chunk.model), None
    try:
        parsed = CreateChatCompletionResponse.from_dict(document, strict=strict)
    except ValidationError as exc:
        problems = exc.errors
        inner = "" if path else _wrapped_at(document)
        if inner:
            problems = (*problems, Problem("<root>", f"the response seems to be at {inner!r}: check it with "
                                                     f"--path {inner} (path={inner!r} in check_document)"))
        return _invalid_record("response", *problems, unkept=exc.unkept), "response", "", None
    return _record_of(parsed, "response"), "response", "", None


def _wrapped_at(document: Any) -> str:
    """Where a record that is no response seems to hold one: "response", "response.body", or ""."""
    if isinstance(document, dict) and "choices" not in document:
        for key, value in document.items():
            if isinstance(value, dict) and isinstance(key, str):
                if "choices" in value:
                    return key
                body = value.get("body")
                if isinstance(body, dict) and "choices" in body:
                    return key + ".body"
    return ""


# --------------------------------------------------------------------------- the command line


_USAGE_ERROR = 2
_INTERRUPTED = 130
_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_JSON_WORDS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_SSE_PREFIXES = (b"data:", b"event:", b":", b"id:", b"retry:")
_PROGRESS_SECONDS = 1.0
# The default bound on one line (and on a document spread over lines); --max-line-bytes changes it.
_MAX_LINE_BYTES = 64 << 20
# JSON Lines are checked in batches of this many lines (or this many bytes), in turn or by --jobs processes.
_BATCH_LINES = 1000
_BATCH_BYTES = 8 << 20
_SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_RECORD_FIELDS = tuple(f.name for f in fields(DocumentCheck) if f.name not in ("kind", "status", "valid"))

_HELP_EPILOG = """\
Each input is recognised by its content, whatever its name:
  a JSON document      one chat completion, one stream chunk, or an error body
  a JSON array         of such documents, each checked as a line of JSON Lines is
  server-sent events   a captured stream (data: lines), read and accumulated
  JSON Lines           one document per line: responses, chunks, or lines of
                       OpenAI Batch API output ({"custom_id", "response": {"status_code",
                       "body"}, "error"}); an error line, a non-200 status or an error
                       body is reported as an error
Any of them may be compressed with gzip, bzip2 or xz (zstd on Python 3.14+), told by content.
Records that wrap the response ({"request": ..., "response": ...}) need --path.

For a JSON document or a stream, every document is listed; for JSON Lines and arrays
only the lines or items with problems are, with their line numbers or positions, then a
count per file.  A summary follows: documents, valid, invalid, models, finish reasons,
tokens, tool calls, refusals.  --json prints all that as one JSON object; --jsonl prints
one JSON object per document (valid ones too) and no summary.

exit status: 0 all valid, 1 anything invalid, or an error the server reported
             (an error body, a batch line with an error, an error inside a stream),
             2 usage or I/O error (unreadable file, invalid UTF-8, truncated last line,
               corrupt compressed data, a line past --max-line-bytes, out of memory,
               standard input or output closed, output cut off by its reader),
             130 interrupted

examples:
  python chatcompletion.py examples/response.json
  python chatcompletion.py --strict examples/stream.sse
  python chatcompletion.py --quiet examples/batch_output.jsonl
  python chatcompletion.py --jobs 4 --path response logs/*.jsonl.gz
  curl -sN ... | python chatcompletion.py -
  python chatcompletion.py --json examples/*.json examples/*.sse > report.json
  python chatcompletion.py --jsonl batch.jsonl | jq -c 'select(.status != "valid")'
"""


class _Options(NamedTuple):
    strict: bool
    path: str
    max_line_bytes: int
    jobs: int


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _report_name(name: Any) -> str:
    """A model or finish reason as the report names it: "(none)" when absent or null, '""' when empty."""
    if not isinstance(name, str):  # _MISSING or null
        return "(none)"
    if isinstance(name, enum.Enum):
        name = name.value
    return name or '""'


def _describe(record: DocumentCheck) -> str:
    """One line about a valid document: model, choices and finish reasons, tokens."""
    reasons = ", ".join(_report_name(reason) for reason in record.finish_reasons)
    text = f"model {_report_name(record.model)}, {_plural(len(record.finish_reasons), 'choice')} ({reasons or '-'})"
    if record.has_usage:
        text += f", tokens {record.prompt_tokens}+{record.completion_tokens}={record.total_tokens}"
    if record.tool_calls:
        text += f", {_plural(record.tool_calls, 'tool call')}"
    return text


class _Reporter:
    """Writes the report as it goes: text lines, one JSON object written piece by piece, or JSON Lines."""

    def __init__(self, out: IO[str], mode: str, quiet: bool) -> None:
        self.out = out
        self.mode = mode  # "text", "json" or "jsonl"
        self.quiet = quiet
        self.summary = Summary()
        self.io_errors = 0
        self.first_entry = True
        self.progress: Optional[_Progress] = None  # the input's progress line, cleared before output
        # The JSON report leaves its last entry's line open (a comma may follow it); a progress
        # line on the same terminal would overwrite it.
        self.progress_allowed = True
        if mode == "json":
            self.write('{"documents": [')

    def start_progress(self, name: str, size: Optional[int], position: Callable[[], int]) -> "_Progress":
        self.progress = _Progress(name, self.progress_allowed, size, position)
        return self.progress

    def write(self, text: str, flush: bool = False) -> None:
        if self.progress is not None:
            self.progress.clear()
        try:
            self.out.write(text)
            if flush:
                self.out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # the report cannot be written (disk full, ...): not the input's fault
            raise _OutputError(exc.strerror or str(exc)) from None

    def write_object(self, item: Dict[str, Any]) -> None:
        if self.mode == "jsonl":
            self.write(json.dumps(item) + "\n")
        else:
            self.write(("\n  " if self.first_entry else ",\n  ") + json.dumps(item))
            self.first_entry = False

    def entry(self, where: str, line: Optional[int], item: Optional[int], label: str, record: DocumentCheck,
              detail: str = "", extra: Optional[Dict[str, Any]] = None) -> None:
        """The report's entry for one document (or stream)."""
        if self.quiet and record.valid:
            return
        if self.mode != "text":
            fields_: Dict[str, Any] = {"file": where, "line": line, "item": item, "kind": record.kind,
                                       "status": record.status}
            if extra:
                fields_.update(extra)
            for name in _RECORD_FIELDS:
                fields_[name] = getattr(record, name)
            fields_["problems"] = [{"path": p.path, "message": p.message} for p in record.problems]
            self.write_object(fields_)
            return
        text = where + ("" if line is None else f":{line}") + ("" if item is None else f"[{item}]")
        text += f": {record.status} {label}"
        detail = detail or (_describe(record) if record.valid else "")
        if detail:
            text += f": {detail}"
        self.write(text + "\n")
        problems = record.problems
        for problem in problems[:MAX_LISTED_PROBLEMS]:
            self.write(f"  {problem}\n")
        more = max(len(problems) - MAX_LISTED_PROBLEMS, 0) + record.unkept_problems
        if more:
            self.write(f"  ... and {_plural(more, 'more problem')}\n")

    def document(self, where: str, line: Optional[int], item: Optional[int], label: str, record: DocumentCheck,
                 detail: str = "", listed: bool = True, extra: Optional[Dict[str, Any]] = None) -> None:
        """Count one document, and list it when it is to be listed."""
        self.summary.add(record)
        if listed or not record.valid or self.mode == "jsonl":
            self.entry(where, line, item, label, record, detail, extra)

    def file_entry(self, name: str, kind: str, size: Tuple[str, int], before: Summary) -> None:
        """The line that ends a file of many documents: its counts."""
        now = self.summary
        documents, valid = now.documents - before.documents, now.valid - before.valid
        invalid, errors = now.invalid - before.invalid, now.request_errors - before.request_errors
        status = "invalid" if invalid else "valid"
        if self.quiet and status == "valid" or self.mode == "jsonl":
            return
        if self.mode == "json":
            self.write_object({"file": name, "line": None, "item": None, "kind": kind, "status": status,
                               size[0]: size[1], "documents": documents, "valid": valid, "invalid": invalid,
                               "request_errors": errors})
            return
        detail = f"{_plural(size[1], size[0][:-1])}, {_plural(documents, 'document')}, {valid} valid, {invalid} invalid"
        if errors:
            detail += ", " + _plural(errors, "request error")
        self.write(f"{name}: {status} {kind}: {detail}\n")

    def io_error(self, where: str, message: str) -> None:
        self.io_errors += 1
        if self.progress is not None:
            self.progress.clear()
        if self.mode != "text":
            self.write_object({"file": where, "line": None, "item": None, "kind": "input", "status": "unreadable",
                               "error": message})
        else:
            try:
                if sys.stderr is not None:
                    sys.stderr.write(f"chatcompletion: {where}: {message}\n")
            except (OSError, ValueError):  # standard error closed or full: the exit status still says it
                pass

    def finish(self) -> int:
        text = ""
        if self.mode == "json":
            summary = self.summary.to_dict()
            summary["io_errors"] = self.io_errors
            text = ("\n" if not self.first_entry else "") + '], "summary": ' + json.dumps(summary) + "}\n"
        elif self.mode == "text" and not self.quiet:
            text = "\n".join(self.summary.lines()) + "\n"
        self.write(text, flush=True)
        if self.io_errors:
            return _USAGE_ERROR
        return 1 if (self.summary.invalid or self.summary.request_errors) else 0


class _InputError(Exception):
    """An input that cannot be read as text lines (I/O error, invalid UTF-8, truncated line, too long a line)."""


def _invalid_utf8(line: int, error: UnicodeDecodeError) -> _InputError:
    return _InputError(f"line {line}: invalid UTF-8 ({error.reason})")


class _OutputError(Exception):
    """The report cannot be written."""


def _accumulated(accumulator: ChatCompletionAccumulator) -> DocumentCheck:
    """The record of a stream's accumulated response.

    Chunks that each passed their check always add up to a response; should that ever fail,
    the record says so rather than the command line stopping with a traceback.
    """
    try:
        return _record_of(accumulator.result(), "stream")
    except ValidationError as exc:
        return _invalid_record("stream", *(Problem(_at("accumulated response", p.path), p.message) for p in exc.errors))


def _report_stream(reporter: _Reporter, name: str, accumulator: ChatCompletionAccumulator) -> None:
    record = _accumulated(accumulator)
    chunks = _plural(accumulator.chunks, "chunk" if record.valid else "valid chunk")
    detail = f"{chunks}; " + _describe(record) if record.valid else chunks
    reporter.document(name, None, None, "stream", record, detail, extra={"chunks": accumulator.chunks})


class _Input:
    """An input's lines, decompressed, each at most max_line_bytes long; blank lines are counted, not kept."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.codec = ""
        self.codec_errors: Tuple[Type[BaseException], ...] = ()
        self.size: Optional[int] = None
        try:
            info = os.fstat(raw.fileno())
            if stat.S_ISREG(info.st_mode):
                self.size = info.st_size
        except (OSError, ValueError, AttributeError):
            pass
        self.stream = self._decompressed(raw)
        self.number = 0  # lines read

    def _decompressed(self, raw: IO[bytes]) -> IO[bytes]:
        peek = getattr(raw, "peek", None)
        head = peek(8)[:8] if peek is not None else b""
        if head.startswith(b"\x1f\x8b"):
            import gzip
            import zlib
            self.codec, self.codec_errors = "gzip", (EOFError, zlib.error)
            return cast("IO[bytes]", gzip.GzipFile(fileobj=raw, mode="rb"))
        if head.startswith(b"BZh") and head[3:4].isdigit():
            import bz2
            self.codec, self.codec_errors = "bzip2", (EOFError,)
            return cast(IO[bytes], bz2.BZ2File(raw))
        if head.startswith(b"\xfd7zXZ\x00"):
            import lzma
            self.codec, self.codec_errors = "xz", (EOFError, lzma.LZMAError)
            return cast(IO[bytes], lzma.LZMAFile(raw))
        if head.startswith(b"\x28\xb5\x2f\xfd"):
            try:
                # compression.zstd joined the standard library in 3.14; imported by name, so that
                # tools that read this file's imports with an older Python's stdlib list pass it.
                zstd: Any = importlib.import_module("compression.zstd")
            except ImportError:
                raise _InputError("zstd-compressed, which this Python cannot read (3.14 and later can): "
                                  "decompress it first (zstd -dc FILE | python chatcompletion.py -)") from None
            self.codec, self.codec_errors = "zstd", (EOFError, zstd.ZstdError)
            return cast(IO[bytes], zstd.ZstdFile(raw))
        return raw

    def position(self) -> int:
        """How far into the (compressed) input reading is, in bytes."""
        try:
            return self.raw.tell()
        except (OSError, ValueError, AttributeError):
            return 0

    def _failed(self, exc: BaseException) -> _InputError:
        return _InputError(f"{self.codec} data corrupt or cut short: {exc}" if str(exc) else
                           f"{self.codec} data corrupt or cut short")

    def __iter__(self) -> Iterator[bytes]:
        readline, limit = self.stream.readline, self.limit
        codec_errors = self.codec_errors or (_InputError,)
        while True:
            try:
                line = readline(limit + 1)
            except codec_errors as exc:
                raise self._failed(exc) from None
            except OSError as exc:
                if self.codec:
                    raise self._failed(exc) from None
                raise
            if not line:
                return
            self.number += 1
            if len(line) > limit:
                raise _InputError(f"line {self.number}: longer than {limit:,} bytes (--max-line-bytes)")
            yield line

    def read_rest(self, room: int) -> bytes:
        """The rest of the input, at most ``room`` bytes."""
        try:
            data = self.stream.read(room + 1)
        except self.codec_errors or (_InputError,) as exc:
            raise self._failed(exc) from None
        if len(data) > room:
            raise _InputError(f"a JSON document spread over lines is longer than {self.limit:,} bytes (--max-line-bytes)")
        return data


def _is_blank(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped == _BOM


def _check_input(reporter: _Reporter, name: str, raw: IO[bytes], options: _Options, pool: "_Pool") -> None:
    source = _Input(raw, options.max_line_bytes)
    lines = iter(source)
    # The first content lines, and how many blank lines came before each (counted, not kept,
    # so that line numbers stay true in constant memory).
    content: List[bytes] = []
    blanks: List[int] = []

    def next_content() -> Optional[bytes]:
        count = 0
        for line in lines:
            if _is_blank(line):
                count += 1
                continue
            blanks.append(count)
            content.append(line)
            return line
        blanks.append(count)
        return None

    def replay() -> Iterator[bytes]:
        for count in blanks:
            yield from repeat(b"\n", count)
            if content:
                yield content.pop(0)  # held by no one here once read, however long the line

    first = next_content()
    if first is None:
        reporter.document(name, None, None, "input", _invalid_record("input", Problem("<root>", "empty: no document in it")))
        return
    if first.startswith(_WIDE_BOMS):
        raise _InputError("not UTF-8: the text starts with a UTF-16 or UTF-32 byte order mark")
    head = first[3:] if first.startswith(_BOM) else first
    if head.lstrip().startswith(_SSE_PREFIXES):
        _check_stream(reporter, name, chain(replay(), lines), options, source)
        return
    document, unfinished = _read_first_line(first, source.number)
    if not unfinished:
        second = next_content()
        if second is None:
            if document is not _MISSING:
                del first, head
                content.clear()
                _check_whole(reporter, name, document, options)
                return
        elif document is not _MISSING or _read_first_line(second, source.number)[0] is not _MISSING:
            # JSON Lines, also when its first line is bad: that line is reported, the rest read.
            del first, second, head, document  # each line's memory goes once it is checked
            _check_lines(reporter, name, chain(replay(), lines), options, source, pool)
            return
    # A document spread over several lines (or something that is not JSON at all).
    start = b"".join(replay())
    data = start + source.read_rest(options.max_line_bytes - len(start))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        begin = exc.start + (len(_BOM) if data.startswith(_BOM) else 0)  # the decoder counts after the BOM
        line = data.count(b"\n", 0, begin) + 1
        raise _invalid_utf8(line, exc) from None
    del data, start
    try:
        document = _json_loads(text)
    except RecursionError:
        reporter.document(name, None, None, "input", _invalid_record("input", Problem("<root>", "JSON nested too deeply to read")))
        return
    except ValueError as exc:
        sample = text[:1000]
        if sample and sample.count("\x00") * 4 >= len(sample):  # ASCII in UTF-16 is half NUL bytes
            raise _InputError("not UTF-8: NUL bytes, as UTF-16 or UTF-32 text has") from None
        reporter.document(name, None, None, "input", _invalid_record(
            "input", Problem("<root>", f"not JSON, JSON Lines or server-sent events: {exc}")))
        return
    del text
    _check_whole(reporter, name, document, options)


def _read_first_line(line: bytes, number: int) -> Tuple[Any, bool]:
    """The JSON object that one of the first lines holds whole (or _MISSING), and whether the line
    is rather the unfinished start of a document spread over several lines."""
    if not line.lstrip(b" \t\r\n\xef\xbb\xbf").startswith((b"{", b"[")):
        return _MISSING, False
    try:
        text = line.decode("utf-8-sig").rstrip("\r\n")  # so that a string the line cuts is unterminated
    except UnicodeDecodeError as exc:
        raise _invalid_utf8(number, exc) from None
    try:
        document = _json_loads(text)
    except RecursionError:
        return _MISSING, False
    except ValueError as exc:
        return _MISSING, _open_at_end(text, exc)
    return (document if isinstance(document, dict) else _MISSING), False


def _cut_short(text: str, error: ValueError) -> bool:
    """Whether JSON text that failed to parse stops before its document ends (a file cut off),
    rather than holding something that is not JSON."""
    if not isinstance(error, json.JSONDecodeError):
        return False
    if error.msg.startswith("Unterminated string"):
        return True
    # The decoder points at the start of the token it could not read.  Cut short, either
    # nothing is left, or one token that was still going on: the start of a literal or a
    # number, a number's fraction or exponent, or a string's \uXXXX escape.
    rest = text[error.pos:].rstrip()
    if not rest:
        return True
    if error.msg.startswith("Expecting value"):
        return any(word.startswith(rest) for word in _JSON_WORDS) or _NUMBER_CHARS.issuperset(rest)
    if error.msg.startswith("Expecting ',' delimiter"):
        return text[error.pos - 1:error.pos].isdigit() and _NUMBER_CHARS.issuperset(rest)
    if error.msg.startswith("Invalid \\uXXXX escape"):  # pointed at the "u"
        return len(rest) <= 5 and _HEX_DIGITS.issuperset(rest[1:])
    return False


def _open_at_end(text: str, error: ValueError) -> bool:
    """Whether a line that failed to parse may go on over the next lines: it stops between
    tokens (``{"id": "x",``).  A token itself never spans lines."""
    return (isinstance(error, json.JSONDecodeError) and not error.msg.startswith("Unterminated string")
            and not text[error.pos:].strip())


def _kind_of(document: Any) -> str:
    if isinstance(document, dict):
        if "custom_id" in document and ("response" in document or "error" in document):
            return "batch"
        if _error_of(document) is not _MISSING:  # as in a stream (see _read_event)
            return "error"
        if document.get("object") == "chat.completion.chunk":
            return "chunk"
        choices = document.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict) and "delta" in choices[0]:
            return "chunk"
    return "response"


def _check_whole(reporter: _Reporter, name: str, document: Any, options: _Options) -> None:
    """A file holding one JSON value: a document, or an array of them."""
    if type(document) is not list:
        record, label, detail, _ = _check(document, options.strict, options.path)
        reporter.document(name, None, None, label, record, detail)
        return
    if not document:
        reporter.document(name, None, None, "JSON array", _invalid_record("JSON array", Problem("<root>", "empty: no document in it")))
        return
    # Items are checked as lines of JSON Lines are: only those with problems are listed.
    before = copy.deepcopy(reporter.summary)
    chunks = ChatCompletionAccumulator()
    count = len(document)
    for index in range(count):
        item = document[index]
        document[index] = None  # each item's memory goes once it is checked
        record, label, detail, chunk = _check(item, options.strict, options.path, stream=True)
        if chunk is not None:
            chunks.add(chunk)
        else:
            reporter.document(name, None, index, label, record, detail, listed=False)
    if chunks.chunks:
        _report_stream(reporter, name, chunks)
    reporter.file_entry(name, "JSON array", ("items", count), before)


class _Batch(NamedTuple):
    """What one batch of JSON Lines holds: the counts of its documents, the entries to report
    (line number, record, kind word, detail), its valid chunks, and an input error that stops the file."""

    summary: Summary
    entries: List[Tuple[int, DocumentCheck, str, str]]
    chunks: List[CreateChatCompletionStreamResponse]
    error: str


def _check_batch(job: Tuple[int, List[bytes], bool, str, bool]) -> _Batch:
    """Check a batch of JSON Lines, whose first line is number ``start``; in this process or a worker."""
    start, lines, strict, path, every = job
    summary = Summary()
    entries: List[Tuple[int, DocumentCheck, str, str]] = []
    chunks: List[CreateChatCompletionStreamResponse] = []
    build = _plans_of(CreateChatCompletionResponse)[bool(strict)].build
    add = summary.add
    for index, line in enumerate(lines):
        number = start + index
        ended = line.endswith(b"\n")
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            return _Batch(summary, entries, chunks, str(_invalid_utf8(number, exc)))
        lines[index] = b""  # a long line's bytes go before its text is parsed
        del line
        if not text or text.isspace():
            continue
        try:
            document = _json_loads(text)
        except RecursionError:
            record = _invalid_record("response", Problem("<root>", "invalid JSON: nested too deeply"))
            add(record)
            entries.append((number, record, "line", ""))
            continue
        except ValueError as exc:
            if not ended and _cut_short(text, exc):
                return _Batch(summary, entries, chunks, f"line {number}: truncated (the file ends inside a JSON document)")
            record = _invalid_record("response", Problem("<root>", f"invalid JSON: {exc}"))
            add(record)
            entries.append((number, record, "line", ""))
            continue
        # The usual line of a batch file, a successful request whose body is valid, is counted
        # here without the general path's calls; any other line, or a body that fails, goes
        # through _check(), which says why.
        if not path and type(document) is dict and "custom_id" in document:
            body = _succeeded(document)
            if type(body) is dict:
                try:
                    parsed = build(body)
                except (_Invalid, RecursionError, ValidationError):  # said again, with why, below
                    pass
                else:
                    custom_id = document["custom_id"]
                    record = _record_of(parsed, "batch line", custom_id if type(custom_id) is str else None, 200)
                    add(record)
                    if every:
                        entries.append((number, record, "batch line", ""))
                    continue
        record, label, detail, chunk = _check(document, strict, path, stream=True)
        if chunk is not None:
            chunks.append(chunk)
            continue
        add(record)
        if every or not record.valid:
            entries.append((number, record, label, detail))
    return _Batch(summary, entries, chunks, "")


def _batches(lines: Iterable[bytes], options: _Options, every: bool) -> Iterator[Tuple[int, List[bytes], bool, str, bool]]:
    batch: List[bytes] = []
    size = 0
    start = 1
    for line in lines:
        batch.append(line)
        size += len(line)
        del line  # not kept past its batch
        if len(batch) >= _BATCH_LINES or size >= _BATCH_BYTES:
            yield start, batch, options.strict, options.path, every
            start += len(batch)
            batch, size = [], 0
    if batch:
        yield start, batch, options.strict, options.path, every


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops them."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Pool:
    """The --jobs worker processes, started when the first JSON Lines file needs them."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: Any = None

    def results(self, jobs: Iterator[Tuple[int, List[bytes], bool, str, bool]]) -> Iterator[_Batch]:
        """The batches' results in input order, with at most two batches a worker in flight (bounded memory)."""
        if self.jobs <= 1:
            for job in jobs:
                yield _check_batch(job)
            return
        if self.pool is None:
            import multiprocessing
            self.pool = multiprocessing.Pool(self.jobs, initializer=_ignore_interrupts)
        pending: Deque[Any] = collections.deque()
        for job in jobs:
            pending.append(self.pool.apply_async(_check_batch, (job,)))
            if len(pending) >= 2 * self.jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


def _check_lines(reporter: _Reporter, name: str, lines: Iterable[bytes], options: _Options, source: _Input,
                 pool: _Pool) -> None:
    """JSON Lines, in batches; chunks among them add up to one stream per file."""
    before = copy.deepcopy(reporter.summary)
    chunks = ChatCompletionAccumulator()
    progress = reporter.start_progress(name, source.size, source.position)
    every = reporter.mode == "jsonl" and not reporter.quiet
    for batch in pool.results(_batches(lines, options, every)):
        reporter.summary.merge(batch.summary)
        for number, record, label, detail in batch.entries:
            reporter.entry(name, number, None, label, record, detail)
        for chunk in batch.chunks:
            chunks.add(chunk)
        if batch.error:
            raise _InputError(batch.error)
        progress.tick(source.number)
    progress.done()
    if chunks.chunks:
        _report_stream(reporter, name, chunks)
    reporter.file_entry(name, "JSON Lines", ("lines", source.number), before)


def _check_stream(reporter: _Reporter, name: str, lines: Iterable[bytes], options: _Options, source: _Input) -> None:
    """A server-sent-events transcript: every chunk checked, then the accumulated response."""
    accumulator = ChatCompletionAccumulator()
    plan = _plans_of(CreateChatCompletionStreamResponse)[bool(options.strict)]
    problems: List[Problem] = []
    unkept = 0  # problems past MAX_KEPT_PROBLEMS, counted only, so that memory stays constant
    error: Any = _MISSING
    progress = reporter.start_progress(name, source.size, source.position)
    try:
        for line, what, value in _read_events(_sse_events(_decoded_lines(lines)), plan):
            if progress.enabled and not line & 1023:
                progress.tick(line)
            if what is _CHUNK:
                accumulator.add(value)
                continue
            if what is _SERVER_ERROR:
                error = value
                if problems:  # listed after them, past the limit too: it ends the stream
                    problems.append(Problem(_at(f"line {line}", "<root>"),
                                            "the server sent an error: " + _describe_error(value)))
            if what is not _INVALID:
                break
            found = value.errors
            room = MAX_KEPT_PROBLEMS - len(problems)
            problems.extend(found[:room])
            unkept += max(len(found) - room, 0) + value.unkept
    except ValidationError as exc:
        raise _InputError(exc.errors[0].message) from None
    progress.done()
    chunks = {"chunks": accumulator.chunks}
    if problems:
        detail = _plural(accumulator.chunks, "valid chunk")
        if error is not _MISSING:  # on the stream's own line, so that text output shows it however many problems
            detail += ", then the server sent an error: " + _describe_error(error)
        record = _invalid_record("stream", *problems, unkept=unkept,
                                 error=None if error is _MISSING else _describe_error(error))
        reporter.document(name, None, None, "stream", record, detail, extra=chunks)
    elif error is not _MISSING:
        reporter.document(name, None, None, "stream", _error_record("stream", error),
                          f"the server sent an error after {_plural(accumulator.chunks, 'chunk')}: "
                          + _describe_error(error), extra=chunks)
    elif not accumulator.chunks:
        reporter.document(name, None, None, "stream", _invalid_record("stream", Problem("<stream>", "no chunks in it")),
                          extra=chunks)
    else:
        _report_stream(reporter, name, accumulator)


def _sse_events(lines: Iterable[str]) -> Iterator[Tuple[str, str, int]]:
    """The events of a stream read as lines, by the readers' own decoder."""
    sse = _SSEDecoder()
    for line in lines:
        yield from sse.feed(line)
    yield from sse.close()


def _decoded_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """A file's lines as text; invalid UTF-8 is an input error that names the line."""
    for number, line in enumerate(lines, 1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid_utf8(number, exc) from None


class _Progress:
    """Lines read, rate, and (when the input's size is known) percentage and time left, on stderr,
    for long inputs, only when stderr is a terminal."""

    def __init__(self, name: str, allowed: bool, size: Optional[int], position: Callable[[], int]) -> None:
        self.name = name
        try:
            self.enabled = allowed and sys.stderr is not None and sys.stderr.isatty()
        except (OSError, ValueError):  # stderr closed
            self.enabled = False
        self.size = size
        self.position = position
        self.start = self.last = time.monotonic()
        self.shown = False

    def tick(self, lines: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last >= _PROGRESS_SECONDS:
            self.last = now
            elapsed = max(now - self.start, 1e-9)
            text = f"\r{self.name}: {lines} lines, {lines / elapsed:,.0f} lines/s"
            if self.size:
                done = min(self.position() / self.size, 1.0)
                text += f", {done:.0%}"
                if done > 0:
                    left = int(elapsed * (1 - done) / done)
                    text += f", ETA {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"
            sys.stderr.write(text + " ")
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        """Erase the progress line (until the next tick), so that report lines do not run into it."""
        if self.shown:
            self.shown = False
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    done = clear


def _byte_size(text: str) -> int:
    """A size such as 1000, 64M or 2G (powers of 1024)."""
    text = text.strip().upper().rstrip("B").rstrip("I")
    suffix = text[-1:] if text[-1:] in _SIZE_SUFFIXES else ""
    number = int(text[:len(text) - len(suffix)])
    if number <= 0:
        raise ValueError(text)
    return number * _SIZE_SUFFIXES[suffix]


def _positive(text: str) -> int:
    number = int(text)
    if number <= 0:
        raise ValueError(text)
    return number


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: check responses, streams, arrays and JSON Lines files; see ``--help``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="chatcompletion",
        description="Check OpenAI chat-completion responses, streams and batch files, and summarise them.",
        epilog=_HELP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files to check; - reads standard input")
    parser.add_argument("--strict", action="store_true", help="check exactly against the OpenAI spec")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report as one JSON object")
    output.add_argument("--jsonl", action="store_true",
                        help="print one JSON object per document (valid ones too), for jq, DuckDB or a warehouse")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    parser.add_argument("--path", default="", metavar="KEYS",
                        help="check the document at this dotted path inside each record, e.g. response "
                             "or response.body")
    parser.add_argument("--jobs", type=_positive, default=1, metavar="N",
                        help="check JSON Lines in N processes; the output is the same as with 1 (default 1)")
    parser.add_argument("--max-line-bytes", type=_byte_size, default=_MAX_LINE_BYTES, metavar="SIZE",
                        help="refuse longer lines, and longer documents spread over lines (default 64M)")
    parser.add_argument("--version", action="version", version=f"chatcompletion {__version__}")
    args = parser.parse_args(argv)
    if sys.stdout is None:  # started with standard output closed
        if sys.stderr is not None:
            print("chatcompletion: standard output is closed", file=sys.stderr)
        return _USAGE_ERROR
    options = _Options(args.strict, args.path, args.max_line_bytes, args.jobs)
    out: IO[str] = sys.stdout
    wrapped: Optional[io.TextIOWrapper] = None
    try:
        interactive = sys.stdout.isatty()
    except (OSError, ValueError):
        interactive = False
    if hasattr(sys.stdout, "buffer"):
        # Model names and errors may hold any character; never fail on the terminal's encoding.
        # On a terminal, each problem shows as soon as it is found.
        out = wrapped = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="replace",
                                         line_buffering=interactive)
    mode = "json" if args.json else "jsonl" if args.jsonl else "text"
    reporter = _Reporter(out, mode, args.quiet)
    reporter.progress_allowed = not (mode != "text" and interactive)
    pool = _Pool(options.jobs)
    try:
        for path in args.paths:
            name = "<stdin>" if path == "-" else path
            try:
                if path == "-":
                    if sys.stdin is None:
                        raise _InputError("standard input is closed")
                    _check_input(reporter, name, sys.stdin.buffer, options, pool)
                else:
                    with open(path, "rb") as stream:
                        _check_input(reporter, name, stream, options, pool)
            except BrokenPipeError:
                raise  # our output went away (| head), not this input
            except OSError as exc:
                reporter.io_error(name, exc.strerror or str(exc))
            except _InputError as exc:
                reporter.io_error(name, str(exc))
            except MemoryError:
                reporter.io_error(name, "out of memory (a lower --max-line-bytes or fewer --jobs may help)")
            finally:
                if reporter.progress is not None:
                    reporter.progress.done()
                    reporter.progress = None
        return reporter.finish()
    except KeyboardInterrupt:
        return _INTERRUPTED
    except MemoryError:
        _say("out of memory")
        return _USAGE_ERROR
    except (BrokenPipeError, _OutputError) as exc:
        # The reader stopped (| head), or the report could not be written (disk full): say so,
        # unless the reader chose to stop.  Point stdout at devnull so that the interpreter's own
        # final flush does not complain.
        if isinstance(exc, _OutputError):
            _say(f"cannot write the report: {exc}")
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return _USAGE_ERROR
    finally:
        pool.close()
        if wrapped is not None:
            try:
                wrapped.flush()
                wrapped.detach()
            except (OSError, ValueError):
                pass


def _say(message: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(f"chatcompletion: {message}\n")
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    _importing = False
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # between main's own handlers
        sys.exit(_INTERRUPTED)
