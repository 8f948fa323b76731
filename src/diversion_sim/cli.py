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
from typing import Any, ClassVar

from .config import (  # noqa: F401
    check_posterior,
    check_scenario_files,
    compose_config,
    config_dir,
    hydra_message,
    name_scenario,
    options,
    posterior_path,
    scenario_names,
)
from .errors import SweepError, debug, exit_with, yaml_message
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
            axes.append([str(o.input_line)])
        elif o.is_sweep_override():
            prefix = str(o.input_line).split("=", 1)[0]
            axes.append([f"{prefix}={v}" for v in o.sweep_string_iterator()])
        else:
            axes.append([str(o.input_line)])
    return axes


# Hydra's flags that take a value (the value is not an override)
_VALUE_FLAGS = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
}


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
            "hydra.searchpath=[" + ",".join(f"file://{Path(d).resolve()}" for d in search) + "]"
        ]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        try:
            axes = _axes(task)
            first = [_expand_globs([a[0]], search)[0] for a in axes]
            base = compose("config", overrides=first + hydra_over, return_hydra_config=True)
        except (HydraException, ValueError) as exc:
            raise ConfigError(hydra_message(exc, search)) from None
        mode = str(OmegaConf.select(base, "hydra.mode") or "RUN")
        multirun = "-m" in argv or "--multirun" in argv or mode.endswith("MULTIRUN")
        if multirun:
            given = {o.lstrip("+~").split("=", 1)[0] for o in task}
            params = OmegaConf.select(base, "hydra.sweeper.params") or {}
            axes += _axes([f"{k}={v}" for k, v in params.items() if k not in given])
        elif any(len(a) > 1 for a in axes):
            raise ConfigError(
                "an override lists several values (a,b) but this is a single run "
                "(hydra.mode=RUN); drop hydra.mode=RUN or add -m to sweep"
            )
        axes = [_expand_globs(a, search) for a in axes]
        jobs = [list(c) for c in itertools.product(*axes)]
        _check_launcher(base)
        seen: dict[tuple[str, ...], list[str]] = {}
        posteriors: set[Path | None] = {None}
        last = None
        for job in jobs:
            try:
                cfg = compose("config", overrides=job + hydra_over, return_hydra_config=True)
            except (HydraException, ValueError) as exc:
                raise ConfigError(hydra_message(exc, search)) from None
            choices = OmegaConf.select(cfg, "hydra.runtime.choices")
            for group in ("scenario", "population", "params"):
                if choices.get(group) is None:
                    raise ConfigError(
                        f"config key '{group}' = null is not allowed: choose one of "
                        f"{', '.join(options(group, search))}."
                    )
            with open_dict(cfg):
                del cfg["hydra"]
            name_scenario(cfg, choices.get("scenario"))
            last = to_config(cfg)
            if posterior_path(last) not in posteriors:  # each draws file once (about a second)
                check_posterior(last)
                posteriors.add(posterior_path(last))
            key = tuple(sorted(job))
            if key in seen:
                raise ConfigError(
                    f"the sweep lists the same job twice ({' '.join(job)}): each "
                    "scenario and value once, please."
                )
            seen[key] = job
        if last is not None:
            where = OmegaConf.select(base, "hydra.sweep.dir" if multirun else "hydra.run.dir")
            _check_writable("hydra.sweep.dir" if multirun else "hydra.run.dir", str(where))
            if last.output.resume:
                _check_resumable("hydra.sweep.dir" if multirun else "hydra.run.dir", str(where))
    return len(jobs)


def _check_launcher(base: Any) -> None:
    """Launcher settings a job would reject later (joblib's n_jobs), refused now."""
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(base, "hydra.launcher._target_") or "")
    if "ray" in target.lower():
        _check_ray(base)
    if "joblib" in target.lower():
        n = OmegaConf.select(base, "hydra.launcher.n_jobs")
        cores = os.cpu_count() or 1
        if not isinstance(n, int) or isinstance(n, bool) or n == 0 or n > 1024 or cores + 1 + n < 1:
            raise ConfigError(
                f"config key 'hydra.launcher.n_jobs' = {n!r} is not allowed: a whole number of "
                f"worker processes from 1 to 1024, or -1 for every core ({cores} here), -2 for all "
                "but one, and so on."
            )


