"""Guide-GRPO: re-sample all-failed prompts with a hint, train on the plain context (docs/METHODS.md §2).

Paper: arXiv 2506.13923. Code: github.com/vaskar-open-source-research/guide_rl (a verl fork):
verl/verl/trainer/ppo/ray_trainer.py `rollout` / `_roll_with_prompt_variant` (re-sampling),
verl/verl/workers/actor/dp_actor.py (old log-probs), verl/verl/trainer/ppo/core_algos.py
`compute_policy_loss` (shaping); run config guide_grpo_qwen.sh.

    failed group (p_g = 0)  ->  G new rollouts from (q, hint); they replace the group if 0 < p < 1
    hinted row:   r = pi_theta(o_t | q, o_<t) / pi_old(o_t | q, hint, o_<t)     ratio_context: hinted
                  r = pi_theta(o_t | q, o_<t) / pi_old(o_t | q, o_<t)           ratio_context: plain (ablation,
                                                                                importance_weighted_reroll=False)
                  l = -shape(r) A,  shape(r) = r / (r + gamma),  gamma = quantile_0.9(r) (detached, >= 1e-4)
                  hinted tokens are not clipped
    plain row:    l = -min(r A, clip(r, 1 - eps, 1 + eps) A)

Each round of sampling runs the re-sampling (`GuideHints`, a round hook), so with refill
(dapo.py `DynamicSampling`) every round is plain rollouts -> hint re-sampling of the failed ones ->
keep the mixed groups, as guide_rl's `rollout` loop orders it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import batch as rows_
from .core import (
    Stats,
    clipped_objective,
    get_shaping,
    per_row,
    policy_loss,
    register_loss_transform,
    register_rollout_hook,
    register_shaping,
)


def _shaping_stats(ratio: Tensor, shaped: Tensor, hinted_mask: Tensor, gamma: float) -> Stats:
    sel = hinted_mask > 0
    if not sel.any():
        nan = float("nan")
        return {"hinted_ratio_mean": nan, "shaped_ratio_mean": nan, "shaped_ratio_max": nan, "gamma": nan}
    return {
        "hinted_ratio_mean": ratio.detach()[sel].float().mean().item(),
        "shaped_ratio_mean": shaped.detach()[sel].float().mean().item(),
        "shaped_ratio_max": shaped.detach()[sel].float().max().item(),
        "gamma": gamma,
    }


def _on_hinted(ratio: Tensor, shaped: Tensor, hinted_mask: Tensor) -> Tensor:
    return torch.where(hinted_mask > 0, shaped, ratio)


# ---------------------------------------------------------------------------------------------------
# Shapings: fn(ratio (B,T), hinted_mask (B,T), **knobs) -> (shaped ratio, stats)
# ---------------------------------------------------------------------------------------------------


@register_shaping("percentile")
def percentile_shaping(
    ratio: Tensor, hinted_mask: Tensor, *, q: float = 0.9, floor: float = 1e-4, scope: str = "row"
) -> tuple[Tensor, Stats]:
    """Guide ratio shaping with a percentile gamma (arXiv 2506.13923 sec. 3; docs/METHODS.md §2 step 6).

        gamma = max(quantile_q(r over hinted tokens), floor)   (detached)
        r'    = r / (r + gamma)                                  on hinted tokens; r elsewhere

    Official code: `compute_policy_loss`, gamma_strategy="percentile" with gamma_value=0.9
    (guide_grpo_qwen.sh), `torch.quantile` (linear interpolation) then `.clamp(min=1e-4).detach()`. It runs
    once per micro-batch (dp_actor.py `update_policy`), and the released config has
    ppo_micro_batch_size_per_gpu=1, so gamma is per sequence: scope="row" (default) matches that;
    scope="batch" takes one gamma over all hinted tokens of the call.
    The official quantile also spans the padded positions of the response window. reading: that depends
    on the padding width, which differs between verl and TRL, so gamma is taken over the tokens
    `hinted_mask` marks; `HintedRatio(gamma_include_padding=True)` widens the mask to whole rows.
    Stats: hinted_ratio_mean, shaped_ratio_mean, shaped_ratio_max, gamma (mean over rows for "row").
    """
    sel = hinted_mask > 0
    r = ratio.detach().float()
    if scope == "row":
        per_row_q = torch.nanquantile(torch.where(sel, r, torch.nan), q, dim=1, keepdim=True)
        has_tokens = sel.any(dim=1, keepdim=True)
        gamma = torch.where(has_tokens, per_row_q.clamp(min=floor), torch.ones_like(per_row_q))
        gamma_stat = gamma[has_tokens].mean().item() if has_tokens.any() else float("nan")
    elif scope == "batch":
        gamma_val = torch.quantile(r[sel], q).clamp(min=floor).item() if sel.any() else 1.0
        gamma = torch.tensor(gamma_val, dtype=ratio.dtype, device=ratio.device)
        gamma_stat = gamma_val
    else:
        raise ValueError(f"unknown scope {scope!r}; valid names: ['batch', 'row']")
    gamma = gamma.to(ratio.dtype)
    shaped = _on_hinted(ratio, ratio / (ratio + gamma), hinted_mask)
    return shaped, _shaping_stats(ratio, shaped, hinted_mask, gamma_stat)


@register_shaping("constant")
def constant_shaping(ratio: Tensor, hinted_mask: Tensor, *, gamma: float = 1.0) -> tuple[Tensor, Stats]:
    """Guide shaping with a fixed gamma: r' = r / (r + gamma) on hinted tokens.

    Official: `compute_policy_loss`, gamma_strategy="constant" (the default strategy of
    verl/verl/trainer/config/ppo_trainer.yaml, gamma_value 1.0 there).
    """
    shaped = _on_hinted(ratio, ratio / (ratio + gamma), hinted_mask)
    return shaped, _shaping_stats(ratio, shaped, hinted_mask, gamma)


@register_shaping("power")
def power_shaping(ratio: Tensor, hinted_mask: Tensor, *, gamma: float = 0.5) -> tuple[Tensor, Stats]:
    """Guide shaping as a power: r' = r^gamma on hinted tokens.

    Official: `compute_policy_loss`, gamma_strategy="power" (`torch.pow(ratio, gamma_value)`).
    reading: no released config uses it, so gamma = 0.5 is ours (gamma = 1 is the identity).
    """
    shaped = _on_hinted(ratio, ratio.pow(gamma), hinted_mask)
    return shaped, _shaping_stats(ratio, shaped, hinted_mask, gamma)


@register_shaping("none")
def no_shaping(ratio: Tensor, hinted_mask: Tensor) -> tuple[Tensor, Stats]:
    """Ablation "without shaping": r' = r (the hinted tokens stay unclipped)."""
    return ratio, _shaping_stats(ratio, ratio, hinted_mask, float("nan"))


