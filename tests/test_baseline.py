"""The golden baseline: a fixed-seed set of tables (``tests/baseline/``) that every change must
leave unchanged. A change that is meant to move numbers regenerates it with
``python tests/update_baseline.py`` in a commit of its own that says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from update_baseline import HERE, TABLES, compute


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x


def differences(name: str, want: pd.DataFrame, got: pd.DataFrame) -> list[str]:
    """Which columns and rows of a table differ (empty when identical)."""
    if list(want.columns) != list(got.columns):
        return [f"{name}: columns {list(got.columns)} != baseline {list(want.columns)}"]
    if len(want) != len(got):
        return [f"{name}: {len(got)} rows != baseline {len(want)}"]
    out = []
    for col in want.columns:
        a, b = want[col].to_numpy(), got[col].to_numpy()
        if np.issubdtype(a.dtype, np.floating) and np.issubdtype(b.dtype, np.floating):
            # bit-identical up to the last digits of libm across machines
            same = np.isclose(a, b, rtol=1e-12, atol=0.0) | (np.isnan(a) & np.isnan(b)) | (a == b)
        else:
            same = pd.Series(a).astype(str).to_numpy() == pd.Series(b).astype(str).to_numpy()
        if not same.all():
            rows = np.flatnonzero(~same)
            show = ", ".join(f"row {i}: {_plain(a[i])!r} -> {_plain(b[i])!r}" for i in rows[:5])
            out.append(f"{name}.{col}: {rows.size} of {len(a)} rows differ ({show})")
    return out


@pytest.fixture(scope="module")
def fresh():
    return compute()


@pytest.mark.parametrize("name", TABLES)
def test_the_model_reproduces_the_golden_baseline(fresh, name):
    path = HERE / f"{name}.parquet"
    assert path.is_file(), f"{path} is missing: run python tests/update_baseline.py and commit it"
    diff = differences(name, pd.read_parquet(path), fresh[name])
    assert not diff, (
        "the model's numbers moved from the golden baseline:\n  "
        + "\n  ".join(diff)
        + "\nIf the change is meant to move them, run python tests/update_baseline.py and commit the "
        "new baseline in its own commit saying why."
    )


def test_the_comparison_names_the_table_column_and_rows():
    a = pd.DataFrame({"week": [0, 1, 2], "n_using": [5.0, 6.0, 7.0]})
    b = a.assign(n_using=[5.0, 6.5, 7.0])
    (msg,) = differences("weekly", a, b)
    assert msg.startswith("weekly.n_using: 1 of 3 rows differ (row 1: 6.0 -> 6.5")
    assert differences("weekly", a, a.copy()) == []
