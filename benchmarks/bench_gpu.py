"""A Llama-3.1-8B-shaped student on one GPU: training tokens/s and decode latency.

    python benchmarks/bench_gpu.py [--tokenizer DIR] [--steps 10] [--batch-size 32] [--compile]

Nothing is downloaded: the model is built from Llama 3.1 8B's published shape with random
weights (bf16, on the GPU), which costs the same FLOPs and bytes per token as the real one;
the tokenizer is the CPU student's (ids stay inside the 8B vocabulary). Needs torch,
transformers and peft (no Ray). Figures, each beside a baseline measured in the same run:

- training: non-pad tokens/s of mkd's loop (length buckets, LM head on answer tokens only)
  vs a plain transformers+peft loop on the same sampled examples and the same LoRA; peak memory;
  model FLOP utilisation against the bf16 matrix rate measured here.
- decode (HF generate, KV cache, greedy): prefill of a student prompt; per-token latency at
  batch 1 (one task) and batch 4 (the four tasks of /v1/analyze), against the floor that reading
  the weights once per token sets at the copy bandwidth measured here. `--compile` adds the
  static-cache variant, which generate compiles (torch.compile, CUDA graphs: what vLLM
  does for decode).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import FIXTURE, TASKS, _inputs, _sync, compare_loops

LLAMA_31_8B = {  # meta-llama/Llama-3.1-8B config.json, minus the ids
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    "tie_word_embeddings": False, "hidden_act": "silu",
}  # fmt: skip
WARMUP = 3  # uncounted steps: lazy CUDA module loading, allocator growth, first shapes
TINY = {**LLAMA_31_8B, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
        "num_key_value_heads": 2}  # fmt: skip  # a smoke test of this script on a CPU


def _config(shape: dict, layers: int, tokenizer: Any) -> Any:
    from transformers import LlamaConfig

    shape = {**shape, "num_hidden_layers": layers}
    return LlamaConfig(**shape, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)  # fmt: skip


def _random_model(config: Any, device: str) -> Any:
    """bf16 weights initialised on the GPU (no 32 GB fp32 detour on the host)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)


def _tokenizer(directory: Path | None) -> Any:
    """The tokenizer saved in `directory`, or the CPU student's (needs the gguf package)."""
    from transformers import AutoTokenizer

    if directory is None:
        from mkd.models.stored import load_tokenizer
        from mkd.models.uris import DEFAULT_STUDENT_URI

        tok = load_tokenizer(DEFAULT_STUDENT_URI)
    else:
        tok = AutoTokenizer.from_pretrained(directory)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _use_random_student(config: Any, tokenizer_dir: Path | None, device: str) -> None:
    """Point the loop's student builder at the random 8B-shaped model: the loop itself
    (data, buckets, loss, optimizer, schedule) is mkd's, unchanged."""
    import mkd.training.loop as loop
    from mkd.training.gpu import lora_kwargs

    def build(cfg: Any, device: Any) -> tuple[Any, Any]:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(_random_model(config, device), LoraConfig(**lora_kwargs(cfg)))
        tok = _tokenizer(tokenizer_dir)
        tok.padding_side = "right"
        model.train()
        return model, tok

    loop.build_student = build


def _matmul_tflops(device: str) -> float:
    import torch

    n = 8192 if device == "cuda" else 256
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    _sync(device)
    started = time.perf_counter()
    for _ in range(10):
        a @ a
    _sync(device)
    return 10 * 2 * n**3 / (time.perf_counter() - started) / 1e12


