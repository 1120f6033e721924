// Runs the README's test command (`python -m unittest -v`) inside Pyodide on Node.js: CPython
// compiled to WebAssembly (sys.platform "emscripten"), the restricted runtime this module is for.
//
//   node .ci/pyodide/run_tests.mjs --pyodide DIR [--root DIR] [--shared DIR] [-- UNITTEST_ARGS...]
//
// DIR is an installed npm package `pyodide` (its node_modules/pyodide folder), which carries its
// runtime (pyodide.asm.wasm, python_stdlib.zip): nothing is fetched at run time, and no package
// beyond the standard library is loaded. --root is the checkout (default: two folders up from
// here), --shared the folder holding corpus/ and spec/ (default: ROOT/../shared).
//
// The module, the tests, examples/ and docs/, and SHARED/corpus and SHARED/spec when present, are
// copied into Pyodide's in-memory file system at the same relative places (/ci/main and
// /ci/shared), and unittest runs there in-process.
//
// Besides the tests, one check of the docs' Pyodide example: every corpus stream is read piece by
// piece through pyodide.http.pyfetch (Node's fetch) from an HTTP server on 127.0.0.1 that this
// script runs, into aiter_chunks() and aaccumulate(), and must equal accumulate(iter_chunks(file)).
// It is skipped when unittest arguments are given.
//
// asyncio.run() in Pyodide needs WebAssembly stack switching (JSPI), which Node 20 has only behind
// a V8 flag. Where the runtime lacks it and Node takes the flag, this script runs the pyfetch
// check itself and the tests in a second Node process started with the flag (the flag makes every
// turn of Pyodide's event loop cost a millisecond on Node 20, which the check, awaiting thousands
// of reads, would feel).
//
// Prints unittest's own report, then `N passed, M failed` (M: failures + errors + unexpected
// successes, plus the pyfetch check if it fails; skipped tests count as neither), and exits 1 on
// any failure.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const started = Date.now();
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opts = { root: path.resolve(here, "..", ".."), pyodide: null, shared: null };
let unittestArgs = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--") { unittestArgs = args.slice(i + 1); break; }
  const key = args[i].replace(/^--/, "");
  if (!(key in opts) || i + 1 >= args.length) {
    console.error("usage: node run_tests.mjs --pyodide DIR [--root DIR] [--shared DIR] [-- UNITTEST_ARGS...]");
    process.exit(2);
  }
  opts[key] = path.resolve(args[++i]);
}
if (!opts.pyodide) { console.error("--pyodide DIR (an installed node_modules/pyodide) is required"); process.exit(2); }
opts.shared ??= path.resolve(opts.root, "..", "shared");
const MAIN = "/ci/main", SHARED = "/ci/shared";
const streamsDir = path.join(opts.shared, "corpus", "streams");
const streams = fs.existsSync(streamsDir) ? fs.readdirSync(streamsDir).filter((n) => n.endsWith(".sse")).sort() : [];
const runFetchCheck = unittestArgs === null && streams.length > 0;

const hasJspi = () => typeof WebAssembly.Suspending === "function" || typeof WebAssembly.Suspender === "function";
// The flag that gives this Node stack switching, if it lacks it and some flag does.
function jspiFlag() {
  if (hasJspi() || process.env.PYODIDE_CI_CHILD) return null;
  const probe = "process.exit(typeof WebAssembly.Suspending === 'function' || typeof WebAssembly.Suspender === 'function' ? 0 : 1)";
  for (const flag of ["--experimental-wasm-jspi", "--experimental-wasm-stack-switching"]) {
    if (spawnSync(process.execPath, [flag, "-e", probe], { stdio: "ignore" }).status === 0) return flag;
  }
  return null;
}

