"""Pure-torch algorithm core: advantages, clip ranges, hinted-token shaping, the surrogate loss.

Kept apart from trainer plumbing (no transformers/TRL imports), in the style of verl's
`verl/trainer/ppo/core_algos.py`: each component is a function in a name -> function registry, so a
config string picks it. Specification: /work/shared/METHODS.md (sections cited as "M§n").

Notation (M§0): a prompt q has a group of G rollouts o_1..o_G with rewards R_i; rows are grouped
contiguously, rows [g*G:(g+1)*G] are group g; p_g = share of correct rollouts in group g;
r_{i,t} = pi_theta(o_{i,t} | q, o_{i,<t}) / pi_old(o_{i,t} | ., o_{i,<t}).

Where the sources leave a detail unspecified, the docstring says "reading:" and the choice is a
keyword argument.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Stats = dict[str, float]

# Tolerance for "this advantage / std is zero" (all-equal float rewards can leave ~1e-17 residues).
_ZERO_TOL = 1e-8

ADVANTAGES: dict[str, Callable[..., tuple[Tensor, Stats]]] = {}
CLIP_RANGES: dict[str, Callable[..., tuple[Tensor, Tensor, Stats]]] = {}
SHAPINGS: dict[str, Callable[..., tuple[Tensor, Stats]]] = {}
AGGREGATIONS: dict[str, Callable[..., Tensor]] = {}

# Our aggregation names -> TRL GRPOConfig.loss_type (trl/trainer/grpo_trainer.py, `_compute_loss`).
TRL_LOSS_TYPE = {"token-mean": "dapo", "seq-mean": "grpo", "dr-grpo": "dr_grpo"}


# ---------------------------------------------------------------------------------------------------
# Registries
# ---------------------------------------------------------------------------------------------------


def _register(registry: dict, name: str) -> Callable:
    def decorator(fn: Callable) -> Callable:
        if name in registry:
            raise ValueError(f"{name!r} is already registered")
        registry[name] = fn
        return fn

    return decorator


def _lookup(registry: dict, kind: str, name: str) -> Callable:
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


def get_advantage(name: str) -> Callable[..., tuple[Tensor, Stats]]:
    return _lookup(ADVANTAGES, "advantage estimator", name)


def get_clip_range(name: str) -> Callable[..., tuple[Tensor, Tensor, Stats]]:
    return _lookup(CLIP_RANGES, "clip range", name)


def get_shaping(name: str) -> Callable[..., tuple[Tensor, Stats]]:
    return _lookup(SHAPINGS, "shaping", name)


def get_aggregation(name: str) -> Callable[..., Tensor]:
    return _lookup(AGGREGATIONS, "aggregation", name)


# ---------------------------------------------------------------------------------------------------
# Group helpers
# ---------------------------------------------------------------------------------------------------


def _grouped(x: Tensor, group_size: int) -> Tensor:
    """View a (B,) tensor as (B/G, G); rows of one group are contiguous."""
    if group_size < 1 or x.numel() % group_size:
        raise ValueError(f"batch of {x.numel()} rows does not split into groups of {group_size}")
    return x.reshape(-1, group_size)


def group_std(rewards: Tensor, group_size: int) -> Tensor:
    """Per-row std_g(R) of the row's group, shape (B,).

    Unbiased (Bessel) std, as `torch.std` and TRL's `nanstd`; groups of one rollout get 0 (as TRL).
    Used for the GRPO denominator and ETR's macro factor.
    """
    grouped = _grouped(rewards.float(), group_size)
    if group_size == 1:
        return torch.zeros_like(rewards, dtype=torch.float)
    return grouped.std(dim=1).repeat_interleave(group_size)


def _zero_std_groups(rewards: Tensor, group_size: int) -> Tensor:
    grouped = _grouped(rewards, group_size)
    return grouped.amax(dim=1) == grouped.amin(dim=1)


# ---------------------------------------------------------------------------------------------------
# 1. Advantage estimators: fn(rewards, group_size, *, correct, lengths, truncated, **knobs)
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
    """GRPO outcome advantage, DeepSeekMath (arXiv 2402.03300) sec. 4.1.2, M§0.

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
    grouped = _grouped(rewards, group_size)
    centred = (grouped - grouped.mean(dim=1, keepdim=True)).reshape(-1)
    if scale == "group":
        adv = centred / (group_std(rewards, group_size) + eps)
    elif scale == "batch":
        batch_std = rewards.std() if rewards.numel() > 1 else rewards.new_zeros(())
        adv = centred / (batch_std + eps)
    elif scale == "none":
        adv = centred
    else:
        raise ValueError(f"unknown scale {scale!r}; valid names: ['batch', 'group', 'none']")
    frac_zero = _zero_std_groups(rewards, group_size).float().mean().item()
    return adv, {"frac_zero_std": frac_zero}