def _copy_gb_per_s(device: str) -> float:
    import torch

    src = torch.empty(2 * 1024**3 if device == "cuda" else 2**26, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    started = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    _sync(device)
    return 10 * 2 * src.numel() / (time.perf_counter() - started) / 1e9  # read + write


def _profile(mkd: Any, plain: Any, batch_size: int) -> None:
    """Print where one step of each loop spends its time (torch.profiler, CPU + CUDA)."""
    from bench_train import _baseline_step
    from mkd.training.loop import train_step
    from torch.profiler import ProfilerActivity, profile

    for name, step in (("mkd", lambda: train_step(mkd, 1, 0)),
                       ("baseline", lambda: _baseline_step(plain, plain.schedule.batches[1]))):  # fmt: skip
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            step()
        events = prof.key_averages()
        kernels = sum(e.count for e in events if e.device_type.name == "CUDA")
        print(f"== {name}: {kernels} CUDA kernel launches", flush=True)
        for key in ("self_cpu_time_total", "self_device_time_total"):
            print(events.table(sort_by=key, row_limit=12, max_name_column_width=60), flush=True)


def bench_training(
    config: Any,
    tokenizer_dir: Path | None,
    steps: int,
    batch_size: int,
    device: str,
    prof: bool = False,
) -> dict:
    """mkd's loop vs the plain loop on the 8B shape; peak memory and MFU of mkd's loop."""
    import torch
    from mkd.training.loop import setup
    from mkd.training.sessions import LocalSession

    _use_random_student(config, tokenizer_dir, device)
    cuda = device == "cuda"
    # Unpacked rows: the recorded H200 figures predate packing, and the MFU below counts the
    # tokens that were computed (a packed row's example tokens overcount them).
    inp = _inputs(FIXTURE, "unused", steps + WARMUP, 0, batch_size=batch_size, gpu=cuda,
                  pad_to_multiple_of=16 if cuda else 1, packing="none")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        mkd = setup(inp, LocalSession(Path(tmp) / "a"))
        plain = setup(inp, LocalSession(Path(tmp) / "b"))
    if prof:
        _profile(mkd, plain, batch_size)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    result = compare_loops(mkd, plain, batch_size, steps, WARMUP)
    if cuda:
        result["peak_memory_gib_both_models"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    params = sum(p.numel() for p in mkd.model.parameters())
    trainable = sum(p.numel() for p in mkd.model.parameters() if p.requires_grad)
    # Frozen base: forward 2N + activation-gradient backward 2N FLOPs per token (no weight grads).
    result["model_tflops_per_s_mkd"] = round(4 * params * result["mkd_tokens_per_s"] / 1e12, 1)
    result |= {"params": params, "trainable_params": trainable, "batch_size": batch_size}
    del mkd, plain
    if cuda:
        torch.cuda.empty_cache()
    return result


def _prompts(tokenizer: Any) -> list[str]:
    """One student prompt per task, from the training fixture."""
    from mkd.records import Record
    from mkd.tasks import load_pack
    from mkd.training.data import prompt_text

    pack = load_pack("finance")
    rows = [json.loads(x) for x in (FIXTURE / "test.jsonl").read_text().splitlines()]
    first = {}
    for r in rows:
        first.setdefault(r["task"], Record(**r))
    return [prompt_text(tokenizer, pack, first[t]) for t in TASKS]


def _time_generate(model: Any, batch: dict, new_tokens: int, repeats: int = 3) -> float:
    device = model.device.type
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    model.generate(**batch, **kwargs)  # warm-up (and compilation, when compiled)
    times = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        model.generate(**batch, **kwargs)
        _sync(device)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _decode_figures(model: Any, tok: Any, prompts: list[str], new_tokens: int) -> dict:
    """Prefill ms, then per-token ms at batch 1 and 4 from generate(n) - generate(1)."""
    one = tok(prompts[:1], return_tensors="pt").to(model.device)
    four = tok(prompts, return_tensors="pt", padding=True).to(model.device)
    out = {}
    for name, batch in (("batch1", one), ("batch4", four)):
        first = _time_generate(model, batch, 1)
        full = _time_generate(model, batch, new_tokens)
        out[f"{name}_prefill_ms"] = round(first * 1e3, 1)
        out[f"{name}_ms_per_token"] = round((full - first) / (new_tokens - 1) * 1e3, 2)
    out["batch4_vs_batch1_per_token"] = round(
        out["batch4_ms_per_token"] / out["batch1_ms_per_token"], 2
    )
    out["prompt_tokens_batch1"] = int(one["input_ids"].shape[1])
    return out


def bench_decode(
    config: Any, tokenizer_dir: Path | None, new_tokens: int, compile_: bool, device: str
) -> dict:
    """Eager generate, then (with --compile) the static-cache compiled variant."""
    import torch

    tok = _tokenizer(tokenizer_dir)
    tok.padding_side = "left"
    model = _random_model(config, device).eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bandwidth = _copy_gb_per_s(device)
    floor_ms = weight_bytes / (bandwidth * 1e9 / 2) * 1e3  # one read of the weights per token
    result = {"weight_gib": round(weight_bytes / 2**30, 2), "copy_gb_per_s": round(bandwidth),
              "floor_ms_per_token": round(floor_ms, 2), "new_tokens": new_tokens}  # fmt: skip
    prompts = _prompts(tok)
    with torch.inference_mode():
        result["eager"] = _decode_figures(model, tok, prompts, new_tokens)
        print(json.dumps({"decode_eager": result["eager"]}), flush=True)
        if compile_:
            # A static cache makes generate compile the decode step itself (CUDA graphs).
            model.generation_config.cache_implementation = "static"
            started = time.perf_counter()
            result["compiled"] = _decode_figures(model, tok, prompts, new_tokens)
            result["compiled"]["with_compilation_s"] = round(time.perf_counter() - started, 1)
    for variant in ("eager", "compiled"):
        if variant in result:
            result[variant]["floor_ratio_batch1"] = round(
                result[variant]["batch1_ms_per_token"] / floor_ms, 2
            )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the training and decode figures; print JSON (and write it with --out)."""
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        help="HF tokenizer directory (default: the CPU student's, from its GGUF)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="without a GPU: a 2-layer tiny-width smoke run on the CPU (CI)",
    )
    ap.add_argument("--steps", type=int, default=10, help="measured training steps per loop")
    ap.add_argument("--batch-size", type=int, default=32, help="32: past the launch-bound regime")
    ap.add_argument("--layers", type=int, default=32, help="decoder layers (32 = the 8B)")
    ap.add_argument("--tiny", action="store_true", help="tiny widths: smoke-test the script")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only with --tiny")
    ap.add_argument("--new-tokens", type=int, default=48, help="decoded tokens per answer")
    ap.add_argument("--compile", action="store_true", help="also static cache + torch.compile")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print a profile of one step of each")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.quick and not torch.cuda.is_available():
        args.tiny, args.device, args.layers, args.steps, args.new_tokens = True, "cpu", 2, 2, 6
        args.batch_size = 4  # bf16 on this CPU is slow: keep the smoke run small
    dev = args.device
    if dev == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA GPU here (figures of a GPU run: benchmarks/results/*-gpu-*.md)")
        return {"skipped": "no CUDA GPU"}
    config = _config(TINY if args.tiny else LLAMA_31_8B, args.layers, _tokenizer(args.tokenizer))
    name = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    result: dict[str, Any] = {"device": name, "torch": torch.__version__, "tiny": args.tiny}
    result["bf16_matmul_tflops"] = round(_matmul_tflops(dev), 3)
    if not args.skip_training:
        result["training"] = bench_training(
            config, args.tokenizer, args.steps, args.batch_size, dev, args.profile
        )
        print(json.dumps({"training": result["training"]}), flush=True)
        result["training"]["mfu"] = round(
            result["training"]["model_tflops_per_s_mkd"] / result["bf16_matmul_tflops"], 3
        )
    if not args.skip_decode:
        result["decode"] = bench_decode(config, args.tokenizer, args.new_tokens, args.compile, dev)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
