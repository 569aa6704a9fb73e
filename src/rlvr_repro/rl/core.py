"""Shared RL math and the registries every paper module plugs into (docs/METHODS.md §0).

In the style of verl's `verl/trainer/ppo/core_algos.py`: each component is a function (or, for the
steps that need the trainer, a small class) in a name -> object registry, so a config string picks it.
No transformers/TRL imports here.

Notation (docs/METHODS.md §0): a prompt q has a group of G rollouts o_1..o_G with rewards R_i; rows are
grouped contiguously, rows [g*G:(g+1)*G] are group g; p_g = share of correct rollouts in group g;
r_{i,t} = pi_theta(o_{i,t} | q, o_{i,<t}) / pi_old(o_{i,t} | ., o_{i,<t}).

    GRPO advantage    A_i = (R_i - mean_g R) / (std_g R + eps)                  DeepSeekMath Eq. 3
    PPO clip          l_{i,t} = -min(r A_i, clip(r, 1 - eps_low_i, 1 + eps_high_i) A_i)   PPO Eq. 7
    k3 KL             exp(d) - d - 1,  d = log pi_ref - log pi_theta            GRPO Eq. 4
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Stats = dict[str, float]

# Tolerance for "this advantage / std is zero" (all-equal float rewards can leave ~1e-17 residues).
ZERO_TOL = 1e-8

ADVANTAGES: dict[str, Callable[..., tuple[Tensor, Stats]]] = {}
CLIP_RANGES: dict[str, Callable[..., tuple[Tensor, Tensor, Stats]]] = {}
SHAPINGS: dict[str, Callable[..., tuple[Tensor, Stats]]] = {}
AGGREGATIONS: dict[str, Callable[..., Tensor]] = {}
KL_ESTIMATORS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {}
# Steps that need the trainer. A rollout hook class has `stage` ("round": runs on every sampled batch,
# in `order`; "sampler": decides how many rounds a step samples, at most one per method), a classmethod
# `applies(spec)` and `__call__`; a loss transform has `applies(spec)` and rewrites the per-token loss.
ROLLOUT_HOOKS: dict[str, type] = {}
LOSS_TRANSFORMS: dict[str, type] = {}

# Our aggregation names -> TRL GRPOConfig.loss_type (trl/trainer/grpo_trainer.py, `_compute_loss`).
TRL_LOSS_TYPE = {"token-mean": "dapo", "seq-mean": "grpo", "dr-grpo": "dr_grpo"}


# ---------------------------------------------------------------------------------------------------
# Registries
# ---------------------------------------------------------------------------------------------------


def _register(registry: dict, name: str) -> Callable:
    def decorator(obj):
        if name in registry:
            raise ValueError(f"{name!r} is already registered")
        registry[name] = obj
        return obj

    return decorator


def _lookup(registry: dict, kind: str, name: str):
    if name not in registry:  # the method modules register on import: import them all, then look again
        from . import load

        load()
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; valid names: {sorted(registry)}")
    return registry[name]


def register_advantage(name: str) -> Callable:
    return _register(ADVANTAGES, name)


def register_clip_range(name: str) -> Callable:
    return _register(CLIP_RANGES, name)


def register_shaping(name: str) -> Callable:
    return _register(SHAPINGS, name)


def register_aggregation(name: str) -> Callable:
    return _register(AGGREGATIONS, name)


def register_kl(name: str) -> Callable:
    return _register(KL_ESTIMATORS, name)


def register_rollout_hook(name: str) -> Callable:
    return _register(ROLLOUT_HOOKS, name)


def register_loss_transform(name: str) -> Callable:
    return _register(LOSS_TRANSFORMS, name)


def get_advantage(name: str) -> Callable[..., tuple[Tensor, Stats]]:
    return _lookup(ADVANTAGES, "advantage estimator", name)


def get_clip_range(name: str) -> Callable[..., tuple[Tensor, Tensor, Stats]]:
    return _lookup(CLIP_RANGES, "clip range", name)


def get_shaping(name: str) -> Callable[..., tuple[Tensor, Stats]]:
    return _lookup(SHAPINGS, "shaping", name)


def get_aggregation(name: str) -> Callable[..., Tensor]:
    return _lookup(AGGREGATIONS, "aggregation", name)


def get_kl(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    return _lookup(KL_ESTIMATORS, "KL estimator", name)


def registries() -> dict[str, dict]:
    """Every registry by the config key family that names its entries, after importing every module."""
    from . import load

    load()
    return {
        "advantage": ADVANTAGES,
        "clip": CLIP_RANGES,
        "shaping": SHAPINGS,
        "aggregation": AGGREGATIONS,
        "kl": KL_ESTIMATORS,
        "rollout_hook": ROLLOUT_HOOKS,
        "loss_transform": LOSS_TRANSFORMS,
    }


def registry_names() -> dict[str, list[str]]:
    """The names each registry accepts, e.g. {"advantage": ["adora", "grpo"], ...} (for config checks)."""
    return {kind: sorted(reg) for kind, reg in registries().items()}


def rollout_hooks(spec: dict) -> tuple[list, object | None]:
    """The method's hooks, instantiated fresh (no state shared between runs): round hooks in `order`,
    and the sampler hook (None: one round per step)."""
    hooks = [cls(spec) for cls in registries()["rollout_hook"].values() if cls.applies(spec)]
    samplers = [h for h in hooks if h.stage == "sampler"]
    if len(samplers) > 1:
        raise ValueError(f"a method can use one sampler hook, got {[type(h).__name__ for h in samplers]}")
    rounds = sorted((h for h in hooks if h.stage == "round"), key=lambda h: h.order)
    return rounds, (samplers[0] if samplers else None)


def loss_transforms(spec: dict) -> list:
    return [cls(spec) for cls in registries()["loss_transform"].values() if cls.applies(spec)]


# ---------------------------------------------------------------------------------------------------
# Group helpers
# ---------------------------------------------------------------------------------------------------


def grouped(x: Tensor, group_size: int) -> Tensor:
    """View a (B,) tensor as (B/G, G); rows of one group are contiguous."""
    if group_size < 1 or x.numel() % group_size:
        raise ValueError(f"batch of {x.numel()} rows does not split into groups of {group_size}")
    return x.reshape(-1, group_size)


def group_std(rewards: Tensor, group_size: int) -> Tensor:
    """Per-row std_g(R) of the row's group, shape (B,).

    Unbiased (Bessel) std, as `torch.std` and TRL's `nanstd`; groups of one rollout get 0 (as TRL).
    Used for the GRPO denominator and ETR's macro factor.
    """
    g = grouped(rewards.float(), group_size)
    if group_size == 1:
        return torch.zeros_like(rewards, dtype=torch.float)
    return g.std(dim=1).repeat_interleave(group_size)


def zero_std_groups(rewards: Tensor, group_size: int) -> Tensor:
    """(B/G,) bool: the group's rewards are all equal (no learning signal under GRPO)."""
    g = grouped(rewards, group_size)
    return g.amax(dim=1) == g.amin(dim=1)


