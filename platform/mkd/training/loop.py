"""The training loop each Ray Train worker runs: plain PyTorch, readable top to bottom.

setup (seed, threads, model + LoRA, data, schedule, AdamW + warm-up/cosine, resume) ->
steps (grad accumulation, bf16 autocast, gradient all-reduce, clipping) ->
periodic val loss + early stopping -> checkpoints -> final checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mkd.config.training import TrainingConfig
from mkd.records import Record
from mkd.tasks import load_pack
from mkd.training.balance import balanced_weights, with_weights
from mkd.training.checkpoints import TrainState, load_checkpoint, save_checkpoint
from mkd.training.data import collate, encode_records
from mkd.training.error_weights import error_factors, last_agreement
from mkd.training.modeling import answer_logits, answer_token_losses, build_student
from mkd.training.packing import collate_packed, query_groups
from mkd.training.restore import restore_evidence
from mkd.training.schedule import Schedule, build_schedule, eval_batches, eval_query_batches


@dataclass
class LoopInputs:
    """Everything a worker needs, as plain data (it crosses the Ray boundary)."""

    training: dict[str, Any]
    pack: str
    tasks: list[str]
    seed: int
    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    init_adapter: dict[str, Any] | None = None  # warm start (mkd.training.warm_start)
    store: dict[str, Any] | None = None  # the store section, to download init_adapter

    @property
    def cfg(self) -> TrainingConfig:
        return TrainingConfig.model_validate(self.training)


class Session(Protocol):
    """Where the loop reports to: Ray Train in a job, a local directory in tests/benchmarks."""

    rank: int
    world_size: int

    def latest_checkpoint(self) -> contextlib.AbstractContextManager[str | None]: ...
    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None: ...
    def progress(self, metrics: dict[str, Any]) -> None: ...


@dataclass
class Trainer:
    """The objects one run's steps share (built by `setup`)."""

    cfg: TrainingConfig
    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    schedule: Schedule
    train: list
    val: list
    val_batches: list[list[int]]
    tasks: list[str]
    device: Any
    autocast: Callable[[], contextlib.AbstractContextManager]
    state: TrainState = field(default_factory=TrainState)
    engine: Any = None  # a DeepSpeed engine when deepspeed_stage is 2 or 3
    loss_weights: Any = None  # per-task weights [n_tasks] on the device; None = all 1
    units: int = 1  # what an epoch counts: training queries when packed, else examples
    best_weights: dict[str, Any] | None = None  # the adapter at the best validation point
    best_exact: list[bool] | None = None  # its per-answer exact matches on the val slice
    last_exact: list[bool] | None = None  # those of the latest validation

    @property
    def packed(self) -> bool:
        return self.cfg.packing == "shared_prefix"

    def progress(self) -> float:
        """The share of the run done: of the schedule's steps, or of the time budget if that
        is further along (the lr schedule follows it)."""
        done = self.state.step / max(1, self.schedule.total_steps)
        if self.cfg.budget_minutes:
            done = max(done, self.state.wall_seconds / (60 * self.cfg.budget_minutes))
        return min(1.0, done)


def lr_factor(step: int, warmup: int, progress: float, cosine: bool, min_ratio: float) -> float:
    """Linear warm-up over `warmup` steps to 1, then cosine decay over the run's `progress`
    (0..1, of its steps or its time budget) to `min_ratio` (or constant)."""
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _device(cfg: TrainingConfig) -> Any:
    import torch

    if cfg.scaling.use_gpu and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _autocast(cfg: TrainingConfig, device: Any) -> Callable[[], contextlib.AbstractContextManager]:
    """bf16 autocast where it helps: CUDA with native bf16. Not on a CPU by default: autocast
    re-casts the frozen fp32 weights at every forward there; bf16 base weights
    (`training.precision`) give the CPU's bf16 units work without that cost."""
    import torch

    on = cfg.autocast == "bf16" or (
        cfg.autocast == "auto"
        and device.type == "cuda"
        and torch.cuda.is_bf16_supported(including_emulation=False)
    )
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)


