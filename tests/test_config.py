import pytest

from synthshare.config import Config, config_from_dict, load_config
from synthshare.errors import ConfigError


@pytest.mark.parametrize("name", ["tiny", "demo", "acdc"])
def test_bundled_presets_load(name):
    cfg = load_config(name)
    assert cfg.name == name


def test_every_wrong_field_is_listed_with_its_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("vae:\n  steps: -1\n  colour: red\nstatic:\n  lr: 0\nsurprise: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    paths = sorted(p.split(":")[0] for p in info.value.problems)
    assert paths == ["static.lr", "surprise", "vae.colour", "vae.steps"]
    assert str(bad) in str(info.value)


def test_groupnorm_divisibility_is_checked():
    with pytest.raises(ConfigError, match="norm_groups"):
        config_from_dict({"vae": {"channels": [6, 8], "norm_groups": 4}}, source="x")


def test_yaml_is_loaded_safely(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(evil)


def test_unknown_preset_names_the_presets():
    with pytest.raises(ConfigError, match="tiny"):
        load_config("nonexistent-preset")


def test_hash_changes_with_section_and_only_that_section():
    a = Config()
    b = a.with_updates({"vae": {"steps": 7}})
    assert a.sha256("vae") != b.sha256("vae")
    assert a.sha256("static") == b.sha256("static")