# ---------------------------------------------------------------------------------------------------
# Advantage: fn(rewards, group_size, *, correct, lengths, truncated, **knobs) -> (A (B,), stats)
# ---------------------------------------------------------------------------------------------------


@register_advantage("grpo")
def grpo_advantages(
    rewards: Tensor,
    group_size: int,
    *,
    correct: Tensor | None = None,
    lengths: Tensor | None = None,
    truncated: Tensor | None = None,
    scale: str = "group",
    eps: float = 1e-6,
) -> tuple[Tensor, Stats]:
    """GRPO outcome advantage, DeepSeekMath (arXiv 2402.03300) sec. 4.1.2, docs/METHODS.md §0.

        A_i = (R_i - mean_g R) / (std_g R + eps)

    std is the unbiased std (torch.std default), as verl's `compute_grpo_outcome_advantage` (Guide
    and ADORA code) and TRL's `nanstd`. eps = 1e-6 as in verl; TRL uses 1e-4 (pass eps=1e-4 for
    bitwise TRL parity).
    scale: "group" = std of the group; "batch" = std of the whole batch, mean still per group (TRL
    scale_rewards="batch"); "none" = no std division (Dr. GRPO, arXiv 2503.20783).
    correct / lengths / truncated are accepted and ignored.
    Stats: frac_zero_std = share of groups whose rewards are all equal (A = 0 there).
    """
    rewards = rewards.float()
    g = grouped(rewards, group_size)
    centred = (g - g.mean(dim=1, keepdim=True)).reshape(-1)
    if scale == "group":
        adv = centred / (group_std(rewards, group_size) + eps)
    elif scale == "batch":
        batch_std = rewards.std() if rewards.numel() > 1 else rewards.new_zeros(())
        adv = centred / (batch_std + eps)
    elif scale == "none":
        adv = centred
    else:
        raise ValueError(f"unknown scale {scale!r}; valid names: ['batch', 'group', 'none']")
    frac_zero = zero_std_groups(rewards, group_size).float().mean().item()
    return adv, {"frac_zero_std": frac_zero}


