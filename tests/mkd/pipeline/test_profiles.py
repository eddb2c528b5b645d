"""Demo profiles: every shipped profile yields a valid config; overlays merge, not replace."""

from __future__ import annotations

import pytest
from mkd.config.loader import deep_merge
from mkd.pipeline.demo import demo_config
from mkd.pipeline.profiles import available_profiles, load_profile


@pytest.mark.parametrize("profile", available_profiles())
def test_every_profile_is_a_valid_config(profile) -> None:
    cfg = demo_config({}, profile, "file:///tmp/mkd-profile-test")
    assert cfg.store.uri == "file:///tmp/mkd-profile-test"
    assert cfg.data.dataset.startswith("finance")


def test_quick_is_smaller_than_default() -> None:
    quick = demo_config({}, "quick", "file:///x")
    default = demo_config({}, "default", "file:///x")
    # the default trains to the time its deadline leaves; quick runs a fixed, small step count
    assert default.training.max_steps == 0 and default.demo.deadline_minutes is not None
    assert 0 < quick.training.max_steps <= 50
    assert quick.evaluation.max_items_per_task < default.evaluation.max_items_per_task
    assert quick.data.augment.variations_per_prompt < default.data.augment.variations_per_prompt


def test_overlay_merges_nested_sections() -> None:
    merged = deep_merge({"data": {"a": 1, "b": {"c": 2}}}, {"data": {"b": {"d": 3}}})
    assert merged == {"data": {"a": 1, "b": {"c": 2, "d": 3}}}


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="available: default, full, quick"):
        load_profile("turbo")


def test_a_user_config_wins_over_the_profile() -> None:
    cfg = demo_config({"training": {"max_steps": 7}}, "quick", "file:///x")
    assert cfg.training.max_steps == 7
    assert cfg.data.augment.variations_per_prompt == 1  # the rest of the profile still applies
