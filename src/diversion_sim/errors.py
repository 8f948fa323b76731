"""The package's errors and how a command reports them: one paragraph, no traceback (set
``DIVERSION_SIM_DEBUG=1`` for the traceback)."""

from __future__ import annotations

import os
import sys

__all__ = ["ConfigError", "SweepError", "debug", "exit_with", "yaml_message"]


class ConfigError(ValueError):
    """A configuration value is outside its domain; the message says which and how to fix it."""


class SweepError(RuntimeError):
    """A sweep folder cannot be summarised as it is; the message names the files."""


def debug() -> bool:
    """True when ``DIVERSION_SIM_DEBUG`` asks for full tracebacks."""
    return os.environ.get("DIVERSION_SIM_DEBUG", "") not in ("", "0")


def exit_with(exc: BaseException, code: int = 1) -> None:
    """Print ``exc`` as one paragraph on stderr and exit with ``code`` (re-raise when debugging)."""
    if debug():
        raise exc
    kind = "" if isinstance(exc, (SweepError, ConfigError)) else f"{type(exc).__name__}: "
    print(f"diversion-sim: {kind}{exc} (set DIVERSION_SIM_DEBUG=1 for the traceback)", file=sys.stderr)
    sys.exit(code)


def yaml_message(exc: Exception) -> str:
    """One paragraph for a YAML file that cannot be parsed (malformed, a key given twice): the
    file, the line and column, and what is wrong, from PyYAML's ``MarkedYAMLError``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = (
        f"{mark.name} cannot be read (line {mark.line + 1}, column {mark.column + 1})"
        if mark is not None
        else "cannot be read"
    )
    problem = " ".join(str(getattr(exc, "problem", "") or exc).split())
    context = " ".join(str(getattr(exc, "context", "") or "").split())
    what = f"{problem} ({context})" if context and problem != str(exc) else problem
    hint = (
        "give each key once in a mapping"
        if "duplicate key" in problem
        else "check the quotes, brackets and indentation there"
    )
    return f"the YAML file {where}: {what}. Fix the file ({hint}) and run again."