def _check_ray(base: Any) -> None:
    """``hydra/launcher=ray_cluster``: a cluster answers at the address it names (``auto``: the
    one ``ray start`` on this machine recorded, or ``RAY_ADDRESS``), checked with a short TCP
    connection, so a missing cluster costs a second, not a traceback after the sweep started."""
    import socket

    from omegaconf import OmegaConf

    address = OmegaConf.select(base, "hydra.launcher.ray.init.address")
    if address in (None, "", "local"):
        return  # Ray starts a local instance
    address, given = str(address), str(address)
    tmp = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "")
        if not address:
            try:
                address = tmp.read_text().strip()
            except OSError:
                address = ""
    hint = (
        "Start one (`ray start --head` on the head node, see configs/hydra/launcher/ray_cluster.yaml), "
        "point to it with hydra.launcher.ray.init.address=HOST:PORT, or run on this machine's "
        "cores (drop hydra/launcher=ray_cluster)."
    )
    if not address:
        raise ConfigError(
            f"config key 'hydra.launcher.ray.init.address' = {given!r} is not allowed here: no Ray "
            f"cluster was started on this machine (no RAY_ADDRESS, no {tmp}). {hint}"
        )
    host_port = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=3.0):
            pass
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(
            f"config key 'hydra.launcher.ray.init.address' = {given!r} is not allowed here: no Ray "
            f"cluster answers at {address} ({why}). {hint}"
        ) from None


def _check_resumable(key: str, where: str) -> None:
    """``output.resume=true``: every folder of the sweep, and the files written in place, can be
    written (a read-only copy fails in one paragraph now, not halfway through)."""
    root = Path(where)
    root = root if root.is_absolute() else Path.cwd() / root
    if not root.is_dir():
        return
    bad: list[Path] = []
    for d, _dirs, files in os.walk(root):
        if not os.access(d, os.W_OK | os.X_OK):
            bad.append(Path(d))
        if Path(d) == root:
            bad += [root / f for f in files if not os.access(root / f, os.W_OK)]
        if len(bad) > 100:
            break
    if bad:
        shown = ", ".join(str(b) for b in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ConfigError(
            f"config key '{key}' = '{where}' is not allowed with output.resume=true: the sweep "
            f"cannot be finished there, it is read-only ({shown}). Make it writable "
            f"(chmod -R u+w {root}) or copy it to a writable folder and resume there."
        )


def _check_writable(key: str, where: str) -> None:
    """The output folder can be made and written: a file, /proc or a read-only file system is
    refused before anything runs (nothing is left behind)."""
    path = Path(where)
    path = path if path.is_absolute() else Path.cwd() / path
    made: list[Path] = []
    probe = None
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} is a file")
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            d.mkdir()
            made.append(d)
        probe = path / f".diversion-sim-write-test-{os.getpid()}"
        probe.write_text("")
    except OSError as exc:
        raise ConfigError(
            f"config key '{key}' = '{where}' is not allowed: the output folder "
            f"cannot be created or written ({exc.strerror or exc}). Choose a "
            "writable folder (output.dir=... or hydra.sweep.dir=...)."
        ) from None
    finally:
        if probe is not None:
            probe.unlink(missing_ok=True)
        for d in reversed(made):  # leave no folder for a command that may not run
            try:
                d.rmdir()
            except OSError:
                pass


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
                    out.append(part[len("file://") :])
    return out


