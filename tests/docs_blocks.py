"""Run the code blocks of README.md and docs/*.md and compare what they print with the output shown under them.

The documentation is a set of sessions: in each Markdown file the ```python blocks share one namespace, in order
(like a doctest session, in a fresh Python process whose working directory is a temporary folder), and each
```bash block runs its ``optcore ...`` commands in that same folder. A block's *shown output* is the untagged
fence right after it (blank lines between are allowed); what the block prints (stdout and stderr, warnings as
``Category: message``) must match it:

* text is compared with runs of white space collapsed (column widths follow the numbers);
* numbers are compared with a relative tolerance, ``DEFAULT_RTOL`` unless the block says otherwise;
* timings (``in 1.28 s``) and the temporary folder's path are masked, and the sweep's progress lines on stderr
  (``NAME: cell 3/80 done in ...``) are left out: which cells get one depends on timing.

Directives are HTML comments on the line(s) right above a block's fence, separated by ``;``:

``<!-- docs-test: slow -->``
    takes more than a few seconds: run only with ``-m slow`` (or ``-m ""``); every later python block of the same
    file is slow too, since it may use what the slow block defined or wrote.
``<!-- docs-test: skip REASON -->``
    not run, for install commands only (``pip install ...``, the test command itself); the reason is shown.
``<!-- docs-test: gpu -->``
    needs CuPy and a usable GPU; skipped with the reason elsewhere.
``<!-- docs-test: rtol=1e-2 -->``, ``<!-- docs-test: atol=1e-20 -->``
    the tolerances for this block's numbers.

In bash blocks, ``pip install ...`` steps (alone or chained with ``&&``) are not run -- the suite runs in the
installed environment -- and every other command must be ``optcore ...`` or ``python -m optcore ...``, optionally
after ``NAME=value`` environment assignments. Fences tagged with another language (``toml``, ``text``) are not run;
an untagged fence that does not follow a code block is an error (tag it ``text``, or put the code that prints it
above it), so no table is shown without the command that makes it.

Rewrite the shown outputs from a fresh run (never edit them by hand)::

    python tests/docs_blocks.py --update README.md docs/*.md          # every block, slow ones included
    python tests/docs_blocks.py --update --no-slow README.md          # only the fast ones
    python tests/docs_blocks.py --update --only 12,40 docs/landscape.md   # the blocks opening on these lines
    python tests/docs_blocks.py --list README.md docs/*.md            # the blocks, their kinds and markers

The updater prints each block's time, so that blocks over a few seconds can be marked slow.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import math
import os
import re
import select
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the documentation files whose blocks are tested
DOC_GLOBS = ("README.md", "docs/*.md")
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 0.0
#: seconds a block may take before it is stopped (the slowest documented blocks take a few minutes)
BLOCK_TIMEOUT = 1800.0

PYTHON_TAGS = {"python", "py"}
SHELL_TAGS = {"bash", "sh", "shell", "console"}
_FENCE = re.compile(r"^```(?P<tag>[\w+-]*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*docs-test:(?P<body>.*?)-->\s*$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_TIMING = re.compile(r"\bin \d+(?:\.\d+)? ?(?:s|ms|µs|us|min)\b")
#: the sweep's progress lines on stderr (which cells get one depends on timing and, with workers, on their order)
_PROGRESS = re.compile(r"^[\w.-]+: (?:cell \d+/\d+ done in .*|\d+ of \d+ cells found in the cache)\n", re.MULTILINE)


class DocFormatError(ValueError):
    """A documentation file breaks the rules above (the message names the file and line)."""


@dataclass
class Block:
    """One fenced code block of a documentation file, with the output shown under it."""

    path: Path
    line: int  # 1-based line of the opening fence
    tag: str  # "python" or "bash"
    code: str
    end: int  # 0-based index of the closing fence line
    output: str | None = None  # the shown output, None when there is none
    output_span: tuple[int, int] | None = None  # 0-based (first content line, closing fence line) of the output
    slow: bool = False
    skip: str | None = None
    gpu: bool = False
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    commands: list = field(default_factory=list)  # bash: [(env, argv)] to run

    @property
    def name(self) -> str:
        """``FILE:LINE`` with FILE relative to the repository."""
        try:
            rel = self.path.resolve().relative_to(REPO)
        except ValueError:
            rel = self.path
        return f"{rel.as_posix()}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and docs/*.md of this repository, in a fixed order."""
    files = []
    for pattern in DOC_GLOBS:
        files.extend(sorted(REPO.glob(pattern)))
    return files


