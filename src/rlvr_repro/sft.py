"""Supervised warm start (and the SFT-continue control) with TRL's `SFTTrainer`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from .jsonl import RECORD_FIELDS, DataError, read_jsonl
from .models import load_model, load_tokenizer
from .runs import (
    JsonlMetrics,
    checkpoint_step,
    claim_work_dir,
    input_digest,
    last_checkpoint,
    precision_kwargs,
    set_threads,
)


def sft_dataset(path: Path) -> Dataset:
    """Prompt-completion pairs: the loss is on the solution only (TRL `completion_only_loss`)."""
    rows = [r for r in read_jsonl(path, required=RECORD_FIELDS) if r["solution"]]
    if not rows:
        raise DataError(f"{path}: no row has a solution to train on (data.sft names the SFT source)")
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["solution"]} for r in rows])


def train_sft(model_path: str, data: Path, out_dir: Path, spec: dict, seed: int, threads: int, work_dir: Path,
              metrics: Path, identity: dict) -> None:  # fmt: skip
    """Train for `spec['steps']` optimizer steps; resumes from the last checkpoint in `work_dir`.

    ``steps: 0`` is "no warm start" (the papers' RL-from-base setting): `out_dir` becomes the input
    model itself, hard-linked file by file (no copy of a 15 GB checkpoint), and `metrics` is empty.
    """
    if spec["steps"] == 0:
        if os.environ.get("RANK", "0") != "0":  # under a multi-process launcher, one process links
            return
        link_model(Path(model_path), out_dir)
        Path(metrics).parent.mkdir(parents=True, exist_ok=True)
        Path(metrics).write_text("")
        return
    set_threads(threads)
    tokenizer = load_tokenizer(model_path)
    model = load_model(model_path)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device = spec.get("per_device_train_batch_size", spec["batch_size"] // world)
    if per_device < 1 or spec["batch_size"] % (per_device * world):
        raise ValueError(f"sft batch_size {spec['batch_size']} does not split into {world} process(es) x "
                         f"per_device_train_batch_size {per_device} x whole accumulation steps")  # fmt: skip
    args = SFTConfig(
        output_dir=str(work_dir),
        max_steps=spec["steps"],
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=spec["batch_size"] // (per_device * world),
        learning_rate=spec["learning_rate"],
        lr_scheduler_type=spec.get("lr_scheduler", "cosine"),
        warmup_steps=spec.get("warmup_steps", 0),
        weight_decay=spec.get("weight_decay", 0.0),
        max_length=spec.get("max_length", 256),
        completion_only_loss=True,
        logging_steps=spec.get("logging_steps", 10),
        save_steps=spec.get("save_steps", 100),
        save_total_limit=1,
        report_to=["tensorboard"],
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        **precision_kwargs(),
        **(
            {"gradient_checkpointing": spec["gradient_checkpointing"]}
            if "gradient_checkpointing" in spec
            else {}
        ),
    )
    if os.environ.get("RANK", "0") == "0":  # a work dir from other inputs or params is moved aside
        claim_work_dir(work_dir, input_digest(model=model_path, data=data, spec=spec, seed=seed))
    checkpoint = last_checkpoint(work_dir)
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(data), processing_class=tokenizer)
    trainer.add_callback(JsonlMetrics(work_dir / "metrics.jsonl", identity, checkpoint_step(checkpoint)))
    if checkpoint_step(checkpoint) >= spec["steps"]:
        # transformers' loop would run one step past max_steps: the final checkpoint is the model
        trainer._load_from_checkpoint(checkpoint)
    else:
        trainer.train(resume_from_checkpoint=checkpoint)
    save_final(trainer, tokenizer, out_dir)
    shutil.copyfile(work_dir / "metrics.jsonl", metrics)


def save_final(trainer, tokenizer, out_dir: Path) -> None:
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)


def link_model(src: Path, out_dir: Path) -> None:
    """`out_dir` holds the same files as the model directory `src` (hard links, copies across devices)."""
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"model not found: looked for {src / 'config.json'}")
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
