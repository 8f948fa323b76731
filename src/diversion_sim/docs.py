"""Generate ``docs/parameters.md`` from ``configs/`` so the parameter table cannot drift.

    python -m diversion_sim.docs            # rewrite docs/parameters.md
    python -m diversion_sim.docs --check    # exit 1 if docs/parameters.md is out of date (CI test)

Every value line of the config files carries its source as a comment; the table shows key,
value, unit/domain (from the name's prefix, see :mod:`diversion_sim.params`) and that comment.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .config import config_dir

DOMAIN = {
    "p_": "probability [0, 1]",
    "share_": "share [0, 1]",
    "rate_": "rate >= 0",
    "dur_": "weeks >= 0",
    "n_": "count >= 0",
    "hr_": "hazard ratio >= 0",
    "mult_": "multiplier >= 0",
    "rel_": "relative >= 0",
    "shape_": "Weibull shape > 0",
    "scale_": "Weibull scale (weeks) > 0",
}
LINE = re.compile(r"^(\s*)([A-Za-z_][\w]*):\s*([^#]*?)\s*(?:#\s?(.*))?$")


def _domain(name: str) -> str:
    for prefix, text in DOMAIN.items():
        if name.startswith(prefix):
            return text
    return ""


def table(path: Path, skip: tuple[str, ...] = ("defaults", "hydra")) -> list[tuple[str, str, str, str]]:
    """(key, value, domain, source) for each value line of a simple YAML config file."""
    rows: list[tuple[str, str, str, str]] = []
    stack: list[tuple[int, str]] = []  # stack of (indent, key)
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith(("#", "-")):
            continue
        m = LINE.match(raw)
        if not m:
            continue
        indent, key, value, comment = len(m.group(1)), m.group(2), m.group(3), m.group(4) or ""
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack and key in skip:
            stack.append((indent, key))
            continue
        if stack and stack[0][1] in skip:
            continue
        if value == "" or value.startswith("&"):  # a section (a YAML anchor names it)
            stack.append((indent, key))
            continue
        full = ".".join([k for _, k in stack] + [key])
        if value.startswith("*"):  # an alias: a copy of the anchored section
            value, comment = f"(copy of {value[1:]})", comment or "a copy of the section anchored above"
        rows.append((full, value.replace("|", "\\|"), _domain(key), comment.replace("|", "\\|")))
    return rows


def _md(rows: list[tuple[str, str, str, str]]) -> str:
    out = ["| key | value | domain | source / note |", "|---|---|---|---|"]
    out += [f"| `{k}` | `{v}` | {d} | {c} |" for k, v, d, c in rows]
    return "\n".join(out)


def render() -> str:
    cd = config_dir()
    parts = [
        "# Parameters",
        "",
        "Generated from `configs/` by `python -m diversion_sim.docs`; a test fails when this "
        "file and the configs disagree. Units are weeks unless the name says otherwise; the "
        "domain column is what the schema enforces (`src/diversion_sim/params.py`). Values "
        "marked *calibrated* come from `experiments/calibrate.py` (ABC-SMC) and name the run.",
        "",
        "## Model parameters (`configs/params/default.yaml`)",
        "",
        _md([(f"params.{k}", v, d, c) for k, v, d, c in table(cd / "params" / "default.yaml")]),
        "",
        "## Run settings and policy levers at their status-quo values (`configs/config.yaml`)",
        "",
        _md(table(cd / "config.yaml")),
    ]
    for group, title in (("population", "Populations"), ("scenario", "Scenarios (deltas over the levers)")):
        parts += ["", f"## {title} (`configs/{group}/`)"]
        for f in sorted((cd / group).glob("*.yaml")):
            pre = f"{group}." if group == "population" else ""
            rows = [(pre + k if not k.startswith("scenario.") else k, v, d, c) for k, v, d, c in table(f)]
            parts += ["", f"### `{group}={f.stem}`", "", _md(rows)]
    parts += [
        "",
        "## Calibration targets (`configs/calibration/targets.yaml`)",
        "",
        _md(table(cd / "calibration" / "targets.yaml")),
        "",
        "## Observed national figures (`configs/calibration/observed.yaml`)",
        "",
        "The status quo is judged against these points (experiments/status_quo.py, the "
        "report); each names its source in the file.",
        "",
        _md(table(cd / "calibration" / "observed.yaml")),
        "",
        "## Calibration priors and settings (`configs/calibration/pilot.yaml`)",
        "",
        _md(table(cd / "calibration" / "pilot.yaml")),
    ]
    return "\n".join(parts) + "\n"


def docs_path() -> Path:
    return config_dir().parent / "docs" / "parameters.md"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate docs/parameters.md from configs/.")
    ap.add_argument("--check", action="store_true", help="fail if the file is out of date")
    a = ap.parse_args(argv)
    text, path = render(), docs_path()
    if a.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} is out of date: run python -m diversion_sim.docs", file=sys.stderr)
            sys.exit(1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
