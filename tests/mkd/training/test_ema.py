"""The adapter's moving average: its update rule, swapping it in and out, its checkpoint state."""

import pytest
import torch
from mkd.training.ema import AdapterEMA


def _model() -> torch.nn.Module:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    model[0].weight.requires_grad_(False)  # a frozen base weight is not averaged
    return model


def test_the_average_follows_the_weights_with_a_warm_up_decay() -> None:
    model = _model()
    ema = AdapterEMA(model, decay=0.9)
    assert "0.weight" not in ema.shadow and "1.weight" in ema.shadow
    start = model[1].weight.detach().clone()
    with torch.no_grad():
        model[1].weight.add_(1.0)
    ema.update(model, step=1)  # weight min(0.9, 2/11)
    assert torch.allclose(ema.shadow["1.weight"], start + (1 - 2 / 11))
    ema.update(model, step=100)  # weight 0.9 from here on
    assert torch.allclose(ema.shadow["1.weight"], start + 1 - (2 / 11) * 0.9)


def test_applied_swaps_the_average_in_and_the_trained_weights_back() -> None:
    model = _model()
    ema = AdapterEMA(model, decay=0.5)
    with torch.no_grad():
        model[1].weight.fill_(3.0)
    trained = model[1].weight.detach().clone()
    with ema.applied(model):
        assert torch.equal(model[1].weight, ema.shadow["1.weight"])
    assert torch.equal(model[1].weight, trained)
    ema.copy_to(model)
    assert torch.equal(model[1].weight, ema.shadow["1.weight"])


def test_state_round_trips_and_names_what_is_missing() -> None:
    model = _model()
    ema = AdapterEMA(model, decay=0.5)
    ema.update(model, step=50)
    other = AdapterEMA(_model(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert all(torch.equal(other.shadow[n], w) for n, w in ema.shadow.items())
    with pytest.raises(ValueError, match="no shadow for"):
        other.load_state_dict({"decay": 0.5, "shadow": {}})