def _expand_globs(axis: list[str], search: list[str]) -> list[str]:
    """``scenario=glob(*)`` (and other group globs) as the list of matching options."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    out = []
    for item in axis:
        o = OverridesParser.create().parse_overrides([item])[0]
        glob = o.value()
        if isinstance(glob, Glob):
            group = o.key_or_group
            names = scenario_names(search) if group == "scenario" else options(group, search)
            found = glob.filter(names)
            if not found:
                raise ConfigError(
                    f"config key '{group}' = '{item.split('=', 1)[1]}' matches no "
                    f"{group}; {group} names: {', '.join(names)}."
                )
            out += [f"{item.split('=', 1)[0]}={n}" for n in found]
        else:
            out.append(item)
    return out


# ----------------------------------------------------------------------------- the job
NOT_VARIANT = ("scenario", "replicates")  # swept, but not a variant (scenario: its own column)


def _job_axes(cfg: Any) -> list[list[str]]:
    """The sweep's axes as Hydra will expand them: the task overrides and the sweeper's params."""
    task = [o for o in cfg.hydra.overrides.task if not _is_hydra(o.lstrip("+~").split("=", 1)[0])]
    axes = _axes(task)
    given = {o.lstrip("+~").split("=", 1)[0] for o in task}
    params = dict(cfg.hydra.sweeper.get("params") or {})
    axes += _axes([f"{k}={v}" for k, v in params.items() if k not in given])
    return axes


def _plan(cfg: Any) -> dict[str, Any]:
    """What this sweep will produce: every (swept values, scenario) job and its replicates. The
    swept keys other than the scenario are the *variant*: each job's runs get their own folder and
    the values as columns, so a sweep over a parameter loses no job."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    axes = _job_axes(cfg)
    scen_axis, other = ["scenario=" + str(cfg.hydra.runtime.choices.scenario)], []
    for axis in axes:
        key = axis[0].lstrip("+~").split("=", 1)[0]
        if key == "scenario":
            scen_axis = axis
        else:
            other.append(axis)
    names: list[str] = []
    for item in scen_axis:
        o = OverridesParser.create().parse_overrides([item])[0]
        glob = o.value()
        if isinstance(glob, Glob):
            names += glob.filter(scenario_names())
        else:
            names.append(str(o.value()))
    swept = [a for a in other if len(a) > 1]
    fixed_reps = int(cfg.replicates)
    jobs: list[dict[str, Any]] = []
    for combo in itertools.product(*swept) if swept else [()]:
        values = {c.lstrip("+~").split("=", 1)[0]: c.split("=", 1)[1] for c in combo}
        reps = int(values["replicates"]) if "replicates" in values else fixed_reps
        variant = {k: v for k, v in values.items() if k not in NOT_VARIANT}
        jobs += [{"variant": variant, "scenario": n, "replicates": reps} for n in names]
    from .manifest import new_generation
    from .provenance import command_line

    return {
        "generation": new_generation(),  # new at every start: a job's record must carry it
        "command": command_line(),
        "expected": {n: max(j["replicates"] for j in jobs if j["scenario"] == n) for n in names},
        "swept": sorted({c.lstrip("+~").split("=", 1)[0] for a in swept for c in a} - set(NOT_VARIANT)),
        "jobs": jobs,
    }


def _variant(root: Path) -> tuple[dict[str, Any], str | None, str | None]:
    """This job's values of the sweep's swept keys (read from the plan in ``root``), exactly as
    its overrides give them (so they match the plan's jobs), and the plan's generation and
    command line."""
    from hydra.core.hydra_config import HydraConfig

    from .manifest import read_json

    plan = read_json(root / "sweep.json")
    if not isinstance(plan, dict):
        return {}, None, None
    swept = plan.get("swept", [])
    given = {
        o.lstrip("+~").split("=", 1)[0]: o.split("=", 1)[1]
        for o in HydraConfig.get().overrides.task
        if "=" in o
    }
    variant = {k: given[k] for k in swept if k in given} if isinstance(swept, list) else {}
    return variant, plan.get("generation"), plan.get("command")


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
    log.info(
        "running %s x %d replicates on %s (%d people) -> %s",
        conf.scenario.name,
        conf.replicates,
        conf.population.name,
        sum(conf.population.n_people_by_district),
        root,
    )
    try:
        if hc.mode != RunMode.MULTIRUN:
            with folder_lock(root):
                if not conf.output.resume:
                    refuse_used_folder(root)
                plan = _single_plan(conf, root)
                run_replicates(conf, root, generation=plan["generation"], command=plan["command"])
                _finish(root, plan, conf.output.allow_incomplete, conf.output.report)
        else:
            variant, generation, command = _variant(root)
            run_replicates(conf, root, variant=variant, generation=generation, command=command)
    except Exception as exc:  # Hydra would print a traceback: one paragraph instead
        exit_with(exc)