def setup(inp: LoopInputs, session: Session) -> Trainer:
    """Seed, load the student with LoRA, tokenize, plan the run, restore the last checkpoint."""
    import torch

    cfg = inp.cfg
    random.seed(inp.seed)
    torch.manual_seed(inp.seed)
    # Ray sets OMP_NUM_THREADS to the worker's CPU share (1): give torch the node's cores.
    torch.set_num_threads(cfg.scaling.torch_threads or os.cpu_count() or 1)
    device = _device(cfg)
    model, tokenizer = build_student(cfg, device)
    pack = load_pack(inp.pack)
    train_records = [Record(**r) for r in inp.train]
    train = encode_records(tokenizer, pack, train_records, cfg.max_seq_len)
    if cfg.mixing.decision_balance:
        weights = balanced_weights(train_records, pack, cfg.mixing.decision_balance)
        train = with_weights(train, weights)
    val = encode_records(tokenizer, pack, [Record(**r) for r in inp.val], cfg.max_seq_len)
    schedule = build_schedule(train, cfg, inp.seed, session.world_size)
    o = cfg.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay, betas=o.betas)
    packed = cfg.packing == "shared_prefix"
    pick_val = eval_query_batches if packed else eval_batches
    t = Trainer(cfg, model, tokenizer, optimizer, None, schedule, train, val,
                pick_val(val, cfg.batch_size, cfg.eval_batches), sorted(inp.tasks), device,
                _autocast(cfg, device), units=len(query_groups(train)) if packed else len(train))  # fmt: skip
    t.scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, o.warmup_steps, t.progress(), o.cosine, o.min_lr_ratio)
    )
    if cfg.deepspeed_stage:
        from mkd.training.gpu import deepspeed_engine

        t.engine = deepspeed_engine(cfg, model, optimizer, session.world_size)
    if inp.init_adapter:  # warm start; a checkpoint below (a resumed run) takes precedence
        from mkd.training.warm_start import load_init_adapter

        load_init_adapter(model, inp.init_adapter, inp.store or {})
    with session.latest_checkpoint() as ckpt:
        if ckpt:
            t.state = load_checkpoint(ckpt, model, optimizer, t.scheduler)
            t.state.resumed_from.append(t.state.step)
    t.state.precision = _precision(cfg, model, device)
    # after the checkpoint: a resumed run goes on with its last validation's error weights
    set_loss_weights(t, last_agreement(t.state.history))
    return t


def set_loss_weights(t: Trainer, agreement: dict[str, float] | None = None) -> None:
    """Per-task loss weights: the schedule's (task mixing under packing) times, with
    mixing.error_weighting and a validation's per-task `agreement`, the error factors
    (mkd.training.error_weights). None stays when every weight would be 1."""
    import torch

    base = t.schedule.task_loss_weights
    power = t.cfg.mixing.error_weighting
    factors = error_factors(agreement, t.tasks, power) if power and agreement else {}
    if not base and not factors:
        return
    w = [base.get(task, 1.0) * factors.get(task, 1.0) for task in t.tasks]
    t.loss_weights = torch.tensor(w, device=t.device)


def _precision(cfg: TrainingConfig, model: Any, device: Any) -> dict[str, Any]:
    """What this worker trains in and why: the base weights' dtype, the setting, the ISA."""
    from mkd.hardware import cpu_info

    frozen = next(p for p in model.parameters() if not p.requires_grad)
    found = {"setting": cfg.precision, "dtype": str(frozen.dtype).removeprefix("torch.")}
    if device.type == "cpu":
        info = cpu_info()
        found |= {"isa": info.isa, "cpu": info.model}
    else:
        found |= {"isa": "cuda", "cpu": cpu_info().model}
    return found


def _batch(
    t: Trainer, examples: list, indices: list[int], packed: bool = False
) -> tuple[dict[str, Any], int, int, int]:
    """(the micro-batch on the device, its examples' tokens, its padding positions, all its
    positions), counted host-side. Tokens are the examples' own as if unpacked, so tokens/s
    shows what packing gains."""
    chosen = [examples[i] for i in indices]
    make = collate_packed if packed else collate
    batch = make(chosen, t.tokenizer.pad_token_id, t.tasks, t.cfg.pad_to_multiple_of)
    used = batch["row_lengths"] if packed else batch["attention_mask"]
    size = batch["input_ids"].numel()
    on_device = {k: v.to(t.device, non_blocking=True) for k, v in batch.items()}
    return on_device, sum(len(e) for e in chosen), size - int(used.sum()), size


def _mean_loss(t: Trainer, losses: Any, rows: Any, task_ids: Any, example_w: Any) -> Any:
    """Token-mean loss, each token weighted by its task's weight (the schedule's
    task_loss_weights, under packing) times its example's (decision balance).

    Tokens, not examples, weigh alike: weighing every answer alike gives an empty date list's
    few tokens far more weight each than a long list's, and the student learns to answer `[]`
    to date questions (the run: docs/training.md, "Packing and the learning rate").
    """
    balanced = t.cfg.mixing.decision_balance > 0
    if t.loss_weights is None and not balanced:
        return losses.mean()
    w = t.loss_weights[task_ids[rows]] if t.loss_weights is not None else 1.0
    if balanced:
        w = w * example_w[rows]
    return (losses * w).sum() / w.sum()


