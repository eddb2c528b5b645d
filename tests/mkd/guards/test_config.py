import pytest
from mkd.config import ConfigError, load_config, parse_config


def test_guards_section_defaults_and_yaml(tmp_path):
    assert load_config().guards.pii.action == "redact"
    path = tmp_path / "p.yaml"
    path.write_text(
        "guards:\n  pii: {kinds: [email, pan], action: block}\n  domain: {action: log}\n"
    )
    cfg = load_config(path)
    assert cfg.guards.pii.kinds == ["email", "pan"] and cfg.guards.domain.action == "log"


def test_bad_guard_settings_name_the_field():
    with pytest.raises(ConfigError) as err:
        parse_config({"guards": {"pii": {"kinds": ["dna"]}, "limits": {"max_chars": 0, "typo": 1}}})
    text = str(err.value)
    assert "guards.pii.kinds[0]" in text and "guards.limits.max_chars" in text
    assert "guards.limits.typo: unknown field" in text