async function load(withTests) {
  const loadStarted = Date.now();
  const { loadPyodide } = await import(pathToFileURL(path.join(opts.pyodide, "pyodide.mjs")).href);
  const pyodide = await loadPyodide({ indexURL: opts.pyodide + path.sep });
  // Python's output as it is written, unbuffered, and the test last started (for a fatal error).
  const passOn = (stream) => ({
    write(buffer) {
      const text = Buffer.from(buffer).toString("utf8");
      for (const m of text.matchAll(/^test\w* \(([\w.]+)\)/gm)) lastTest = m[1];
      stream.write(buffer);
      return buffer.length;
    },
  });
  pyodide.setStdout(passOn(process.stdout));
  pyodide.setStderr(passOn(process.stderr));
  const FS = pyodide.FS;
  // Copies a file, or a folder without its dot-entries and __pycache__, into Pyodide's file system.
  const copyIn = (hostPath, pyPath) => {
    const stat = fs.statSync(hostPath, { throwIfNoEntry: false });
    if (!stat) return 0;
    if (stat.isDirectory()) {
      FS.mkdirTree(pyPath);
      let n = 0;
      for (const name of fs.readdirSync(hostPath)) {
        if (!name.startsWith(".") && name !== "__pycache__") n += copyIn(path.join(hostPath, name), pyPath + "/" + name);
      }
      return n;
    }
    if (!stat.isFile()) return 0;
    FS.mkdirTree(path.posix.dirname(pyPath));
    FS.writeFile(pyPath, fs.readFileSync(hostPath));
    return 1;
  };
  for (const name of withTests ? ["chatcompletion.py", "test_chatcompletion.py"] : ["chatcompletion.py"]) {
    if (!copyIn(path.join(opts.root, name), `${MAIN}/${name}`)) {
      console.error(`${name} not found in ${opts.root}`);
      process.exit(2);
    }
  }
  let shared = copyIn(path.join(opts.shared, "corpus"), `${SHARED}/corpus`);
  if (withTests) {
    copyIn(path.join(opts.root, "examples"), `${MAIN}/examples`);
    copyIn(path.join(opts.root, "docs"), `${MAIN}/docs`);
    shared += copyIn(path.join(opts.shared, "spec"), `${SHARED}/spec`);
  }
  pyodide.runPython(`import os, sys; os.chdir(${JSON.stringify(MAIN)}); sys.path.insert(0, ${JSON.stringify(MAIN)})`);
  console.log(`Pyodide ${pyodide.version}: Python ${pyodide.runPython("sys.version.split()[0]")} on ` +
    `${pyodide.runPython("sys.platform")}, loaded in ${seconds(loadStarted)}; ${shared} files of ` +
    `${opts.shared} copied in; stack switching: ${hasJspi() ? "yes" : "no"}`);
  return pyodide;
}

// The README's test command, in-process: discovery in the checkout's folder, as `python -m unittest`
// does; runPythonAsync, so that asyncio.run() in the tests may switch stacks. [passed, failed, skipped].
async function runTests(pyodide) {
  pyodide.globals.set("unittest_argv", pyodide.toPy(["python -m unittest", ...(unittestArgs ?? ["-v"])]));
  try {
    const counts = await pyodide.runPythonAsync(`
import unittest
_result = unittest.main(module=None, argv=list(unittest_argv), exit=False).result
_bad = len(_result.failures) + len(_result.errors) + len(_result.unexpectedSuccesses)
[_result.testsRun - _bad - len(_result.skipped), _bad, len(_result.skipped)]
`);
    const result = counts.toJs();
    counts.destroy();
    return result;
  } catch (e) {
    // A fatal error (the JavaScript stack overflowing, say) ends the runtime: nothing more runs.
    console.log(`FAILED: the tests ended Pyodide: ${String(e && e.message || e).split("\n").slice(-3).join(" ")}`);
    return null;
  }
}

const FETCH_CHECK = `
import chatcompletion
from pyodide.http import pyfetch


async def accumulate_url(url):  # the docs' example
    """The chat completion that a streamed answer adds up to, read piece by piece through pyfetch."""
    response = await pyfetch(url)

    async def pieces():
        reader = response.js_response.body.getReader()  # a ReadableStream of Uint8Array
        while True:
            result = await reader.read()
            if result.done:
                return
            yield result.value.to_bytes()

    return await chatcompletion.aaccumulate(chatcompletion.aiter_chunks(pieces()))


async def accumulate_url_async_for(url):  # the same, where a ReadableStream is async-iterable
    response = await pyfetch(url)

    async def pieces():
        async for piece in response.js_response.body:
            yield piece.to_bytes()

    return await chatcompletion.aaccumulate(chatcompletion.aiter_chunks(pieces()))


async def _check_all(base, names):
    bad, pieces = [], 0
    for name in names:
        with open(${JSON.stringify(SHARED)} + "/corpus/streams/" + name, "rb") as f:
            try:
                expected = chatcompletion.accumulate(chatcompletion.iter_chunks(f))
            except Exception as exc:  # a recorded error stream: the same error either way
                expected = (type(exc).__name__, str(exc))
        for read in (accumulate_url, accumulate_url_async_for):
            try:
                got = await read(base + name)
            except Exception as exc:
                got = (type(exc).__name__, str(exc))
            if got != expected:
                bad.append(f"{name} ({read.__name__}): {str(got)[:300]}")
    return [len(names), bad]
`;

