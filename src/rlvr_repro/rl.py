"""RL entry: one method, one model size, one seed, through `RLVRTrainer` (TRL GRPOTrainer)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from datasets import Dataset
from trl import GRPOConfig

from . import algos
from .jsonl import RECORD_FIELDS, read_jsonl
from .models import load_model, load_tokenizer
from .reward import correctness_reward
from .runs import JsonlMetrics, checkpoint_step, last_checkpoint, precision_kwargs, set_threads
from .sft import save_final
from .trainer import RLVRTrainer, StepTimer

# TRL log keys -> the project's metric names (metrics.jsonl columns).
RENAME = {"completions/mean_length": "completion_length", "completions/clipped_ratio": "frac_truncated"}


def rl_dataset(path: Path) -> Dataset:
    rows = read_jsonl(path, required=RECORD_FIELDS)
    return Dataset.from_list(
        [{k: r[k] for k in ("prompt", "answer", "hint", "difficulty", "id")} for r in rows]
    )


# Project spec keys that grpo_config maps itself; any other spec key that is a GRPOConfig field
# (vllm_gpu_memory_utilization, vllm_tensor_parallel_size, vllm_max_model_length, gradient_checkpointing,
# max_grad_norm, mask_truncated_completions, generation_kwargs, ...) passes straight through.
MAPPED = {"steps", "prompts_per_step", "prompts_per_update", "num_generations", "max_completion_length",
          "temperature", "top_p", "learning_rate", "lr_scheduler", "warmup_steps", "beta", "clip", "loss",
          "advantage", "num_iterations", "save_steps", "use_vllm", "vllm_mode", "sampler",
          "per_device_train_batch_size", "gradient_accumulation_steps"}  # fmt: skip


def batch_geometry(spec: dict, world_size: int = 1) -> dict:
    """Per-device micro-batch, accumulation and TRL step counts from the project's batch knobs.

    ``prompts_per_step`` prompts (x ``num_generations`` completions) are generated per rollout step
    across all processes (verl's ``train_batch_size``); they are consumed in optimizer updates of
    ``prompts_per_update`` prompts (verl's ``ppo_mini_batch_size``, default: all of them), each
    ``num_iterations`` times. ``per_device_train_batch_size`` (completions per device per micro-step)
    defaults to one update's share of a device; ``steps`` counts rollout steps, so TRL's ``max_steps``
    (optimizer steps) is ``steps x updates per rollout x num_iterations``.
    """
    G = spec["num_generations"]
    rollout = spec["prompts_per_step"] * G
    update = spec.get("prompts_per_update", spec["prompts_per_step"]) * G
    per_device = spec.get("per_device_train_batch_size")
    if per_device is None:
        per_device = update // (world_size * spec.get("gradient_accumulation_steps", 1))
    problems = []
    if rollout % update:
        problems.append(
            f"prompts_per_step ({spec['prompts_per_step']}) is not a multiple of prompts_per_update"
        )
    if per_device < 1 or update % (per_device * world_size):
        problems.append(
            f"one update ({update} completions) does not split into {world_size} process(es) x "
            f"per_device_train_batch_size {per_device} x whole accumulation steps"
        )
    if problems:
        raise ValueError("rl batch sizes do not fit: " + "; ".join(problems))
    iterations = spec.get("num_iterations", 1)
    return {
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": update // (per_device * world_size),
        "steps_per_generation": rollout // (per_device * world_size),
        "max_steps": spec["steps"] * (rollout // update) * iterations,
    }


def grpo_config(spec: dict, work_dir: Path, seed: int) -> GRPOConfig:
    """Map the project's rl + method spec onto GRPOConfig; TRL-named knobs pass straight through.

    The process count comes from ``WORLD_SIZE`` (set by ``accelerate launch``), so one spec gives
    the same global batch on 1 CPU, 1 GPU or 8 GPUs x N nodes.
    """
    clip = spec["clip"]
    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    kwargs = dict(
        output_dir=str(work_dir),
        **batch_geometry(spec, int(os.environ.get("WORLD_SIZE", "1"))),
        num_generations=spec["num_generations"],
        max_completion_length=spec["max_completion_length"],
        temperature=spec.get("temperature", 1.0),
        top_p=spec.get("top_p", 1.0),
        learning_rate=spec["learning_rate"],
        lr_scheduler_type=spec.get("lr_scheduler", "constant"),
        warmup_steps=spec.get("warmup_steps", 0),
        beta=spec.get("beta", 0.0),
        epsilon=clip.get("eps_low", 0.2),
        epsilon_high=clip.get("eps_high", clip.get("eps_low", 0.2)),
        loss_type=algos.TRL_LOSS_TYPE[spec.get("loss", "token-mean")],
        scale_rewards=spec["advantage"].get("scale", "group"),
        num_iterations=spec.get("num_iterations", 1),
        logging_steps=1,
        save_steps=spec.get("save_steps", 25),
        save_total_limit=1,
        report_to=["tensorboard"],
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        use_vllm=spec.get("use_vllm", False),
        vllm_mode=spec.get("vllm_mode", "colocate"),
        log_completions=False,
        **precision_kwargs(),
    )
    for key, value in spec.items():
        if key in fields and key not in MAPPED:
            if key in kwargs and key not in ("bf16", "fp16", "tf32"):
                raise ValueError(
                    f"rl.{key} is set by the project itself; it cannot be overridden from the config"
                )
            kwargs[key] = value
    return GRPOConfig(**kwargs)


def train_rl(model_path: str, data: Path, out_dir: Path, spec: dict, seed: int, threads: int, work_dir: Path,
             metrics: Path, identity: dict, reward_funcs: list | None = None) -> None:  # fmt: skip
    """One RL run; `reward_funcs` defaults to the verifiable reward (benchmarks/gpu_check.py swaps in a
    stand-in so a random model still sees mixed groups)."""
    set_threads(threads)
    tokenizer = load_tokenizer(model_path)
    model = load_model(model_path)
    checkpoint = last_checkpoint(work_dir)
    trainer = RLVRTrainer(
        model=model,
        reward_funcs=reward_funcs or [correctness_reward],
        args=grpo_config(spec, work_dir, seed),
        train_dataset=rl_dataset(data),
        processing_class=tokenizer,
        method=spec,
    )
    trainer.add_callback(StepTimer(trainer))
    trainer.add_callback(
        JsonlMetrics(work_dir / "metrics.jsonl", identity, checkpoint_step(checkpoint), RENAME)
    )
    trainer.train(resume_from_checkpoint=checkpoint)
    save_final(trainer, tokenizer, out_dir)
    shutil.copyfile(work_dir / "metrics.jsonl", metrics)
