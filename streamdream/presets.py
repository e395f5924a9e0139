"""Presets: TOML files that name a look. Built-in ones ship inside the package
(`streamdream/presets/*.toml`); `--preset path.toml` reads a user's file.

Layering is defaults (config.py) < preset < command-line flags. A preset file looks like:

    description = "one line shown by `streamdream presets`"
    [dream]
    layers = "block3+block5*0.5"
    [video]
    refine_iterations = 2

Unknown sections and keys are rejected with a "did you mean"; values are type-checked.
"""

from __future__ import annotations

import reprlib
import tomllib
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from .config import SECTIONS, TOML_KEYS, TOML_NAMES, Config, DreamConfig, check, field_types
from .errors import UsageError, did_you_mean


def builtin_presets() -> dict[str, Path]:
    folder = resources.files("streamdream") / "presets"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def read_preset(name_or_path: str) -> tuple[dict, str]:
    """The preset's table and a `where` for messages. A name is a built-in; a path is a file."""
    builtins = builtin_presets()
    if name_or_path in builtins:
        path = builtins[name_or_path]
    elif name_or_path.endswith(".toml") or "/" in name_or_path or Path(name_or_path).is_file():
        path = Path(name_or_path)
        if not path.is_file():
            raise UsageError(f"preset file {path} does not exist")
    else:
        raise UsageError(f"unknown preset '{name_or_path}'{did_you_mean(name_or_path, builtins)}; "
                         f"choose one of {', '.join(sorted(builtins))} or give a .toml file")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh), str(path)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"preset {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"preset {path} nests its tables too deep to read; a preset has one level of tables") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read preset {path}: {exc}") from None


def _short(value: Any) -> str:
    """A value as an error shows it: an array or a table of any size in one short line."""
    short = reprlib.Repr()
    short.maxlist = short.maxdict = 4
    short.maxstring = short.maxother = 40
    short.maxlevel = 2
    return short.repr(value)


def _typed(value: Any, want: type, where: str, key: str) -> Any:
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is str and value == "":
        return None  # TOML has no null: an empty string clears an optional text setting
    if isinstance(value, bool) != (want is bool) or not isinstance(value, want):
        raise UsageError(f"{where}: {key} must be {want.__name__}, got {type(value).__name__} {_short(value)}")
    return value


def apply(config: Config, table: dict, where: str) -> Config:
    """`config` with the values of a preset-shaped table laid over it, checked."""
    updates: dict[str, Any] = {}
    for key, value in table.items():
        if key == "description":
            if not isinstance(value, str):
                raise UsageError(f"{where}: description must be text")
            updates["description"] = value
            continue
        if key not in SECTIONS:
            choices = ["description", *SECTIONS]
            raise UsageError(f"{where}: unknown key '{key}'{did_you_mean(key, choices)}; "
                             f"valid top-level keys: {', '.join(choices)}")
        if not isinstance(value, dict):
            raise UsageError(f"{where}: [{key}] must be a table")
        cls = SECTIONS[key]
        types = field_types(cls)
        section = {}
        for k, v in value.items():
            name = TOML_KEYS.get(k, k)
            if name not in types:
                valid = [TOML_NAMES.get(n, n) for n in types]
                raise UsageError(f"{where}: unknown key '{k}' in [{key}]{did_you_mean(k, valid)}; "
                                 f"valid keys: {', '.join(valid)}")
            section[name] = _typed(v, types[name], where, f"{key}.{k}")
        updates[key] = replace(getattr(config, key), **section)
    return check(replace(config, **updates), where)


def build_config(preset: str | None = None, flags: dict[str, dict[str, Any]] | None = None) -> Config:
    """Defaults < preset < flags. `flags` is {section: {field: value}} with None meaning 'not given'."""
    config = Config()
    if preset:
        table, where = read_preset(preset)
        config = apply(config, table, f"preset {where}")
    given = {}
    for section, values in (flags or {}).items():
        chosen = {k: v for k, v in values.items() if v is not None}
        if chosen:
            given[section] = replace(getattr(config, section), **chosen)
    return check(replace(config, **given), "command line")


def preset_dream(name: str, now: DreamConfig) -> DreamConfig:
    """Preset `name`'s dream settings, keeping where and how `now` runs (device, seed, width,
    precision): the look a schedule switches to mid-run."""
    keep = {k: getattr(now, k) for k in ("device", "seed", "width", "precision")}
    return build_config(name, {"dream": keep}).dream


def describe_presets() -> list[tuple[str, str]]:
    out = []
    for name, path in sorted(builtin_presets().items()):
        table, _ = read_preset(str(path))
        out.append((name, table.get("description", "")))
    return out
