"""Where a result came from: the package version derived from git, the dependencies' versions and
the command line that reproduces a sweep (written into every run's ``meta.json``, the sweep's
manifest and the report).

The version is the release in ``pyproject.toml`` plus, when the package runs from a git checkout,
the commit and a digest of uncommitted changes (``0.1.0+gcb38e97`` or ``0.1.0+gcb38e97.d1a2b3c4``):
a run written by other code has another version, so a resumed sweep never keeps it and the summary
never mixes it in. Installed from a wheel, outside any checkout, it is the release alone.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

RELEASE_FALLBACK = "0.1.0"  # used only when the package metadata cannot be read
PACKAGES = ("numpy", "pandas", "pyarrow", "mesa", "hydra-core", "omegaconf")


def _release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("diversion_sim")
    except PackageNotFoundError:
        return RELEASE_FALLBACK


def _git(*args: str) -> str | None:
    """Output of a git command in the package's own checkout, or None (no git, not a checkout)."""
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "-C", str(here), *args], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.decode(errors="replace") if r.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None, "diff_digest": str or None}`` of the
    checkout the package runs from (only when the package's own folder is tracked by it)."""
    top = _git("rev-parse", "--show-toplevel")
    here = Path(__file__).resolve().parent
    if top is None or _git("ls-files", "--error-unmatch", str(here / "__init__.py")) is None:
        return {"commit": None, "code_commit": None, "dirty": None, "diff_digest": None}
    commit = (_git("rev-parse", "HEAD") or "").strip() or None
    # the version names the last commit that changed what shapes results (the package, configs/):
    # a commit of docs or tests alone does not make earlier runs of the same code look foreign
    code = (
        _git("log", "-1", "--format=%H", "--", str(here), str(Path(top.strip()) / "configs")) or ""
    ).strip()
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    dirty = bool(status.strip())
    # the digest covers what shapes results (the package and configs/), so editing a test or the
    # README does not make earlier runs of the same code look foreign
    diff = _git("diff", "HEAD", "--", str(here), str(Path(top.strip()) / "configs")) or ""
    digest = hashlib.sha256(diff.encode()).hexdigest()[:8] if diff else None
    return {"commit": commit, "code_commit": code or commit, "dirty": dirty, "diff_digest": digest}


@functools.lru_cache(maxsize=1)
def version() -> str:
    """The release, plus the last commit that changed the package or configs/ and a digest of
    their uncommitted changes, when in a checkout."""
    g = git_state()
    base = _release()
    if not g["commit"]:
        return base
    local = f"g{g['code_commit'][:7]}" + (f".d{g['diff_digest']}" if g["diff_digest"] else "")
    return f"{base}+{local}"


@functools.lru_cache(maxsize=1)
def _packages() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    out = {}
    for name in PACKAGES:
        try:
            out[name] = v(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(command: str | None = None) -> dict[str, Any]:
    """Everything that says which code made a result: version, commit, whether the tree was dirty,
    Python and the key dependencies' versions, and ``command`` (the command line that reproduces
    it, when known)."""
    g = git_state()
    return {
        "version": version(),
        "git_commit": g["commit"],
        "git_dirty": g["dirty"],
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": _packages(),
        "command": command,
    }


def command_line(argv: list[str] | None = None, program: str = "diversion-sim") -> str:
    """The command as a shell would take it again (``program`` and the quoted arguments)."""
    import shlex

    return shlex.join([program, *(sys.argv[1:] if argv is None else argv)])
