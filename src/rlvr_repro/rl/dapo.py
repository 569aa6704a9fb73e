"""DAPO: clip-higher, dynamic sampling with refill, overlong shaping (docs/METHODS.md §4).

Paper: arXiv 2503.14476. Code: verl recipe/dapo (`dapo_ray_trainer.py`). Dynamic sampling also runs
Guide's released baseline and Guide-GRPO: guide_rl verl/verl/trainer/ppo/ray_trainer.py `rollout`.

    clip-higher (Eq. 10):  eps_low = 0.2, eps_high = 0.28            core.fixed_clip_range, config `clip:`
    dynamic sampling (Eq. 11, sec. 3.2):  keep groups with 0 < #correct < G; sample more prompts until
        the batch holds prompts_per_step such groups (at most `refill.max_rounds` rounds; guide_rl carries
        the extra groups of the last round over to the next step, `refill.carry_over`)
    overlong filtering (sec. 3.4):  truncated completions are masked out of the loss
    soft overlong punishment (Eq. 13):  with L_max the length cap and L_cache the punishment window,
        R_length(y) = 0                                 |y| <= L_max - L_cache
                    = ((L_max - L_cache) - |y|) / L_cache    L_max - L_cache < |y| <= L_max
                    = -1                                L_max < |y|
        added to the verifier's reward (x penalty_factor).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import batch as rows_
from .core import register_rollout_hook, zero_std_groups


def soft_overlong_penalty(lengths: Tensor, max_length: int, cache: int, factor: float = 1.0) -> Tensor:
    """DAPO Eq. 13 (equations at the top of this file), times `factor` (verl overlong_penalty_factor)."""
    lengths = lengths.float()
    if cache <= 0:
        return torch.where(lengths > max_length, -factor, 0.0).to(lengths.dtype)
    expected = max_length - cache
    ramp = ((expected - lengths) / cache).clamp(max=0.0)
    return factor * torch.where(lengths > max_length, torch.full_like(lengths, -1.0), ramp)


@register_rollout_hook("overlong")
class Overlong:
    """DAPO sec. 3.4 as a round hook: the soft punishment on the reward and/or overlong filtering.

    `overlong: {enabled, cache_frac, penalty_factor, filter}`; L_cache = round(cache_frac * L_max), with
    L_max = max_completion_length (DAPO: 4096 of 20480, cache_frac 0.2). Filtering keys on truncation
    (no end-of-sequence token), the penalty on the length, so a completion ending exactly at the cap is
    punished but not filtered.
    """

    stage, order = "round", 20

    @classmethod
    def applies(cls, spec: dict) -> bool:
        return bool((spec.get("overlong") or {}).get("enabled"))

    def __init__(self, spec: dict):
        knobs = spec["overlong"]
        self.max_length = spec["max_completion_length"]
        self.cache = round(knobs.get("cache_frac", 0.2) * self.max_length)
        self.factor = knobs.get("penalty_factor", 1.0)
        self.filter = knobs.get("filter", True)

    def __call__(self, trainer, batch: dict) -> dict:
        mask = batch["completion_mask"]
        penalty = soft_overlong_penalty(mask.sum(dim=1), self.max_length, self.cache, self.factor)
        batch["rewards"] = batch["rewards"] + penalty.to(batch["rewards"])
        cut = rows_.truncated(batch["completion_ids"], mask, trainer.eos_token_ids)
        if self.filter:
            batch["keep"] = batch["keep"] * (~cut).to(batch["keep"])
        trainer.log_metric("overlong/frac_truncated", cut.float().mean())
        trainer.log_metric("overlong/mean_penalty", penalty.mean())
        return batch


@register_rollout_hook("dynamic_sampling")
class DynamicSampling:
    """Dynamic sampling (config `filter_groups: true`; docs/METHODS.md §5): only informative groups (scores not all equal)
    train. `refill: {enabled: false}` masks the others out of the loss (keep = 0) and trains on fewer
    prompts; `refill: {enabled: true, max_rounds, carry_over}` samples more rounds of fresh prompts
    until every slot holds an informative group, as guide_rl's `rollout`:

        1. take informative groups left over from earlier steps (the carry-over buffer), oldest first;
        2. while fewer than the step's prompts are informative and rounds < max_rounds: sample a round
           (the step's own prompts first, then fresh ones), run the round hooks (Guide's re-sampling),
           keep its informative groups;
        3. the first prompts_per_step groups train; the rest go to the buffer (carry_over) or are dropped
           (DAPO's recipe); if max_rounds ran out, the empty slots hold uninformative groups with keep = 0.

    Old log-probs of carried-over groups are taken again under the current policy (guide_rl computes
    them for the whole batch after `rollout`). The buffer is per process and saved with checkpoints.
    """

    stage = "sampler"

    @classmethod
    def applies(cls, spec: dict) -> bool:
        return bool(spec.get("filter_groups"))

    def __init__(self, spec: dict):
        refill = spec.get("refill") or {}
        self.refill = refill.get("enabled", False)
        self.max_rounds = refill.get("max_rounds", 4)
        self.carry_over = refill.get("carry_over", True)
        if self.max_rounds < 1:
            raise ValueError("refill.max_rounds must be >= 1")
        self.buffer: list[dict] = []  # one entry per carried-over group

    def state_dict(self) -> dict:
        return {"buffer": self.buffer}

    def load_state_dict(self, state: dict) -> None:
        self.buffer = state["buffer"]

    def __call__(self, trainer, inputs: list[dict]) -> dict:
        G = trainer.num_generations
        target = len(inputs) // G
        if not self.refill:
            batch = trainer.sample_round(inputs)
            informative = ~zero_std_groups(batch["scores"], G)
            batch["keep"] = batch["keep"] * informative.repeat_interleave(G).to(batch["keep"])
            self._log(trainer, rounds=1, generated=batch["generated"], informative=int(informative.sum()),
                      target=target, reused=0)  # fmt: skip
            return batch

        pool, self.buffer = self.buffer[:target], self.buffer[target:]
        reused = len(pool)
        pool = trainer.refresh_old_logps(pool)  # collective: every process, even with an empty pool
        spare, rounds, generated, prompts = [], 0, 0, inputs
        while rounds < self.max_rounds and trainer.any_process(len(pool) < target):
            batch = trainer.sample_round(prompts)
            rounds += 1
            generated += batch["generated"]
            informative = (~zero_std_groups(batch["scores"], G)).tolist()
            pool += [rows_.select_groups(batch, [g], G) for g, ok in enumerate(informative) if ok]
            spare += [rows_.select_groups(batch, [g], G) for g, ok in enumerate(informative) if not ok]
            prompts = trainer.draw_prompts(target, rounds)
        n_informative = min(len(pool), target)
        if self.carry_over:
            self.buffer += pool[target:]
        pool = pool[:target]
        for group in spare[: target - len(pool)]:
            group["keep"] = torch.zeros_like(group["keep"])
            pool.append(group)
        self._log(trainer, rounds=rounds, generated=generated, informative=n_informative, target=target,
                  reused=reused)  # fmt: skip
        return rows_.cat(pool, trainer.pad_token_id)

    def _log(self, trainer, *, rounds, generated, informative, target, reused):
        trainer.log_metric("refill/rounds", rounds)  # the same on every process (rounds run in lockstep)
        trainer.log_global("refill/rollouts", generated)
        trainer.log_global("refill/informative_prompts", informative)
        trainer.log_global("refill/frac_informative", informative, target)
        trainer.log_global("refill/from_buffer", reused)
        trainer.log_global("refill/buffer", len(self.buffer))