# ---------------------------------------------------------------------------------------------------
# Clip range: fn(advantages, group_std, *, eps_low, eps_high, **knobs) -> (eps_low_i, eps_high_i, stats)
# ---------------------------------------------------------------------------------------------------


def clip_stats(eps_high_i: Tensor, active: Tensor) -> Stats:
    vals = eps_high_i[active] if active.any() else eps_high_i
    return {"clip_mean": vals.mean().item(), "clip_min": vals.min().item(), "clip_max": vals.max().item()}


@register_clip_range("fixed")
def fixed_clip_range(
    advantages: Tensor, group_std: Tensor, *, eps_low: float, eps_high: float
) -> tuple[Tensor, Tensor, Stats]:
    """Constant clip range, PPO (arXiv 1707.06347) Eq. 7 / GRPO: eps_low_i = eps_low, eps_high_i = eps_high.

    DAPO clip-higher (arXiv 2503.14476 Eq. 10, docs/METHODS.md §4) is this with eps_high = 0.28.
    """
    low = torch.full_like(advantages, eps_low, dtype=torch.float)
    high = torch.full_like(advantages, eps_high, dtype=torch.float)
    return low, high, clip_stats(high, advantages.abs() > ZERO_TOL)


# ---------------------------------------------------------------------------------------------------
# Surrogate loss
# ---------------------------------------------------------------------------------------------------


def per_row(x: Tensor | float, like: Tensor) -> Tensor | float:
    """(B,) or (B,1) -> (B,1) for broadcasting over T; floats pass through."""
    if isinstance(x, Tensor):
        return x.reshape(-1, 1).to(like.dtype)
    return x


def clipped_objective(ratio: Tensor, adv: Tensor, eps_low, eps_high) -> Tensor:
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    return torch.min(ratio * adv, clipped * adv)


def policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    eps_low_i: Tensor | float,
    eps_high_i: Tensor | float,
    transforms: tuple = (),
) -> tuple[Tensor, Stats]:
    """Per-token loss (B,T) of the PPO-clip surrogate, unmasked (mask it in `aggregate`).

        r_{i,t} = exp(logp - old_logp);   l_{i,t} = -min(r A_i, clip(r, 1 - eps_low_i, 1 + eps_high_i) A_i)

    With constant eps and no transforms this is TRL GRPOTrainer `_compute_loss` (loss_type grpo / bnpo /
    dr_grpo / dapo) token for token. `transforms` are callables
    `t(per_token, ratio=, adv=, low=, high=, mask=, stats_mask=) -> (per_token, stats_mask, stats)` that
    rewrite some rows (Guide's hinted rows, guide.py); `stats_mask` is the set of tokens the clip
    statistic counts. advantages: (B,), (B,1) or per-token (B,T); eps_*_i: floats or (B,) tensors.
    Stats: clip_frac = share of counted tokens with (r < 1-eps_low & A < 0) | (r > 1+eps_high & A > 0)
    (TRL clip_ratio/region_mean), plus each transform's stats.
    """
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages  # (B,1) or (B,T), as TRL
    low, high = per_row(eps_low_i, logp), per_row(eps_high_i, logp)
    ratio = torch.exp(logp - old_logp)
    per_token = -clipped_objective(ratio, adv, low, high)
    stats_mask = mask.to(logp.dtype)
    stats: Stats = {}
    for transform in transforms:
        per_token, stats_mask, more = transform(
            per_token,
            ratio=ratio,
            adv=adv,
            low=low,
            high=high,
            mask=mask.to(logp.dtype),
            stats_mask=stats_mask,
        )
        stats.update(more)
    r = ratio.detach()
    region = ((r < 1 - low) & (adv < 0)) | ((r > 1 + high) & (adv > 0))
    n = stats_mask.sum()
    stats["clip_frac"] = (region * stats_mask).sum().div(n).item() if n > 0 else float("nan")
    return per_token, stats


