"""A lean Llama forward for CPU decoding, called like a transformers causal LM.

Decoding an answer on a CPU is a few dozen forwards of one token (or a handful, batched), each
of which reads every weight once: it is bound by memory bandwidth, and transformers' generic
layers add per-op work on top. This module runs the same arithmetic with the projections fused
(q|k|v and gate|up: one matmul each), q and k rotated together, and a KV cache preallocated
per batch row; with `int8_decode` the decode forwards (a few rows) read per-channel int8 weights,
half of bf16's bytes, while prefills (many rows, compute-bound) keep the bf16 matmul. What each
variant gives on a host is measured by benchmarks/bench_serve.py, never assumed here.

Only what mkd.decoding.ConstrainedDecoder calls is implemented: `forward(input_ids,
attention_mask, position_ids, past_key_values, use_cache, logits_to_keep)` with transformers'
semantics (a 2D mask over the cached slots plus the new ones; explicit positions) and
`logits_index` (the logits of those token ids only), and a cache
with `batch_repeat_interleave` / `batch_select_indices`. `unsupported(model)` names why it would
not reproduce a model exactly (another architecture, biases, scaled rotary, quantized layers,
adapters not merged), and the engine keeps the transformers model then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from mkd.tasks.prompts import shared_prefix_len

# A forward with at most this many token rows (batch x new tokens) is a decode: int8 weights
# (bandwidth-bound); more rows are a prefill, where the bf16 matmul is faster.
DECODE_ROWS = 8
# A prompt reuses the keys and values of its start shared with the last one from this many
# tokens on (the chat template's system turn is ~9 tokens).
MIN_REUSED_TOKENS = 4


@dataclass
class LeanOutput:
    """What a forward returns: logits [B, kept, V] and the cache (transformers' field names)."""

    logits: torch.Tensor
    past_key_values: LeanCache

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


class LeanCache:
    """Keys and values of every layer, [B, kv_heads, capacity, head_dim], grown by doubling;
    slots [0, length) are filled (which of them a row may see is the caller's 2D mask)."""

    def __init__(self, layers: int, batch: int, kv_heads: int, head_dim: int, dtype: Any) -> None:
        shape = (batch, kv_heads, 64, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype) for _ in range(layers)]
        self.length = 0

    def get_seq_length(self) -> int:
        return self.length

    def reserve(self, new: int) -> None:
        """Room for `new` more slots."""
        capacity = self.keys[0].shape[2]
        if self.length + new <= capacity:
            return
        while capacity < self.length + new:
            capacity *= 2
        self.keys = [_grown(t, capacity, self.length) for t in self.keys]
        self.values = [_grown(t, capacity, self.length) for t in self.values]

    def batch_repeat_interleave(self, repeats: int) -> None:
        self.keys = [t.repeat_interleave(repeats, 0) for t in self.keys]
        self.values = [t.repeat_interleave(repeats, 0) for t in self.values]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.keys = [t[indices] for t in self.keys]
        self.values = [t[indices] for t in self.values]


def _grown(t: torch.Tensor, capacity: int, filled: int) -> torch.Tensor:
    out = torch.zeros((*t.shape[:2], capacity, t.shape[3]), dtype=t.dtype)
    out[:, :, :filled] = t[:, :, :filled]
    return out


class _Linear:
    """One weight matrix, plus its per-row int8 copy for decode forwards when asked."""

    def __init__(self, weight: torch.Tensor, dtype: Any, int8: bool) -> None:
        self.weight = weight.detach().to(dtype).contiguous()
        self.q = self.scale = None
        if int8:
            w = weight.detach().float()
            scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
            self.q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
            self.scale = scale.to(dtype)

    def __call__(self, x: torch.Tensor, outputs: torch.Tensor | None = None) -> torch.Tensor:
        """x @ W.T, or only the output columns `outputs` (row indices of W) when given."""
        rows = x.numel() // x.shape[-1]
        if self.q is None or rows > DECODE_ROWS:
            weight = self.weight if outputs is None else self.weight.index_select(0, outputs)
            return F.linear(x, weight)
        q, scale = self.q, self.scale
        if outputs is not None:
            q, scale = q.index_select(0, outputs), scale.index_select(0, outputs)
        flat = torch._weight_int8pack_mm(x.reshape(rows, -1), q, scale)
        return flat.view(*x.shape[:-1], -1)