def _task_sums(t: Trainer, losses: Any, rows: Any, task_ids: Any) -> tuple[Any, Any]:
    import torch

    n = len(t.tasks)
    owner = task_ids[rows]
    sums = torch.zeros(n, device=losses.device).index_add_(0, owner, losses.detach().float())
    counts = torch.zeros(n, device=losses.device).index_add_(
        0, owner, torch.ones(len(owner), device=losses.device)
    )
    return sums, counts


def _all_reduce_grads(params: list, world_size: int) -> None:
    """Average the LoRA gradients over workers (one flat all-reduce; a few MB)."""
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads]) / world_size
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def train_step(t: Trainer, step: int, rank: int) -> dict[str, Any]:
    """One optimizer step over grad_accum micro-batches; returns loss sums and token counts."""
    import torch

    micro = t.schedule.micro_batches(step, rank)
    loss_sum, task_sum, task_count, tokens, padding, padded = 0, 0, 0, 0, 0, 0
    for indices in micro:
        batch, real, pad, size = _batch(t, t.train, indices, t.packed)
        with t.autocast():
            losses, rows = answer_token_losses(t.model, batch)
        loss = _mean_loss(t, losses, rows, batch["task_ids"], batch["example_weights"])
        if t.engine is not None:  # DeepSpeed scales by grad_accum, all-reduces, clips, steps
            t.engine.backward(loss)
            t.engine.step()
        else:
            (loss / len(micro)).backward()
        s, c = _task_sums(t, losses, rows, batch["task_ids"])
        task_sum, task_count = task_sum + s, task_count + c
        loss_sum = loss_sum + loss.detach() / len(micro)  # a tensor: read at log time
        tokens, padding, padded = tokens + real, padding + pad, padded + size
    if t.engine is not None:
        t.scheduler.step()
        return _step_stats(loss_sum, task_sum, task_count, tokens, padding, padded)
    params = [p for p in t.model.parameters() if p.requires_grad]
    if t.schedule.world_size > 1:
        _all_reduce_grads(params, t.schedule.world_size)
    if t.cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(params, t.cfg.grad_clip)
    t.optimizer.step()
    t.scheduler.step()
    t.optimizer.zero_grad(set_to_none=True)
    return _step_stats(loss_sum, task_sum, task_count, tokens, padding, padded)


def _step_stats(
    loss: Any, task_sum: Any, task_count: Any, tokens: int, padding: int, padded: int
) -> dict:
    return {"loss": loss, "task_sum": task_sum, "task_count": task_count,
            "tokens": tokens, "padding": padding, "padded": padded}  # fmt: skip


def evaluate(t: Trainer) -> dict[str, Any]:
    """Val loss (token mean) and agreement overall and per task on the fixed val slice.

    Agreement is the share of val answers that greedy decoding would reproduce exactly: under
    teacher forcing, greedy decoding writes the label iff every label token is the argmax, so
    one forward measures it without generating.
    """
    import torch
    import torch.nn.functional as F

    if not t.val_batches:
        return {}
    t.model.eval()
    n = len(t.tasks)
    loss_sum, loss_count = torch.zeros(n), torch.zeros(n)
    exact, answers = torch.zeros(n), torch.zeros(n)
    answer_exact: list[bool] = []
    with torch.no_grad():
        for indices in t.val_batches:
            batch, _, _, _ = _batch(t, t.val, indices, t.packed)
            with t.autocast():
                logits = answer_logits(t.model, batch)
            labels, rows = batch["answer_labels"], batch["answer_rows"]
            losses = F.cross_entropy(logits.float(), labels, reduction="none")
            s, c = _task_sums(t, losses, rows, batch["task_ids"])
            loss_sum, loss_count = loss_sum + s.cpu(), loss_count + c.cpu()
            misses = torch.zeros(len(indices), device=logits.device).index_add_(
                0, rows, (logits.argmax(-1) != labels).float()
            )
            task_ids, hits = batch["task_ids"].cpu(), (misses == 0).cpu()
            answer_exact += hits.tolist()
            exact.index_add_(0, task_ids, hits.float())
            answers.index_add_(0, task_ids, torch.ones(len(indices)))
    t.model.train()
    seen = [i for i in range(n) if answers[i] > 0]
    task_agreement = {t.tasks[i]: float(exact[i] / answers[i]) for i in seen}
    return {
        "val_loss": float(loss_sum.sum() / loss_count.sum()),
        "val_task_loss": {t.tasks[i]: float(loss_sum[i] / loss_count[i]) for i in seen},
        "val_agreement": sum(task_agreement.values()) / max(1, len(task_agreement)),
        "val_task_agreement": task_agreement,
        "answer_exact": answer_exact,  # per val answer, in slice order (not logged)
    }


