from pathlib import Path

from mkd.config import load_config

CONFIGS = Path(__file__).parents[3] / "configs"


def test_the_shipped_quick_training_config_loads():
    cfg = load_config(CONFIGS / "train-quick.yaml")
    assert cfg.training.max_steps > cfg.training.optimizer.warmup_steps