class _Layer:
    def __init__(self, layer: Any, dtype: Any, int8: bool) -> None:
        a, m = layer.self_attn, layer.mlp
        self.norm_in = layer.input_layernorm.weight.detach().to(dtype)
        self.qkv = _Linear(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]),
                           dtype, int8)  # fmt: skip
        self.out = _Linear(a.o_proj.weight, dtype, int8)
        self.norm_mid = layer.post_attention_layernorm.weight.detach().to(dtype)
        self.gate_up = _Linear(torch.cat([m.gate_proj.weight, m.up_proj.weight]), dtype, int8)
        self.down = _Linear(m.down_proj.weight, dtype, int8)


class LeanLlama:
    """A Llama causal LM's inference forward (see the module docstring); build with lean_llama.

    Args:
        model: a transformers LlamaForCausalLM (adapters merged).
        dtype: the compute dtype ("float32" or "bfloat16").
        int8_decode: decode forwards read per-channel int8 weights (bf16 compute only: the
            int8 kernel is slow with fp32 activations).
    """

    def __init__(self, model: Any, dtype: str = "float32", int8_decode: bool = False) -> None:
        cfg = model.config
        self.config = cfg
        self.dtype = getattr(torch, dtype)
        int8 = int8_decode and self.dtype == torch.bfloat16
        self.int8_decode = int8
        self.heads, self.kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = cfg.rms_norm_eps
        self.layers = [_Layer(layer, self.dtype, int8) for layer in model.model.layers]
        self.head = _Linear(model.lm_head.weight, self.dtype, int8)
        tied = model.lm_head.weight is model.model.embed_tokens.weight
        embed = model.model.embed_tokens.weight
        self.embed = self.head.weight if tied else embed.detach().to(self.dtype)
        self.norm = model.model.norm.weight.detach().to(self.dtype)
        self._last_prompt: tuple[list[int], list, list] | None = None
        self.reused_tokens = 0  # prompt tokens whose keys and values came from the last prompt
        self._inv_freq = 1.0 / (
            _rope_theta(cfg) ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim)
        )

    def __call__(self, **kwargs: Any) -> LeanOutput:
        return self.forward(**kwargs)

    def new_cache(self, batch: int) -> LeanCache:
        return LeanCache(len(self.layers), batch, self.kv_heads, self.head_dim, self.dtype)

    @torch.inference_mode()
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: LeanCache | None = None,
        use_cache: bool = True,
        logits_to_keep: int = 0,
        logits_index: torch.Tensor | None = None,
    ) -> LeanOutput:
        """Logits of the last `logits_to_keep` positions (0: all) and the grown cache.

        `attention_mask` [B, cached + new] marks the slots each row may attend to (None: all);
        `position_ids` [B, new] are the rotary positions (None: continuing the cache);
        `logits_index` (token ids): only their logits, in that order (the LM head is a fifth
        of a decode forward's weights, and a constrained decoder needs the allowed tokens')."""
        prompt = _fresh_prompt(input_ids, attention_mask, position_ids, past_key_values)
        if prompt is not None and logits_to_keep:
            past_key_values, reused = self._shared_start(prompt, len(prompt) - logits_to_keep)
            self.reused_tokens += reused
            input_ids = input_ids[:, reused:]
            position_ids = None if position_ids is None else position_ids[:, reused:]
        batch, new = input_ids.shape
        cache = past_key_values or self.new_cache(batch)
        start = cache.length
        if position_ids is None:
            position_ids = torch.arange(start, start + new).expand(batch, new)
        cos, sin = self._rotary(position_ids)
        mask = _attention_mask(attention_mask, start, new)
        cache.reserve(new)
        x = self.embed[input_ids]
        for i, layer in enumerate(self.layers):
            x = self._layer(layer, x, cos, sin, cache, i, mask)
        cache.length = start + new
        if prompt is not None:
            self._last_prompt = (prompt, [t[:, :, : len(prompt)].clone() for t in cache.keys],
                                 [t[:, :, : len(prompt)].clone() for t in cache.values])  # fmt: skip
        if logits_to_keep:
            x = x[:, -logits_to_keep:]
        return LeanOutput(self.head(self._rms(x, self.norm), logits_index), cache)

    def _shared_start(self, prompt: list[int], most: int) -> tuple[LeanCache | None, int]:
        """(a cache holding the keys and values of the tokens `prompt` shares with the last
        fresh prompt, at most `most` of them; how many): every request repeats the chat
        template's system turn, so its keys and values are computed once."""
        if self._last_prompt is None:
            return None, 0
        last, keys, values = self._last_prompt
        shared = shared_prefix_len([prompt[:most], last])
        if shared < MIN_REUSED_TOKENS:
            return None, 0
        cache = self.new_cache(1)
        cache.reserve(shared)
        for i in range(len(self.layers)):
            cache.keys[i][:, :, :shared] = keys[i][:, :, :shared]
            cache.values[i][:, :, :shared] = values[i][:, :, :shared]
        cache.length = shared
        return cache, shared

    def _layer(self, layer: _Layer, x, cos, sin, cache: LeanCache, i: int, mask) -> torch.Tensor:
        batch, new = x.shape[:2]
        h, heads, kv = self.head_dim, self.heads, self.kv_heads
        qkv = layer.qkv(self._rms(x, layer.norm_in)).view(batch, new, heads + 2 * kv, h)
        # q and k rotate together: one set of ops for both
        qk = _rotate(qkv[:, :, : heads + kv].transpose(1, 2), cos, sin)
        start, end = cache.length, cache.length + new
        cache.keys[i][:, :, start:end] = qk[:, heads:]
        cache.values[i][:, :, start:end] = qkv[:, :, heads + kv :].transpose(1, 2)
        keys, values = cache.keys[i][:, :, :end], cache.values[i][:, :, :end]
        att = F.scaled_dot_product_attention(
            qk[:, :heads], keys, values, attn_mask=mask, enable_gqa=True
        )
        x = x + layer.out(att.transpose(1, 2).reshape(batch, new, heads * h))
        gate, up = layer.gate_up(self._rms(x, layer.norm_mid)).chunk(2, dim=-1)
        return x + layer.down(F.silu(gate) * up)

    def _rms(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """transformers' LlamaRMSNorm: normalise in fp32, scale in the compute dtype."""
        return weight * F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).to(self.dtype)

    def _rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = positions[..., None].float() * self._inv_freq  # [B, T, h/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.dtype)[:, None], emb.sin().to(self.dtype)[:, None]


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _attention_mask(mask2d: Any, start: int, new: int) -> torch.Tensor | None:
    """[B, 1, new, start + new] booleans: a slot the row's 2D mask keeps, at or before the
    query's own slot; each query also sees itself, so a padding query never has an empty
    softmax row (its output is never read)."""
    if mask2d is None and new == 1:
        return None
    total = start + new
    causal = torch.ones(new, total, dtype=torch.bool).tril(start)
    if mask2d is None:
        return causal
    keep = mask2d[:, None, :total].bool() & causal  # [B, new, total]
    keep[:, torch.arange(new), start + torch.arange(new)] = True
    return keep[:, None]


