"""Batch prediction on Ray Data gives the same answers as in-process prediction."""

from __future__ import annotations

import pytest
from mkd.evaluation.predict import LocalPredictor, ModelSpec, predict_on_ray
from mkd.records import Record


@pytest.mark.integration
@pytest.mark.slow
def test_ray_data_predictions_match_local_ones(ray_cluster, tiny_base, pack):
    records = [
        Record(input="Top 5 banks by net profit", task="query_classifier"),
        Record(input="What is EBITDA?", task="query_classifier"),
        Record(input="Apple revenue in FY2023", task="currency_identifier"),
    ]
    spec = ModelSpec("tiny", str(tiny_base))
    remote = predict_on_ray(spec, "finance", records, ray_cluster.address, batch_size=2,
                            max_new_tokens=3)  # fmt: skip
    local = LocalPredictor(spec, pack, batch_size=2, max_new_tokens=3).predict(records)
    assert [p.output for p in remote] == [p.output for p in local]
    assert [p.task for p in remote] == [r.task for r in records]
    assert all(p.prompt_tokens > 0 and p.output_tokens > 0 for p in remote)
    assert all(p.violation is None for p in remote)  # constrained decoding, as served
