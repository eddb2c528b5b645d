"""Keeping the last validation point unless an earlier one is better beyond noise."""

import pytest
from mkd.training.loop import run_loop
from mkd.training.restore import restore_evidence, sign_test_p
from mkd.training.sessions import LocalSession

from tests.mkd.training.test_loop import inputs


def test_the_sign_test_is_the_binomial_tail() -> None:
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 0) == pytest.approx(1 / 32)
    assert sign_test_p(7, 2) == pytest.approx((36 + 9 + 1) / 512)
    assert sign_test_p(2, 7) > 0.9


def test_an_earlier_point_is_restored_only_on_enough_disagreements() -> None:
    last = [True] * 45 + [False] * 19  # 0.703 of 64 answers
    noisy = [True] * 41 + [False] * 4 + [True] * 9 + [False] * 10  # 0.781: 9 better, 4 worse
    restore, evidence = restore_evidence(noisy, last, 0.05)
    assert (restore, evidence["best_only"], evidence["last_only"]) == (False, 9, 4)
    assert evidence["sign_test_p"] == pytest.approx(1093 / 8192, abs=1e-4)
    clear = [True] * 64  # 19 answers better, none worse
    assert restore_evidence(clear, last, 0.05)[0] is True
    with pytest.raises(ValueError, match="validation answers differ"):
        restore_evidence(clear[:3], last, 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("max_p", [0.05, 1.0])
def test_the_loop_keeps_the_last_point_unless_the_evidence_holds(
    tiny_model_dir, train_rows, val_rows, tmp_path, monkeypatch, max_p
):
    from mkd.training import loop

    real, calls = loop.evaluate, []

    def scripted(t):  # step 6 looks better than step 12 by one answer of ten
        result = real(t)
        calls.append(t.state.step)
        first = len(calls) == 1
        result["val_agreement"] = 0.9 if first else 0.8
        result["answer_exact"] = [True] * (9 if first else 8) + [False] * (1 if first else 2)
        return result

    monkeypatch.setattr(loop, "evaluate", scripted)
    inp = inputs(tiny_model_dir, train_rows, val_rows, restore_best_p=max_p)
    state = run_loop(inp, LocalSession(tmp_path))
    assert calls == [6, 12]
    if max_p < 1.0:  # one disagreement: p = 0.5, the last point stays and is the run's best
        kept = [h for h in state.history if "kept_last_over" in h]
        assert kept and kept[0]["kept_last_over"] == 6 and kept[0]["sign_test_p"] == 0.5
        assert (state.best_step, state.best_val_agreement) == (12, 0.8)
    else:
        assert [h["restored_step"] for h in state.history if "restored_step" in h] == [6]
        assert state.best_step == 6
