"""ETR, Elastic Trust Region: a per-row PPO clip range (docs/METHODS.md §3; arXiv 2601.03723, abstract only).

No public code. The abstract names two mechanisms; the formulas are the project's reading, every
constant a config knob under `clip:`:

    s_i = clamp((|A_i| / mean_{j: A_j != 0} |A_j|)^kappa, s_min, s_max)          micro (|A|)
    m_i = clamp(std_g(i) / mean_{j: std_j > 0} std_g(j), s_min, s_max)             macro (group reward std)
    f_i = s_i * m_i / mean_{j: A_j != 0} (s_j * m_j)                                batch mean of f is 1
    eps_high_i = eps_high * f_i,   eps_low_i = min(eps_low * f_i, eps_low_max)      eps_low_max: the cap

The cap keeps the lower bound of the ratio, 1 - eps_low_i, above 1 - eps_low_max: without it a row with
f_i >= 1 / eps_low (5 at eps_low 0.2, reachable once normalised) has no lower clip at all.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .core import ZERO_TOL, Stats, clip_stats, register_clip_range


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
    """Raw (unnormalised) ETR factors (s_i, m_i), shape (B,) each; a disabled one is all ones (§3).

    The macro mean runs over rows; with equal group sizes it equals the mean over groups.
    """
    abs_adv = advantages.float().abs()
    active = abs_adv > ZERO_TOL
    s = torch.ones_like(abs_adv)
    m = torch.ones_like(abs_adv)
    if micro and active.any():
        rel = abs_adv / abs_adv[active].mean()
        s = rel.pow(kappa).clamp(s_min, s_max)
    std = group_std.float()
    spread = std > ZERO_TOL
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
    eps_low_max: float | None = None,
) -> tuple[Tensor, Tensor, Stats]:
    """ETR per-row clip range (equations at the top of this file; docs/METHODS.md §3).

    reading (all unspecified by the paper's public text): the factor formulas, kappa=1, s_min=0.5,
    s_max=2, the product, the normalisation so that the batch average of the clip range over rows with
    A != 0 equals eps0 (a fair comparison with GRPO), and the cap eps_low_max (None: no cap). The clamp
    bounds the raw factors; after normalisation a factor can leave [s_min, s_max]. Rows with A = 0 get
    f = 1 (no gradient). micro / macro switch the factors off for the ablations. Call it on the whole
    generation batch (all groups), not a micro-batch, so the means are the batch means.
    Stats over rows with A != 0: clip_mean, clip_min, clip_max of eps_high_i; frac_low_capped.
    """
    s, m = etr_factors(advantages, group_std, micro=micro, macro=macro, kappa=kappa, s_min=s_min, s_max=s_max)
    active = advantages.abs() > ZERO_TOL
    f = s * m
    if normalize and active.any():
        f = f / f[active].mean()
    f = torch.where(active, f, torch.ones_like(f))
    high = eps_high * f
    low = eps_low * f
    stats = clip_stats(high, active)
    if eps_low_max is not None:
        capped = low > eps_low_max
        low = low.clamp(max=eps_low_max)
        stats["frac_low_capped"] = capped[active].float().mean().item() if active.any() else 0.0
    return low, high, stats
