"""Read a response and a stream with chatcompletion, type-checked: `mypy --strict` passes on this file.

    python examples/typed_usage.py
"""

import dataclasses
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import chatcompletion as cc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def describe(response: cc.CreateChatCompletionResponse) -> str:
    lines = [f"{response.model or '(no model)'}:"]
    for choice in response.choices or ():
        message = choice.message
        if not isinstance(message, cc.ChatCompletionResponseMessage):
            continue  # a server may leave the message out (Azure's content filter)
        if choice.finish_reason == cc.FinishReason.TOOL_CALLS:
            for call in message.tool_calls or ():
                if isinstance(call, cc.ChatCompletionMessageToolCall) and call.function:
                    lines.append(f"  calls {call.function.name}({call.function.arguments})")
        elif isinstance(message.content, str):
            lines.append(f"  says {message.content!r}")
        reasoning = message.extra.get("reasoning_content")  # a provider's own key, kept as sent
        if isinstance(reasoning, str):
            lines.append(f"  thought {reasoning!r}")
    usage = response.usage
    if usage:
        lines.append(f"  {usage.total_tokens} tokens")
    return "\n".join(lines)


def canned_response(text: str) -> cc.CreateChatCompletionResponse:
    """The models are frozen dataclasses: build one by hand (a test double, say); leave out what you like."""
    message = cc.ChatCompletionResponseMessage(role="assistant", content=text, refusal=None)
    choice = cc.Choice(index=0, message=message, logprobs=None, finish_reason="stop")
    return cc.CreateChatCompletionResponse(id="chatcmpl-canned", object="chat.completion", created=0,
                                           model="canned", choices=(choice,))


def main() -> None:
    with open(os.path.join(HERE, "response.json"), "rb") as body:
        print(describe(cc.loads(body.read())))
    with open(os.path.join(HERE, "stream.sse"), "rb") as stream:
        print(describe(cc.accumulate(cc.iter_chunks(stream))))
    canned = canned_response("Canned.")
    print(describe(dataclasses.replace(canned, model="canned-2")))  # a changed copy
    assert cc.loads(cc.dumps(canned)) == canned  # what you build is checked when you read it back


if __name__ == "__main__":
    main()