def _fresh_prompt(ids: torch.Tensor, mask: Any, positions: Any, cache: Any) -> list[int] | None:
    """The token ids of a one-row prompt from position 0 with nothing masked (what reuses and
    leaves keys and values of a shared start), else None."""
    if cache is not None or ids.shape[0] != 1:
        return None
    if mask is not None and not bool(mask.all()):
        return None
    if positions is not None and not torch.equal(positions[0], torch.arange(ids.shape[1])):
        return None
    return ids[0].tolist()


def _rope_theta(cfg: Any) -> float:
    params = getattr(cfg, "rope_parameters", None) or {}
    return float(params.get("rope_theta") or getattr(cfg, "rope_theta", 10000.0))


def unsupported(model: Any) -> str | None:
    """Why LeanLlama would not reproduce `model` (None: it would)."""
    cfg = getattr(model, "config", None)
    if getattr(cfg, "model_type", None) != "llama":
        return f"architecture {getattr(cfg, 'model_type', type(model).__name__)!r} is not llama"
    if type(model).__name__ != "LlamaForCausalLM":
        return f"{type(model).__name__} (adapters not merged?)"
    for name, module in model.model.layers.named_modules():
        # some layers of a quantized model stay plain (narrower than a block): check them all
        if "Linear" in type(module).__name__ and type(module) is not torch.nn.Linear:
            return f"{type(module).__name__} at {name} (quantized or wrapped weights)"
        weight = getattr(module, "weight", None)
        if weight is not None and not weight.dtype.is_floating_point:
            return f"{weight.dtype} weights at {name}"
    if getattr(cfg, "hidden_act", "silu") != "silu":
        return f"hidden_act {cfg.hidden_act!r}"
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        return "projection biases"
    params = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if params.get("rope_type", "default") != "default":
        return f"rope_type {params.get('rope_type')!r}"
    if next(model.parameters()).device.type != "cpu":
        return "not on the CPU"
    return None
