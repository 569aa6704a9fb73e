"""What every training run shares: threads, device precision, JSONL metrics, resume, provenance."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from . import numerics

PINNED = ["torch", "trl", "transformers", "accelerate", "datasets", "tokenizers", "math-verify", "snakemake"]


def set_threads(threads: int) -> None:
    """Snakemake's `threads` decides torch's intra-op threads (one thread per job by default)."""
    torch.set_num_threads(max(1, threads))
    os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
    os.environ["MKL_NUM_THREADS"] = str(max(1, threads))
    try:
        torch.set_num_interop_threads(1)  # one inter-op thread: no reordering across parallel ops
    except RuntimeError:
        pass  # already set (or inter-op work started) in this process


def precision_kwargs() -> dict:
    """bf16 on a GPU that supports it, fp32 on CPU (TrainingArguments keys)."""
    if torch.cuda.is_available():
        return {"bf16": torch.cuda.is_bf16_supported()}
    return {"use_cpu": True, "bf16": False}


def last_checkpoint(work_dir: Path) -> str | None:
    return get_last_checkpoint(str(work_dir)) if work_dir.is_dir() else None


def checkpoint_step(checkpoint: str | None) -> int:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0


class JsonlMetrics(TrainerCallback):
    """Appends one JSON row per logged step (with the run's identity) as training goes.

    On resume the rows after the checkpoint's step are dropped first, so the file never holds a
    step twice.
    """

    def __init__(self, path: Path, identity: dict, resume_step: int = 0, rename: dict | None = None):
        self.path, self.identity, self.rename = Path(path), identity, rename or {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        if resume_step and self.path.exists():
            rows = [
                r for r in map(json.loads, self.path.read_text().splitlines()) if r["step"] <= resume_step
            ]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "train_runtime" in logs:
            return
        row = {**self.identity, "step": state.global_step}
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
                row[self.rename.get(key, key)] = value
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def git_state(root: Path) -> tuple[str, bool]:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit, bool(git("status", "--porcelain", "--untracked-files=no"))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PINNED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(config: dict, root: Path = Path(".")) -> dict:
    commit, dirty = git_state(root)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": versions(),
        "config": config,
        "hardware": f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpu}",
        "numerics": numerics.settings(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_json(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