ADORA_MODES = ("length-attenuate", "difficulty-amplify", "both")


def adora_length_advantage(
    correct: Tensor,
    lengths: Tensor,
    truncated: Tensor,
    group_size: int,
    *,
    edge_rule: str = "verl",
    exclude_truncated: bool = True,
) -> Tensor:
    """ADORA length criterion per group, shape (B/G,) bool: paper Eq. 5, M§1 steps 1-2.

        length advantage  <=>  max_{i correct} |o_i|  >  mean_{i wrong, not truncated} |o_i|

    The two official code paths disagree on empty sets; `edge_rule` picks one:

    | case                                    | "verl" (default)     | "openrlhf"           |
    |-----------------------------------------|----------------------|----------------------|
    | no correct rollout                      | fails (w = lam)      | holds (w = 1)        |
    | correct ones, every wrong one truncated | holds (w = 1)        | fails (w = lam)      |
    | no wrong rollout (all correct)          | holds (w = 1)        | fails (w = lam)      |

    "verl": ADORA/verl/trainer/ppo/core_algos.py `compute_grpo_outcome_advantage_ADORA` (the
    language-model path; max over an empty set = -inf, mean over an empty set = -inf).
    "openrlhf": ADORA_VL/openrlhf/trainer/ppo_utils/experience_maker_vl.py `weight_func` (vision path;
    empty mean = +inf, and a group without a correct rollout keeps weight 1).
    reading: default "verl", since this project trains language models.
    `truncated` marks rollouts cut at the generation cap. exclude_truncated=False keeps them in the
    wrong set: in the released ADORA.sh the cap test (length < 3900) can never fire because
    max_response_length is 2048, so that run effectively kept them.
    """
    pos = _grouped(correct.bool(), group_size)
    lens = _grouped(lengths.float(), group_size)
    neg = ~pos
    if exclude_truncated:
        neg = neg & ~_grouped(truncated.bool(), group_size)
    has_pos = pos.any(dim=1)
    n_neg = neg.sum(dim=1)
    max_pos = torch.where(pos, lens, torch.full_like(lens, -torch.inf)).amax(dim=1)
    mean_neg = (lens * neg).sum(dim=1) / n_neg.clamp(min=1)
    longer = max_pos > mean_neg
    if edge_rule == "verl":
        return has_pos & ((n_neg == 0) | longer)
    if edge_rule == "openrlhf":
        return ~has_pos | ((n_neg > 0) & longer)
    raise ValueError(f"unknown edge_rule {edge_rule!r}; valid names: ['openrlhf', 'verl']")


