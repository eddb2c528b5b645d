"""The demo's training budget: what is left of its deadline once the stages after training have
their time, estimated from this machine's measured speed, never from another host's figures.

The stages after training decode: evaluation (student, base, one-at-a-time latency probes),
export (each variant re-evaluated) and serving (replayed requests). Their cost is forwards x the
seconds a forward takes here, so the driver times a prefill and a decode step of the base model
(a few seconds) and multiplies by the forwards those stages will run, counted from the config and
the test split's answers: with jump-forward a forward per token that holds a byte the schema
leaves open (keys and punctuation ride along), which for the finance pack is about half the
tokens. The serve stage is mostly the teacher's latency on the replayed requests. What does not
scale with decoding (Ray Serve's deploy, Ray Train's start, GGUF conversion) is
`demo.fixed_overhead_s`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any

from mkd.config import PipelineConfig
from mkd.store_layout import dataset_split


@dataclass(frozen=True)
class MachineSpeed:
    """Seconds for loading the base model, a prefill and a decode step, batched and alone."""

    load_s: float
    prefill_s: float  # a batch of `batch` prompts of ~64 tokens
    step_s: float  # one decode step of that batch
    prefill_one_s: float
    step_one_s: float
    batch: int


def measure_speed(
    base_uri: str, batch: int, dtype: str = "float32", prompt_tokens: int = 64
) -> MachineSpeed:
    """Time the base model as evaluation runs it (its dtype, the engine's decoding runtime):
    load, prefill, 6 steps.

    A GGUF is converted first, untimed: that happens once per machine, and every later stage
    loads the converted copy, which is what `load_s` must stand for."""
    import torch

    from mkd.inference import EngineSpec
    from mkd.inference.transformers_engine import decoding_model, resolve_dtype
    from mkd.models import load_student, resolve_model_uri
    from mkd.models.converted import pretrained_path

    pretrained_path(resolve_model_uri(base_uri), "model")
    started = time.perf_counter()
    dtype = resolve_dtype(dtype)
    model, _ = load_student(base_uri, dtype=dtype)
    model, _ = decoding_model(model, EngineSpec(model_uri=base_uri), dtype)
    load_s = time.perf_counter() - started

    def timed(rows: int) -> tuple[float, float]:
        ids = torch.randint(100, 1000, (rows, prompt_tokens))
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model(input_ids=ids, use_cache=True)
            prefill = time.perf_counter() - t0
            cache, steps = out.past_key_values, []
            for _ in range(6):
                t0 = time.perf_counter()
                out = model(input_ids=ids[:, :1], past_key_values=cache, use_cache=True)
                steps.append(time.perf_counter() - t0)
                cache = out.past_key_values
        return prefill, median(steps)

    prefill, step = timed(batch)
    prefill_one, step_one = timed(1)
    return MachineSpeed(load_s, prefill, step, prefill_one, step_one, batch)


def decoded_schemas(cfg: PipelineConfig) -> dict[str, dict] | None:
    """The tasks' output schemas when evaluation decodes under them (jump-forward), else None."""
    from mkd.tasks import load_pack

    if cfg.evaluation.decoding == "free":
        return None
    pack = load_pack(cfg.pack)
    return {t: pack.tasks[t].output_schema for t in cfg.tasks}


def answer_tokens(
    tokenizer: Any, records: list[dict[str, Any]], schemas: dict[str, dict] | None = None
) -> dict[str, int]:
    """Per task, the 90th-percentile decode steps of an answer (a batch decodes as long as its
    longest answer; batches are sorted by length): its tokens, or with `schemas` (the
    constrained decoder's jump-forward) only the tokens that hold a byte the schema leaves open."""
    from mkd.decoding.grammar import Grammar
    from mkd.tasks.prompts import answer_text

    schemas = schemas or {}
    grammars = {t: Grammar(s) for t, s in schemas.items()}
    lengths: dict[str, list[int]] = {}
    for r in records:
        text, n = r["output"], None
        if r["task"] in schemas:  # as the student writes it: keys in the schema's order
            text = answer_text(json.loads(text), schemas[r["task"]])
            n = open_tokens(tokenizer, grammars[r["task"]], text)
        if n is None:
            n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        lengths.setdefault(r["task"], []).append(n)
    return {t: sorted(v)[int(0.9 * (len(v) - 1))] + 2 for t, v in lengths.items()}


def open_tokens(tokenizer: Any, grammar: Any, answer: str) -> int | None:
    """Tokens of `answer` holding at least one byte its schema leaves open: what a jump-forward
    decode spends forwards on (fixed bytes ride along with the next forward). None when the
    answer is not in the grammar's language (then every token counts)."""
    from mkd.decoding.grammar import DEAD

    open_chars, state = [], grammar.start
    for char in answer:
        is_open = False
        for b in char.encode("utf-8"):
            if state == DEAD:
                return None
            is_open = is_open or len(grammar.next_bytes(state)) > 1
            state = grammar.row(state)[b]
        open_chars.append(is_open)
    enc = tokenizer(answer, add_special_tokens=False, return_offsets_mapping=True)
    return sum(1 for lo, hi in enc["offset_mapping"] if any(open_chars[lo:hi]))


def later_stages_seconds(
    cfg: PipelineConfig, speed: MachineSpeed, tokens: dict[str, int]
) -> dict[str, float]:
    """Estimated seconds of evaluation, export and serving on this machine."""
    ev, ex = cfg.evaluation, cfg.export

    def batched(items: int, length: int) -> float:
        return math.ceil(items / speed.batch) * (speed.prefill_s + length * speed.step_s)

    def alone(items: int, length: int) -> float:
        return items * (speed.prefill_one_s + length * speed.step_one_s)

    caps = {t: ev.max_new_tokens or 64 for t in tokens}
    student = sum(batched(ev.max_items_per_task or 100, n) for n in tokens.values())
    probe = sum(alone(ev.latency_probe_items, n) for n in tokens.values())
    base_items = ev.base_max_items_per_task or ev.max_items_per_task or 100
    base_roles = (1 + int(ev.base_fewshot)) if ev.compare_base else 0
    base = base_roles * sum(batched(base_items, caps[t]) for t in tokens)
    evaluation = 3 * speed.load_s + student + probe + base
    per_variant = speed.load_s + sum(batched(ex.max_items_per_task, n) for n in tokens.values())
    export = len(ex.variants) * per_variant
    return {"evaluate": evaluation, "export": export, "serve": serve_seconds(cfg, speed, tokens)}


def serve_seconds(cfg: PipelineConfig, speed: MachineSpeed, tokens: dict[str, int]) -> float:
    """The serve stage replays `demo.replay_requests` twice (shadow, then a canary when the
    gates allow it), a few at a time (mkd.pipeline.rollout.replay). The teacher answers every
    request at its injected latency; the student decodes on the request path only for the
    canary's share, one request after another in its one replica (shadow decodes run beside,
    off the request path)."""
    from mkd.pipeline.rollout import REPLAY_CONCURRENCY

    demo = cfg.demo
    rounds = math.ceil(demo.replay_requests / REPLAY_CONCURRENCY)
    teacher_s = (demo.teacher_latency_ms + demo.teacher_jitter_ms) / 1000
    mean_tokens = sum(tokens.values()) / max(1, len(tokens))
    canary = math.ceil(demo.canary_weight * demo.replay_requests)
    student_s = canary * (speed.prefill_one_s + mean_tokens * speed.step_one_s)
    return speed.load_s + 2 * rounds * teacher_s + student_s


def training_budget(
    cfg: PipelineConfig, elapsed_s: float, speed: MachineSpeed, tokens: dict[str, int]
) -> dict[str, Any]:
    """The minutes training may take: the deadline less what has run, what comes after and the
    fixed overheads; never below `demo.min_train_minutes`. Returns the figures it used."""
    later = later_stages_seconds(cfg, speed, tokens)
    left = 60 * cfg.demo.deadline_minutes - elapsed_s - sum(later.values())
    wanted = (left - cfg.demo.fixed_overhead_s) / 60
    minutes = max(cfg.demo.min_train_minutes, wanted)
    return {
        "budget_minutes": round(minutes, 2),
        # the deadline leaves training less than its floor: this machine is too slow for the
        # profile (the run overruns, and the student trains only the floor)
        "deadline_missed": wanted < cfg.demo.min_train_minutes,
        "deadline_minutes": cfg.demo.deadline_minutes,
        "elapsed_s": round(elapsed_s, 1),
        "later_stages_s": {k: round(v, 1) for k, v in later.items()},
        "fixed_overhead_s": cfg.demo.fixed_overhead_s,
        "speed": {k: round(v, 4) for k, v in asdict(speed).items()},
    }


def split_records(store: Any, dataset: str) -> list[dict[str, Any]]:
    """The test split of dataset `NAME/VERSION`."""
    name, _, version = dataset.partition("/")
    raw = store.get_bytes(dataset_split(name, version, "test"))
    return [json.loads(line) for line in raw.splitlines() if line.strip()]
