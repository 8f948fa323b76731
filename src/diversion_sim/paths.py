"""Names that become paths: one function for every name (scenario, swept value) that is part of
a folder name, and the OmegaConf resolver that applies it in configs/config.yaml."""

from __future__ import annotations

from typing import Any


def safe_name(name: Any, max_len: int = 80) -> str:
    """The one way a name (scenario, swept value) becomes part of a path: letters, digits and
    ``._=+-`` kept, anything else (``/``, ``..``, spaces, quotes) becomes ``_``; no leading dot;
    a name that had to be changed or cut to ``max_len`` gains a hash of the whole, so two names
    never share a folder."""
    import hashlib
    import re

    text = str(name)
    out = re.sub(r"[^A-Za-z0-9._=+-]", "_", text).lstrip(".") or "_"
    out = re.sub(r"\.\.+", "_", out)
    if len(out) > max_len or out != text:  # changed or cut: keep names apart with a hash
        out = f"{out[: max_len - 11]}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
    return out


def variant_label(variant: dict[str, Any] | None) -> str:
    """``k=v,k2=v2`` of the swept keys, in key order ("" when nothing but scenarios is swept)."""
    variant = variant or {}
    return ",".join(f"{k}={variant[k]}" for k in sorted(variant))


def run_folder(root: Any, scenario: str, replicate: int, variant: dict[str, Any] | None = None) -> Any:
    """The folder of one run below a sweep or run folder ``root``."""
    from pathlib import Path

    base = Path(root) / "runs"
    if variant:
        base = base / f"variant={safe_name(variant_label(variant))}"
    return base / f"scenario={safe_name(scenario)}" / f"replicate={int(replicate):04d}"


def run_folders(root: Any) -> list:
    """Every run folder below a sweep or run folder ``root``: ``runs/scenario=*/replicate=*`` and,
    for a sweep over other keys, ``runs/variant=*/scenario=*/replicate=*`` (sorted)."""
    from pathlib import Path

    runs = Path(root) / "runs"
    found = list(runs.glob("scenario=*/replicate=*")) + list(runs.glob("variant=*/scenario=*/replicate=*"))
    return sorted(p for p in found if p.is_dir())


def register_resolvers() -> None:
    """``${safe_name:...}`` for config values that become paths (configs/config.yaml)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("safe_name"):
        OmegaConf.register_new_resolver("safe_name", lambda v: safe_name(v))
