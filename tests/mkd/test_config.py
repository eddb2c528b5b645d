"""Typed config: defaults work, every problem is reported at once with its path, ${ENV} works."""

from __future__ import annotations

import pytest
from mkd.config import ConfigError, dump_config, load_config, parse_config


def test_defaults_are_valid() -> None:
    cfg = load_config(None)
    assert cfg.pack == "finance"
    assert len(cfg.tasks) == 4
    assert "store" in dump_config(cfg)


def test_all_problems_in_one_error_with_paths(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tasks: [query_classifier, entity_extractor, curency]\n"
        "seed: not-a-number\n"
        "store: {s3: {multipart_threshold_mb: 1}, bogus: 2}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    problems = info.value.problems
    text = str(info.value)
    assert "tasks[2]: unknown task 'curency'" in problems
    assert any(p.startswith("seed:") for p in problems)
    assert "store.s3.multipart_threshold_mb: must be >= 5" in problems
    assert "store.bogus: unknown field" in problems
    assert str(bad) in text and "4 problem(s)" in text


def test_env_interpolation_for_secrets(monkeypatch) -> None:
    monkeypatch.setenv("MKD_TEST_SECRET", "s3cr3t")
    cfg = parse_config({"store": {"s3": {"secret_access_key": "${MKD_TEST_SECRET}"}}})
    assert cfg.store.s3.secret_access_key == "s3cr3t"
    cfg = parse_config({"store": {"uri": "${MKD_TEST_UNSET:-file://./x}"}})
    assert cfg.store.uri == "file://./x"


def test_missing_env_variable_is_named(monkeypatch) -> None:
    monkeypatch.delenv("MKD_NOT_SET", raising=False)
    with pytest.raises(
        ConfigError, match=r"store.s3.secret_access_key: environment variable MKD_NOT_SET"
    ):
        parse_config({"store": {"s3": {"secret_access_key": "${MKD_NOT_SET}"}}})


def test_unknown_pack_is_reported(tmp_path) -> None:
    with pytest.raises(ConfigError, match="pack: no task pack 'nope'"):
        parse_config({"pack": "nope"})


def test_not_yaml_or_not_mapping(tmp_path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(f)
    f.write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)
