"""`RLVRTrainer`: TRL's `GRPOTrainer` with the project's registered algorithm math plugged in.

Plumbing only. The math lives in `algos.py`:
- advantages come from a registered estimator (`grpo`, `adora`, ...) over the gathered rewards;
- the per-row clip range comes from a registered clip rule (`fixed`, `etr`);
- Guide-GRPO re-samples all-failed groups with the hint in context, keeps the hinted group only if
  it is mixed, and trains on it with old log-probs taken on the hinted context (METHODS.md sec. 2);
- Filter-GRPO (DAPO dynamic sampling without refill) drops groups whose rewards are all equal.

Everything else (generation, vLLM, DeepSpeed, logging, checkpoints) is TRL's and transformers'.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer
from trl.models import unwrap_model_for_generation
from trl.trainer.utils import pad, use_adapter

from . import algos, sampling
from .tasks import with_hint


class RLVRTrainer(GRPOTrainer):
    """GRPOTrainer whose advantages, clip rule, group filter and guidance come from `method`.

    `method` keys (see config/config.yaml `methods:`): `loss` (token-mean | seq-mean | dr-grpo),
    `advantage` ({name, **knobs}), `clip` ({name, eps_low, eps_high, **knobs}), `filter_groups`,
    `guide` ({enabled, shaping, shaping_kwargs, ratio_context: hinted | plain}).
    """

    def __init__(self, *args, method: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method
        self.advantage_fn = algos.get_advantage(method["advantage"]["name"])
        self.advantage_kwargs = {k: v for k, v in method["advantage"].items() if k != "name"}
        self.clip_fn = algos.get_clip_range(method["clip"]["name"])
        self.clip_kwargs = {
            k: v for k, v in method["clip"].items() if k not in ("name", "eps_low", "eps_high")
        }
        self.guide = method.get("guide") or {"enabled": False}
        if self.guide.get("enabled"):
            algos.get_shaping(self.guide.get("shaping", "percentile"))
        self._timers: dict[str, float] = {}
        if self.args.per_device_train_batch_size % self.num_generations:
            raise ValueError(
                "per_device_train_batch_size must hold whole groups (a multiple of num_generations)"
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
                self.eos_token_ids, self.top_p,
            )  # fmt: skip
        return completion_ids, None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        with self._timed("score"):
            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = (rewards_per_func * self.reward_weights.to(rewards_per_func.device)).nansum(
            dim=1
        )
        return rewards_per_func

    def _log(self, name: str, value) -> None:
        value = value.detach() if torch.is_tensor(value) else value
        self._metrics["train" if self.model.training else "eval"][name].append(float(value))

    # ---------- rollouts, guidance, advantages ----------
    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        G = self.num_generations
        rewards = self._last_rewards  # gathered over processes, (B_global,)
        n_local = out["completion_ids"].size(0)
        start = self.accelerator.process_index * n_local
        local = slice(start, start + n_local)
        self._log("accuracy", (rewards >= 0.5).float().mean())

        hinted = torch.zeros(n_local, dtype=torch.bool, device=rewards.device)
        if self.guide.get("enabled") and self.model.training:
            out, local_rewards, hinted = self._apply_guidance(inputs, out, rewards[local].clone())
            rewards = self.accelerator.gather(local_rewards)

        ids, mask = out["completion_ids"], out["completion_mask"]
        eos = torch.tensor(self.eos_token_ids, device=ids.device)
        truncated = ~(torch.isin(ids, eos) & mask.bool()).any(dim=1)
        lengths = self.accelerator.gather(mask.sum(dim=1))
        truncated = self.accelerator.gather(truncated)
        advantages, stats = self.advantage_fn(
            rewards, G, correct=rewards >= 0.5, lengths=lengths, truncated=truncated, **self.advantage_kwargs
        )
        for key, value in stats.items():
            self._log(f"{self.method['advantage']['name']}/{key}", value)

        std = algos.group_std(rewards, G)
        keep = torch.ones_like(rewards)
        if self.method.get("filter_groups"):
            keep = (std > 0).float()
        self._log("frac_zero_std", (std == 0).float().mean())
        self._log("frac_kept", keep.mean())

        # The clip rule sees the whole generation batch (ETR's batch means), not one micro-batch.
        eps_low_i, eps_high_i, clip_stats = self.clip_fn(
            advantages, std, eps_low=self.epsilon_low, eps_high=self.epsilon_high, **self.clip_kwargs
        )
        if self.method["clip"]["name"] != "fixed":
            for key, value in clip_stats.items():
                self._log(f"{self.method['clip']['name']}/{key}", value)

        out["advantages"] = advantages[local]
        out["eps_low_i"] = _per_row(eps_low_i, advantages)[local]
        out["eps_high_i"] = _per_row(eps_high_i, advantages)[local]
        out["keep"] = keep[local]
        out["hinted"] = hinted
        out["num_items_in_batch"] = self.accelerator.gather((mask * keep[local, None]).sum()).sum()
        return out

    def _apply_guidance(self, inputs, out, rewards):
        """Guide-GRPO steps 2-5 (METHODS.md sec. 2): re-sample all-failed groups with the hint.

        Every process calls the generator the same number of times (padding with a dummy group), so
        vLLM and gathers stay in lockstep. Returns the merged batch, local rewards and hinted flags.
        """
        G, device = self.num_generations, rewards.device
        n_groups = rewards.numel() // G
        failed = [g for g in range(n_groups) if rewards[g * G : (g + 1) * G].max() < 0.5]
        self._log("guide/frac_hinted", len(failed) / n_groups)
        n_max = int(self.accelerator.gather(torch.tensor([len(failed)], device=device)).max())
        hinted = torch.zeros(rewards.numel(), dtype=torch.bool, device=device)
        if n_max == 0:
            self._log("guide/hinted_success", float("nan"))
            return out, rewards, hinted

        groups = failed + [0] * (n_max - len(failed))
        rows = [inputs[g * G + j] for g in groups for j in range(G)]
        hinted_rows = [{**row, "prompt": with_hint(row["prompt"], row["hint"])} for row in rows]
        prompts = [row["prompt"] for row in hinted_rows]
        saved = {k: len(v) for k, v in self._metrics["train"].items()}
        prompt_ids_list, completion_ids_list, _, completions, *_ = self._generate(prompts)
        for k, v in self._metrics["train"].items():  # the hinted pass must not overwrite rollout stats
            del v[saved.get(k, 0) :]
        with self._timed("score"):
            scores = self.reward_funcs[0](prompts=prompts, completions=completions, **_columns(rows))
        hint_rewards = torch.tensor(scores, device=device, dtype=rewards.dtype)
        p = hint_rewards.view(-1, G).mean(dim=1)[: len(failed)]
        self._log("guide/hinted_success", hint_rewards[: len(failed) * G].mean())
        mixed = [(g, i) for i, g in enumerate(failed) if 0 < p[i] < 1]
        self._log("guide/frac_replaced", len(mixed) / n_groups)
        if not mixed:
            return out, rewards, hinted

        c_ids = [torch.tensor(ids) for ids in completion_ids_list]
        hint_ids = pad(
            [torch.tensor(ids) for ids in prompt_ids_list], self._tokenizer.pad_token_id, "left"
        ).to(device)
        hint_c = pad(c_ids, self._tokenizer.pad_token_id, "right").to(device)
        hint_cmask = pad([torch.ones_like(c) for c in c_ids], 0, "right").to(device)
        if self.guide.get("ratio_context", "hinted") == "hinted":
            with torch.no_grad():
                hint_old, _, _ = self._get_per_token_logps_and_entropies(
                    self.model,
                    torch.cat([hint_ids, hint_c], dim=1),
                    torch.cat([(hint_ids != self._tokenizer.pad_token_id).long(), hint_cmask], dim=1),
                    hint_c.size(1),
                    batch_size=self.args.per_device_train_batch_size,
                )
        else:  # ablation: ratio against the plain context, i.e. treat hinted samples as on-policy
            hint_old = torch.full(hint_c.shape, float("nan"), device=device)

        width = max(out["completion_ids"].size(1), hint_c.size(1))
        merged = {
            "completion_ids": _pad_to(out["completion_ids"], width, self._tokenizer.pad_token_id),
            "completion_mask": _pad_to(out["completion_mask"], width, 0),
            "old_per_token_logps": _pad_to(
                out.get(
                    "old_per_token_logps",
                    torch.full_like(out["completion_mask"], float("nan"), dtype=torch.float),
                ),
                width,
                0.0,
            ),
        }
        hint_c, hint_cmask, hint_old = (
            _pad_to(t, width, v) for t, v in ((hint_c, 0), (hint_cmask, 0), (hint_old, 0.0))
        )
        for g, i in mixed:
            dst, src = slice(g * G, (g + 1) * G), slice(i * G, (i + 1) * G)
            merged["completion_ids"][dst] = hint_c[src]
            merged["completion_mask"][dst] = hint_cmask[src]
            merged["old_per_token_logps"][dst] = hint_old[src]
            rewards[dst] = hint_rewards[src]
            hinted[dst] = True
        out.update(merged)
        if "ref_per_token_logps" in out:  # KL term: the reference must score the new completions too
            out["ref_per_token_logps"] = self._ref_per_token_logps(out)
        return out, rewards, hinted

    @torch.no_grad()
    def _ref_per_token_logps(self, out):
        """Reference log-probs of the batch's completions on its (plain) prompts, as TRL computes them."""
        args = (
            torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1),
            torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1),
            out["completion_ids"].size(1),
        )
        batch_size = self.args.per_device_train_batch_size
        if self.ref_model is not None:
            return self._get_per_token_logps_and_entropies(self.ref_model, *args, batch_size=batch_size)[0]
        model = self.accelerator.unwrap_model(self.model)  # PEFT: base model or the "ref" adapter
        with use_adapter(model, adapter_name="ref" if "ref" in model.peft_config else None):
            return self._get_per_token_logps_and_entropies(self.model, *args, batch_size=batch_size)[0]

    # ---------- loss ----------
    def _compute_loss(self, model, inputs):
        """Composed surrogate from `algos`: clip rule x hinted-token shaping x aggregation (+ k3 KL)."""
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

        hinted = inputs.get("hinted")
        per_token_loss, loss_stats = algos.policy_loss(
            logp, old, advantages, mask,
            eps_low_i=inputs["eps_low_i"], eps_high_i=inputs["eps_high_i"],
            hinted=hinted if hinted is not None and hinted.any() else None,
            shaping=self.guide.get("shaping", "percentile"),
            shaping_kwargs=self.guide.get("shaping_kwargs") or {},
        )  # fmt: skip
        if self.beta != 0.0:
            kl = algos.kl_k3(logp, inputs["ref_per_token_logps"])
            per_token_loss = per_token_loss + self.beta * kl
            self._log("kl", (kl * mask).sum() / mask.sum().clamp(min=1))
        loss = self._aggregate(per_token_loss, mask, inputs)

        self._log("entropy", (entropies * completion_mask).sum() / completion_mask.sum().clamp(min=1))
        for key, value in loss_stats.items():
            if not (isinstance(value, float) and value != value):  # skip NaN stats (e.g. no hinted rows)
                self._log(("guide/" if key != "clip_frac" else "") + key, value)
        return loss

    def _aggregate(self, per_token_loss, mask, inputs):
        """Loss aggregation with TRL's gradient-accumulation normalisers (see GRPOTrainer._compute_loss)."""
        mode = "train" if self.model.training else "eval"
        accum = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        kind = self.method.get("loss", "token-mean")
        if kind == "token-mean":
            normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
            if mode == "train":
                normalizer = normalizer * accum / self.args.steps_per_generation
            return algos.aggregate(per_token_loss, mask, kind, num_items=normalizer)
        loss = algos.aggregate(per_token_loss, mask, kind, max_completion_length=self.max_completion_length)
        return loss / accum


def _columns(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k not in ("prompt", "completion")]
    return {k: [r[k] for r in rows] for k in keys}


def _per_row(eps, like: torch.Tensor) -> torch.Tensor:
    return eps if torch.is_tensor(eps) else torch.full_like(like, float(eps))


def _pad_to(t: torch.Tensor, width: int, value) -> torch.Tensor:
    if t.size(1) >= width:
        return t.clone()
    return torch.nn.functional.pad(t, (0, width - t.size(1)), value=value)


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
