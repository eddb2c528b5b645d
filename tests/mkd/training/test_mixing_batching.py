import random
from collections import Counter

import pytest
from mkd.config.training import MixingSettings
from mkd.training.batching import length_batches, padding_ratio, plain_batches
from mkd.training.mixing import sample_stream, task_probabilities


def test_temperature_lifts_small_tasks():
    counts = {"big": 900, "small": 100}
    proportional = task_probabilities(counts, MixingSettings(strategy="proportional"))
    t2 = task_probabilities(counts, MixingSettings(strategy="temperature", temperature=2.0))
    assert proportional["small"] == pytest.approx(0.1)
    assert t2["small"] == pytest.approx(10 / (30 + 10))  # sqrt(100) / (sqrt(900) + sqrt(100))
    flat = task_probabilities(counts, MixingSettings(strategy="temperature", temperature=100.0))
    assert flat["small"] == pytest.approx(0.5, abs=0.02)


def test_explicit_weights_and_errors():
    probs = task_probabilities(
        {"a": 10, "b": 10, "c": 10}, MixingSettings(strategy="weights", weights={"a": 2, "b": 1})
    )
    assert probs == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.25})  # c missing -> weight 1
    with pytest.raises(ValueError, match="without training examples"):
        task_probabilities({"a": 3, "b": 0}, MixingSettings())


def test_stream_follows_the_probabilities_exactly():
    by_task = {"a": list(range(0, 5)), "b": list(range(5, 100))}
    stream = sample_stream(by_task, {"a": 0.3, "b": 0.7}, 1000, random.Random(0))
    owner = Counter("a" if i < 5 else "b" for i in stream)
    assert owner == {"a": 300, "b": 700}
    # the small task cycles through its examples evenly instead of repeating a few
    assert set(Counter(i for i in stream if i < 5).values()) == {60}


def test_length_bucketing_keeps_padding_under_15_percent():
    rng = random.Random(1)
    # four tasks with very different answer lengths, as in the finance pack
    lengths = [rng.choice([45, 60, 90, 140]) + rng.randint(-8, 8) for _ in range(4000)]
    stream = list(range(len(lengths)))
    rng.shuffle(stream)
    bucketed = length_batches(stream, lengths, 8, random.Random(2))
    plain = plain_batches(stream, 8)
    assert sorted(i for b in bucketed for i in b) == sorted(stream)  # nothing lost or repeated
    assert padding_ratio(bucketed, lengths) < 0.05
    assert padding_ratio(plain, lengths) > 0.15


def test_padding_ratio_arithmetic():
    assert padding_ratio([[0, 1]], [3, 1]) == pytest.approx(1 - 4 / 6)
    assert padding_ratio([], []) == 0.0
