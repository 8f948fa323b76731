"""The ``diversion-sim`` command: the only module that sees Hydra's DictConfig.

``diversion-sim`` runs the default sweep (every scenario x ``replicates`` on the default
population, joblib launcher on all local cores) and writes the sweep tables and summary.
Any Hydra override works, e.g. ``diversion-sim scenario=compulsory,pilot_diversion
replicates=50 population=national years=10 seed=7``; ``hydra.mode=RUN scenario=X`` runs one
scenario. Before anything runs, every configuration the command would launch is composed and
validated, so a typo costs seconds and prints one paragraph, not a traceback
(set ``DIVERSION_SIM_DEBUG=1`` for the full traceback).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .config import compose_config, config_dir, hydra_message, name_scenario, options, scenario_names  # noqa: F401
from .errors import debug, exit_with
from .params import ConfigError, register_schema, to_config

log = logging.getLogger("diversion_sim")


# ----------------------------------------------------------------------------- preflight
def _is_hydra(key: str) -> bool:
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def _axes(overrides: list[str]) -> list[list[str]]:
    """Each override as the list of its values (a sweep a,b / range(...) gives several)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    axes = []
    for o in OverridesParser.create().parse_overrides(overrides):
        if isinstance(o.value(), Glob):  # expanded against the group's options later
            axes.append([o.input_line])
        elif o.is_sweep_override():
            prefix = o.input_line.split("=", 1)[0]
            axes.append([f"{prefix}={v}" for v in o.sweep_string_iterator()])
        else:
            axes.append([o.input_line])
    return axes


# Hydra's flags that take a value (the value is not an override)
_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                "--config-dir", "-cd", "--experimental-rerun"}