def _single_plan(conf: Any, root: Path) -> dict[str, Any]:
    """The plan of a single run (hydra.mode=RUN), written as a sweep's is."""
    from .manifest import new_generation, write_json
    from .provenance import command_line

    plan = {
        "generation": new_generation(),
        "command": command_line(),
        "expected": {conf.scenario.name: conf.replicates},
        "swept": [],
        "jobs": [{"variant": {}, "scenario": conf.scenario.name, "replicates": conf.replicates}],
    }
    write_json(root / "sweep.json", plan)
    return plan


def _finish(root: Path, plan: Any, allow_incomplete: bool, report: bool = False) -> None:
    from .sweep import aggregate, format_summary, plan_jobs

    summary = aggregate(root, plan, allow_incomplete=allow_incomplete)
    order = list(dict.fromkeys(j["scenario"] for j in plan_jobs(plan))) if plan else None
    print(
        f"\nSummary: mean [90% interval] over replicates, and the difference from the status "
        f"quo paired replicate by replicate. Tables in {root}\n"
    )
    print(format_summary(summary, order=order))
    if report:
        from .report import write_report

        print(f"Report for planners: {write_report(root)}", file=sys.stderr)


try:  # Hydra's base class provides the job-level hooks we do not use
    from hydra.experimental.callback import Callback as _Callback
except ImportError:  # pragma: no cover
    _Callback = object  # type: ignore[misc,assignment]


class FolderLocked(SweepError):
    """Another live process is writing into the folder."""