def _log_line(t: Trainer, window: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Mean loss, per-task loss, non-pad tokens/s and padding of the steps since the last line."""
    task_sum = sum(w["task_sum"] for w in window)
    task_count = sum(w["task_count"] for w in window)
    tokens = sum(w["tokens"] for w in window)
    padding = sum(w["padding"] for w in window)
    padded = sum(w["padded"] for w in window)
    return {
        "step": t.state.step,
        "loss": float(sum(w["loss"] for w in window)) / len(window),
        "lr": t.scheduler.get_last_lr()[0],
        "tokens_per_s": tokens * t.schedule.world_size / max(seconds, 1e-9),
        "padding_ratio": padding / max(padded, 1),
        "task_loss": {
            task: float(task_sum[i] / task_count[i])
            for i, task in enumerate(t.tasks)
            if task_count[i] > 0
        },
        "elapsed_s": t.state.train_seconds,
    }


def _checkpoint(t: Trainer, session: Session, metrics: dict[str, Any]) -> None:
    """Every worker reports; rank 0 attaches the checkpoint directory (Ray uploads it)."""
    import shutil
    import tempfile

    directory = None
    if session.rank == 0:
        directory = tempfile.mkdtemp(prefix="mkd-ckpt-")
        save_checkpoint(directory, t.model, t.optimizer, t.scheduler, t.state)
    try:
        session.report(metrics, directory)
    finally:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)


def _eval_and_stop(t: Trainer, session: Session) -> bool:
    """Record a val evaluation, keep the adapter if it is the best point so far; True when
    early stopping says to stop."""
    result = evaluate(t)
    if not result:
        return False
    t.last_exact = result.pop("answer_exact", None)
    state = t.state
    state.history.append({"step": state.step, "epochs": round(state.epochs, 4),
                          "elapsed_s": round(state.wall_seconds, 2), **result})  # fmt: skip
    if t.cfg.mixing.error_weighting:
        set_loss_weights(t, result["val_task_agreement"])
        state.history[-1]["task_loss_weights"] = dict(
            zip(t.tasks, t.loss_weights.tolist(), strict=True)
        )
    session.progress({"step": state.step, "val_loss": result["val_loss"],
                      "val_agreement": result["val_agreement"]})  # fmt: skip
    if state.best_val_loss is None or result["val_loss"] < state.best_val_loss:
        state.best_val_loss = result["val_loss"]
    previous_best = _best_point(t)
    if _at_least(t, result, previous_best):
        state.best_val_agreement, state.best_step = result["val_agreement"], state.step
        t.best_exact = t.last_exact
        if t.cfg.restore_best:
            t.best_weights = {n: p.detach().clone() for n, p in _adapter_params(t.model)}
    gained = previous_best is None or _at_least(t, result, previous_best, strictly=True)
    state.evals_without_gain = 0 if gained else state.evals_without_gain + 1
    patience = t.cfg.early_stopping_patience
    return bool(patience) and state.evals_without_gain >= patience


def _best_point(t: Trainer) -> dict[str, Any] | None:
    """The evaluation recorded at the best step so far (None before the first)."""
    found = [h for h in t.state.history[:-1] if "val_loss" in h and h["step"] == t.state.best_step]
    return found[-1] if t.state.best_step is not None and found else None


def _at_least(
    t: Trainer, result: dict[str, Any], best: dict[str, Any] | None, strictly: bool = False
) -> bool:
    """`result` is as good as `best` by early_stopping_metric (better, when `strictly`): a tie
    moves the best point to the later, longer-trained adapter but is no gain for patience."""
    if best is None:
        return True
    if t.cfg.early_stopping_metric == "loss":
        return result["val_loss"] < best["val_loss"] - (1e-4 if strictly else 0.0)
    if strictly:
        return result["val_agreement"] > best["val_agreement"]
    return result["val_agreement"] >= best["val_agreement"]


def _adapter_params(model: Any) -> list[tuple[str, Any]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def _restore_best(t: Trainer) -> None:
    """Put the best validation point's adapter back (when one was kept, is not the last and,
    ranked by agreement, is better by more than noise: mkd.training.restore). Keeping the last
    makes it the run's best point: the manifest names the point its adapter is."""
    state = t.state
    if t.best_weights is None or state.best_step == state.step:
        return
    evidence: dict[str, Any] = {}
    if t.cfg.early_stopping_metric == "agreement" and t.best_exact and t.last_exact:
        restore, evidence = restore_evidence(t.best_exact, t.last_exact, t.cfg.restore_best_p)
        if not restore:
            last = [h for h in state.history if "val_agreement" in h][-1]
            state.history.append({"step": state.step, "kept_last_over": state.best_step,
                                  "best_val_agreement": state.best_val_agreement, **evidence})  # fmt: skip
            state.best_step, state.best_val_agreement = state.step, last["val_agreement"]
            return
    for name, param in _adapter_params(t.model):
        param.data.copy_(t.best_weights[name])
    state.history.append({"step": state.step, "restored_step": state.best_step, **evidence})


