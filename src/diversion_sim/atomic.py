"""One cleanup rule for every file the package writes: write to a temporary sibling, rename it into
place when whole, and remove it on any error or signal, so a reader sees the old file or the new
one, never half of one, and nothing is left behind.

``atomic_path(path)`` is the context manager every writer uses; temporaries in flight are known to
:func:`remove_pending`, which the commands' signal handlers call before they exit (a SIGTERM
handler that ends the process at once skips ``finally`` blocks).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import SweepError

_PENDING: set[Path] = set()


def temp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``. On any failure it is
    removed, and a failed write (a full disk, a read-only folder) becomes one paragraph that names
    the file."""
    path = Path(path)
    tmp = temp_for(path)
    _PENDING.add(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise SweepError(
            f"cannot write {path} ({exc.strerror or exc}); nothing was left half-written there. "
            "Free some space or choose a writable folder, then run the same command again."
        ) from None
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        _PENDING.discard(tmp)


def _unlink(p: Path) -> None:
    try:
        if p.is_dir():
            import shutil

            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    except OSError:
        pass


def remove_pending() -> None:
    """Remove every temporary file still being written (called by signal handlers)."""
    for p in list(_PENDING):
        _unlink(p)
        _PENDING.discard(p)


def exit_cleanly_on_sigterm(program: str) -> None:
    """For the summary and report commands: SIGTERM removes the temporaries in flight and exits
    with one line (128 + 15)."""

    def handler(signum: int, frame: Any) -> None:
        remove_pending()
        print(f"{program}: stopped (SIGTERM); nothing was left half-written", file=sys.stderr)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