@register_advantage("adora")
def adora_advantages(
    rewards: Tensor,
    group_size: int,
    *,
    correct: Tensor,
    lengths: Tensor,
    truncated: Tensor,
    mode: str = "difficulty-amplify",
    lam: float = 0.1,
    amplify: float = 2.0,
    tau: float = 0.5,
    edge_rule: str = "verl",
    exclude_truncated: bool = True,
    scale: str = "group",
    eps: float = 1e-6,
) -> tuple[Tensor, Stats]:
    """ADORA advantage: A_i^ADORA = w_g * A_i^GRPO (arXiv 2602.10019; M§1).

    Length criterion (Eq. 5, 2025 code `compute_grpo_outcome_advantage_ADORA`): groups without
    length advantage (see `adora_length_advantage`) get w_len = lam (0.1 in the code), else 1.
    Difficulty criterion (Eq. 6, 2026 paper via reviews): TAS when p_g <= tau, w_diff = amplify
    (2.0), else 1.
    mode: "length-attenuate" -> w = w_len; "difficulty-amplify" -> w = w_diff; "both" -> w_len * w_diff.
    reading: how the two criteria combine on language models is unspecified; "both" is the
    product, the default is "difficulty-amplify" (M§1).
    Edge cases: empty correct / wrong sets follow `edge_rule` (table in `adora_length_advantage`).
    An all-wrong group has p = 0 <= tau, so it is amplified; an all-equal-reward group has A = 0, so
    its weight is moot (it still enters the weight stats).
    Stats over groups: frac_up (w > 1), frac_down (w < 1), mean_weight; plus frac_zero_std.
    """
    if mode not in ADORA_MODES:
        raise ValueError(f"unknown ADORA mode {mode!r}; valid names: {sorted(ADORA_MODES)}")
    adv, stats = grpo_advantages(rewards, group_size, scale=scale, eps=eps)
    n_groups = adv.numel() // group_size
    weight = adv.new_ones(n_groups)
    if mode in ("length-attenuate", "both"):
        holds = adora_length_advantage(
            correct, lengths, truncated, group_size, edge_rule=edge_rule, exclude_truncated=exclude_truncated
        )
        weight = weight * torch.where(holds, 1.0, lam)
    if mode in ("difficulty-amplify", "both"):
        p = _grouped(correct.float(), group_size).mean(dim=1)
        weight = weight * torch.where(p <= tau, amplify, 1.0)
    stats.update(
        frac_up=(weight > 1).float().mean().item(),
        frac_down=(weight < 1).float().mean().item(),
        mean_weight=weight.mean().item(),
    )
    return adv * weight.repeat_interleave(group_size), stats


# ---------------------------------------------------------------------------------------------------
# 2. Clip ranges: fn(advantages, group_std, *, eps_low, eps_high, **knobs) -> (eps_low_i, eps_high_i)
# ---------------------------------------------------------------------------------------------------


def _clip_stats(eps_high_i: Tensor, active: Tensor) -> Stats:
    vals = eps_high_i[active] if active.any() else eps_high_i
    return {"clip_mean": vals.mean().item(), "clip_min": vals.min().item(), "clip_max": vals.max().item()}


@register_clip_range("fixed")
def fixed_clip_range(
    advantages: Tensor, group_std: Tensor, *, eps_low: float, eps_high: float
) -> tuple[Tensor, Tensor, Stats]:
    """Constant clip range, PPO (arXiv 1707.06347) Eq. 7 / GRPO: eps_low_i = eps_low, eps_high_i = eps_high.

    DAPO clip-higher (arXiv 2503.14476) is this with eps_high = 0.28.
    """
    low = torch.full_like(advantages, eps_low, dtype=torch.float)
    high = torch.full_like(advantages, eps_high, dtype=torch.float)
    return low, high, _clip_stats(high, advantages.abs() > _ZERO_TOL)