# ---------------------------------------------------------------------------------------------------
# The hinted-row loss: a transform of core.policy_loss
# ---------------------------------------------------------------------------------------------------


class HintedRows:
    """Rewrites the per-token loss of hinted rows to -shape(r) A (unclipped; clip_hinted=True clips
    shape(r) with the row's range, an ablation: guide_rl's off_policy_clip_ratio line is commented out)."""

    def __init__(self, hinted: Tensor, shaping="percentile", shaping_kwargs=None, clip_hinted=False,
                 gamma_include_padding=False):  # fmt: skip
        self.hinted = hinted.reshape(-1, 1).bool()
        self.shaping, self.kwargs = get_shaping(shaping), shaping_kwargs or {}
        self.clip_hinted, self.include_padding = clip_hinted, gamma_include_padding

    def __call__(self, per_token, *, ratio, adv, low, high, mask, stats_mask):
        row_mask = self.hinted.to(ratio.dtype).expand_as(mask)
        hinted_mask = row_mask if self.include_padding else row_mask * mask
        shaped, stats = self.shaping(ratio, hinted_mask, **self.kwargs)
        obj = clipped_objective(shaped, adv, low, high) if self.clip_hinted else shaped * adv
        per_token = torch.where(self.hinted, -obj, per_token)
        stats["hinted_token_frac"] = ((row_mask * mask).sum() / mask.sum().clamp(min=1)).item()
        return per_token, stats_mask * (~self.hinted).to(ratio.dtype), stats


def guided_policy_loss(logp, old_logp, advantages, mask, *, eps_low_i, eps_high_i, hinted=None,
                       shaping="percentile", shaping_kwargs=None, clip_hinted=False,
                       gamma_include_padding=False) -> tuple[Tensor, Stats]:  # fmt: skip
    """`core.policy_loss` with Guide's hinted rows (docs/METHODS.md §2 steps 5-7); hinted=None: plain PPO."""
    transforms = ()
    if hinted is not None:
        transforms = (HintedRows(hinted, shaping, shaping_kwargs, clip_hinted, gamma_include_padding),)
    return policy_loss(
        logp, old_logp, advantages, mask, eps_low_i=eps_low_i, eps_high_i=eps_high_i, transforms=transforms
    )


@register_loss_transform("guide_hinted")
class GuideLoss:
    """Loss transform of a Guide method: hinted rows of the micro-batch get the shaped, unclipped ratio."""

    @classmethod
    def applies(cls, spec: dict) -> bool:
        return bool((spec.get("guide") or {}).get("enabled"))

    def __init__(self, spec: dict):
        self.guide = spec["guide"]
        get_shaping(self.guide.get("shaping", "percentile"))

    def bind(self, inputs: dict):
        hinted = inputs.get("hinted")
        if hinted is None or not hinted.any():
            return None
        return HintedRows(hinted, self.guide.get("shaping", "percentile"), self.guide.get("shaping_kwargs"))


# ---------------------------------------------------------------------------------------------------
# The re-sampling: a round hook
# ---------------------------------------------------------------------------------------------------


