"""RL entry: one method, one model size, one seed, through `RLVRTrainer` (TRL GRPOTrainer)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from datasets import Dataset
from trl import GRPOConfig

from ..jsonl import RECORD_FIELDS, read_jsonl
from ..models import load_model, load_tokenizer
from ..reward import make_reward
from ..runs import (
    JsonlMetrics,
    checkpoint_step,
    claim_work_dir,
    input_digest,
    last_checkpoint,
    precision_kwargs,
    set_threads,
)
from ..sft import save_final
from .core import TRL_LOSS_TYPE
from .geometry import batch_geometry
from .trainer import RLVRTrainer, StepTimer

# TRL log keys -> the project's metric names (metrics.jsonl columns).
RENAME = {"completions/mean_length": "completion_length", "completions/clipped_ratio": "frac_truncated"}


def rl_dataset(path: Path) -> Dataset:
    """The RL prompts with what the reward and hooks read; `answer_format` (boxed | gsm8k) when the
    records carry it, so the reward grades each row as its source writes answers, and ``answers``
    (the gold alternatives, `reward.make_reward`) when they do."""
    rows = read_jsonl(path, required=RECORD_FIELDS)
    keys = ["prompt", "answer", "hint", "difficulty", "id"] + (
        ["answer_format"] if "answer_format" in rows[0] else []
    )
    alternatives = any("answers" in r for r in rows)  # gold alternatives (loaders), read by the reward
    return Dataset.from_list(
        [
            {
                **{k: r[k] for k in keys},
                **({"answers": r.get("answers") or [r["answer"]]} if alternatives else {}),
            }
            for r in rows
        ]  # fmt: skip
    )


# Project spec keys that grpo_config maps itself; any other spec key that is a GRPOConfig field
# (vllm_gpu_memory_utilization, vllm_tensor_parallel_size, vllm_max_model_length, gradient_checkpointing,
# max_grad_norm, mask_truncated_completions, generation_kwargs, ...) passes straight through.
MAPPED = {"steps", "prompts_per_step", "prompts_per_update", "num_generations", "max_completion_length",
          "temperature", "top_p", "learning_rate", "lr_scheduler", "warmup_steps", "beta", "clip", "loss",
          "advantage", "num_iterations", "save_steps", "use_vllm", "vllm_mode", "sampler",
          "per_device_train_batch_size", "gradient_accumulation_steps",
          "vllm_importance_sampling_correction"}  # fmt: skip


def grpo_config(spec: dict, work_dir: Path, seed: int) -> GRPOConfig:
    """Map the project's rl + method spec onto GRPOConfig; TRL-named knobs pass straight through.

    The process count comes from ``WORLD_SIZE`` (set by ``accelerate launch``), so one spec gives
    the same global batch on 1 CPU, 1 GPU or 8 GPUs x N nodes. TRL turns vLLM importance sampling on
    by default; neither paper uses it, so it is off unless the spec says otherwise (docs/METHODS.md §6).
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
        loss_type=TRL_LOSS_TYPE[spec.get("loss", "token-mean")],
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
        vllm_importance_sampling_correction=spec.get("vllm_importance_sampling_correction", False),
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
             metrics: Path, identity: dict, reward_funcs: list | None = None,
             callbacks: list | None = None) -> None:  # fmt: skip
    """One RL run; resumes from the last checkpoint in `work_dir` and runs exactly the remaining steps.

    Callable many times in one process: every call builds its own trainer, hooks and buffers.
    `reward_funcs` defaults to the verifiable reward (benchmarks/gpu_check.py swaps in a stand-in so a
    random model still sees mixed groups); `callbacks` are extra TrainerCallbacks.
    """
    set_threads(threads)
    if spec.get("use_vllm"):
        from .. import vllm_backend

        vllm_backend.colocate_on_cpu()  # vLLM's CPU build: eager engine, reload-based weight sync
    tokenizer = load_tokenizer(model_path)
    model = load_model(model_path)
    if os.environ.get("RANK", "0") == "0":  # a work dir from other inputs or params is moved aside
        claim_work_dir(work_dir, input_digest(model=model_path, data=data, spec=spec, seed=seed))
    checkpoint = last_checkpoint(work_dir)
    args = grpo_config(spec, work_dir, seed)
    trainer = RLVRTrainer(
        model=model,
        reward_funcs=reward_funcs or [make_reward(format_check=spec.get("format_check", False))],
        args=args,
        train_dataset=rl_dataset(data),
        processing_class=tokenizer,
        method=spec,
    )
    trainer.add_callback(StepTimer(trainer))
    trainer.add_callback(
        JsonlMetrics(work_dir / "metrics.jsonl", identity, checkpoint_step(checkpoint), RENAME)
    )
    for callback in callbacks or []:
        trainer.add_callback(callback)
    if checkpoint_step(checkpoint) >= args.max_steps:
        # transformers' loop would still run one step past max_steps: the final checkpoint is the model
        trainer._load_from_checkpoint(checkpoint)
    else:
        if checkpoint:
            trainer.load_hook_state(checkpoint)
        trainer.train(resume_from_checkpoint=checkpoint)
    save_final(trainer, tokenizer, out_dir)
    shutil.copyfile(work_dir / "metrics.jsonl", metrics)