def etr_factors(
    advantages: Tensor,
    group_std: Tensor,
    *,
    micro: bool = True,
    macro: bool = True,
    kappa: float = 1.0,
    s_min: float = 0.5,
    s_max: float = 2.0,
) -> tuple[Tensor, Tensor]:
    """Raw (unnormalised) ETR factors (s_i, m_i), shape (B,) each; a disabled one is all ones (M§3).

        s_i = clamp((|A_i| / mean_{j: A_j != 0} |A_j|)^kappa, s_min, s_max)            micro
        m_i = clamp(std_g(i) / mean_{j: std_j > 0} std_g(j), s_min, s_max)               macro

    The macro mean runs over rows; with equal group sizes it equals the mean over groups.
    """
    abs_adv = advantages.float().abs()
    active = abs_adv > _ZERO_TOL
    s = torch.ones_like(abs_adv)
    m = torch.ones_like(abs_adv)
    if micro and active.any():
        rel = abs_adv / abs_adv[active].mean()
        s = rel.pow(kappa).clamp(s_min, s_max)
    std = group_std.float()
    spread = std > _ZERO_TOL
    if macro and spread.any():
        m = (std / std[spread].mean()).clamp(s_min, s_max)
    return s, m


@register_clip_range("etr")
def etr_clip_range(
    advantages: Tensor,
    group_std: Tensor,
    *,
    eps_low: float,
    eps_high: float,
    micro: bool = True,
    macro: bool = True,
    kappa: float = 1.0,
    s_min: float = 0.5,
    s_max: float = 2.0,
    normalize: bool = True,
) -> tuple[Tensor, Tensor, Stats]:
    """Elastic Trust Region clip range (arXiv 2601.03723, abstract only; M§3 reading).

        f_i = s_i * m_i                                  (factors from `etr_factors`)
        f_i <- f_i / mean_{j: A_j != 0} f_j              (normalize=True)
        eps_low_i = eps_low * f_i,  eps_high_i = eps_high * f_i

    reading (all unspecified by the paper's public text): the factor formulas, kappa=1, s_min=0.5,
    s_max=2, the product, and the normalisation so that the batch average of the clip range over
    rows with A != 0 equals eps0 (a fair comparison with GRPO). The clamp bounds the raw factors;
    after normalisation a factor can leave [s_min, s_max]. Rows with A = 0 get f = 1 (no gradient).
    micro / macro switch the factors off for the ablations. Call it on the whole generation batch
    (all groups), not a micro-batch, so the means are the batch means.
    Stats over rows with A != 0: clip_mean, clip_min, clip_max of eps_high_i.
    """
    s, m = etr_factors(advantages, group_std, micro=micro, macro=macro, kappa=kappa, s_min=s_min, s_max=s_max)
    active = advantages.abs() > _ZERO_TOL
    f = s * m
    if normalize and active.any():
        f = f / f[active].mean()
    f = torch.where(active, f, torch.ones_like(f))
    high = eps_high * f
    return eps_low * f, high, _clip_stats(high, active)


# ---------------------------------------------------------------------------------------------------
# 3. Hinted-token shaping (Guide): fn(ratio (B,T), hinted_mask (B,T), **knobs) -> (shaped ratio, stats)
# ---------------------------------------------------------------------------------------------------


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