class folder_lock:
    """An exclusive lock on an output folder: two sweeps started at once into one folder cannot
    both run.

    The lock is the kernel's: ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<folder>/.lock``, held
    open for the lock's life. The kernel releases it when the holding process ends in any way
    (also SIGKILL), so a lock is never "stale" and never taken over by guessing whether a PID
    is alive: a holder in another PID namespace, container or host keeps its lock. The file
    holds the holder's host name, PID and start time, for the refusal message only. On release
    the file is deleted (and a lock taken on a file deleted meanwhile is retried on the new
    file, so deleting never lets two hold it).

    Network file systems: Linux NFS (v3 with lockd, v4) maps ``flock`` to byte-range locks the
    server enforces for every client, so sweeps on two hosts of one share exclude each other.
    Some mounts do not honour it (``nolock`` / ``local_lock=all``, some FUSE or CIFS setups):
    there two hosts can both hold the lock, and a file system that refuses ``flock`` falls back
    to creating ``.lock`` exclusively, which a killed sweep leaves behind. Such a lock is cleared
    by hand: check that no sweep runs into the folder on any host, then delete ``.lock``."""

    NAME = ".lock"
    held_now: ClassVar[set[folder_lock]] = set()  # locks this process holds (released on a signal)

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / self.NAME
        self.held = False
        self._fd: int | None = None
        self._flock = True

    @staticmethod
    def _info() -> str:
        import datetime
        import socket

        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": started}) + "\n"

    def _holder(self, fd: int | None = None) -> str:
        """Who holds the lock, from the file, in words."""
        try:
            if fd is not None:
                text = os.pread(fd, 4096, 0).decode(errors="replace")
            else:
                text = self.path.read_text(errors="replace")
            info = json.loads(text)
            return f"PID {int(info['pid'])} on host {info['host']}, started {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that has not written its name yet (it is just starting)"

    def _refuse(self, fd: int | None, taken_by_kernel: bool) -> FolderLocked:
        folder = self.path.parent
        how = (
            "The lock is released by the operating system as soon as that process ends, so it "
            "cannot outlive it on a local disk. Only if no sweep runs into this folder on any host "
            "(check with ps there) and the folder is on a network file system that does not honour "
            f"locks (flock), delete {self.path} by hand."
            if taken_by_kernel
            else "This file system does not support locks (flock), so a sweep that was killed "
            f"leaves its lock behind: if no sweep runs into this folder on any host (check with ps "
            f"there), delete {self.path} by hand."
        )
        return FolderLocked(
            f"another diversion-sim ({self._holder(fd)}) is writing into {folder}; nothing was "
            "written. Wait for it to finish, or choose another folder (hydra.sweep.dir=...). " + how
        )

    def __enter__(self) -> folder_lock:
        import errno
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                exc = self._refuse(fd, True)
                os.close(fd)
                raise exc from None
            except OSError as err:  # this file system has no flock (ENOLCK, EOPNOTSUPP, ...)
                os.close(fd)
                if err.errno in (errno.EACCES, errno.EAGAIN):
                    raise self._refuse(None, True) from None
                return self._enter_exclusive()
            try:  # the file may have been deleted (released) between open and flock: retry
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, self._info().encode(), 0)
            self._fd, self.held = fd, True
            folder_lock.held_now.add(self)
            return self
        raise FolderLocked(f"cannot lock {self.path.parent} (other processes keep taking it)")

    def _enter_exclusive(self) -> folder_lock:
        """Without flock: the lock is the file itself, created exclusively; never taken over."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise self._refuse(None, False) from None
        os.write(fd, self._info().encode())
        os.close(fd)
        self._flock, self.held = False, True
        folder_lock.held_now.add(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def release(self) -> None:
        """Delete the file and release the lock (idempotent; safe in a signal handler)."""
        if not self.held:
            return
        self.held = False
        folder_lock.held_now.discard(self)
        self.path.unlink(missing_ok=True)  # while still held: a waiter retries on a new file
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @classmethod
    def release_all(cls) -> None:
        """Release every lock this process holds (under ``python -m diversion_sim.cli`` this file
        is also ``__main__``, and Hydra's callback holds its lock in the imported module)."""
        for klass in {cls, getattr(sys.modules.get("diversion_sim.cli"), "folder_lock", cls)}:
            for lock in list(klass.held_now):
                lock.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refuse_used_folder(root: Path) -> None:
    """Stop unless ``root`` is new: a finished or unfinished sweep is only touched on request."""
    from .sweep import SweepError, check_runs

    root = Path(root)
    if not (root / "sweep.json").is_file() and not (root / "runs").is_dir():
        return
    good, _ = check_runs(root)
    state = "a finished sweep" if (root / "summary.csv").is_file() else "an unfinished sweep"
    raise SweepError(
        f"the output folder {root} already holds {state} ({len(good)} complete runs); "
        "nothing was written. Pass output.resume=true to finish or redo it (complete "
        "runs of the same configuration are kept), or choose a new folder "
        "(hydra.sweep.dir=... / hydra.run.dir=..., or leave it to the default timestamp)."
    )


class SweepCallback(_Callback):
    """Hydra callback: record the sweep's plan at start, aggregate and summarise at the end."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        # every failure here stops the sweep (Hydra would turn an exception into a warning and
        # run the jobs anyway): exit_with raises SystemExit, which Hydra does not catch
        root = Path(config.hydra.sweep.dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._lock = folder_lock(root)
            self._lock.__enter__()  # held until the end: a second sweep into this folder stops
            if not config.output.resume:
                refuse_used_folder(root)
            from .manifest import write_json

            write_json(root / "sweep.json", _plan(config))
        except BaseException as exc:
            lock = getattr(self, "_lock", None)
            if lock is not None and not isinstance(exc, FolderLocked):
                lock.__exit__(None, None, None)
            exit_with(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        root = Path(config.hydra.sweep.dir)
        root = root if root.is_absolute() else Path.cwd() / root
        try:
            try:
                plan = json.loads((root / "sweep.json").read_text())
            except (OSError, ValueError) as exc:
                from .sweep import SweepError

                raise SweepError(
                    f"{root / 'sweep.json'} cannot be read ({exc}): the sweep's plan "
                    "is lost; run diversion-sim-summary on the folder"
                ) from None
            _finish(root, plan, bool(config.output.allow_incomplete), bool(config.output.report))
        except Exception as exc:
            exit_with(exc)
        finally:
            lock = getattr(self, "_lock", None)
            if lock is not None:
                lock.__exit__(None, None, None)


def summary_main(argv: list[str] | None = None) -> None:
    """``diversion-sim-summary FOLDER``: (re)build the tables and summary of a sweep folder."""
    import argparse

    ap = argparse.ArgumentParser(prog="diversion-sim-summary", description=summary_main.__doc__)
    ap.add_argument("folder", type=Path, help="a sweep folder (outputs/sweeps/<timestamp>)")
    ap.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="summarise the complete runs even if some are missing or damaged",
    )
    a = ap.parse_args(argv)
    try:
        from .sweep import SweepError

        root = a.folder.resolve()
        if not root.is_dir():
            raise SweepError(
                f"{a.folder} is not a folder; give a sweep folder such as outputs/sweeps/<timestamp>"
            )
        plan = None
        if (root / "sweep.json").is_file():
            from .sweep import plan_jobs

            try:
                plan = json.loads((root / "sweep.json").read_text())
            except ValueError:
                raise SweepError(
                    f"{root / 'sweep.json'} is damaged (not the plan a sweep writes); "
                    "delete it to summarise whatever complete runs are there"
                ) from None
            plan_jobs(plan, str(root / "sweep.json"))  # refuses a damaged plan in one paragraph
        _finish(root, plan or {}, a.allow_incomplete)
    except Exception as exc:
        exit_with(exc)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren), from /proc (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def stop_workers(grace_s: float = 3.0) -> None:
    """Stop every worker process this command started (joblib/loky workers keep running and
    writing into the sweep folder otherwise): SIGTERM, then SIGKILL after ``grace_s``."""
    import signal
    import time

    kids = _descendants(os.getpid())
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(p) for p in kids):
        time.sleep(0.1)
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _on_signal(signum: int, frame: Any) -> None:
    """SIGTERM or Ctrl-C (SIGINT): stop the workers, release the folder lock (no ``.lock`` left
    behind), remove the temporary files being written, say in one paragraph what is kept, and exit
    128 + the signal's number."""
    import signal

    from .atomic import remove_pending

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not interrupt the cleanup
    stop_workers()
    remove_pending()
    folder_lock.release_all()
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    print(
        f"\ndiversion-sim: stopped ({name}); complete runs are kept, rerun the same command "
        "with its hydra.sweep.dir=... and output.resume=true to finish the sweep",
        file=sys.stderr,
    )
    sys.stderr.flush()
    os._exit(128 + signum)


def _hydra_version() -> str:
    import hydra

    return hydra.__version__


def main() -> None:
    """Console entry point: validate every job first, then hand over to Hydra."""
    import signal

    import hydra

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    argv = sys.argv[1:]
    if "--version" in argv:
        from . import __version__

        print(f"diversion-sim {__version__} (diversion_sim; Hydra {_hydra_version()})")
        return
    if not any(
        a in ("--help", "-h", "--hydra-help", "--info", "-i", "-sc", "--shell-completion") for a in argv
    ):
        import yaml

        try:
            preflight(argv)
        except (ConfigError, yaml.YAMLError) as exc:
            if debug():
                raise
            text = yaml_message(exc) if isinstance(exc, yaml.YAMLError) else str(exc)
            print(f"diversion-sim: {text}", file=sys.stderr)
            sys.exit(2)
    register_schema()
    hydra_main = hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_task)
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # errors reach the paragraph below, not Hydra's trace
    try:
        hydra_main()
    except Exception as exc:  # a launcher that cannot start (no Ray cluster), a file Hydra writes
        folder_lock.release_all()
        exit_with(_launcher_error(exc))
    finally:
        folder_lock.release_all()


def _launcher_error(exc: Exception) -> Exception:
    """A launcher's failure in words: Ray's "cannot connect" names the address and what to do."""
    import yaml

    if isinstance(exc, yaml.YAMLError):
        return ConfigError(yaml_message(exc))
    mod = type(exc).__module__ or ""
    text = " ".join(str(exc).split())
    if mod.startswith("ray") or "Ray cluster" in text or "Ray instance" in text:
        return SweepError(
            f"the Ray launcher cannot start: {text[:500]}. No run was started. Check that the "
            "cluster is up (`ray status` on its head node) and reachable from here, point to it "
            "with hydra.launcher.ray.init.address=HOST:PORT, or run on this machine's cores "
            "(drop hydra/launcher=ray_cluster)."
        )
    if isinstance(exc, OSError) and exc.filename:
        return SweepError(
            f"cannot write {exc.filename} ({exc.strerror or exc}); nothing else was changed. "
            "Make the folder writable or choose another (hydra.sweep.dir=...)."
        )
    return exc


if __name__ == "__main__":
    main()
