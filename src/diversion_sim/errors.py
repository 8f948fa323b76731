"""The package's errors and how a command reports them: one paragraph, no traceback (set
``DIVERSION_SIM_DEBUG=1`` for the traceback)."""

from __future__ import annotations

import os
import sys

__all__ = ["ConfigError", "SweepError", "debug", "exit_with"]


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
