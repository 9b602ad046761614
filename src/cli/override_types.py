"""Wrong types on the command line, caught before they reach a constructor as a TypeError deep inside.

Hydra parses each override's value by its look (``abc`` is a string, ``1`` an int, ``1.5`` a float) and
struct mode checks only that the key exists. Here each ``key=value`` override is compared with the value
the same config would hold without the value overrides (the group choices, ablation and study included):
a number where a number was, a bool where a bool was, a list where a list was. ``null`` is accepted where
the constructor the key is handed to takes None (``num_probe_train: int | None``: null = all images).
"""

import difflib
import functools
import typing
from pathlib import Path

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from src.cli.preflight import import_target
from src.core.errors import ConfigError


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _expected(default) -> str | None:
    """What kind of value may replace ``default``; None if anything may (a null default)."""
    if default is None:
        return None
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a string"
    return "a list" if isinstance(default, list) else "a mapping"


def _fits(default, value) -> bool:
    expected = _expected(default)
    if expected is None:
        return True
    if isinstance(value, bool) or value is None:
        return expected == "true or false" and value is not None
    return {
        "an integer": isinstance(value, int),
        "a number": isinstance(value, int | float),
        "a string": isinstance(value, str | int | float),  # choice checks downstream name the options
        "a list": isinstance(value, list),
        "a mapping": isinstance(value, dict),
    }.get(expected, False)


def takes_none(cfg: DictConfig, key: str) -> bool:
    """Whether the ``_target_`` of the node holding ``key`` declares None for that argument."""
    parent_key, _, name = key.rpartition(".")
    target = OmegaConf.select(cfg, f"{parent_key}._target_" if parent_key else "_target_", default=None)
    if not isinstance(target, str):
        return False
    try:
        built = import_target(target)
        hints = typing.get_type_hints(built.__init__ if isinstance(built, type) else built)
    except Exception:  # an unknown _target_ is the preflight's to report
        return False
    return type(None) in typing.get_args(hints.get(name))


def value_overrides(overrides: list[str], config_dir: Path) -> tuple[list[str], list[str]]:
    """(group overrides, value overrides' keys) of a job's override list; Hydra's own are neither."""
    groups, keys = [], []
    for override, text in zip(OverridesParser.create().parse_overrides(overrides), overrides, strict=True):
        key = override.key_or_group
        if key.startswith("hydra"):
            continue
        if (config_dir / key).is_dir():
            groups.append(text)
        elif not override.is_delete():
            keys.append(key)
    return groups, keys


@functools.lru_cache(maxsize=8)
def _defaults(groups: tuple[str, ...]) -> DictConfig:
    """The config without value overrides (read only; cached: the jobs of a sweep share their groups)."""
    return compose(config_name="config", overrides=list(groups))


def check_added_keys(overrides: list[str], config_dir: Path) -> None:
    """``+name=value`` adds a new key where ``name`` is no group: refused when ``name`` is a near miss of a
    group (``+ablaton=byol`` would otherwise train the baseline under a stray key), one line naming it."""
    groups = sorted(p.name for p in config_dir.iterdir() if p.is_dir())
    for override, text in zip(OverridesParser.create().parse_overrides(overrides), overrides, strict=True):
        key = override.key_or_group
        if not override.is_add() or "." in key or "/" in key or key in groups:
            continue
        near = difflib.get_close_matches(key, groups, n=1, cutoff=0.8)
        if near:
            raise ConfigError(
                f"{text}: {key} is no config group; did you mean +{near[0]}={text.split('=', 1)[-1]}?"
            )


def check_override_types(cfg: DictConfig, overrides: list[str], config_dir: Path) -> None:
    """Raise one ConfigError line for a near miss of a group added with ``+`` (check_added_keys) or for the
    first value override whose type does not fit its key."""
    check_added_keys(overrides, config_dir)
    groups, keys = value_overrides(overrides, config_dir)
    if not keys:
        return
    defaults = _defaults(tuple(groups))
    for key in keys:
        default = _plain(OmegaConf.select(defaults, key, default=None))
        value = _plain(OmegaConf.select(cfg, key, default=None))
        if value is None and takes_none(cfg, key):
            continue
        if not _fits(default, value):
            raise ConfigError(
                f"{key} must be {_expected(default)} (its default is {default!r}), "
                f"got {type(value).__name__} {value!r}"
            )