@register_rollout_hook("guide_hints")
class GuideHints:
    """Guide-GRPO steps 2-5 (docs/METHODS.md §2): all-failed groups re-sampled with the hint in context.

    A hinted group replaces the failed one only if it is mixed (0 < p < 1: hint_accuracy bounds 0.001 /
    0.999 of guide_grpo_qwen.sh). Old log-probs of hinted rows are taken now, under the rollout policy:
    on the hinted context (importance_weighted_reroll=True, the released run) or on the plain context
    (`ratio_context: plain`, importance_weighted_reroll=False). The training context is always plain.
    Every process calls the generator the same number of times (padding with a dummy group), so vLLM
    and gathers stay in lockstep.
    """

    stage, order = "round", 10

    @classmethod
    def applies(cls, spec: dict) -> bool:
        return bool((spec.get("guide") or {}).get("enabled"))

    def __init__(self, spec: dict):
        self.ratio_context = spec["guide"].get("ratio_context", "hinted")
        if self.ratio_context not in ("hinted", "plain"):
            raise ValueError(
                f"unknown guide.ratio_context {self.ratio_context!r}; valid names: ['hinted', 'plain']"
            )

    def __call__(self, trainer, batch: dict) -> dict:
        from ..tasks import with_hint

        G, scores = trainer.num_generations, batch["scores"]
        device = scores.device
        n_groups = scores.numel() // G
        failed = [g for g in range(n_groups) if scores[g * G : (g + 1) * G].max() < 0.5]
        trainer.log_global("guide/frac_hinted", len(failed), n_groups)
        n_max = int(trainer.accelerator.gather(torch.tensor([len(failed)], device=device)).max())
        if n_max == 0:
            trainer.log_metric("guide/hinted_success", float("nan"))
            return batch

        groups = failed + [0] * (n_max - len(failed))
        rows = [batch["rows"][g * G + j] for g in groups for j in range(G)]
        hinted_rows = [{**row, "prompt": with_hint(row["prompt"], row["hint"])} for row in rows]
        prompt_ids, completion_ids, hint_scores = trainer.generate_and_score(hinted_rows)
        batch["generated"] = batch.get("generated", 0) + len(failed) * G
        hint_scores = hint_scores.to(device=device, dtype=scores.dtype)
        p = hint_scores.view(-1, G).mean(dim=1)[: len(failed)]
        trainer.log_global("guide/hinted_success", hint_scores[: len(failed) * G].sum(), len(failed) * G)
        mixed = [(g, i) for i, g in enumerate(failed) if 0 < p[i] < 1]
        trainer.log_global("guide/frac_replaced", len(mixed), n_groups)
        if not trainer.any_process(bool(mixed)):
            return batch
        if not mixed:  # the other processes score their hinted rows: run the same forward passes
            trainer.logps_on([], [])
            if "ref_per_token_logps" in batch:
                batch["ref_per_token_logps"] = trainer.ref_logps(batch)
            return batch

        src = [i * G + j for _, i in mixed for j in range(G)]
        dst = [g * G + j for g, _ in mixed for j in range(G)]
        c_ids = [torch.tensor(completion_ids[k]) for k in src]
        new_ids = _right_pad(c_ids, trainer.pad_token_id).to(device)
        new_mask = _right_pad([torch.ones_like(c) for c in c_ids], 0).to(device)
        plain = rows_.unpadded_prompts(batch)
        contexts = [prompt_ids[k] for k in src] if self.ratio_context == "hinted" else [plain[k] for k in dst]
        new_old = trainer.logps_on(contexts, c_ids)  # (rows, longest completion), as new_ids

        width = max(batch["completion_ids"].size(1), new_ids.size(1))
        for key, value in (("completion_ids", trainer.pad_token_id), ("completion_mask", 0)):
            batch[key] = _pad_to(batch[key], width, value)
        old = batch.get("old_per_token_logps")
        old = torch.full(batch["completion_mask"].shape, float("nan"), device=device) if old is None else old
        batch["old_per_token_logps"] = _pad_to(old, width, 0.0)
        new_ids, new_mask, new_old = (
            _pad_to(t, width, v) for t, v in ((new_ids, 0), (new_mask, 0), (new_old, 0.0))
        )
        idx = torch.tensor(dst, device=device)
        batch["completion_ids"][idx] = new_ids
        batch["completion_mask"][idx] = new_mask
        batch["old_per_token_logps"][idx] = new_old
        batch["rewards"][idx] = hint_scores[src]
        batch["scores"][idx] = hint_scores[src]
        batch["hinted"][idx] = True
        for k, d in zip(src, dst, strict=True):
            batch["old_context"][d] = prompt_ids[k] if self.ratio_context == "hinted" else None
        if "ref_per_token_logps" in batch:  # KL term: the reference must score the new completions too
            batch["ref_per_token_logps"] = trainer.ref_logps(batch)
        return batch


def _right_pad(tensors: list[Tensor], value) -> Tensor:
    width = max(t.numel() for t in tensors)
    return torch.stack([torch.nn.functional.pad(t, (0, width - t.numel()), value=value) for t in tensors])


def _pad_to(t: Tensor, width: int, value) -> Tensor:
    if t.size(1) >= width:
        return t.clone()
    return torch.nn.functional.pad(t, (0, width - t.size(1)), value=value)


__all__ = ["GuideHints", "GuideLoss", "HintedRows", "guided_policy_loss", "per_row"]