# ---------------------------------------------------------------------------------------------------
# Aggregation over one micro-batch: fn(per_token_loss, mask, *, max_completion_length, num_items)
# ---------------------------------------------------------------------------------------------------


@register_aggregation("token-mean")
def token_mean(
    per_token_loss: Tensor, mask: Tensor, *, max_completion_length: int | None = None, num_items=None
) -> Tensor:
    """sum_{i,t} m l / sum_{i,t} m (DAPO arXiv 2503.14476 Eq. 8; TRL "dapo"/"bnpo").

    num_items replaces the denominator: the trainer passes the kept tokens of the whole update (TRL
    "dapo" divides by the token count of the accumulation window, not of the micro-batch).
    """
    mask = mask.to(per_token_loss.dtype)
    denom = mask.sum().clamp(min=1.0) if num_items is None else num_items
    return (per_token_loss * mask).sum() / denom


@register_aggregation("seq-mean")
def seq_mean(
    per_token_loss: Tensor, mask: Tensor, *, max_completion_length: int | None = None, num_items=None
) -> Tensor:
    """sum_i [ sum_t m l / sum_t m ] / N: original GRPO (arXiv 2402.03300 Eq. 3; TRL "grpo"), docs §0.

    N = the rows with at least one unmasked token (rows removed by filtering have an all-zero mask and
    do not count); num_items replaces N: the trainer passes the kept sequences of the whole update.
    """
    mask = mask.to(per_token_loss.dtype)
    n_tok = mask.sum(-1)
    per_seq = (per_token_loss * mask).sum(-1) / n_tok.clamp(min=1.0)
    denom = (n_tok > 0).sum().clamp(min=1) if num_items is None else num_items
    return per_seq.sum() / denom


@register_aggregation("dr-grpo")
def dr_grpo_mean(
    per_token_loss: Tensor, mask: Tensor, *, max_completion_length: int | None = None, num_items=None
) -> Tensor:
    """sum_{i,t} m l / (B * L_max): Dr. GRPO (arXiv 2503.20783 sec. 3.2; TRL "dr_grpo")."""
    if max_completion_length is None:
        raise ValueError("dr-grpo aggregation needs max_completion_length")
    mask = mask.to(per_token_loss.dtype)
    return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_completion_length)


def aggregate(
    per_token_loss: Tensor,
    mask: Tensor,
    loss_type: str,
    *,
    max_completion_length: int | None = None,
    num_items=None,
) -> Tensor:
    """Reduce a (B,T) per-token loss of one micro-batch to a scalar; loss_type names an AGGREGATIONS entry."""
    fn = get_aggregation(loss_type)
    return fn(per_token_loss, mask, max_completion_length=max_completion_length, num_items=num_items)


# ---------------------------------------------------------------------------------------------------
# KL to the reference policy: fn(logp, ref_logp) -> per-token estimate
# ---------------------------------------------------------------------------------------------------


@register_kl("k3")
def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 estimator of KL(pi_theta || pi_ref) (Schulman 2020; GRPO Eq. 4; TRL's term).

    d = ref_logp - logp;  k3 = exp(d) - d - 1 >= 0.
    """
    d = ref_logp - logp
    return torch.exp(d) - d - 1


@register_kl("low_var_kl")
def kl_low_var(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """verl's `low_var_kl` (core_algos.py `kl_penalty`), what ADORA.sh runs: k3 clamped to [-10, 10]."""
    return kl_k3(logp, ref_logp).clamp(min=-10.0, max=10.0)
