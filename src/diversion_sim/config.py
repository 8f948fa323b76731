"""Configuration at the bottom of the package: where configs/ is, composing a validated
:class:`~diversion_sim.params.Config` exactly as the command does, the scenarios that exist,
dotted-key overrides and posterior draws. The command line (:mod:`diversion_sim.cli`), the
dashboard, the calibration, the sensitivity analysis, the model and the tests all use these;
nothing here imports the model or the command line.

A scenario is a YAML file in ``configs/scenario/`` (or in a folder a user adds to Hydra's search
path); its **name is its file's stem**. A scenario file may inherit another through Hydra's
defaults list; it inherits the parent's levers, never its name. A file that sets
``scenario.name`` to anything but its own stem is an error before anything runs.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from .params import Config, ConfigError, register_schema, to_config, unknown_key_message, validate
from .paths import register_resolvers, safe_name  # noqa: F401  (re-exported)
from .schema import freeze, is_frozen, thaw

INIT_SHARES = ("share_init_using", "share_init_abstinent", "share_init_methadone", "share_init_detained")
REFERENCE = "compulsory"  # the status quo: every difference in a sweep is against it


def config_dir() -> Path:
    """``configs/`` shipped inside the package (wheel) or at the top of the source checkout."""
    here = Path(__file__).resolve().parent
    for cand in (here / "configs", here.parents[1] / "configs"):
        if (cand / "config.yaml").is_file():
            return cand
    raise FileNotFoundError(f"diversion_sim configs/ not found near {here}")


def options(group: str, extra_dirs: Sequence[str | Path] = ()) -> list[str]:
    """The options of a config group (file stems), in configs/ and in ``extra_dirs`` (a user's
    own config folders, as given to ``--config-dir``); names starting with ``_`` are private."""
    names: set[str] = set()
    for base in (config_dir(), *map(Path, extra_dirs)):
        names |= {p.stem for p in (base / group).glob("*.yaml") if not p.stem.startswith("_")}
    return sorted(names)


def group_options(group: str, extra_dirs: Sequence[str | Path] = ()) -> list[str]:
    """Options of a config group as Hydra sees them (configs/, a user's folders and Hydra's
    plugins, e.g. ``hydra/launcher``: basic, joblib, ray, submitit_slurm, ...)."""
    from hydra.core.global_hydra import GlobalHydra

    names = set(options(group, extra_dirs))
    gh = GlobalHydra.instance()
    if gh.is_initialized():
        try:
            names |= set(gh.config_loader().get_group_options(group))
        except Exception:  # noqa: BLE001 - a listing for a message only
            pass
    return sorted(names)


def scenario_names(extra_dirs: Sequence[str | Path] = ()) -> list[str]:
    """Every scenario found, the status quo first (the reference of every difference)."""
    names = group_options("scenario", extra_dirs)  # with Hydra's search path when it is set up
    return sorted(names, key=lambda n: (n != REFERENCE, n))


SCENARIO_KEYS = ("defaults", "scenario")  # what a scenario file may set


def check_scenario_files(search: Sequence[str | Path] = ()) -> None:
    """Every scenario file on the search path (configs/ and a user's folders) obeys the rules, so
    that the scenarios of a replicate share their past:

    - its name is unique (a user's folder may not hold a scenario of the same name as another
      folder: which one ran would depend on the path's order);
    - it sets only ``scenario.*`` (and its ``defaults``): model parameters (``params.*``), the
      population, the horizon or the seed would change the burn-in, which every scenario of a
      replicate shares; sweep those with the scenarios instead (``params.x=a,b``);
    - it inherits only other scenarios (``defaults: [name, _self_]``), never itself, directly or
      through others.
    """
    import yaml

    where: dict[str, Path] = {}
    for base in (config_dir(), *map(Path, search)):
        for f in sorted((Path(base) / "scenario").glob("*.yaml")):
            if f.stem in where and where[f.stem].resolve() != f.resolve():
                raise ConfigError(
                    f"two scenarios are called '{f.stem}': {where[f.stem]} and {f}. "
                    "A scenario's name is its file name; rename one of them."
                )
            where[f.stem] = f
    parents: dict[str, list[str]] = {}
    for name, f in where.items():
        try:
            with open(f, encoding="utf-8") as fh:  # an open file: PyYAML's marks name it
                data = yaml.safe_load(fh) or {}
        except yaml.YAMLError as exc:
            from .errors import yaml_message

            raise ConfigError(yaml_message(exc)) from None
        except OSError as exc:
            raise ConfigError(f"scenario file {f} cannot be read ({exc.strerror or exc}).") from None
        if not isinstance(data, dict):
            raise ConfigError(f"scenario file {f} is not a YAML mapping; see configs/scenario/ for the form.")
        other = sorted(set(map(str, data)) - set(SCENARIO_KEYS))
        if other:
            raise ConfigError(
                f"scenario file {f} sets {', '.join(repr(k) for k in other)}, which is not allowed: a "
                "scenario may set only 'scenario.*' keys (and 'defaults' to inherit another "
                "scenario), because model parameters, the population, the horizon and the seed shape "
                "the burn-in that every scenario of a replicate shares. Move those settings to the "
                "command line (e.g. params.police.rate_detect=0.1, or a,b to sweep them)."
            )
        parents[name] = []
        for entry in data.get("defaults") or []:
            if isinstance(entry, str) and entry != "_self_":
                parents[name].append(entry.split("/")[-1].removesuffix(".yaml"))
            elif not isinstance(entry, str):
                raise ConfigError(
                    f"scenario file {f}: the defaults entry {entry!r} is not allowed; a scenario "
                    "inherits other scenarios by name (defaults: [pilot_diversion, _self_])."
                )
    for name in parents:  # inheritance must not come back to a scenario
        stack = [[name, p] for p in parents[name]]
        while stack:
            chain = stack.pop()
            if chain[-1] == name:
                raise ConfigError(
                    f"scenario '{name}' inherits itself ({' -> '.join(chain)}); remove that entry from "
                    f"the defaults of {where[chain[-2]]}."
                )
            stack += [[*chain, p] for p in parents.get(chain[-1], []) if p not in chain[1:]]


def name_scenario(cfg: Any, choice: str | None) -> None:
    """Give a composed (DictConfig) ``cfg`` its scenario's name: the stem of the chosen file.

    Raises :class:`ConfigError` when the file sets a different ``scenario.name``."""
    if choice is None:
        return
    given = cfg.scenario.get("name") if "scenario" in cfg else None
    if given not in (None, "", "???", choice):
        raise ConfigError(
            f"config key 'scenario.name' = '{given}' is not allowed in scenario '{choice}': a "
            f"scenario's name is its file name (scenario/{choice}.yaml); delete the 'name:' line "
            "(a scenario that inherits another gets its own file name, not its parent's)."
        )
    cfg.scenario.name = choice


def compose_config(
    overrides: list[str] | tuple[str, ...] = (), config_dirs: Sequence[str | Path] = ()
) -> Config:
    """A validated :class:`~diversion_sim.params.Config` from Hydra-style overrides
    (``["scenario=pilot_diversion", "years=2"]``), exactly as the command composes it, with the
    scenario named after its file. ``config_dirs``: extra folders searched for config groups
    (a user's own scenarios in ``DIR/scenario/*.yaml``). Works inside another Hydra application
    too (its global state is restored)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict

    register_schema()
    register_resolvers()
    check_scenario_files(config_dirs)
    gh = GlobalHydra.instance()
    saved = gh.hydra if gh.is_initialized() else None
    gh.clear()
    extra = (
        [f"hydra.searchpath=[{','.join(f'file://{Path(d).resolve()}' for d in config_dirs)}]"]
        if config_dirs
        else []
    )
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            try:
                raw = compose("config", overrides=list(overrides) + extra, return_hydra_config=True)
            except (HydraException, ValueError) as exc:
                raise ConfigError(hydra_message(exc, config_dirs)) from None
            choice = OmegaConf.select(raw, "hydra.runtime.choices.scenario")
            with open_dict(raw):
                del raw["hydra"]
            name_scenario(raw, choice)
            return to_config(raw)
    finally:
        gh.clear()
        if saved is not None:
            gh.initialize(saved)


def hydra_message(exc: Exception, config_dirs: Sequence[str | Path] = ()) -> str:
    """One paragraph from a Hydra composition error: the key, the value and what is allowed."""
    import re

    cause = exc.__cause__
    if cause is not None and getattr(cause, "full_key", None):
        key, first = str(getattr(cause, "full_key", "")), str(cause).splitlines()[0].rstrip(".")
        m = re.match(r"Key '(.+)' not in '(\w+)'", first)
        if m:
            return unknown_key_message(key)
        return (
            f"config key '{key}' is not valid: {first}. Give a value of the type the schema "
            "declares (docs/parameters.md lists every key, its type and allowed values)."
        )
    text = " ".join(str(exc).split())
    m = re.search(r"Could not find '([\w/]+)/([^'/]*)'", text)
    if m:
        group, name = m.groups()
        names = group_options(group, config_dirs)
        return (
            f"config key '{group}' = '{name}' is not allowed: there is no {group} called "
            f"'{name}'; valid {group} names: {', '.join(names) or '(none found)'}."
        )
    if "must be a string or a list" in text:
        return (
            "a config group was set to null (scenario=null, population=null or params=null) "
            "is not allowed: choose one of its options: "
            + "; ".join(
                f"{g}: {', '.join(options(g, config_dirs))}" for g in ("scenario", "population", "params")
            )
            + "."
        )
    for group in ("scenario", "population", "params"):
        if f"'{group}/" in text or f"in '{group}'" in text or f"{group}=" in text:
            return f"{text} -- valid {group} names: {', '.join(options(group, config_dirs))}."
    return f"{text} -- run 'diversion-sim --help' for the config groups and their options."


# ----------------------------------------------------------------------------- dotted keys
def with_values(cfg: Config, values: dict[str, Any]) -> Config:
    """A validated copy of ``cfg`` with dotted keys (``params.police.rate_detect``) set.

    Setting ``population.share_init_using`` rescales the other initial-state shares in proportion,
    so the four still sum to 1. An element of a list is addressed by its index
    (``population.p_engage_by_district.0``).
    """
    out = thaw(copy.deepcopy(cfg))  # a private copy: changed here, validated below
    if "population.share_init_using" in values:
        pop = out.population
        u = float(values["population.share_init_using"])
        rest = sum(getattr(pop, k) for k in INIT_SHARES[1:])
        for k in INIT_SHARES[1:]:
            setattr(pop, k, (1.0 - u) * getattr(pop, k) / rest if rest > 0 else (1.0 - u) / 3)
    for key, value in values.items():
        node: Any = out
        parts = key.split(".")
        if parts[-1].isdigit():  # an element of a list, e.g. population.p_engage_by_district.0
            lst = getattr(node, parts[0], None)
            for part in parts[1:-1]:
                lst = getattr(lst, part, None)
            i = int(parts[-1])
            if not isinstance(lst, list) or not 0 <= i < len(lst):
                raise ConfigError(
                    unknown_key_message(".".join(parts[:-1]))
                    if not isinstance(lst, list)
                    else f"config key '{key}' is not allowed: the list has {len(lst)} "
                    "entries (indices from 0)."
                )
            lst[i] = float(value)
            continue
        for part in parts[:-1]:
            node = getattr(node, part, None)
            if not is_dataclass(node):
                raise ConfigError(unknown_key_message(key))
        if parts[-1] not in {f.name for f in fields(node)}:
            raise ConfigError(unknown_key_message(key))
        old = getattr(node, parts[-1])
        setattr(node, parts[-1], type(old)(value) if isinstance(old, (int, float)) else value)
    validate(out)
    return freeze(out) if is_frozen(cfg) else out  # a frozen configuration gives a frozen copy


# ----------------------------------------------------------------------------- posterior draws
def _bad_draws(path: str, why: str) -> ConfigError:
    return ConfigError(f"config key 'params.posterior_file' = {path!r} is not allowed: {why}.")


@functools.lru_cache(maxsize=8)
def _read_draws(path: str):
    """The draws of a posterior CSV, checked: a header of distinct dotted keys, then rows of
    finite numbers >= 0 (every calibrated parameter is a rate, share, shape, scale or ratio);
    a repeated header, text, NaN, inf or a negative value is refused naming its row."""
    import csv

    import numpy as np
    import pandas as pd

    p = Path(path)
    try:
        with p.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise _bad_draws(path, f"the file cannot be read as posterior draws ({exc})") from None
    if df.empty or not header or not all(c.count(".") >= 1 for c in header):
        raise _bad_draws(
            path, "it must be a CSV of draws, one column per dotted key (params.police.rate_detect)"
        )
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise _bad_draws(path, f"its header names {', '.join(twice)} more than once (one column per key)")
    num = df.apply(pd.to_numeric, errors="coerce")
    again = np.flatnonzero((df == df.columns).all(axis=1).to_numpy())
    if again.size:  # the file's line: the header is line 1
        raise _bad_draws(path, f"line {again[0] + 2} repeats the header (two files joined?); keep one header")
    bad = (~np.isfinite(num.to_numpy(float))) | (num.to_numpy(float) < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.any(axis=1))[0])
        cols = [c for c, b in zip(df.columns, bad[i]) if b]
        text = df.iloc[i][cols[0]]
        raise _bad_draws(
            path,
            f"line {i + 2} has {cols[0]} = {repr(text) if text else 'an empty cell'}; every draw "
            "must be a finite number >= 0"
            + (f" ({len(cols) - 1} more bad value(s) on that line)" if len(cols) > 1 else ""),
        )
    return num


@functools.lru_cache(maxsize=8)
def _calibrated_keys(p: Path) -> tuple[list[str], Path | None]:
    """The keys a posterior file must have a column for: the parameters of the calibration that
    wrote it (``calibration/<name>.yaml`` for ``<name>_posterior.csv``; the pilot calibration's
    otherwise), and that file."""
    import yaml

    name = p.stem[: -len("_posterior")] if p.stem.endswith("_posterior") else p.stem
    for cand in (config_dir() / "calibration" / f"{name}.yaml", config_dir() / "calibration" / "pilot.yaml"):
        if cand.is_file():
            try:
                doc = yaml.safe_load(cand.read_text()) or {}
                keys = [k for st in doc.get("stages") or [] for k in st.get("priors") or []]
                keys = keys or list(doc.get("priors") or {})
            except (OSError, yaml.YAMLError, AttributeError, TypeError):
                continue
            if keys:
                return list(dict.fromkeys(keys)), cand
    return [], None


def _check_columns(path: str, df) -> None:
    keys, source = _calibrated_keys(Path(path))
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise _bad_draws(
            path,
            f"it has no column for {', '.join(missing)}, calibrated in {source}: those replicates "
            "would use the point values while the run says it uses posterior draws. Give every "
            "calibrated parameter a column (experiments/calibrate.py writes such a file)",
        )


def check_posterior(cfg: Config) -> None:
    """Before anything runs (``params=posterior``): the draws file is readable, has a column for
    every calibrated parameter, and every draw gives a valid configuration (its domain and the
    cross-field rules), so no sweep stops after earlier replicates ran."""
    p = posterior_path(cfg)
    if p is None:
        return
    df = _read_draws(str(p))
    _check_columns(str(p), df)
    for i, row in enumerate(df.to_dict("records")):
        try:
            with_values(cfg, {k: float(v) for k, v in row.items() if not str(k).startswith("_")})
        except ConfigError as exc:
            why = str(exc).rstrip(".")
            raise _bad_draws(str(p), f"its line {i + 2} is not a valid draw: {why}") from None


def posterior_path(cfg: Config) -> Path | None:
    """The posterior draws file of ``cfg`` (relative paths are relative to configs/)."""
    f = cfg.params.posterior_file
    if not f:
        return None
    p = Path(f)
    return p if p.is_absolute() else config_dir() / p


def posterior_draw(cfg: Config, replicate: int) -> dict[str, float]:
    """The draw replicate ``replicate`` uses: row ``replicate mod n`` (the same in every scenario,
    so common random numbers also share the parameter draw)."""
    p = posterior_path(cfg)
    if p is None:
        return {}
    df = _read_draws(str(p))
    _check_columns(str(p), df)
    row = df.iloc[int(replicate) % len(df)]
    return {k: float(v) for k, v in row.items() if not k.startswith("_")}


def with_posterior_draw(cfg: Config, replicate: int) -> Config:
    """``cfg`` with replicate ``replicate``'s posterior draw applied (``params=posterior``), or
    ``cfg`` itself with point values."""
    return with_values(cfg, posterior_draw(cfg, replicate)) if cfg.params.posterior_file else cfg
