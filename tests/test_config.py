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


def test_non_utf8_config_is_a_config_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: tiny\n# caf\xe9\n")  # Latin-1, not UTF-8
    with pytest.raises(ConfigError, match=r"bad\.yaml: not UTF-8 text \(byte 0xe9 at offset 16\); save the config as UTF-8"):
        load_config(bad)
    bad.write_bytes("name: tiny\n# caf\u00e9\n".encode())  # negative control: the same text in UTF-8
    assert load_config(bad).name == "tiny"


@pytest.mark.parametrize(
    "updates, message",
    [
        ({"data": {"crop": [10, 10]}, "vae": {"channels": [4, 8, 8]}}, r"data\.crop \[10, 10\] must be divisible by 4"),
        ({"seed": -1}, r"seed: Input should be greater than or equal to 0"),
        ({"phantom": {"seed": -3}}, r"phantom\.seed"),
        ({"static": {"cond_dropout": 0.0}, "sampling": {"guidance_scale": 2.0}}, r"static\.cond_dropout is 0"),
        ({"motion": {"cond_dropout": 0.0}, "sampling": {"guidance_scale": 1.0, "motion_guidance_scale": 2.0}},
         r"motion\.cond_dropout is 0"),
    ],
)
def test_combinations_that_would_fail_later_are_refused_up_front(updates, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny").with_updates(updates)


def test_consistent_combinations_pass():
    # no guidance needs no dropout; a crop the VAE divides; seed 0
    config = load_config("tiny").with_updates({"static": {"cond_dropout": 0.0}, "motion": {"cond_dropout": 0.0},
                                               "sampling": {"guidance_scale": 1.0, "motion_guidance_scale": 1.0},
                                               "data": {"crop": [12, 12]}, "vae": {"channels": [4, 8]}})
    assert config.data.crop == (12, 12)
