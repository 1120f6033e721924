"""The everyday tasks with chatcompletion, as type-checked code.

`mypy --strict` and pyright's strict mode pass on this file with no cast and no
`# type: ignore`; `.ci/run` checks both.  It reads the example files beside it:

    python examples/typed_usage.py
"""

import dataclasses
import json
import os
import sys
from typing import Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import chatcompletion as cc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name: str) -> bytes:
    with open(os.path.join(HERE, name), "rb") as file:
        return file.read()


def total_logprob(choice: cc.Choice) -> Optional[float]:
    """The log probability of the choice's content; None when the server sent no logprobs."""
    logprobs = choice.logprobs  # Optional: only when the request asked for logprobs
    if logprobs is None:
        return None
    return sum(token.logprob for token in logprobs.content if token.logprob is not None)


def describe(response: cc.CreateChatCompletionResponse) -> None:
    choice = response.choices[0]  # choices is a tuple
    message = choice.message  # always an instance, never None
    text = message.text  # Optional[str]: the content as plain text
    if text is not None:
        print(f"  says {text!r}")

    for call in message.tool_calls:  # a tuple, () when there are none
        if isinstance(call, cc.ChatCompletionMessageToolCall):
            arguments = json.loads(call.function.arguments or "{}")  # JSON text, as the model wrote it
            print(f"  calls {call.function.name} with {arguments}")
        else:  # narrowed to cc.ChatCompletionMessageCustomToolCall
            print(f"  calls custom tool {call.custom.name} with {call.custom.input!r}")

    if choice.finish_reason == cc.FinishReason.STOP:  # the string received compares equal
        print("  finished")
    elif choice.finish_reason == cc.FinishReason.TOOL_CALLS:
        print("  waits for the tools' results")
    elif choice.finish_reason == cc.FinishReason.LENGTH:
        print("  was cut short")

    logprob = total_logprob(choice)
    if logprob is not None:
        print(f"  logprob {logprob:.4f}")

    usage = response.usage  # Optional: None when the server left it out
    if usage is not None:
        print(f"  tokens: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion"
              f" = {usage.total_tokens}")
        prompt_details = usage.prompt_tokens_details  # Optional too
        if prompt_details is not None:
            print(f"    cached: {prompt_details.cached_tokens or 0}")
        completion_details = usage.completion_tokens_details
        if completion_details is not None:
            print(f"    reasoning: {completion_details.reasoning_tokens or 0}")


def parse(body: bytes) -> Optional[cc.CreateChatCompletionResponse]:
    try:
        return cc.loads(body)
    except cc.APIError as err:  # an error body from the server; catch it before ValidationError
        print(f"  the server said: {err.message} (code {err.code})")
    except cc.ValidationError as err:  # not a chat completion
        print(f"  invalid, {len(err.errors)} problems; the first: {err.errors[0]}")
    return None


def canned_response(text: str) -> cc.CreateChatCompletionResponse:
    """A test double built by hand; fields left out are None, () or an empty instance."""
    message = cc.ChatCompletionResponseMessage(role="assistant", content=text)
    choice = cc.Choice(index=0, message=message, finish_reason="stop")
    usage = cc.CompletionUsage(prompt_tokens=5, completion_tokens=1, total_tokens=6)
    return cc.CreateChatCompletionResponse(id="chatcmpl-canned", object="chat.completion", created=0,
                                           model="canned", choices=(choice,), usage=usage)


def main() -> None:
    for name in ("response.json", "tool_calls.json", "logprobs.json"):
        print(f"{name}:")
        describe(cc.loads(read(name)))

    print("stream.sse:")
    with open(os.path.join(HERE, "stream.sse"), "rb") as file:  # a live stream is read the same way
        chunks = list(cc.iter_chunks(file))
    pieces = [chunk.choices[0].delta.text or "" for chunk in chunks if chunk.choices]  # the usage chunk has none
    print(f"  deltas {pieces}")
    describe(cc.accumulate(chunks))  # the whole response again

    print("errors:")
    parse(b'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}')
    parse(read("bad.json"))

    print("a test double:")
    canned = canned_response("Canned.")
    assert cc.loads(cc.dumps(canned)) == canned  # what you build reads back the same
    cut = dataclasses.replace(canned.choices[0], finish_reason="length")  # a changed copy
    describe(dataclasses.replace(canned, choices=(cut,), usage=None))


if __name__ == "__main__":
    main()
