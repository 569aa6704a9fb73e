"""RL algorithms: shared math in `core`, one module per paper, TRL plumbing in `trainer` / `train`.

Importing a module registers its parts in the `core` registries; `load()` imports every module of this
package except the TRL plumbing, so a new paper is one new file here (plus a config block and a test).
This file imports neither torch nor TRL: `geometry` (the batch arithmetic) is read when Snakemake
builds the DAG.
"""

from __future__ import annotations

import importlib
import pkgutil

from .geometry import batch_geometry, geometry_rows, geometry_table

PLUMBING = {"train", "trainer", "geometry"}  # need TRL, or register nothing

__all__ = ["batch_geometry", "geometry_rows", "geometry_table", "load"]


def __getattr__(name: str):
    """`rl.train_rl` / `rl.grpo_config` (TRL) load on first use, so `import rlvr_repro.rl` stays light."""
    if name in ("train_rl", "grpo_config"):
        from . import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load() -> None:
    """Import every method module of this package (each registers its functions on import)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name not in PLUMBING:
            importlib.import_module(f"{__name__}.{info.name}")
