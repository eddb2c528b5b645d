"""bitsandbytes nf4: 4-bit NormalFloat weights, loadable on GPU nodes and on this CPU.

bitsandbytes is imported only here, lazily: CPU installs without it still import mkd.
"""

from __future__ import annotations

from pathlib import Path


def bitsandbytes_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def quantize_nf4(master_dir: str | Path, out_dir: str | Path) -> Path:
    """Load the master with nf4 4-bit weights (double quantization) and save it.

    The saved config carries the quantization settings, so from_pretrained(out_dir) loads it
    quantized again with no extra argument.
    """
    if not bitsandbytes_available():
        raise RuntimeError("nf4 needs bitsandbytes: pip install bitsandbytes (extra `dev`/`gpu`)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,  # GPU nodes: bfloat16
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