@register_shaping("percentile")
def percentile_shaping(
    ratio: Tensor, hinted_mask: Tensor, *, q: float = 0.9, floor: float = 1e-4, scope: str = "row"
) -> tuple[Tensor, Stats]:
    """Guide ratio shaping with a percentile gamma (arXiv 2506.13923 sec. 3; M§2 step 6).

        gamma = max(quantile_q(r over hinted tokens), floor)   (detached)
        r'    = r / (r + gamma)                                  on hinted tokens; r elsewhere

    Official code: guide_rl verl/verl/trainer/ppo/core_algos.py `compute_policy_loss`,
    gamma_strategy="percentile" with gamma_value=0.9 (guide_grpo_qwen.sh), `torch.quantile` (linear
    interpolation) then `.clamp(min=1e-4).detach()`. It runs once per micro-batch
    (verl/verl/workers/actor/dp_actor.py `update_policy`), and the released config has
    ppo_micro_batch_size_per_gpu=1, so gamma is per sequence: scope="row" (default) matches that;
    scope="batch" takes one gamma over all hinted tokens of the call.
    The official quantile also spans the padded positions of the response window (it indexes
    whole hinted rows before the eos mask is applied; responses are padded to 3072). reading: that
    depends on the padding width, which differs between verl and TRL, so gamma is taken over the
    tokens `hinted_mask` marks; `policy_loss(gamma_include_padding=True)` widens the mask to whole rows.
    Stats: hinted_ratio_mean, shaped_ratio_mean, shaped_ratio_max, gamma (mean over rows for "row").
    """
    sel = hinted_mask > 0
    r = ratio.detach().float()
    if scope == "row":
        per_row = torch.nanquantile(torch.where(sel, r, torch.nan), q, dim=1, keepdim=True)
        has_tokens = sel.any(dim=1, keepdim=True)
        gamma = torch.where(has_tokens, per_row.clamp(min=floor), torch.ones_like(per_row))
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

    Official: guide_rl core_algos.py `compute_policy_loss`, gamma_strategy="constant" (the default
    strategy of verl/verl/trainer/config/ppo_trainer.yaml, gamma_value 1.0 there).
    """
    shaped = _on_hinted(ratio, ratio / (ratio + gamma), hinted_mask)
    return shaped, _shaping_stats(ratio, shaped, hinted_mask, gamma)


@register_shaping("power")
def power_shaping(ratio: Tensor, hinted_mask: Tensor, *, gamma: float = 0.5) -> tuple[Tensor, Stats]:
    """Guide shaping as a power: r' = r^gamma on hinted tokens.

    Official: guide_rl core_algos.py `compute_policy_loss`, gamma_strategy="power"
    (`torch.pow(ratio, gamma_value)`). reading: no released config uses it, so gamma = 0.5 is ours
    (gamma = 1 is the identity).
    """
    shaped = _on_hinted(ratio, ratio.pow(gamma), hinted_mask)
    return shaped, _shaping_stats(ratio, shaped, hinted_mask, gamma)


@register_shaping("none")
def no_shaping(ratio: Tensor, hinted_mask: Tensor) -> tuple[Tensor, Stats]:
    """Ablation "without shaping": r' = r (the hinted tokens stay unclipped in `policy_loss`)."""
    return ratio, _shaping_stats(ratio, ratio, hinted_mask, float("nan"))


# ---------------------------------------------------------------------------------------------------
# 4. Surrogate loss
# ---------------------------------------------------------------------------------------------------


def _per_row(x: Tensor | float, like: Tensor) -> Tensor | float:
    """(B,) or (B,1) -> (B,1) for broadcasting over T; floats pass through."""
    if isinstance(x, Tensor):
        return x.reshape(-1, 1).to(like.dtype)
    return x


