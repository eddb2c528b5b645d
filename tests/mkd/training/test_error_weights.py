"""Per-task loss weights from validation error (training.mixing.error_weighting)."""

import pytest
from mkd.training.error_weights import ERROR_FLOOR, error_factors, last_agreement
from mkd.training.loop import run_loop, setup
from mkd.training.sessions import LocalSession

from tests.mkd.training.test_loop import TASKS, inputs


def test_the_task_wrong_most_weighs_most_and_the_mean_is_one():
    f = error_factors({"a": 0.9, "b": 0.5, "c": 0.0}, ["a", "b", "c"], power=1.0)
    assert f["c"] > f["b"] > f["a"]
    assert sum(f.values()) / 3 == pytest.approx(1.0)
    assert f["b"] / f["a"] == pytest.approx(5.0)  # error 0.5 against 0.1


def test_power_zero_is_flat_a_learnt_task_keeps_the_floor_and_an_unseen_one_stays_at_one():
    assert error_factors({"a": 0.9, "b": 0.2}, ["a", "b"], power=0.0) == {"a": 1.0, "b": 1.0}
    f = error_factors({"a": 1.0, "b": 0.0}, ["a", "b", "c"], power=1.0)
    assert f["a"] / f["b"] == pytest.approx(ERROR_FLOOR)
    assert f["c"] == 1.0
    assert error_factors({}, ["a"], power=2.0) == {"a": 1.0}


def test_last_agreement_reads_the_latest_validation():
    history = [{"step": 5, "val_task_agreement": {"a": 0.1}}, {"step": 6, "loss": 1.0},
               {"step": 10, "val_task_agreement": {"a": 0.4}}, {"step": 12, "loss": 0.5}]  # fmt: skip
    assert last_agreement(history) == {"a": 0.4}
    assert last_agreement([{"step": 1, "loss": 2.0}]) is None


@pytest.mark.slow
def test_each_validation_sets_the_weights_and_a_resumed_run_starts_from_them(
    tiny_model_dir, train_rows, val_rows, tmp_path, monkeypatch
):
    from mkd.training import loop

    real = loop.evaluate

    def uneven(t):  # the tiny random model agrees on nothing: give the tasks different scores
        result = real(t)
        result["val_task_agreement"] = {task: 0.2 * i for i, task in enumerate(t.tasks)}
        return result

    monkeypatch.setattr(loop, "evaluate", uneven)
    mixing = {"error_weighting": 1.0}
    inp = inputs(tiny_model_dir, train_rows, val_rows, mixing=mixing)
    session = LocalSession(tmp_path)
    state = run_loop(inp, session)
    vals = [h for h in state.history if "val_task_agreement" in h]
    assert vals and all("task_loss_weights" in h for h in vals)
    last = vals[-1]
    expected = error_factors(last["val_task_agreement"], sorted(TASKS), 1.0)
    assert last["task_loss_weights"] == pytest.approx(expected)
    weights = [expected[t] for t in sorted(TASKS)]
    assert weights == sorted(weights, reverse=True) and weights[0] > 2 * weights[-1]
    resumed = setup(inp, session)  # the final checkpoint: the weights of its last validation
    assert resumed.loss_weights.tolist() == pytest.approx(weights)
    plain = setup(inputs(tiny_model_dir, train_rows, val_rows), LocalSession(tmp_path / "off"))
    assert plain.loss_weights is None
