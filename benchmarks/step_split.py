"""Benchmark (not a test): one rollout step's time split, RLVRTrainer next to vanilla TRL GRPOTrainer.

    python benchmarks/step_split.py                       # a fresh random tiny model, grpo's rl: spec
    python benchmarks/step_split.py --model results/default/models/tiny/sft --repeats 5 \
        --baseline no-sort no-trim checkpointing

Each variant trains `--steps` rollout steps (8 prompts x 8 rollouts, 96 tokens from config/config.yaml's
`rl:` block, one thread) in this process; the variants are interleaved repeat by repeat, so a shared
machine's load falls on all of them alike, and the table shows, per rollout step (its optimizer updates
together), medians over repeats of the mean over steps (the first dropped: it warms caches). The parts are timed by wrapping the trainers' own calls:
sampling (`_generate`), old log-probs (`_get_per_token_logps_and_entropies` without grad), forward
(the same with grad), backward (`accelerator.backward`). Baselines switch one issue-23 saving off in
RLVRTrainer: `no-sort` (TRL's shuffled micro-batches), `no-trim` (batch-wide padding), `checkpointing`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from datasets import Dataset  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from transformers.trainer_callback import PrinterCallback  # noqa: E402
from trl import GRPOTrainer  # noqa: E402

from rlvr_repro import config as cfg  # noqa: E402
from rlvr_repro.models import build_model, load_model, load_tokenizer  # noqa: E402
from rlvr_repro.rl.train import grpo_config  # noqa: E402
from rlvr_repro.rl.trainer import RLVRTrainer  # noqa: E402
from rlvr_repro.tasks import make_prompt  # noqa: E402

PARTS = ("sampling", "old_logps", "forward", "backward", "step")


def parity_reward(prompts, completions, **kwargs):
    """Any cheap reward with mixed groups: the split does not depend on what is rewarded."""
    return [float(len(c) % 2) for c in completions]


class Split(TrainerCallback):
    """Per optimizer step: wall time and the wrapped parts' seconds."""

    def __init__(self, timers: dict):
        self.timers, self.steps, self.t0 = timers, [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self.timers.clear()
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(
            {**{p: self.timers.get(p, 0.0) for p in PARTS[:-1]}, "step": time.perf_counter() - self.t0}
        )


def timed(timers: dict, fn, name):
    def wrapper(*a, **k):
        part = name(*a, **k) if callable(name) else name
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            timers[part] = timers.get(part, 0.0) + time.perf_counter() - t0

    return wrapper


def trainer_for(variant: str, spec: dict, model: str, data: Dataset, work: Path):
    args = grpo_config({**spec, "gradient_checkpointing": variant == "checkpointing"}, work, seed=0)
    args.report_to, args.save_strategy, args.disable_tqdm = [], "no", True
    kwargs = dict(model=load_model(model), reward_funcs=[parity_reward], args=args, train_dataset=data,
                  processing_class=load_tokenizer(model))  # fmt: skip
    trainer = GRPOTrainer(**kwargs) if variant == "trl" else RLVRTrainer(**kwargs, method=spec)
    if variant == "no-sort":
        trainer._sort_updates_by_length = lambda batch, updates: batch
    if variant == "no-trim":
        trainer._trim_padding = lambda inputs: inputs
    timers: dict = {}
    trainer._generate = timed(timers, trainer._generate, "sampling")
    logps = trainer._get_per_token_logps_and_entropies
    trainer._get_per_token_logps_and_entropies = timed(
        timers, logps, lambda *a, **k: "forward" if torch.is_grad_enabled() else "old_logps"
    )
    trainer.accelerator.backward = timed(timers, trainer.accelerator.backward, "backward")
    trainer.remove_callback(PrinterCallback)  # the table is the output, not the per-step logs
    split = Split(timers)
    trainer.add_callback(split)
    return trainer, split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    ap.add_argument("--model", help="an SFT model directory (default: a fresh random tiny model)")
    ap.add_argument("--method", default="grpo")
    ap.add_argument("--steps", type=int, default=3, help="rollout steps per run (the first is dropped)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", nargs="*", default=[], choices=["no-sort", "no-trim", "checkpointing"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load(Path(args.config).read_text())
    spec = {**cfg.rl_spec(config, args.method), "steps": args.steps, "save_steps": 10**6}
    variants = ["rlvr", "trl", *args.baseline]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(Path(tmp) / "tiny")
        if not args.model:
            build_model("tiny", model, seed=0)
        rows = [{"prompt": make_prompt(f"{a}+{b}"), "answer": str(a + b)} for a in range(9) for b in range(9)]
        data = Dataset.from_list(rows)
        runs = {v: [] for v in variants}
        for r in range(args.repeats):
            for v in variants:
                trainer, split = trainer_for(v, spec, model, data, Path(tmp) / f"{v}{r}")
                trainer.train()
                per_rollout = trainer.args.steps_per_generation // trainer.args.gradient_accumulation_steps
                per_rollout *= trainer.num_iterations  # optimizer steps per rollout step
                kept = split.steps[per_rollout:] or split.steps
                runs[v].append({p: sum(s[p] for s in kept) * per_rollout / len(kept) for p in PARTS})
    med = {v: {p: statistics.median(x[p] for x in runs[v]) for p in PARTS} for v in variants}
    print(f"{'variant':14s}" + "".join(f"{p:>11s}" for p in PARTS) + "   step vs rlvr")
    for v in variants:
        print(
            f"{v:14s}"
            + "".join(f"{med[v][p]:11.3f}" for p in PARTS)
            + f"   {med[v]['step'] / med['rlvr']['step']:.2f}x"
        )


if __name__ == "__main__":
    main()