# --------------------------------------------------------------------------------------------------- parsing


def parse(path: Path) -> list[Block]:
    """The python and bash blocks of ``path``, in order, with their directives and shown outputs.

    Raises
    ------
    DocFormatError
        For an unclosed fence, an unknown directive, an untagged fence that shows no block's output, or a bash
        command that is neither an install step nor an ``optcore`` command in a block not marked ``skip``.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    errors: list[str] = []
    directives: list[tuple[int, str]] = []
    last_code: Block | None = None  # the code block an untagged fence would be the output of
    i = 0
    while i < len(lines):
        text = lines[i]
        d = _DIRECTIVE.match(text.strip())
        if d:
            directives.append((i + 1, d.group("body")))
            i += 1
            continue
        m = _FENCE.match(text)
        if not m:
            if text.strip():
                directives = []
                last_code = None
            i += 1
            continue
        tag = m.group("tag").lower()
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            raise DocFormatError(f"{path}:{start + 1}: the ``` fence is never closed")
        body = "\n".join(lines[start + 1 : j])
        if tag == "":
            if last_code is None:
                errors.append(
                    f"{path}:{start + 1}: an untagged ``` block that is not the output of a python or bash block: "
                    "tag it (```text) or put the code that prints it right above it"
                )
            else:
                last_code.output = body
                last_code.output_span = (start + 1, j)
            last_code = None
            directives = []
        elif tag in PYTHON_TAGS or tag in SHELL_TAGS:
            block = Block(path=Path(path), line=start + 1, tag="python" if tag in PYTHON_TAGS else "bash",
                          code=body, end=j)
            try:
                _apply_directives(block, directives)
                if block.tag == "bash":
                    block.commands = _shell_commands(block)
            except DocFormatError as exc:
                errors.append(str(exc))
            blocks.append(block)
            last_code = block
            directives = []
        else:
            last_code = None
            directives = []
        i = j + 1
    if errors:
        raise DocFormatError("\n".join(errors))
    slow_from_here = gpu_from_here = False
    for block in blocks:  # a python block after a slow (GPU) one may use its names or files: slow (GPU) too
        if block.skip is None:
            if block.tag == "python":
                block.slow = block.slow or slow_from_here
                block.gpu = block.gpu or gpu_from_here
            slow_from_here = slow_from_here or block.slow
            gpu_from_here = gpu_from_here or block.gpu
    return blocks


def _apply_directives(block: Block, directives: list[tuple[int, str]]) -> None:
    for line, body in directives:
        for item in filter(None, (part.strip() for part in body.split(";"))):
            word, _, rest = item.partition(" ")
            key, eq, value = word.partition("=")
            if item == "slow":
                block.slow = True
            elif item == "gpu":
                block.gpu = True
            elif word == "skip":
                if not rest.strip():
                    raise DocFormatError(f"{block.path}:{line}: `docs-test: skip` needs a reason")
                block.skip = rest.strip()
            elif eq and key in ("rtol", "atol"):
                try:
                    setattr(block, key, float(value))
                except ValueError:
                    raise DocFormatError(f"{block.path}:{line}: {key} must be a number, got {value!r}") from None
            else:
                raise DocFormatError(
                    f"{block.path}:{line}: unknown docs-test directive {item!r} "
                    "(expected slow, gpu, skip REASON, rtol=X or atol=X)"
                )


def _shell_commands(block: Block) -> list[tuple[dict, list[str]]]:
    """The (environment, argv) of each ``optcore`` command of a bash block; install steps are left out."""
    text = re.sub(r"\\\n", " ", block.code)
    commands = []
    for offset, raw in enumerate(text.splitlines()):
        try:
            words = shlex.split(raw, comments=True)
        except ValueError as exc:
            raise DocFormatError(f"{block.path}:{block.line + 1 + offset}: cannot parse {raw!r}: {exc}") from None
        for segment in _split_and(words):
            env = {}
            while segment and re.fullmatch(r"[A-Za-z_]\w*=.*", segment[0]):
                key, _, value = segment.pop(0).partition("=")
                env[key] = value
            if not segment or _is_install(segment):
                continue
            if segment[0] == "optcore":
                commands.append((env, segment[1:]))
            elif segment[:3] in (["python", "-m", "optcore"], ["python3", "-m", "optcore"]):
                commands.append((env, segment[3:]))
            elif block.skip is None:
                raise DocFormatError(
                    f"{block.path}:{block.line + 1 + offset}: `{' '.join(segment)}` is not an optcore command: "
                    "only `optcore ...` runs in the docs tests; mark an install or test command "
                    "<!-- docs-test: skip REASON -->"
                )
    if not commands and block.skip is None:
        raise DocFormatError(
            f"{block.path}:{block.line}: this bash block runs nothing the docs tests can check; "
            "mark it <!-- docs-test: skip REASON -->"
        )
    return commands


def _split_and(words: list[str]) -> list[list[str]]:
    segments, current = [], []
    for word in words:
        if word == "&&":
            segments.append(current)
            current = []
        else:
            current.append(word)
    segments.append(current)
    return segments


def _is_install(words: list[str]) -> bool:
    if words[:2] == ["pip", "install"]:
        return True
    return len(words) >= 4 and words[0].startswith("python") and words[1:4] == ["-m", "pip", "install"]


# --------------------------------------------------------------------------------------------------- running


def child_env(workdir: Path) -> dict:
    """The environment of the documentation's processes: this optcore first on the path, off-screen figures."""
    import optcore

    env = dict(os.environ)
    package_root = str(Path(optcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTEST_CURRENT_TEST", None)
    env["OPTCORE_DOCS_WORKDIR"] = str(workdir)
    return env


class Session:
    """One documentation file's session: a Python process for its python blocks, a folder for everything."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = child_env(self.workdir)
        self._proc: subprocess.Popen | None = None
        self._done: dict[int, tuple[bool, str]] = {}  # python block line -> (ok, output)

    def run(self, block: Block, blocks: list[Block]) -> tuple[bool, str]:
        """Run ``block`` (first the python blocks above it not yet run); return (succeeded, output)."""
        if block.tag == "bash":
            return self._run_shell(block)
        failed_before = []
        for earlier in blocks:
            if earlier is block:
                break
            if earlier.tag == "python" and earlier.skip is None and earlier.line not in self._done:
                # (a GPU block before a block that is run is itself run: the marks propagate, so both need a GPU)
                self._done[earlier.line] = self._run_python(earlier)
            if earlier.tag == "python" and not self._done.get(earlier.line, (True, ""))[0]:
                failed_before.append(earlier.name)
        if block.line not in self._done:
            self._done[block.line] = self._run_python(block)
        ok, out = self._done[block.line]
        if not ok and failed_before:
            out += f"\n(earlier blocks of this session failed: {', '.join(failed_before)})"
        return ok, out

    def _run_python(self, block: Block) -> tuple[bool, str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-u", str(Path(__file__).resolve()), "--serve"],
                cwd=self.workdir, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True,
            )
        request = json.dumps({"code": block.code, "name": block.name})
        self._proc.stdin.write(request + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], BLOCK_TIMEOUT)
        if not ready:
            self.close()
            return False, f"timed out after {BLOCK_TIMEOUT:.0f} s"
        reply = self._proc.stdout.readline()
        if not reply:
            code = self._proc.wait()
            return False, f"the session's Python process ended (exit status {code})"
        reply = json.loads(reply)
        return reply["ok"], reply["output"]

    def _run_shell(self, block: Block) -> tuple[bool, str]:
        outputs = []
        for extra_env, argv in block.commands:
            env = dict(self.env, **extra_env)
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "optcore", *argv], cwd=self.workdir, env=env, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=BLOCK_TIMEOUT,
                )
            except subprocess.TimeoutExpired:
                return False, "".join(outputs) + f"\n`optcore {shlex.join(argv)}` timed out"
            outputs.append(_PROGRESS.sub("", proc.stdout))
            if proc.returncode != 0:
                return False, "".join(outputs) + f"\n`optcore {shlex.join(argv)}` exited with status {proc.returncode}"
        return True, "".join(outputs)

    def close(self) -> None:
        """Stop the Python process."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if not pipe.closed:
                    pipe.close()
            self._proc = None


def serve() -> None:
    """The session process: execute each JSON request's code in one namespace, reply with what it printed."""
    import warnings

    sys.path.pop(0)  # tests/ is not on a reader's path
    proto = os.fdopen(os.dup(1), "w")
    namespace = {"__name__": "__main__"}

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{category.__name__}: {message}", file=sys.stderr)

    warnings.showwarning = show
    for request in sys.stdin:
        request = json.loads(request)
        buffer = io.StringIO()
        ok = True
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                exec(compile(request["code"], request["name"], "exec"), namespace)
            except BaseException:  # noqa: BLE001 -- SystemExit too: the block failed, the session goes on
                ok = False
                kind, value, tb = sys.exc_info()
                buffer.write("".join(traceback.format_exception(kind, value, tb.tb_next)))
        proto.write(json.dumps({"ok": ok, "output": buffer.getvalue()}) + "\n")
        proto.flush()


# --------------------------------------------------------------------------------------------------- comparing


def normalize(text: str, workdir: Path | None = None) -> str:
    """Mask timings and the session folder; strip trailing blanks of lines and blank lines at both ends."""
    if workdir is not None:
        text = text.replace(str(workdir), "<tmp>")
    text = _TIMING.sub("in <time>", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


def compare(shown: str, printed: str, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
            workdir: Path | None = None) -> str | None:
    """None when ``printed`` matches ``shown``; otherwise a message with the differing numbers and a diff."""
    a, b = normalize(shown, workdir), normalize(printed, workdir)
    skeleton_a, numbers_a = _split_numbers(a)
    skeleton_b, numbers_b = _split_numbers(b)
    problems = []
    if skeleton_a != skeleton_b or len(numbers_a) != len(numbers_b):
        problems.append("the text differs (numbers aside)")
    else:
        for k, (x, y) in enumerate(zip(numbers_a, numbers_b)):
            fx, fy = float(x), float(y)
            if not math.isclose(fx, fy, rel_tol=rtol, abs_tol=atol):
                problems.append(f"number {k + 1}: shown {x}, printed {y} (rtol={rtol:g}, atol={atol:g})")
    if not problems:
        return None
    diff = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "shown", "printed", lineterm=""))
    more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return "\n".join(problems[:10]) + more + "\n" + diff


def _split_numbers(text: str) -> tuple[str, list[str]]:
    numbers = _NUMBER.findall(text)
    skeleton = " ".join(_NUMBER.sub("#", text).split())
    return skeleton, numbers


def check(block: Block, session: Session, blocks: list[Block]) -> str | None:
    """Run ``block`` in ``session``: None when it succeeds and prints its shown output, else why not."""
    ok, printed = session.run(block, blocks)
    if not ok:
        return f"{block.name}: the {block.tag} block failed:\n{printed}"
    if block.output is None:
        return None
    mismatch = compare(block.output, printed, rtol=block.rtol, atol=block.atol, workdir=session.workdir)
    if mismatch:
        return (f"{block.name}: the output shown under the {block.tag} block is not what it prints "
                f"(regenerate with: python tests/docs_blocks.py --update {block.path.name}):\n{mismatch}")
    return None


# --------------------------------------------------------------------------------------------------- updating


def gpu_reason() -> str | None:
    """None when CuPy and a usable GPU are there, else why not."""
    import optcore

    return None if optcore.gpu_available() else optcore.gpu_unavailable_reason()


def update(path: Path, *, slow: bool = True, only=None, verbose: bool = True) -> bool:
    """Rerun the blocks of ``path`` and rewrite the outputs shown under them; True when every block ran.

    ``slow=False`` leaves the slow blocks alone; ``only`` (line numbers of opening fences) limits the run to those
    blocks (and the python blocks above them, whose names they may use).
    """
    path = Path(path)
    blocks = parse(path)
    no_gpu = gpu_reason() if any(b.gpu for b in blocks) else None
    replacements = []
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="optcore-docs-") as tmp:
        session = Session(Path(tmp))
        try:
            for block in blocks:
                why_not = (block.skip or ("slow" if block.slow and not slow else None)
                           or ("not asked for" if only is not None and block.line not in only else None)
                           or (f"no GPU: {no_gpu}" if block.gpu and no_gpu else None))
                if why_not:
                    if verbose:
                        print(f"{block.name:<28} {block.tag:<6} not run ({why_not})", flush=True)
                    continue
                start = time.perf_counter()
                ok, printed = session.run(block, blocks)
                seconds = time.perf_counter() - start
                if not ok:
                    all_ok = False
                    print(f"{block.name:<28} {block.tag:<6} FAILED after {seconds:.1f} s:\n{printed}", flush=True)
                    continue
                printed = printed.replace(str(session.workdir), "<tmp>")
                printed = "\n".join(line.rstrip() for line in printed.strip("\n").splitlines())
                status = "no output shown"
                if block.output_span is not None:
                    status = "unchanged" if normalize(block.output) == normalize(printed) else "updated"
                    replacements.append((block.line, block.code, printed))
                elif printed:
                    status = "prints but shows nothing"
                if verbose:
                    mark = " [slow]" if block.slow else ""
                    print(f"{block.name:<28} {block.tag:<6} {seconds:7.1f} s  {status}{mark}", flush=True)
        finally:
            session.close()
    _write_outputs(path, replacements)
    return all_ok


