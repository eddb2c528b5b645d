"""Export: the merged full-precision master, quantized variants (nf4, GGUF), model cards."""
