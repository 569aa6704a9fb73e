"""What every training run shares: threads, device precision, JSONL metrics, resume, provenance."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import warnings
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


WORK_IDENTITY = "work_identity.json"
RESUMABLE_KEYS = ("steps", "save_steps", "logging_steps")
_HASH_LIMIT = 64 * 2**20  # files above this are identified by name, size and mtime, not content


def input_digest(*, model: str | Path, data: Path, spec: dict, seed: int) -> str:
    """SHA-256 over what a work directory was started from (issue 22): the start model's files, the
    training data's bytes, the spec and the seed.

    A reading: files over 64 MiB (paper-scale weights) enter by name, size and mtime rather than
    content, so a 15 GB checkpoint is not read twice; a rewritten model file changes its mtime.
    `RESUMABLE_KEYS` stay out: a run extended to more steps resumes its own checkpoints.
    """
    h = hashlib.sha256()
    spec = {k: v for k, v in spec.items() if k not in RESUMABLE_KEYS}
    h.update(json.dumps({"spec": spec, "seed": seed}, sort_keys=True, default=str).encode())
    model = Path(model)
    files = sorted(p for p in model.rglob("*") if p.is_file()) if model.is_dir() else []
    if not files:
        h.update(f"model:{model}".encode())  # a hub id: its name is its identity
    for p in [*files, Path(data)]:
        st = p.stat()
        h.update(f"\0{p.name}\0{st.st_size}\0".encode())
        if st.st_size > _HASH_LIMIT:
            h.update(str(st.st_mtime_ns).encode())
        else:
            h.update(p.read_bytes())
    return h.hexdigest()


def claim_work_dir(work_dir: Path, digest: str) -> None:
    """Make `work_dir` belong to `digest`: a directory started from other inputs or params (or with
    no recorded identity) is moved aside to `<name>.stale-<digest prefix>` with a warning, so a rerun
    never resumes stale work; the caller then starts fresh."""
    work_dir = Path(work_dir)
    record = work_dir / WORK_IDENTITY
    if work_dir.is_dir() and any(work_dir.iterdir()):
        old = json.loads(record.read_text())["digest"] if record.is_file() else None
        if old == digest:
            return
        aside = work_dir.with_name(f"{work_dir.name}.stale-{(old or 'unknown')[:12]}")
        shutil.rmtree(aside, ignore_errors=True)
        work_dir.rename(aside)
        warnings.warn(
            f"{work_dir}: started from other inputs or params (digest {old} != {digest}); "
            f"moved aside to {aside}, training starts fresh",
            stacklevel=2,
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(record, {"digest": digest})
