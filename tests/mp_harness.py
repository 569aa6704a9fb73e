"""One optimizer step of each method on a fixed batch, under `accelerate launch` (1 or N processes).

    accelerate launch --multi_gpu --num_processes 2 tests/mp_harness.py MODEL_DIR OUT.pt METHOD...

(``ACCELERATE_USE_CPU=1``: gloo on the CPU.) Used by tests/test_multiprocess.py and, launched with a
DeepSpeed config, tests/test_deepspeed.py (no gradients there: ZeRO keeps them in its partitions). The rollouts are the
real KV-cache sampler, seeded per group by the prompt's token ids, so a group's completions do not
depend on which process samples it or how many there are; the reward is a seeded coin per completion on
four kinds of prompt (always right, a coin, a coin only when hinted, never right), so Guide has failed
groups to re-sample and refill has all-equal groups to replace. Rank 0 saves, per
method, the logged loss and metrics and the gradient (after DDP's all-reduce, before the optimizer).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import torch
import yaml
from transformers import TrainerCallback
from trl.models import unwrap_model_for_generation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rlvr_repro import config as cfg  # noqa: E402
from rlvr_repro import rl, sampling  # noqa: E402
from rlvr_repro.models import load_model, load_tokenizer  # noqa: E402
from rlvr_repro.rl.trainer import RLVRTrainer  # noqa: E402
from rlvr_repro.tasks import HINT_TAG, build_splits  # noqa: E402

G, PROMPTS, LENGTH = 4, 4, 12


class FixedRollouts(RLVRTrainer):
    """The KV-cache sampler, one group at a time, seeded by the group's prompt."""

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        out = []
        # ZeRO-3: gather the full weights once, as TRL's generation does; a partitioned model would run
        # collectives per forward, and ranks whose completions end early would run fewer of them
        with unwrap_model_for_generation(self.model_wrapped, self.accelerator) as model, torch.no_grad():
            for i in range(0, len(prompt_ids), num_generations):
                ids = torch.tensor([prompt_ids[i]])
                torch.manual_seed(
                    int.from_bytes(hashlib.sha256(str(prompt_ids[i]).encode()).digest()[:4], "little")
                )
                out += sampling.generate(model, ids, torch.ones_like(ids), num_generations, 1.0, LENGTH,
                                         self.eos_token_ids)  # fmt: skip
        return out, None


def reward(prompts, completions, id, **kwargs) -> list[float]:  # noqa: A002 - TRL passes columns by name
    out = []
    for prompt, completion, pid in zip(prompts, completions, id, strict=True):
        coin = hashlib.sha256((prompt + completion).encode()).digest()[0] < 128
        kind = int(pid.rsplit("-", 1)[1]) % 4  # 0 always right, 2 a coin, 1 a coin with a hint, 3 never
        hinted = HINT_TAG in prompt
        out.append(float(kind == 0 or (coin and (kind == 2 or (kind == 1 and hinted)))))
    return out


class Grads(TrainerCallback):
    def __init__(self, trainer):
        self.trainer, self.grads = trainer, None

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        grads = [p.grad for p in self.trainer.model.parameters()]
        if all(g is not None for g in grads):  # DeepSpeed ZeRO keeps gradients in its own partitions
            self.grads = torch.cat([g.detach().flatten() for g in grads]).clone()


def spec_for(config: dict, method: str) -> dict:
    """`METHOD+refill`: the method with dynamic sampling's refill on (fresh prompts drawn per process)."""
    base, _, refill = method.partition("+")
    spec = cfg.merge(
        cfg.rl_spec(config, base),
        {"steps": 1, "prompts_per_step": PROMPTS, "prompts_per_update": PROMPTS, "num_generations": G,
         "per_device_train_batch_size": G, "max_completion_length": LENGTH, "learning_rate": 1e-3,
         "save_steps": 1000, "num_iterations": 1, "max_grad_norm": 1e6, "refill": {"enabled": False},
         "sampler": "kv"},
    )  # fmt: skip
    if refill:
        spec["refill"] = {"enabled": True, "max_rounds": 3, "carry_over": True}
    return spec


def run(model_dir: str, method: str, config: dict, dataset, work: Path) -> dict:
    spec = spec_for(config, method)
    args = rl.grpo_config(spec, work / method, seed=0)
    args.report_to = []
    trainer = FixedRollouts(model=load_model(model_dir), reward_funcs=[reward], args=args, train_dataset=dataset,
                            processing_class=load_tokenizer(model_dir), method=spec)  # fmt: skip
    grads = Grads(trainer)
    trainer.add_callback(grads)
    trainer.train()
    logs = next(h for h in trainer.state.log_history if "loss" in h)
    return {"logs": logs, "grads": grads.grads, "world": trainer.accelerator.num_processes}


def main(model_dir: str, out: str, methods: list[str]) -> None:
    from datasets import Dataset

    torch.set_num_threads(1)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    rows = build_splits({"families": ["arith"], "splits": {"rl": {"n": 8, "difficulty": [1, 2]}}}, 0)["rl"]
    dataset = Dataset.from_list(
        [{k: r[k] for k in ("prompt", "answer", "hint", "difficulty", "id")} for r in rows]
    )
    results = {m: run(model_dir, m, config, dataset, Path(out).parent / "work") for m in methods}
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(results, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
