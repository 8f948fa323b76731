"""The model's processes, in order, and their assembly (:func:`.base.assemble`).

The order fixes the rows of the competing-risk matrix (ties between waiting times go to the
earlier process; with continuous waiting times they have probability zero), the order of the
weekly ``start``/``end``/``record`` hooks and the order of result columns. Handlers run by
their declared phase (:data:`.base.PHASE_GUIDE`). To add a process: write its module (see
``use_on_methadone.py``), add its YAML section to ``configs/params/default.yaml`` if it declares
parameters, and list it here.
"""

from __future__ import annotations

from ..population import COLUMNS
from . import (
    coordination,
    costs,
    detention,
    family,
    mortality,
    movement,
    outcomes,
    policing,
    register,
    relapse,
    treatment,
    use_on_methadone,
)
from .base import assemble

PROCESSES = (
    mortality.PROCESS,
    movement.PROCESS,
    policing.PROCESS,
    detention.PROCESS,
    treatment.PROCESS,
    relapse.PROCESS,
    register.PROCESS,
    coordination.PROCESS,
    use_on_methadone.PROCESS,
    family.PROCESS,
    outcomes.PROCESS,  # reads the run's tables (drug-free weeks, QALYs)
    costs.PROCESS,  # reads the run's tables and outcomes' QALYs: last
)
ASSEMBLY = assemble(PROCESSES, core_columns=COLUMNS)
