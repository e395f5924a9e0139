import pytest

from streamdream import models
from streamdream.config import Config, DreamConfig
from streamdream.errors import UsageError
from streamdream.engine.objectives import parse_terms
from streamdream.presets import build_config, builtin_presets, describe_presets


def test_builtin_presets_ship_inside_the_package():
    names = set(builtin_presets())
    assert {"clouds", "deep", "strokes", "classic"} <= names
    for path in builtin_presets().values():
        assert "streamdream" in path.parts and path.parent.name == "presets"


@pytest.mark.parametrize("name", sorted(builtin_presets()))
def test_every_builtin_preset_is_valid(name):
    config = build_config(name)
    spec = models.get_spec(config.dream.model)
    for layer, _, _ in parse_terms(config.dream.layers):
        models.resolve_layer(spec, layer)
    assert dict(describe_presets())[name]


def test_layering_defaults_then_preset_then_flags():
    assert build_config() == Config()
    preset = build_config("strokes")
    assert preset.dream.jitter == 8 and preset.dream.layers == "block1+block2"
    assert preset.dream.octave_scale == DreamConfig().octave_scale  # not in the preset: the default
    flagged = build_config("strokes", {"dream": {"jitter": 3, "layers": None}})
    assert flagged.dream.jitter == 3
    assert flagged.dream.layers == "block1+block2"  # None means the flag was not given


def test_user_preset_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('description = "mine"\n[dream]\nlayers = "block4"\niterations = 3\nclass = "banana"\n'
                    '[video]\nrefine_iterations = 1\n')
    config = build_config(str(path))
    assert (config.description, config.dream.layers, config.dream.iterations) == ("mine", "block4", 3)
    assert config.dream.class_name == "banana" and config.video.refine_iterations == 1


@pytest.mark.parametrize("text,match", [
    ('[dream]\nitterations = 3\n', r"unknown key 'itterations' in \[dream\] \(did you mean iterations\?\)"),
    ('[dreams]\n', r"unknown key 'dreams' \(did you mean dream\?\)"),
    ('[dream]\niterations = "many"\n', "dream.iterations must be int"),
    ('[dream]\niterations = 2.5\n', "dream.iterations must be int"),
    ('[dream]\noctave_scale = 0.5\n', "octave_scale must be 1.0 or more"),
    ('[dream]\nstep = -1\n', "step must be 0 or more"),
    ('[video]\nflow = 1\n', "video.flow must be bool"),
    ('[video]\nflow_width = 8\n', "flow_width must be 32 to 4096 pixels"),
    ('[dream\n', "not valid TOML"),
])
def test_bad_preset_names_file_key_and_choices(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=match) as info:
        build_config(str(path))
    assert str(path) in str(info.value)


def test_unknown_preset_name_suggests():
    with pytest.raises(UsageError, match="did you mean clouds"):
        build_config("cloudz")


def test_bad_flag_value_names_the_command_line():
    with pytest.raises(UsageError, match="command line: iterations must be more than 0"):
        build_config(None, {"dream": {"iterations": 0}})
