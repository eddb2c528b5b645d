"""bitsandbytes nf4: 4-bit NormalFloat weights, loadable on GPU nodes and on this CPU.

bitsandbytes is imported only here, lazily: CPU installs without it still import mkd.
"""

from __future__ import annotations

from pathlib import Path

# bitsandbytes quantizes 4-bit weights in blocks of 64 input values, and on CPUs with
# AVX-512-BF16 it repacks them for its CPU kernel in tiles of 32 output rows. A linear layer
# narrower than either cannot be packed there (it fails at the first forward on those hosts
# only), so such layers stay in full precision. Real students' layers are hundreds wide.
NF4_BLOCK_INPUTS = 64
NF4_TILE_OUTPUTS = 32


def bitsandbytes_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def unpackable_linears(master_dir: str | Path) -> list[str]:
    """Names of the model's linear layers whose shapes do not fit nf4 blocks and CPU tiles.

    The model is built on the meta device from its config, so no weights are read.
    """
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(master_dir))
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and (
            module.in_features % NF4_BLOCK_INPUTS != 0
            or module.out_features % NF4_TILE_OUTPUTS != 0
        )
    ]


def quantize_nf4(master_dir: str | Path, out_dir: str | Path) -> Path:
    """Load the master with nf4 4-bit weights (double quantization) and save it.

    The saved config carries the quantization settings (the layers kept in full precision
    among them), so from_pretrained(out_dir) loads it quantized again with no extra argument.
    """
    if not bitsandbytes_available():
        raise RuntimeError(
            "nf4 needs bitsandbytes: pip install bitsandbytes (extra `export`/`gpu`)"
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,  # GPU nodes: bfloat16
        # lm_head is what transformers keeps in full precision when no list is given.
        llm_int8_skip_modules=["lm_head", *unpackable_linears(master_dir)],
    )
    model = AutoModelForCausalLM.from_pretrained(
        master_dir,
        quantization_config=quant,
        device_map="cpu" if not torch.cuda.is_available() else "auto",
    )
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    model.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(master_dir).save_pretrained(tmp)
    tmp.replace(out_dir)
    return out_dir
