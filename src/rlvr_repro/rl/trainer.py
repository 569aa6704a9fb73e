"""`RLVRTrainer`: TRL's `GRPOTrainer` with the registered rollout hooks and loss math plugged in.

Plumbing only; the math and the method steps live in core.py and the paper modules (docs/METHODS.md):
- a step's rollouts come from the method's sampler hook (dynamic sampling with refill, dapo.py) or from
  one round; each round is TRL's own generation and scoring, then the round hooks (Guide's hint
  re-sampling, DAPO's overlong shaping) in their registered order;
- advantages from a registered estimator, the per-row clip range from a registered clip rule, both
  over the whole generation batch;
- the loss is core.policy_loss with the method's registered loss transforms (Guide's hinted rows), a
  registered KL estimator and a registered aggregation with whole-update normalisers.

Everything else (generation, vLLM, DeepSpeed, logging, checkpoints) is TRL's and transformers'.
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer
from trl.models import unwrap_model_for_generation
from trl.trainer.utils import pad, shuffle_sequence_dict, split_tensor_dict, use_adapter

from .. import reward, sampling
from . import batch as rows_
from . import core

HOOK_STATE = "rollout_hooks.pt"
TRL_KEYS = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "old_per_token_logps",
            "ref_per_token_logps", "sampling_per_token_logps")  # fmt: skip


class RLVRTrainer(GRPOTrainer):
    """GRPOTrainer whose rollouts, advantages, clip rule and loss come from `method`.

    `method` keys (config/config.yaml `rl:` and `methods:`): `loss` (token-mean | seq-mean | dr-grpo),
    `advantage` ({name, **knobs}), `clip` ({name, eps_low, eps_high, **knobs}), `kl` (k3 | low_var_kl),
    and the blocks the hooks read (`filter_groups`, `refill`, `guide`, `overlong`).
    """

    def __init__(self, *args, method: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method
        self.advantage_fn = core.get_advantage(method["advantage"]["name"])
        self.advantage_kwargs = {k: v for k, v in method["advantage"].items() if k != "name"}
        self.clip_fn = core.get_clip_range(method["clip"]["name"])
        self.clip_kwargs = {
            k: v for k, v in method["clip"].items() if k not in ("name", "eps_low", "eps_high")
        }
        self.kl_fn = core.get_kl(method.get("kl", "k3"))
        core.get_aggregation(method.get("loss", "token-mean"))
        self.round_hooks, self.sampler = core.rollout_hooks(method)
        self.loss_transforms = core.loss_transforms(method)
        self._timers: dict[str, float] = {}
        self._generation_calls = [-1, 0]  # [step, calls so far in it]
        if self.args.per_device_train_batch_size % self.num_generations:
            raise ValueError(
                "per_device_train_batch_size must hold whole groups (a multiple of num_generations)"
            )
        if self.use_vllm and self.vllm_importance_sampling_correction:
            raise ValueError(
                "vllm_importance_sampling_correction is on, but RLVRTrainer's loss does not apply TRL's "
                "vLLM importance-sampling ratio (and neither paper uses it): set "
                "rl.vllm_importance_sampling_correction: false (docs/METHODS.md §6)"
            )

    # ---------- timing of the step's parts (generation / scoring / rest = backward) ----------
    @contextmanager
    def _timed(self, name):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._timers[name] = self._timers.get(name, 0.0) + time.perf_counter() - t0

    def _generate(self, prompts):
        with self._timed("generate"):
            return super()._generate(prompts)

    def _kv_sampler_applies(self, prompt_ids, multimodal_fields, G: int) -> bool:
        """The project's sampler covers plain-text HF generation with temperature / top-p only, on a
        batch of whole groups (G copies of each prompt in a row, as TRL's RepeatSampler lays them out)."""
        return (
            self.method.get("sampler", "kv") == "kv"
            and not (self.use_vllm or self.use_transformers_continuous_batching or multimodal_fields)
            and self.args.generation_kwargs is None
            and self.top_k in (None, 0)
            and self.min_p is None
            and self.repetition_penalty == 1.0
            and len(prompt_ids) % G == 0
            and all(prompt_ids[i] == prompt_ids[i - i % G] for i in range(len(prompt_ids)))
        )

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        """Without vLLM, sample with `sampling.generate`: each group's prompt is prefilled once and
        finished completions leave the batch (the same distribution as `generate`, fewer FLOPs)."""
        G = num_generations
        if not self._kv_sampler_applies(prompt_ids, multimodal_fields, G):
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs
            )
        unique = [torch.tensor(ids) for ids in prompt_ids[::G]]
        input_ids = pad(unique, padding_value=self._tokenizer.pad_token_id, padding_side="left")
        mask = pad([torch.ones_like(t) for t in unique], padding_value=0, padding_side="left")
        device = self.accelerator.device
        with (
            unwrap_model_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as model,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):  # the same context TRL's own generation path takes (ZeRO-3 gather, FSDP, checkpointing off)
            completion_ids = sampling.generate(
                model, input_ids.to(device), mask.to(device), G, self.temperature, self.max_completion_length,
                self.eos_token_ids, self.top_p, generator=self._rollout_generator(),
            )  # fmt: skip
        return completion_ids, None

    def _rollout_generator(self) -> torch.Generator:
        """The uniforms of one generation call: a function of (seed, step, call within the step, process)
        only, so every method trained on one seed samples its step-t rollouts from the same stream
        (common random numbers, sampling.py) and a resumed run draws what the uninterrupted one drew."""
        step = self.state.global_step
        if self._generation_calls[0] != step:
            self._generation_calls = [step, 0]
        call = self._generation_calls[1]
        self._generation_calls[1] += 1
        key = repr(("rollout", self.args.seed, step, call, self.accelerator.process_index)).encode()
        return torch.Generator().manual_seed(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()))

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        before = reward.TIMEOUTS["count"]
        with self._timed("score"):
            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self.log_global("grader_timeouts", reward.TIMEOUTS["count"] - before)  # scored 0, counted (issue 22)
        self._last_rewards = (rewards_per_func * self.reward_weights.to(rewards_per_func.device)).nansum(
            dim=1
        )
        return rewards_per_func

    # ---------- services the hooks use ----------
    @property
    def pad_token_id(self) -> int:
        return self._tokenizer.pad_token_id

    def log_metric(self, name: str, value) -> None:
        value = value.detach() if torch.is_tensor(value) else value
        self._metrics["train" if self.model.training else "eval"][name].append(float(value))

    def log_global(self, name: str, total, count=None) -> None:
        """Log sum(total) over processes, or sum(total) / sum(count) (NaN when the counts are 0).
        Collective: every process must call it, in the same order."""
        both = torch.tensor(
            [float(total), 1.0 if count is None else float(count)], device=self.accelerator.device
        )
        total_sum, count_sum = self.accelerator.reduce(both, reduction="sum").tolist()
        if count is None:
            self.log_metric(name, total_sum)
        else:
            self.log_metric(name, total_sum / count_sum if count_sum else float("nan"))

    def any_process(self, flag: bool) -> bool:
        """True where any process says so (keeps generation rounds in lockstep)."""
        flags = self.accelerator.gather(torch.tensor([int(flag)], device=self.accelerator.device))
        return bool(flags.any())

    def draw_prompts(self, n_groups: int, round_: int) -> list[dict]:
        """n_groups fresh training rows (each G times) for a refill round; a function of (seed, step,
        round, process) only, so a resumed run draws what the uninterrupted one drew."""
        seed = ((self.args.seed * 1_000_003 + self.state.global_step) * 1_009 + round_) * 101
        g = torch.Generator().manual_seed(seed + self.accelerator.process_index)
        idx = torch.randint(len(self.train_dataset), (n_groups,), generator=g).tolist()
        return [self.train_dataset[i] for i in idx for _ in range(self.num_generations)]

    def sample_round(self, rows: list[dict]) -> dict:
        """One round: TRL's generation + scoring of `rows`, then the round hooks."""
        out = GRPOTrainer._generate_and_score_completions(self, rows)
        rewards = self._last_rewards  # gathered over processes
        self.log_metric("accuracy", (rewards >= 0.5).float().mean())
        if self.model.training:
            self.log_accuracy_by_level(rows, rewards)
        n = out["completion_ids"].size(0)
        start = self.accelerator.process_index * n
        local = rewards[start : start + n].clone()
        batch = {k: out[k] for k in TRL_KEYS if k in out}
        batch.update(
            rewards=local, scores=local.clone(), hinted=torch.zeros(n, dtype=torch.bool, device=local.device),
            keep=torch.ones_like(local), rows=list(rows), old_context=[None] * n, generated=n,
        )  # fmt: skip
        if self.model.training:
            for hook in self.round_hooks:
                batch = hook(self, batch)
        return batch

    def log_accuracy_by_level(self, rows: list[dict], rewards: torch.Tensor) -> None:
        """Rollout accuracy per integer `difficulty` level (`accuracy/level_<d>`, over processes).

        Which levels a step happens to draw moves the step's mean accuracy more than training does at
        8 prompts per step; aggregate.level_standardised averages these per level instead."""
        try:
            levels = [int(row["difficulty"]) for row in rows]
        except (KeyError, TypeError, ValueError):
            return  # data without integer levels (e.g. benchmark sources): nothing to standardise
        levels = self.accelerator.gather(torch.tensor(levels, device=rewards.device))
        correct = (rewards >= 0.5).float()
        for level in levels.unique().tolist():
            self.log_metric(f"accuracy/level_{level}", correct[levels == level].mean())

    def generate_and_score(self, rows: list[dict]):
        """Generate for `rows` outside TRL's bookkeeping (its rollout stats are left as they were);
        returns (prompt_ids, completion_ids, scores of the first reward function)."""
        prompts = [row["prompt"] for row in rows]
        saved = {k: len(v) for k, v in self._metrics["train"].items()}
        tokens_seen = self.state.num_input_tokens_seen  # num_tokens counts the plain rollouts only
        prompt_ids, completion_ids, _, completions, *_ = self._generate(prompts)
        self.state.num_input_tokens_seen = tokens_seen
        self._metrics["train"]["num_tokens"] = [tokens_seen]
        for k, v in self._metrics["train"].items():
            del v[saved.get(k, 0) :]
        columns = {k: [r[k] for r in rows] for k in rows[0] if k not in ("prompt", "completion")}
        with self._timed("score"):
            scores = self.reward_funcs[0](prompts=prompts, completions=completions, **columns)
        return prompt_ids, completion_ids, torch.tensor(scores, dtype=torch.float)

    @torch.no_grad()
    def logps_on(self, prompts: list[list[int]], completions: list[torch.Tensor]) -> torch.Tensor:
        """log pi_theta of each completion (token ids, its padding dropped) after its prompt (token id
        list): (B, longest completion), 0 past each completion's end.

        Collective: every process calls it, with its own rows (maybe none). Rows are padded to the largest
        count over processes, so every process runs the same forward passes (ZeRO-3 gathers the weights
        inside each; a process with fewer passes would leave the others waiting)."""
        n, device = len(prompts), self.accelerator.device
        n_max = int(self.accelerator.gather(torch.tensor([n], device=device)).max())
        if n < n_max:  # stand-in rows, dropped below
            prompts = list(prompts) + [prompts[-1] if n else [self.pad_token_id]] * (n_max - n)
            filler = completions[-1] if n else torch.tensor([self.pad_token_id])
            completions = list(completions) + [filler] * (n_max - n)
        if n_max == 0:
            return torch.zeros(0, 1, device=device)
        ids = pad([torch.tensor(p) for p in prompts], self.pad_token_id, "left").to(device)
        mask = pad([torch.ones(len(p), dtype=torch.long) for p in prompts], 0, "left").to(device)
        c_ids = pad([c.to(device) for c in completions], self.pad_token_id, "right")
        c_mask = pad(
            [torch.ones(c.numel(), dtype=torch.long, device=device) for c in completions], 0, "right"
        )
        logps, _, _ = self._get_per_token_logps_and_entropies(
            self.model,
            torch.cat([ids, c_ids], dim=1),
            torch.cat([mask, c_mask], dim=1),
            c_ids.size(1),
            batch_size=self.args.per_device_train_batch_size,
        )
        return (logps * c_mask)[:n]

    def refresh_old_logps(self, groups: list[dict]) -> list[dict]:
        """Old log-probs of carried-over groups, taken again under the current policy on each row's ratio
        context; rows without old log-probs (NaN: ratio 1 at loss time) stay so. One collective pass over
        every process's groups (logps_on), whatever each process holds."""
        todo = [g for g in groups if g.get("old_per_token_logps") is not None]
        contexts, completions = [], []
        for g in todo:
            plain = rows_.unpadded_prompts(g)
            contexts += [c if c is not None else p for c, p in zip(g["old_context"], plain, strict=True)]
            completions += [
                ids[m.bool()] for ids, m in zip(g["completion_ids"], g["completion_mask"], strict=True)
            ]
        if not self.any_process(bool(contexts)):
            return groups
        fresh, start = self.logps_on(contexts, completions), 0
        for g in todo:
            old = g["old_per_token_logps"]
            rows, width = old.shape
            part = fresh[start : start + rows, :width]
            block = torch.nn.functional.pad(part, (0, width - part.size(1)))  # the group's own width
            has = ~torch.isnan(old).all(dim=1)
            g["old_per_token_logps"] = torch.where(has[:, None], block, old)
            start += rows
        return groups

    @torch.no_grad()
    def ref_logps(self, batch):
        """Reference log-probs of the batch's completions on its (plain) prompts, as TRL computes them."""
        args = (
            torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1),
            torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1),
            batch["completion_ids"].size(1),
        )
        batch_size = self.args.per_device_train_batch_size
        if self.ref_model is not None:
            return self._get_per_token_logps_and_entropies(self.ref_model, *args, batch_size=batch_size)[0]
        model = self.accelerator.unwrap_model(self.model)  # PEFT: base model or the "ref" adapter
        with use_adapter(model, adapter_name="ref" if "ref" in model.peft_config else None):
            return self._get_per_token_logps_and_entropies(self.model, *args, batch_size=batch_size)[0]

    # ---------- rollouts and advantages ----------
    def _generate_and_score_completions(self, inputs):
        if self.sampler is not None and self.model.training:
            batch = self.sampler(self, inputs)
        else:
            batch = self.sample_round(inputs)
        return self._finish(batch)

    def _finish(self, batch: dict) -> dict:
        """Advantages and clip ranges over the whole (gathered) generation batch; loss normalisers."""
        G, gather = self.num_generations, self.accelerator.gather
        n_local = batch["completion_ids"].size(0)
        start = self.accelerator.process_index * n_local
        local = slice(start, start + n_local)
        rewards, scores = gather(batch["rewards"]), gather(batch["scores"])
        ids, mask = batch["completion_ids"], batch["completion_mask"]
        truncated = gather(rows_.truncated(ids, mask, self.eos_token_ids))
        advantages, stats = self.advantage_fn(
            rewards, G, correct=scores >= 0.5, lengths=gather(mask.sum(dim=1)), truncated=truncated,
            **self.advantage_kwargs,
        )  # fmt: skip
        for key, value in stats.items():
            self.log_metric(f"{self.method['advantage']['name']}/{key}", value)
        std = core.group_std(rewards, G)
        keep = batch["keep"]
        self.log_metric("frac_zero_std", (std == 0).float().mean())
        self.log_metric("frac_kept", gather(keep).mean())
        # The clip rule sees the whole generation batch (ETR's batch means), not one micro-batch.
        eps_low_i, eps_high_i, clip_stats = self.clip_fn(
            advantages, std, eps_low=self.epsilon_low, eps_high=self.epsilon_high, **self.clip_kwargs
        )
        if self.method["clip"]["name"] != "fixed":
            for key, value in clip_stats.items():
                self.log_metric(f"{self.method['clip']['name']}/{key}", value)
        out = {k: batch[k] for k in TRL_KEYS if k in batch}
        out["advantages"] = advantages[local]
        out["eps_low_i"] = eps_low_i[local]
        out["eps_high_i"] = eps_high_i[local]
        out["keep"] = keep
        out["hinted"] = batch["hinted"]
        out["num_items_in_batch"] = gather((mask * keep[:, None]).sum()).sum()
        out["num_seqs_in_batch"] = gather(((mask.sum(dim=1) > 0) * keep).sum()).sum()
        return out

    # ---------- micro-batches: length buckets inside each optimizer update ----------
    def _prepare_inputs(self, generation_batch):
        """TRL's buffering (GRPOTrainer._prepare_inputs: generate every steps_per_generation x num_iterations
        steps, shuffle, split into steps_per_generation micro-batches), with the rows of each optimizer
        update sorted by completion length before the split (issue 23), so `_trim_padding` cuts most of
        each micro-batch's padding. Exact: TRL's shuffle still decides which rows form which update; only
        their order inside one update changes, whose micro-batch gradients are summed (the normalisers are
        the whole update's counts, `_finish`), and advantages / clip ranges were set before, per row."""
        spg, accum = self.args.steps_per_generation, self.args.gradient_accumulation_steps
        if not self.model.training or spg % accum:  # an update straddling two generations: TRL's own way
            return super()._prepare_inputs(generation_batch)
        if self._step % (spg * self.num_iterations) == 0 or self._buffered_inputs is None:
            batch = shuffle_sequence_dict(self._generate_and_score_completions(generation_batch))
            self._buffered_inputs = split_tensor_dict(self._sort_updates_by_length(batch, spg // accum), spg)
        return self._buffered_inputs[self._step % spg]

    @staticmethod
    def _sort_updates_by_length(batch: dict, updates: int) -> dict:
        """Sort the rows of each of the `updates` equal consecutive blocks by completion length (stable)."""
        lengths = batch["completion_mask"].sum(dim=1).cpu()
        size = lengths.numel() // updates
        order = torch.cat([
            u * size + torch.sort(lengths[u * size : (u + 1) * size], stable=True).indices
            for u in range(updates)
        ])  # fmt: skip

        def permute(v):
            if v is None or (torch.is_tensor(v) and v.dim() == 0):
                return v
            return v[order.to(v.device)] if torch.is_tensor(v) else [v[i] for i in order.tolist()]

        return {k: permute(v) for k, v in batch.items()}

    # ---------- loss ----------
    def _compute_loss(self, model, inputs):
        """core.policy_loss x the method's loss transforms x aggregation (+ beta x KL)."""
        inputs = self._trim_padding(inputs)
        prompt_ids, completion_ids = inputs["prompt_ids"], inputs["completion_ids"]
        completion_mask = inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([inputs["prompt_mask"], completion_mask], dim=1)
        logp, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True
        )
        old = inputs.get("old_per_token_logps")
        old = logp.detach() if old is None else torch.where(torch.isnan(old), logp.detach(), old)
        advantages = inputs["advantages"]
        keep = inputs.get("keep", torch.ones_like(advantages))
        mask = completion_mask * keep[:, None]
        transforms = [t for t in (tr.bind(inputs) for tr in self.loss_transforms) if t is not None]
        per_token_loss, loss_stats = core.policy_loss(
            logp, old, advantages, mask, eps_low_i=inputs["eps_low_i"], eps_high_i=inputs["eps_high_i"],
            transforms=transforms,
        )  # fmt: skip
        if self.beta != 0.0:
            kl = self.kl_fn(logp, inputs["ref_per_token_logps"])
            per_token_loss = per_token_loss + self.beta * kl
            self.log_metric("kl", (kl * mask).sum() / mask.sum().clamp(min=1))
        loss = self._aggregate(per_token_loss, mask, inputs)
        self.log_metric("entropy", (entropies * completion_mask).sum() / completion_mask.sum().clamp(min=1))
        for key, value in loss_stats.items():
            if not (isinstance(value, float) and value != value):  # skip NaN stats (e.g. no hinted rows)
                self.log_metric(("guide/" if key != "clip_frac" else "") + key, value)
        return loss

    def _trim_padding(self, inputs: dict) -> dict:
        """Cut the micro-batch's completion columns to its own longest completion (issue 23).

        TRL pads the whole generation batch to its longest completion; the trailing columns every row
        masks out cost forward and backward but add nothing: attention is causal, so earlier positions
        do not see them, and the aggregation normalisers are batch-level counts carried in `inputs`."""
        mask = inputs["completion_mask"]
        width = int(mask.any(dim=0).nonzero().max().item()) + 1 if mask.any() else 1
        full = mask.size(1)
        if width == full:
            return inputs
        return {
            k: v[:, :width] if torch.is_tensor(v) and v.dim() >= 2 and v.size(1) == full and not k.startswith("prompt")
            else v
            for k, v in inputs.items()
        }  # fmt: skip

    def _aggregate(self, per_token_loss, mask, inputs):
        """Aggregation with TRL's gradient-accumulation normalisers (GRPOTrainer._compute_loss): token-mean
        divides by the kept tokens, seq-mean by the kept sequences, of the whole update (the generation
        batch's count x accumulation steps / steps per generation, per process), as TRL's "dapo" does."""
        train = self.model.training
        accum = self.current_gradient_accumulation_steps if train else 1.0
        kind = self.method.get("loss", "token-mean")
        count = {"token-mean": "num_items_in_batch", "seq-mean": "num_seqs_in_batch"}.get(kind)
        if count is None:
            loss = core.aggregate(
                per_token_loss, mask, kind, max_completion_length=self.max_completion_length
            )
            return loss / accum
        normalizer = inputs[count].clamp(min=1.0) / self.accelerator.num_processes
        if train:
            normalizer = normalizer * accum / self.args.steps_per_generation
        return core.aggregate(per_token_loss, mask, kind, num_items=normalizer)

    # ---------- checkpoints: the hooks' state (e.g. the carry-over buffer) travels with them ----------
    def _hooks_with_state(self) -> dict:
        hooks = [*self.round_hooks, self.sampler]
        return {type(h).__name__: h for h in hooks if h is not None and hasattr(h, "state_dict")}

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        hooks = self._hooks_with_state()
        if hooks:
            path = os.path.join(self.args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            name = (
                HOOK_STATE
                if self.accelerator.num_processes == 1
                else f"rank{self.accelerator.process_index}_{HOOK_STATE}"
            )
            torch.save({k: h.state_dict() for k, h in hooks.items()}, os.path.join(path, name))

    def load_hook_state(self, checkpoint: str) -> None:
        name = (
            HOOK_STATE
            if self.accelerator.num_processes == 1
            else f"rank{self.accelerator.process_index}_{HOOK_STATE}"
        )
        path = os.path.join(checkpoint, name)
        hooks = self._hooks_with_state()
        if hooks and os.path.exists(path):
            state = torch.load(path, weights_only=False)
            for key, hook in hooks.items():
                hook.load_state_dict(state[key])


class StepTimer(TrainerCallback):
    """Adds wall time per optimizer step, split into generate / score / rest (forward+backward)."""

    def __init__(self, trainer: RLVRTrainer):
        self.trainer = trainer

    def on_step_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()
        self.trainer._timers.clear()
        self.n_step_time = len(self.trainer._metrics["train"]["step_time"])

    def on_step_end(self, args, state, control, **kwargs):
        total = time.perf_counter() - self.t0
        timers = self.trainer._timers
        metrics = self.trainer._metrics["train"]
        # TRL's training_step has appended its own step_time (micro-batches only, no optimizer step);
        # averaged with ours it would log neither, so keep one entry per step: the whole step.
        del metrics["step_time"][self.n_step_time :]
        metrics["step_time"].append(total)
        metrics["time/generate"].append(timers.get("generate", 0.0))
        metrics["time/score"].append(timers.get("score", 0.0))
        metrics["time/backward"].append(total - timers.get("generate", 0.0) - timers.get("score", 0.0))
