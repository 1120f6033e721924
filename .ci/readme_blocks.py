"""Write the ```python blocks of Markdown files out as modules, for the type checkers.

    python .ci/readme_blocks.py OUTDIR README.md [MORE.md ...]

Each block becomes a module of its own, OUTDIR/<file>_line<N>.py, where N is the line of the
block's first line of code in its Markdown file, and the file's paths are printed, one a line.
Blocks are checked one by one, as a reader copies them: a name a block binds does not leak into
the next.  The module keeps the block's text as it is and its line numbers too, so that a
checker's `README_md_line71.py:75` is line 75 of README.md; a fenced block indented inside a
list loses that indentation.

A block may use a few names that the prose around it stands for: ``cc`` (the module, imported
in an earlier block), ``httpx`` or ``requests`` (imported where the reader uses them), a
``body`` that a client received, a request's ``url``, ``payload``, ``headers`` and API ``KEY``,
a ``requests_response`` or ``urllib_response``, a parsed ``choice``.  For each such name that a
block reads and never binds, the module starts with the import or a declaration with its real
type (PREAMBLE below), in the blank lines above the block.  Any other undefined name is left
undefined, for the checkers to report: a block that needs a new one either binds it or gets an
entry here.  The modules are type-checked only, never run.

Standard library only.
"""

import ast
import builtins
import os
import re
import sys
from typing import Dict, Iterator, List, Set, Tuple

# name -> (what it needs from typing, the import it needs, its declaration)
PREAMBLE: Dict[str, Tuple[Tuple[str, ...], str, str]] = {
    "cc": ((), "import chatcompletion as cc", ""),
    "body": ((), "", 'body: bytes = b\'{"choices": []}\''),
    "url": ((), "", 'url: str = "http://localhost:8000/v1/chat/completions"'),
    "payload": (("Any", "Dict"), "", 'payload: Dict[str, Any] = {"model": "m", "messages": [], "stream": True}'),
    "headers": (("Dict",), "", "headers: Dict[str, str] = {}"),
    "requests_response": ((), "import requests", "requests_response: requests.Response = requests.Response()"),
    "httpx": ((), "import httpx", ""),
    "requests": ((), "import requests", ""),
    "KEY": ((), "", 'KEY: str = "sk-..."'),
    "choice": ((), "import chatcompletion as cc", "choice: cc.Choice = cc.Choice()"),
    "urllib_response": ((), "import http.client",
                        'urllib_response: http.client.HTTPResponse = http.client.HTTPConnection("localhost").getresponse()'),
}

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<info>[^\s`]*)")


def blocks(text: str) -> Iterator[Tuple[int, str]]:
    """(line of the first line of code, the code) for each python block."""
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        number += 1
        if not opening:
            continue
        indent, fence, info = opening.group("indent"), opening.group("fence"), opening.group("info").lower()
        start = number
        code: List[str] = []
        while number < len(lines):
            line = lines[number]
            number += 1
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                break
            code.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
        if info in ("python", "py", "python3"):
            yield start + 1, "\n".join(code) + "\n"


def free_names(code: str) -> Set[str]:
    """The names a block reads and binds nowhere (builtins excepted); empty if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()  # the checkers report it
    read: Set[str] = set()
    bound: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif type(node).__name__ in ("MatchAs", "MatchStar") and getattr(node, "name", None):
            bound.add(getattr(node, "name"))
        elif type(node).__name__ == "MatchMapping" and getattr(node, "rest", None):
            bound.add(getattr(node, "rest"))
    return read - bound - set(dir(builtins))


def module_text(first_line: int, code: str, source: str) -> str:
    needed = sorted(name for name in free_names(code) if name in PREAMBLE)
    typing_names = sorted({each for name in needed for each in PREAMBLE[name][0]})
    imports = sorted({PREAMBLE[name][1] for name in needed if PREAMBLE[name][1]})
    if typing_names:
        imports.append(f"from typing import {', '.join(typing_names)}")
    declarations = [PREAMBLE[name][2] for name in needed if PREAMBLE[name][2]]
    head = [f"# {source}, the python block at line {first_line}; written by .ci/readme_blocks.py"]
    head += imports + declarations
    if len(head) < first_line:  # the block keeps its line numbers
        head += [""] * (first_line - 1 - len(head))
    else:
        head.append(f"# (lines below are shifted by {len(head) + 1 - first_line})")
    return "\n".join(head) + "\n" + code


def main(argv: List[str]) -> int:
    if len(argv) < 2:
        print("usage: python .ci/readme_blocks.py OUTDIR FILE.md [FILE.md ...]", file=sys.stderr)
        return 2
    out, sources = argv[0], argv[1:]
    os.makedirs(out, exist_ok=True)
    written = 0
    for source in sources:
        with open(source, encoding="utf-8") as file:
            text = file.read()
        stem = re.sub(r"\W", "_", os.path.relpath(source).lstrip("./"))
        for first_line, code in blocks(text):
            path = os.path.join(out, f"{stem}_line{first_line}.py")
            with open(path, "w", encoding="utf-8") as file:
                file.write(module_text(first_line, code, source))
            print(path)
            written += 1
    if not written:
        print("no python blocks found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
