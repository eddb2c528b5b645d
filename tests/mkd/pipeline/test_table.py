"""The demo's closing table: only accepted variants shown as exported; routes read as text."""

from mkd.pipeline.table import _variants_cell, rollout_row


def test_refused_and_skipped_variants_are_not_shown_as_exported():
    variants = {  # as the export stage records them (a demo run of 2026-11-28)
        "gguf-Q4_K_M": {"status": "skipped", "reason": "needs llama-cpp-python"},
        "gguf-q8_0": {"status": "accepted", "size_bytes": 144810848, "drop_vs_master": 0.02},
        "master": {"status": "accepted", "size_bytes": 541614976, "drop_vs_master": 0.0},
        "nf4": {"status": "refused", "size_bytes": 172103312, "drop_vs_master": 0.198},
    }
    cell = _variants_cell(variants)
    assert cell["student"] == "gguf-q8_0 144.8 MB, master 541.6 MB"
    assert cell["change"] == "gguf-Q4_K_M skipped; nf4 refused (-0.198 vs master)"
    assert _variants_cell({"nf4": variants["nf4"]})["student"] == "none"


def test_rollout_routes_read_as_text_not_a_dict():
    canary = {"requests": 32, "non_2xx": 0, "routes": {"teacher": 25, "student": 6, "fallback": 1}}
    row = rollout_row({"canary": canary, "shadow": canary, "weight": 0.25, "version": "s:3"})
    assert row["student"] == "canary at 25% (s:3)"
    assert row["change"] == "32 replayed, 0 non-2xx, routes teacher 25 / student 6 / fallback 1"
