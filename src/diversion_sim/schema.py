"""Configuration sections that can be frozen: a composed configuration handed to users (the
Python API, a model's ``cfg``) refuses changes, so a value set by hand can never make a run that
its configuration does not describe. Change a configuration by composing another one
(``ds.compose(..., overrides=[...])``) or with a validated copy (``config.with_values``).

Every dataclass of the schema (``params.py`` and each process's parameter section) derives from
:class:`Section`. Freezing sets a flag on each section instance (lists stay lists: the model
validates a configuration again when it is built)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from .errors import ConfigError


class FrozenConfigError(ConfigError, AttributeError):
    """A frozen configuration was changed."""


class Section:
    """Base of the schema's dataclasses: attribute assignment is refused once frozen."""

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen_path") is not None:
            path = self.__dict__["_frozen_path"]
            key = f"{path}{name}"
            raise FrozenConfigError(
                f"config key '{key}' cannot be set to {value!r}: this configuration is frozen (a "
                "composed configuration describes its run and does not change). Compose another "
                f"with diversion_sim.compose(..., overrides=['{key}=...']) or take a validated copy "
                f"with diversion_sim.config.with_values(cfg, {{'{key}': ...}})."
            )
        object.__setattr__(self, name, value)


def _walk(node: Any, path: str, frozen: bool) -> None:
    if not is_dataclass(node) or isinstance(node, type):
        return
    for f in fields(node):
        _walk(getattr(node, f.name), f"{path}{f.name}.", frozen)
    if frozen:
        object.__setattr__(node, "_frozen_path", path)
    else:
        node.__dict__.pop("_frozen_path", None)


def freeze(cfg: Any) -> Any:
    """Freeze ``cfg`` (every section) in place; returns it."""
    _walk(cfg, "", True)
    return cfg


def thaw(cfg: Any) -> Any:
    """Unfreeze ``cfg`` in place (for a private copy); returns it."""
    _walk(cfg, "", False)
    return cfg


def is_frozen(cfg: Any) -> bool:
    return getattr(cfg, "__dict__", {}).get("_frozen_path") is not None