// The pyfetch check: what it found, "ok (...)" or "FAILED ...". The server runs in this process, so
// Python awaits it.
async function fetchCheck(pyodide) {
  const checkStarted = Date.now();
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(req.url.slice(1));
    if (!streams.includes(name)) { res.writeHead(404); res.end(); return; }
    const data = fs.readFileSync(path.join(streamsDir, name));
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let at = 0;  // in small writes, each in a turn of its own, so the body arrives in many pieces
    const step = () => {
      if (at >= data.length) { res.end(); return; }
      res.write(data.subarray(at, at + 997));
      at += 997;
      setImmediate(step);
    };
    step();
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  let note;
  try {
    pyodide.runPython(FETCH_CHECK);
    const check = pyodide.globals.get("_check_all");
    const checked = await check(`http://127.0.0.1:${server.address().port}/`, pyodide.toPy(streams));
    const [n, bad] = checked.toJs();
    checked.destroy();
    check.destroy();
    note = bad.length === 0
      ? `ok (${n} corpus streams read piece by piece through pyfetch, both ways, equal ` +
        `accumulate(iter_chunks(file)); ${seconds(checkStarted)})`
      : `FAILED for ${bad.length}:\n  ${bad.join("\n  ")}`;
  } catch (e) {
    note = `FAILED: ${String(e && e.message || e).split("\n").slice(-3).join(" ")}`;
  } finally {
    server.close();
  }
  console.log(`pyfetch streaming check: ${note}`);
  return note;
}

// A fatal error of Pyodide (its JavaScript stack overflowing, say) ends the runtime, often from a
// callback of its event loop rather than through the awaited call: it fails the whole run.
for (const event of ["uncaughtException", "unhandledRejection"]) {
  process.on(event, (e) => {
    console.log(`FAILED: Pyodide ended with an error${lastTest ? ` during ${lastTest}` : ""}: ` +
      String(e && e.message || e).split("\n")[0].slice(0, 300));
    console.log("0 passed, 1 failed");
    process.exit(1);
  });
}
let lastTest = null;
const flag = jspiFlag();
if (flag) {
  const note = runFetchCheck ? await fetchCheck(await load(false)) : "";
  console.log(`running the tests in a Node.js started with ${flag}, for asyncio.run()`);
  const child = spawnSync(process.execPath, [...process.execArgv, flag, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, PYODIDE_CI_CHILD: "1", PYODIDE_CI_FETCH: note, PYODIDE_CI_STARTED: String(started) },
  });
  process.exit(child.status ?? 1);
}
if (!hasJspi()) console.log("note: this Node.js has no WebAssembly stack switching (JSPI): asyncio.run() fails in Pyodide");
const pyodide = await load(true);
const counts = await runTests(pyodide);
if (counts === null) {
  console.log("0 passed, 1 failed");
  process.exit(1);
}
let [passed, failed, skipped] = counts;
const tests = `unittest ${passed} passed, ${failed} failed, ${skipped} skipped`;
const note = process.env.PYODIDE_CI_CHILD ? process.env.PYODIDE_CI_FETCH : runFetchCheck ? await fetchCheck(pyodide) : "";
if (note) {
  passed += note.startsWith("ok") ? 1 : 0;
  failed += note.startsWith("ok") ? 0 : 1;
}
// The summary: what ran, then the counts.
console.log(`Pyodide ${pyodide.version}, Python ${pyodide.runPython("sys.version.split()[0]")}, Node.js ` +
  `${process.version}: ${tests}; pyfetch streaming check: ${note ? note.split("\n")[0] : "not run"}; ` +
  `${seconds(Number(process.env.PYODIDE_CI_STARTED || started))} in all`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
