"""Comments, docstrings and config descriptions say why, never what one run measured.

A figure from one machine ("took ~40 s", "9 min 5 s on a fresh clone", "200 s vs 6.4 s") goes
stale where nobody re-measures it; it belongs in docs/ (docs/measurements.md: figure, commit,
date, machine) or benchmarks/results/. This scan flags the clearest forms only: a sentence with
a figure (seconds, minutes, tokens/s, GiB, an Nx ratio, a score going 0.53 -> 0.66, a percentage)
and a word that reports an observation (measured, took, ran in, on this host/machine/CPU), or a
figure pair that can only be a measurement (9 min 5 s; 200 s vs 6.4 s). Contract numbers
(defaults, limits, timeouts, targets) have no observation word and pass.
"""

from __future__ import annotations

import ast
import bisect
import io
import json
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The code and config trees; benchmarks/results/ and docs/ are where figures belong.
TREES = ["platform", "serving", "ray_jobs", "helm", "configs", "scripts", "benchmarks", "terraform"]
TOP_FILES = ["Dockerfile", "Dockerfile.gpu", "Makefile"]
SKIP_PARTS = {"__pycache__", "static", "results", ".terraform", "node_modules"}
HASH_COMMENTED = {".yaml", ".yml", ".tpl", ".sh", ".tf", ".toml", ".cfg"}

# (path relative to the root, text in the sentence): a number there is a contract, not a run.
ALLOWED: set[tuple[str, str]] = set()

_UNIT = r"(?:ms|s|sec|seconds?|min|minutes?|h|hours?|tok/s|tokens/s|items/s|GiB|GB|MiB|MB)"
FIGURE = re.compile(
    rf"~?\d+(?:[.,]\d+)?\s?{_UNIT}(?![\w/])"  # 40 s, ~6 min, 405 tokens/s, 16 GB
    r"|\b\d+(?:\.\d+)?x\b"  # 2.3x
    r"|\b\d*\.\d+\s?(?:->|→)\s?\d*\.\d+"  # 0.53 -> 0.66
    r"|\b\d+(?:\.\d+)?\s?%",  # 24%
)
OBSERVED = re.compile(
    r"\b(?:measured|took|timed at|ran (?:in|at|for)|on a fresh clone|in (?:our|my) runs?"
    r"|on (?:this|our|my) (?:host|machine|cpu|box|laptop)|on \d+ (?:cpu )?cores)\b",
    re.IGNORECASE,
)
# "measured here: 64 items ... reached 0.62 of the bound": any number after these words is a run's
MEASURED_HERE = re.compile(r"\bmeasured (?:here|on|at)\b[^.;]*\d", re.IGNORECASE)
_SECONDS = r"~?\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?\s?(?:ms|s)\b"  # 6.4 s, 56-63 s, 40 ms
ALWAYS = re.compile(
    r"\b\d+\s?min(?:utes?)?,?\s\d+\s?s\b"  # 9 min 5 s
    rf"|(?<![\w.]){_SECONDS}\s(?:vs\.?|against)\s{_SECONDS}"  # 200 s vs 6.4 s
)
SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n\s*\n")


class Chunk:
    """Text pieces read from one place (a comment block, concatenated strings), with the line
    each piece starts on, so that a sentence can be traced back to its line."""

    def __init__(self) -> None:
        self.text = ""
        self.offsets: list[int] = []
        self.lines: list[int] = []

    def add(self, line: int, text: str) -> None:
        if self.text:
            self.text += "\n"
        self.offsets.append(len(self.text))
        self.lines.append(line)
        self.text += text

    def line_at(self, offset: int) -> int:
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.lines[i] + self.text.count("\n", self.offsets[i], offset)


def measured_figures(chunk: Chunk) -> Iterator[tuple[int, str]]:
    """(line, sentence) for each sentence of `chunk` that quotes a run's figure."""
    start = 0
    for end in [m.start() for m in SENTENCE_END.finditer(chunk.text)] + [len(chunk.text)]:
        sentence = chunk.text[start:end]
        observed = FIGURE.search(sentence) and OBSERVED.search(sentence)
        if observed or ALWAYS.search(sentence) or MEASURED_HERE.search(sentence):
            offset = start + len(sentence) - len(sentence.lstrip())
            yield chunk.line_at(offset), " ".join(sentence.split())
        start = end


def python_chunks(source: str) -> Iterator[Chunk]:
    """Comment blocks and string literals (docstrings, Field descriptions; adjacent literals
    joined as Python joins them). f-strings are messages built at run time: not read."""
    chunk, kind, last_line = Chunk(), "", 0
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for tok in tokens:
        if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.type == tokenize.COMMENT:
            new_kind, text = "comment", tok.string.lstrip("#").strip()
        elif tok.type == tokenize.STRING and "f" not in tok.string.split(tok.string[-1])[0].lower():
            value = ast.literal_eval(tok.string)
            new_kind, text = "string", value if isinstance(value, str) else ""
        else:
            new_kind, text = "", ""
        continues = new_kind == kind and (kind == "string" or tok.start[0] == last_line + 1)
        if chunk.text and not continues:
            yield chunk
            chunk = Chunk()
        if new_kind:
            chunk.add(tok.start[0], text)
        kind, last_line = new_kind, tok.end[0]
    if chunk.text:
        yield chunk


