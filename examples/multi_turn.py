"""A tool-calling exchange, offline: the model calls a tool, we run it, and build the next request.

    python examples/multi_turn.py

The model's answer is read from examples/tool_call_response.json, written as a server sends it;
with a real server, POST the request and read its body with cc.loads() the same way. Prints the
next request's messages as JSON. `mypy --strict` passes on this file.
"""

import json
import os
import sys
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import chatcompletion as cc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# What the request offers the model.
TOOLS: List[Dict[str, Any]] = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]


def get_weather(city: str) -> Dict[str, Any]:
    """The tool itself; a real one would ask a weather service."""
    return {"city": city, "temperature": {"Paris": 18, "Oslo": 7}.get(city), "unit": "celsius"}


RUN: Dict[str, Callable[..., Dict[str, Any]]] = {"get_weather": get_weather}


def run_tools(response: cc.CreateChatCompletionResponse) -> List[Dict[str, Any]]:
    """The assistant's turn and one tool message per call, ready to append to the conversation."""
    choice = response.choices[0]
    message = choice.message
    turn = [message.to_request()]       # the assistant message as the request takes it
    if choice.normalized_finish_reason != "tool_calls":
        return turn                     # a final answer: message.text
    for index, call in enumerate(message.tool_calls):
        # Every call gets an answer, errors included: the model reads them and can try again.
        if not isinstance(call, cc.ChatCompletionMessageToolCall):
            content = "error: no custom tools here"
        else:
            tool = RUN.get(call.function.name or "")
            try:
                if tool is None:
                    raise LookupError(f"no tool named {call.function.name!r}")
                arguments = call.function.parse_arguments(f"choices[0].message.tool_calls[{index}].function")
                content = json.dumps(tool(**arguments))
            except (LookupError, cc.ValidationError, TypeError) as err:  # no such tool, not JSON, wrong parameters
                content = f"error: {err}"
        turn.append(cc.tool_message(call.id or "", content))
    return turn


def main() -> None:
    messages: List[Dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris and in Oslo?"}]
    request: Dict[str, Any] = {"model": "gpt-4.1", "messages": messages, "tools": TOOLS}
    # body = POST request to /v1/chat/completions; here, the answer recorded in the fixture:
    with open(os.path.join(HERE, "tool_call_response.json"), "rb") as file:
        body = file.read()
    response = cc.loads(body)
    messages.extend(run_tools(response))
    # POST request again (its messages now hold the tools' results) for the model's answer.
    print(json.dumps(request["messages"], indent=2))


if __name__ == "__main__":
    main()
