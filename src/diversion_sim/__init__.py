"""diversion_sim: police-mediated diversion vs compulsory detention of people who use drugs.

The Python route (see :mod:`diversion_sim.api`): ``compose``, ``run``, ``run_scenarios``,
``load_sweep`` and the Mesa model ``DiversionModel`` (keyword constructor)."""

from .params import Config, ConfigError
from .provenance import version as _version
from .states import Event, Exit, Service, State

__version__ = _version()  # the release + the git commit (and a digest of uncommitted changes)

__all__ = [
    "Config",
    "ConfigError",
    "DiversionModel",
    "Event",
    "Exit",
    "Service",
    "State",
    "Sweep",
    "__version__",
    "compose",
    "load_sweep",
    "run",
    "run_scenarios",
]


def __getattr__(name: str):
    """The model and the API are imported on first use (``import diversion_sim`` stays light)."""
    if name == "DiversionModel":
        from .model import DiversionModel

        return DiversionModel
    if name in ("compose", "run", "run_scenarios", "load_sweep", "Sweep"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'diversion_sim' has no attribute {name!r}")