def _clipped_objective(ratio: Tensor, adv: Tensor, eps_low, eps_high) -> Tensor:
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
    hinted: Tensor | None = None,
    shaping: str = "percentile",
    shaping_kwargs: dict | None = None,
    clip_hinted: bool = False,
    gamma_include_padding: bool = False,
) -> tuple[Tensor, Stats]:
    """Per-token loss (B,T) of the composed surrogate, unmasked (mask it in `aggregate`).

    r_{i,t} = exp(logp - old_logp).
    Plain rows, PPO-clip (arXiv 1707.06347 Eq. 7; GRPO M§0) with per-row clip range:
        l_{i,t} = -min(r A_i, clip(r, 1 - eps_low_i, 1 + eps_high_i) A_i)
    Hinted rows, Guide (arXiv 2506.13923; M§2 steps 5-7; guide_rl core_algos.py `compute_policy_loss`),
    where old_logp came from the hinted context:
        l_{i,t} = -shape(r) A_i          (unclipped; clip_hinted=True applies the row's clip range to
                                          shape(r), an ablation: the official off_policy_clip_ratio
                                          line is commented out)
    With hinted=None and constant eps this is TRL GRPOTrainer `_compute_loss` (loss_type grpo / bnpo /
    dr_grpo / dapo) token for token.
    advantages: (B,), (B,1) or per-token (B,T); eps_*_i: floats or (B,) tensors; mask: (B,T) completion mask.
    Stats: clip_frac = share of masked plain tokens with (r < 1-eps_low & A < 0) | (r > 1+eps_high &
    A > 0) (TRL clip_ratio/region_mean); with hinted given also hinted_token_frac and the shaping stats.
    """
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages  # (B,1) or (B,T), as TRL
    low, high = _per_row(eps_low_i, logp), _per_row(eps_high_i, logp)
    ratio = torch.exp(logp - old_logp)
    per_token = -_clipped_objective(ratio, adv, low, high)
    mask_f = mask.to(logp.dtype)
    plain_mask = mask_f
    stats: Stats = {}
    if hinted is not None:
        hinted_rows = hinted.reshape(-1, 1).bool()
        row_mask = hinted_rows.to(logp.dtype).expand_as(mask_f)
        hinted_mask = row_mask if gamma_include_padding else row_mask * mask_f
        shaped, shape_stats = get_shaping(shaping)(ratio, hinted_mask, **(shaping_kwargs or {}))
        hinted_obj = _clipped_objective(shaped, adv, low, high) if clip_hinted else shaped * adv
        per_token = torch.where(hinted_rows, -hinted_obj, per_token)
        plain_mask = mask_f * (~hinted_rows).to(logp.dtype)
        n_tokens = mask_f.sum().clamp(min=1)
        stats["hinted_token_frac"] = ((row_mask * mask_f).sum() / n_tokens).item()
        stats.update(shape_stats)
    r = ratio.detach()
    region = ((r < 1 - low) & (adv < 0)) | ((r > 1 + high) & (adv > 0))
    n_plain = plain_mask.sum()
    stats["clip_frac"] = (region * plain_mask).sum().div(n_plain).item() if n_plain > 0 else float("nan")
    return per_token, stats


# ---------------------------------------------------------------------------------------------------
# 5. Aggregation over one micro-batch
# ---------------------------------------------------------------------------------------------------


@register_aggregation("token-mean")
def token_mean(
    per_token_loss: Tensor,
    mask: Tensor,
    *,
    max_completion_length: int | None = None,
    num_items: float | None = None,
) -> Tensor:
    """sum_{i,t} m l / sum_{i,t} m (DAPO arXiv 2503.14476 Eq. 8; TRL "dapo"/"bnpo").

    num_items replaces the denominator (TRL "dapo" divides by the token count of the whole
    accumulation window, not of the micro-batch).
    """
    mask = mask.to(per_token_loss.dtype)
    denom = mask.sum().clamp(min=1.0) if num_items is None else num_items
    return (per_token_loss * mask).sum() / denom


@register_aggregation("seq-mean")
def seq_mean(
    per_token_loss: Tensor,
    mask: Tensor,
    *,
    max_completion_length: int | None = None,
    num_items: float | None = None,
) -> Tensor:
    """mean_i ( sum_t m l / sum_t m ): original GRPO (arXiv 2402.03300 Eq. 3; TRL "grpo")."""
    mask = mask.to(per_token_loss.dtype)
    return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()


@register_aggregation("dr-grpo")
def dr_grpo_mean(
    per_token_loss: Tensor,
    mask: Tensor,
    *,
    max_completion_length: int | None = None,
    num_items: float | None = None,
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
    num_items: float | None = None,
) -> Tensor:
    """Reduce a (B,T) per-token loss of one micro-batch to a scalar; loss_type names an AGGREGATIONS entry."""
    fn = get_aggregation(loss_type)
    return fn(per_token_loss, mask, max_completion_length=max_completion_length, num_items=num_items)


# ---------------------------------------------------------------------------------------------------
# 6. KL, 7. pass@k
# ---------------------------------------------------------------------------------------------------


def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 estimator of KL(pi_theta || pi_ref) (Schulman 2020; GRPO Eq. 4; M§0).

    d = ref_logp - logp;  k3 = exp(d) - d - 1 >= 0.
    """
    d = ref_logp - logp
    return torch.exp(d) - d - 1