def _write_outputs(path: Path, replacements: list[tuple[int, str, str]]) -> None:
    """Put each (line, code, printed) under its block, found again by its code (the file may have been edited
    while the blocks ran); a block whose code changed meanwhile keeps its old output."""
    blocks = parse(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    by_code: dict[str, list[Block]] = {}
    for block in blocks:
        by_code.setdefault(block.code, []).append(block)
    spans = []
    for line, code, printed in replacements:
        candidates = [b for b in by_code.get(code, []) if b.output_span is not None]
        if not candidates:
            print(f"{path}:{line}: the block changed while it ran; its output was not written", flush=True)
            continue
        target = min(candidates, key=lambda b: abs(b.line - line))
        spans.append((target.output_span, printed))
    for (first, close), printed in sorted(spans, reverse=True):
        lines[first:close] = printed.splitlines()
    new_text = "\n".join(lines) + "\n"
    if new_text != path.read_text(encoding="utf-8"):
        path.write_text(new_text, encoding="utf-8")


def main(argv=None) -> int:
    """The command line: ``--update FILE...``, ``--list FILE...`` or ``--serve`` (internal)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rerun the blocks and rewrite the shown outputs")
    parser.add_argument("--list", action="store_true", help="list the blocks with their kinds and markers")
    parser.add_argument("--no-slow", action="store_true", help="with --update: leave the slow blocks alone")
    parser.add_argument("--only", type=lambda text: {int(v) for v in text.split(",")}, metavar="LINE,...",
                        help="with --update and one file: only the blocks whose fences open on these lines")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md and docs/*.md)")
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    files = args.files or doc_files()
    if args.list:
        for path in files:
            for b in parse(path):
                marks = [m for m, on in (("slow", b.slow), ("gpu", b.gpu)) if on]
                if b.skip:
                    marks.append(f"skip: {b.skip}")
                shown = "output shown" if b.output is not None else "no output shown"
                print(f"{b.name:<28} {b.tag:<6} {shown:<16} {', '.join(marks)}")
        return 0
    if not args.update:
        parser.error("give --update or --list")
    if args.only is not None and len(files) != 1:
        parser.error("--only needs exactly one file")
    ok = True
    for path in files:
        ok &= update(path, slow=not args.no_slow, only=args.only)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