def hash_comment_chunks(source: str) -> Iterator[Chunk]:
    """`#` comment blocks (YAML, shell, Terraform, Dockerfile), and Terraform descriptions."""
    chunk, last_line = Chunk(), -1
    for n, line in enumerate(source.splitlines(), 1):
        found = re.search(r"(?:^|\s)#+\s?(.*)$", line)
        if found is None or n != last_line + 1:
            if chunk.text:
                yield chunk
            chunk = Chunk()
        if found is not None:
            chunk.add(n, found.group(1))
            last_line = n
        description = re.search(r'\bdescription\s*=\s*"((?:[^"\\]|\\.)*)"', line)
        if description:
            single = Chunk()
            single.add(n, description.group(1))
            yield single
    if chunk.text:
        yield chunk


def json_description_chunks(source: str) -> Iterator[Chunk]:
    """Every "description" value of a JSON document (a values schema, a dashboard)."""
    lines = source.splitlines()

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for text in walk(json.loads(source)):
        needle = json.dumps(text)[1:40]
        line = next((n for n, ln in enumerate(lines, 1) if needle in ln), 1)
        chunk = Chunk()
        chunk.add(line, text)
        yield chunk


def scanned_files() -> Iterator[Path]:
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if path.is_file() and not SKIP_PARTS & set(path.relative_to(ROOT).parts):
                yield path


def chunks_of(path: Path) -> Iterator[Chunk]:
    if path.suffix == ".py":
        yield from python_chunks(path.read_text(encoding="utf-8"))
    elif path.suffix == ".json":
        yield from json_description_chunks(path.read_text(encoding="utf-8"))
    elif path.suffix in HASH_COMMENTED or path.name.startswith(("Dockerfile", "Makefile")):
        yield from hash_comment_chunks(path.read_text(encoding="utf-8"))


def _findings(path: Path, chunks: Iterator[Chunk]) -> list[str]:
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    return [
        f"{rel}:{line}: {sentence[:160]}"
        for chunk in chunks
        for line, sentence in measured_figures(chunk)
        if not any(rel == a_path and text in sentence for a_path, text in ALLOWED)
    ]


def test_no_comment_or_description_quotes_a_measured_figure() -> None:
    problems = [p for path in scanned_files() for p in _findings(path, chunks_of(path))]
    assert not problems, (
        "measured figures in comments or descriptions (say why in the code; put the figure in "
        "docs/measurements.md with its commit, date and machine, or in benchmarks/results/):\n"
        + "\n".join(problems)
    )


def _python(source: str) -> list[tuple[int, str]]:
    return [f for chunk in python_chunks(source) for f in measured_figures(chunk)]


def _comments(source: str) -> list[tuple[int, str]]:
    return [f for chunk in hash_comment_chunks(source) for f in measured_figures(chunk)]


def test_the_scan_flags_figures_a_run_produced_and_names_their_line() -> None:
    source = (
        '"""Loads the tokenizer.\n\nBuilding it from the GGUF took ~40 s on this machine."""\n'
        "x = 1\n"
        "# Measured on this CPU: the same 16 examples in\n"
        "# 2.3x less time.\n"
        'y = Field(1, description="Packing is faster (measured here: "\n'
        '    "5.5 s packed, 12.5 s unpacked).")\n'
        "# no bf16 autocast: a step took 200 s vs 6.4 s in fp32.\n"
        "# dates 0.53 -> 0.66, measured on the demo's data\n"
    )
    assert [line for line, _ in _python(source)] == [3, 5, 7, 9, 10]
    assert [line for line, _ in _comments("a: 1  # ran in 9 min 5 s on a fresh clone\n")] == [1]
    assert [line for line, _ in _comments("#   bench.py    # ~30 s on 2 cores\n")] == [1]
    batch = "Items per call (measured here: 64 items at concurrency 32 reached 0.62 of the bound)."
    assert [line for line, _ in _python(f"x = {batch!r}\n")] == [1]


def test_the_scan_passes_contract_numbers_and_run_time_messages() -> None:
    source = (
        '"""Ray gives its raylet a fixed 30 s to register; the retry waits at most 8 s."""\n'
        'timeout = Field(10.0, description="Seconds before a call fails. GPU cluster: 1.0.")\n'
        "# 90 x 10 s: 15 minutes to deploy; target <= 2 ms p50; 2 x max_batch_size\n"
        'print(f"training took {seconds:.1f} s on this machine")\n'
    )
    assert _python(source) == []
    assert _comments("mode: shadow  # shadow -> split 0.05 -> 0.25 -> 0.5 -> 1.0\n") == []
