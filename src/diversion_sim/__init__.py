"""diversion_sim: police-mediated diversion vs compulsory detention of people who use drugs."""

from .params import Config, ConfigError
from .states import Event, Exit, Service, State

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "Event", "Exit", "Service", "State", "__version__"]