def _overrides(argv: list[str]) -> list[str]:
    """The overrides in a command line, without Hydra's flags and their values."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = a in _VALUE_FLAGS
        else:
            out.append(a)
    return out


def preflight(argv: list[str]) -> int:
    """Compose and validate every job the command would run; return how many there are."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict

    register_schema()
    overrides = _overrides(argv)
    search = _search_dirs(argv, overrides)
    check_scenario_files(search)
    task = [o for o in overrides if not _is_hydra(o.lstrip("+~").split("=", 1)[0])]
    hydra_over = [o for o in overrides if o not in task]
    if search:
        hydra_over = [o for o in hydra_over if not o.startswith("hydra.searchpath=")] + [
            "hydra.searchpath=[" + ",".join(f"file://{Path(d).resolve()}" for d in search) + "]"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        try:
            axes = _axes(task)
            first = [_expand_globs([a[0]], search)[0] for a in axes]
            base = compose("config", overrides=first + hydra_over, return_hydra_config=True)
        except HydraException as exc:
            raise ConfigError(hydra_message(exc, search)) from None
        mode = str(OmegaConf.select(base, "hydra.mode") or "RUN")
        multirun = "-m" in argv or "--multirun" in argv or mode.endswith("MULTIRUN")
        if multirun:
            given = {o.lstrip("+~").split("=", 1)[0] for o in task}
            params = OmegaConf.select(base, "hydra.sweeper.params") or {}
            axes += _axes([f"{k}={v}" for k, v in params.items() if k not in given])
        elif any(len(a) > 1 for a in axes):
            raise ConfigError("an override lists several values (a,b) but this is a single run "
                              "(hydra.mode=RUN); drop hydra.mode=RUN or add -m to sweep")
        axes = [_expand_globs(a, search) for a in axes]
        jobs = [list(c) for c in itertools.product(*axes)]
        seen: dict[tuple[str, ...], list[str]] = {}
        for job in jobs:
            try:
                cfg = compose("config", overrides=job + hydra_over, return_hydra_config=True)
            except HydraException as exc:
                raise ConfigError(hydra_message(exc, search)) from None
            choice = OmegaConf.select(cfg, "hydra.runtime.choices.scenario")
            with open_dict(cfg):
                del cfg["hydra"]
            name_scenario(cfg, choice)
            to_config(cfg)
            key = tuple(sorted(job))
            if key in seen:
                raise ConfigError(f"the sweep lists the same job twice ({' '.join(job)}): each "
                                  "scenario and value once, please.")
            seen[key] = job
    return len(jobs)


def _search_dirs(argv: list[str], overrides: list[str]) -> list[str]:
    """A user's own config folders: ``--config-dir DIR`` / ``-cd DIR`` and
    ``hydra.searchpath=[file://DIR,...]``."""
    out = []
    for i, a in enumerate(argv):
        if a in ("--config-dir", "-cd") and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif a.startswith("--config-dir="):
            out.append(a.split("=", 1)[1])
    for o in overrides:
        if o.startswith("hydra.searchpath="):
            for part in o.split("=", 1)[1].strip("[]").split(","):
                part = part.strip().strip("'\"")
                if part.startswith("file://"):
                    out.append(part[len("file://"):])
    return out


def _expand_globs(axis: list[str], search: list[str]) -> list[str]:
    """``scenario=glob(*)`` (and other group globs) as the list of matching options."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    out = []
    for item in axis:
        o = OverridesParser.create().parse_overrides([item])[0]
        if isinstance(o.value(), Glob):
            group = o.key_or_group
            names = scenario_names(search) if group == "scenario" else options(group, search)
            found = o.value().filter(names)
            if not found:
                raise ConfigError(f"config key '{group}' = '{item.split('=', 1)[1]}' matches no "
                                  f"{group}; {group} names: {', '.join(names)}.")
            out += [f"{item.split('=', 1)[0]}={n}" for n in found]
        else:
            out.append(item)
    return out


def check_scenario_files(search: list[str]) -> None:
    """Every scenario's name is unique: a user's folder may not hold a scenario of the same name
    as another folder on the search path (which one ran would depend on the path's order)."""
    from .config import config_dir as _cd

    where: dict[str, Path] = {}
    for base in (_cd(), *map(Path, search)):
        for f in sorted((base / "scenario").glob("*.yaml")):
            if f.stem in where and where[f.stem].resolve() != f.resolve():
                raise ConfigError(f"two scenarios are called '{f.stem}': {where[f.stem]} and {f}. "
                                  "A scenario's name is its file name; rename one of them.")
            where[f.stem] = f


# ----------------------------------------------------------------------------- the job
def _expected(cfg: Any) -> dict[str, int]:
    """Scenarios and replicate counts this sweep should produce (from its overrides): each
    scenario's name is its file's stem; ``glob(...)`` is matched against every scenario on
    Hydra's search path (the packaged ones and a user's ``--config-dir``)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    task = list(cfg.hydra.overrides.task)
    params = dict(cfg.hydra.sweeper.get("params") or {})
    given = [o for o in task if o.split("=", 1)[0] == "scenario"]
    spec = given[0] if given else (f"scenario={params['scenario']}" if "scenario" in params
                                   else f"scenario={cfg.hydra.runtime.choices.scenario}")
    o = OverridesParser.create().parse_overrides([spec])[0]
    if isinstance(o.value(), Glob):
        gh = GlobalHydra.instance()
        found = (gh.config_loader().get_group_options("scenario") if gh.is_initialized()
                 else options("scenario"))
        names = o.value().filter(sorted(found, key=lambda n: (n != "compulsory", n)))
    elif o.is_sweep_override():
        names = list(o.sweep_string_iterator())
    else:
        names = [str(o.value())]
    return {n: int(cfg.replicates) for n in names}


def _task(cfg: Any) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .runner import run_replicates

    logging.getLogger("MESA").setLevel(logging.WARNING)
    hc = HydraConfig.get()
    name_scenario(cfg, hc.runtime.choices.get("scenario"))
    conf = to_config(cfg)
    if hc.mode == RunMode.MULTIRUN:
        root = Path(hc.sweep.dir)
    else:
        root = Path(hc.runtime.output_dir)
    root = root if root.is_absolute() else Path.cwd() / root
    log.info("running %s x %d replicates on %s (%d people) -> %s", conf.scenario.name,
             conf.replicates, conf.population.name, sum(conf.population.n_people_by_district), root)
    try:
        if hc.mode != RunMode.MULTIRUN and not conf.output.resume:
            refuse_used_folder(root)
        run_replicates(conf, root)
        if hc.mode != RunMode.MULTIRUN:
            _finish(root, {conf.scenario.name: conf.replicates}, conf.output.allow_incomplete,
                    conf.output.report)
    except Exception as exc:  # Hydra would print a traceback: one paragraph instead
        exit_with(exc)


def _finish(root: Path, expected: dict[str, int], allow_incomplete: bool, report: bool = False) -> None:
    from .sweep import aggregate, format_summary

    summary = aggregate(root, expected, allow_incomplete=allow_incomplete)
    print(f"\nSummary over replicates (mean [5%, 95%]); tables in {root}:", file=sys.stderr)
    print(format_summary(summary, order=list(expected)))
    if report:
        from .report import write_report

        print(f"Report for planners: {write_report(root)}", file=sys.stderr)


try:  # Hydra's base class provides the job-level hooks we do not use
    from hydra.experimental.callback import Callback as _Callback
except ImportError:  # pragma: no cover
    _Callback = object


def refuse_used_folder(root: Path) -> None:
    """Stop unless ``root`` is new: a finished or unfinished sweep is only touched on request."""
    from .sweep import SweepError, check_runs

    root = Path(root)
    if not (root / "sweep.json").is_file() and not (root / "runs").is_dir():
        return
    good, _ = check_runs(root)
    state = "a finished sweep" if (root / "summary.csv").is_file() else "an unfinished sweep"
    raise SweepError(f"the output folder {root} already holds {state} ({len(good)} complete runs); "
                     "nothing was written. Pass output.resume=true to finish or redo it (complete "
                     "runs of the same configuration are kept), or choose a new folder "
                     "(hydra.sweep.dir=... / hydra.run.dir=..., or leave it to the default timestamp).")


class SweepCallback(_Callback):
    """Hydra callback: record the sweep's plan at start, aggregate and summarise at the end."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        root = Path(config.hydra.sweep.dir)
        try:
            if not config.output.resume:
                refuse_used_folder(root)
        except Exception as exc:
            exit_with(exc)
        root.mkdir(parents=True, exist_ok=True)
        plan = {"expected": _expected(config)}
        tmp = root / f".sweep.json.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(plan, indent=1))
        os.replace(tmp, root / "sweep.json")

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        root = Path(config.hydra.sweep.dir)
        root = root if root.is_absolute() else Path.cwd() / root
        try:
            plan = json.loads((root / "sweep.json").read_text())
            _finish(root, plan["expected"], bool(config.output.allow_incomplete),
                    bool(config.output.report))
        except Exception as exc:
            exit_with(exc)


def summary_main(argv: list[str] | None = None) -> None:
    """``diversion-sim-summary FOLDER``: (re)build the tables and summary of a sweep folder."""
    import argparse

    ap = argparse.ArgumentParser(prog="diversion-sim-summary", description=summary_main.__doc__)
    ap.add_argument("folder", type=Path, help="a sweep folder (outputs/sweeps/<timestamp>)")
    ap.add_argument("--allow-incomplete", action="store_true",
                    help="summarise the complete runs even if some are missing or damaged")
    a = ap.parse_args(argv)
    try:
        from .sweep import SweepError

        root = a.folder.resolve()
        if not root.is_dir():
            raise SweepError(f"{a.folder} is not a folder; give a sweep folder such as "
                             "outputs/sweeps/<timestamp>")
        expected = None
        if (root / "sweep.json").is_file():
            try:
                expected = json.loads((root / "sweep.json").read_text())["expected"]
            except (ValueError, KeyError, TypeError):
                raise SweepError(f"{root / 'sweep.json'} is damaged (not the plan a sweep writes); "
                                 "delete it to summarise whatever complete runs are there") from None
        _finish(root, expected or {}, a.allow_incomplete)
    except Exception as exc:
        exit_with(exc)


def main() -> None:
    """Console entry point: validate every job first, then hand over to Hydra."""
    import hydra

    argv = sys.argv[1:]
    if not any(a in ("--help", "-h", "--hydra-help", "--info", "-i") for a in argv):
        try:
            preflight(argv)
        except ConfigError as exc:
            if debug():
                raise
            print(f"diversion-sim: {exc}", file=sys.stderr)
            sys.exit(2)
    register_schema()
    hydra_main = hydra.main(config_path=str(config_dir()), config_name="config",
                            version_base="1.3")(_task)
    hydra_main()


if __name__ == "__main__":
    main()
