from pathlib import Path

import pytest
from mkd.config import load_config, parse_config
from mkd.config.training import TRAINING_PROFILES, training_profile

CONFIGS = Path(__file__).parents[3] / "configs"


@pytest.mark.parametrize("name", sorted(TRAINING_PROFILES))
def test_every_profile_is_a_valid_training_section(name):
    cfg = parse_config({"training": training_profile(name)})
    assert cfg.training.max_steps > cfg.training.optimizer.warmup_steps


def test_the_shipped_quick_config_loads():
    cfg = load_config(CONFIGS / "train-quick.yaml")
    assert cfg.training.max_steps == TRAINING_PROFILES["quick"]["max_steps"]


def test_unknown_profile():
    with pytest.raises(KeyError, match="known are default, quick"):
        training_profile("turbo")