def _ckpt_metrics(state: TrainState) -> dict[str, Any]:
    """What Ray Train ranks checkpoints by: the latest val point (keep_best_k keeps the best)."""
    vals = [h for h in state.history if "val_loss" in h]
    last = vals[-1] if vals else {}
    return {"step": state.step, "val_loss": last.get("val_loss", 1e9),
            "val_agreement": last.get("val_agreement", -1.0)}  # fmt: skip


def run_loop(inp: LoopInputs, session: Session) -> TrainState:
    """Train from the last checkpoint (if any) to the end of the schedule, the time budget or
    an early stop; then keep the best validation point and write the final checkpoint."""
    t = setup(inp, session)
    cfg, state, total = t.cfg, t.state, t.schedule.total_steps
    session.progress({"step": state.step, "total_steps": total, "task_probs": t.schedule.task_probs,
                      "task_loss_weights": t.schedule.task_loss_weights,
                      "planned_padding_ratio": t.schedule.padding_ratio,
                      "budget_minutes": cfg.budget_minutes})  # fmt: skip
    window: list[dict[str, Any]] = []
    window_seconds, stopped, over_budget = 0.0, False, False
    per_step = cfg.batch_size * cfg.grad_accum * t.schedule.world_size
    while state.step < total and not stopped and not over_budget:
        started = time.perf_counter()
        window.append(train_step(t, state.step, session.rank))
        seconds = time.perf_counter() - started
        window_seconds += seconds
        state.step += 1
        state.train_seconds += seconds
        state.epochs = state.step * per_step / max(1, t.units)
        state.tokens += window[-1]["tokens"] * t.schedule.world_size
        if state.step % cfg.log_every == 0 or state.step == total:
            window, window_seconds = _log(t, session, window, window_seconds)
        if cfg.eval_every and state.step % cfg.eval_every == 0 and state.step < total:
            stopped = _eval_and_stop(t, session)
        if state.step % cfg.checkpoint_every == 0 and state.step < total and not stopped:
            _checkpoint(t, session, _ckpt_metrics(state))
        state.wall_seconds += time.perf_counter() - started
        state.wall_seconds, seconds = _agreed_clock(t, state.wall_seconds, seconds)
        over_budget = _over_budget(t, seconds)
    if window:
        _log(t, session, window, window_seconds)
    if not state.history or "val_loss" not in state.history[-1]:
        _eval_and_stop(t, session)
    if cfg.restore_best:
        _restore_best(t)
    _checkpoint(t, session, {**_ckpt_metrics(state), "done": True, "early_stopped": stopped,
                             "budget_stopped": over_budget})  # fmt: skip
    return state


def _log(
    t: Trainer, session: Session, window: list[dict[str, Any]], seconds: float
) -> tuple[list[dict[str, Any]], float]:
    """Record the window's log line and report it; returns an empty window."""
    line = _log_line(t, window, seconds)
    t.state.history.append(line)
    session.progress({**line, "total_steps": t.schedule.total_steps, "progress": t.progress()})
    return [], 0.0


def _agreed_clock(t: Trainer, wall_seconds: float, step_seconds: float) -> tuple[float, float]:
    """The slowest worker's loop time and step time, the same on every worker: the lr schedule
    and the budget stop read them, and workers that disagreed would drift apart (lr) or one
    would wait forever in the next all-reduce (stop)."""
    if t.schedule.world_size <= 1:
        return wall_seconds, step_seconds
    import torch
    import torch.distributed as dist

    clock = torch.tensor([wall_seconds, step_seconds], dtype=torch.float64)
    dist.all_reduce(clock, op=dist.ReduceOp.MAX)
    return float(clock[0]), float(clock[1])


def _over_budget(t: Trainer, step_seconds: float) -> bool:
    """True when one more step would end past the time budget (a step is what we can stop on)."""
    if not t.cfg.budget_minutes:
        return False
    return t.state.wall_seconds + 2 * step_seconds >= 60 * t.cfg.budget_minutes
