"""ADORA: a per-group weight on the GRPO advantage from the group's own rollouts (docs/METHODS.md §1).

Paper: arXiv 2602.10019 (2026; the language-model setting is known from public reviews).
Code: github.com/ShadeCloak/ADORA, verl/trainer/ppo/core_algos.py `compute_grpo_outcome_advantage_ADORA`
(language models) and ADORA_VL/openrlhf/trainer/ppo_utils/experience_maker_vl.py `weight_func` (vision).

    A_i^ADORA = w_g * A_i^GRPO
    length criterion (Eq. 5):      holds_g  <=>  max_{i correct} |o_i|  >  mean_{i wrong, not truncated} |o_i|
                                   w_len = 1 if holds_g else lam (0.1)
    difficulty criterion (Eq. 6):  w_diff = amplify (2.0) if p_g <= tau (0.5) else 1
    mode: length-attenuate -> w_len;  difficulty-amplify -> w_diff;  both -> w_len * w_diff (reading)

Released runs (ADORA.sh) add a KL loss, coefficient 0.001, `low_var_kl`: config `rl.beta` / `rl.kl`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .core import Stats, grouped, grpo_advantages, register_advantage

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
    """ADORA length criterion per group, shape (B/G,) bool: paper Eq. 5, docs/METHODS.md §1 steps 1-2.

    The two official code paths disagree on empty sets; `edge_rule` picks one:

    | case                                    | "verl" (default)     | "openrlhf"           |
    |-----------------------------------------|----------------------|----------------------|
    | no correct rollout                      | fails (w = lam)      | holds (w = 1)        |
    | correct ones, every wrong one truncated | holds (w = 1)        | fails (w = lam)      |
    | no wrong rollout (all correct)          | holds (w = 1)        | fails (w = lam)      |

    "verl": the language-model path (max over an empty set = -inf, mean over an empty set = -inf).
    "openrlhf": the vision path (empty mean = +inf, and a group without a correct rollout keeps weight 1).
    reading: default "verl", since this project trains language models.
    `truncated` marks rollouts cut at the generation cap. exclude_truncated=False keeps them in the
    wrong set: in the released ADORA.sh the cap test (length < 3900) can never fire because
    max_response_length is 2048, so that run effectively kept them.
    """
    pos = grouped(correct.bool(), group_size)
    lens = grouped(lengths.float(), group_size)
    neg = ~pos
    if exclude_truncated:
        neg = neg & ~grouped(truncated.bool(), group_size)
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
    """ADORA advantage A_i = w_g * A_i^GRPO (docs/METHODS.md §1; equations at the top of this file).

    reading: how the two criteria combine on language models is unspecified; "both" is the product,
    the default is "difficulty-amplify" (the 2026 paper's language-model setting).
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
        p = grouped(correct.float(), group_size).mean(dim=1)
        weight = weight * torch.where(p <= tau, amplify, 1.0)
    stats.update(
        frac_up=(weight > 1).float().mean().item(),
        frac_down=(weight < 1).float().mean().item(),
        mean_weight=weight.mean().item(),
    )
    return adv * weight.repeat_interleave(group_size), stats
