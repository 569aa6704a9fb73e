"""Hand-computed checks of rlvr_repro.rl (core, adora, etr, guide) (arithmetic in the comments)."""

import math

import pytest
import torch

from rlvr_repro.rl import core
from rlvr_repro.rl.adora import adora_length_advantage
from rlvr_repro.rl.core import (
    AGGREGATIONS,
    TRL_LOSS_TYPE,
    aggregate,
    get_advantage,
    get_aggregation,
    get_clip_range,
    get_shaping,
    group_std,
    kl_k3,
)
from rlvr_repro.rl.etr import etr_factors
from rlvr_repro.rl.guide import guided_policy_loss as policy_loss

T = torch.tensor


def close(a, b, tol=1e-5):
    return torch.allclose(
        torch.as_tensor(a, dtype=torch.float), torch.as_tensor(b, dtype=torch.float), atol=tol
    )


def adv_inputs(correct, lengths=None, truncated=None):
    correct = T(correct, dtype=torch.bool)
    n = correct.numel()
    lengths = T(lengths if lengths is not None else [10] * n)
    truncated = T(truncated if truncated is not None else [False] * n)
    return {"correct": correct, "lengths": lengths, "truncated": truncated}


# ----------------------------------------------------------------------------------- registries


@pytest.mark.parametrize(
    "getter,names",
    [
        (get_advantage, ["adora", "grpo"]),
        (get_clip_range, ["etr", "fixed"]),
        (get_shaping, ["constant", "none", "percentile", "power"]),
        (get_aggregation, ["dr-grpo", "seq-mean", "token-mean"]),
    ],
)
def test_unknown_name_lists_valid_ones(getter, names):
    with pytest.raises(ValueError) as err:
        getter("nope")
    assert str(names) in str(err.value)
    for name in names:
        assert callable(getter(name))


def test_trl_loss_type_covers_aggregations():
    assert set(TRL_LOSS_TYPE) == set(AGGREGATIONS)
    assert TRL_LOSS_TYPE == {"token-mean": "dapo", "seq-mean": "grpo", "dr-grpo": "dr_grpo"}


def test_double_registration_refused():
    with pytest.raises(ValueError):
        core.register_advantage("grpo")(lambda *a, **k: None)


# ----------------------------------------------------------------------------------- group_std / GRPO


def test_group_std():
    # [1,0,0,1]: mean .5, unbiased var = 4 * .25 / 3 = 1/3, std = .57735; [2,2,2,2]: 0
    std = group_std(T([1.0, 0, 0, 1, 2, 2, 2, 2]), 4)
    assert close(std, [0.57735] * 4 + [0.0] * 4)
    assert close(group_std(T([1.0, 0.0]), 1), [0.0, 0.0])
    with pytest.raises(ValueError):
        group_std(T([1.0, 0, 0]), 2)


def test_grpo_group_scale():
    # group 1: A = ±.5 / (.57735 + 1e-6) = ±.866024; group 2 all equal -> 0
    rewards = T([1.0, 0, 0, 1, 1, 1, 1, 1])
    adv, stats = get_advantage("grpo")(rewards, 4, **adv_inputs([True] * 8))
    a = 0.5 / (1 / math.sqrt(3) + 1e-6)
    assert close(adv, [a, -a, -a, a, 0, 0, 0, 0])
    assert stats["frac_zero_std"] == 0.5


def test_grpo_none_and_batch_scale():
    rewards = T([1.0, 0, 0, 0, 1, 1, 1, 0])
    # none (Dr. GRPO): R - mean_g = [.75,-.25,-.25,-.25 | .25,.25,.25,-.75]
    centred = [0.75, -0.25, -0.25, -0.25, 0.25, 0.25, 0.25, -0.75]
    adv, _ = get_advantage("grpo")(rewards, 4, scale="none", **adv_inputs([True] * 8))
    assert close(adv, centred)
    # batch: 4 ones in 8, unbiased var = 8 * .25 / 7 = 2/7, std = .534522
    adv, _ = get_advantage("grpo")(rewards, 4, scale="batch", **adv_inputs([True] * 8))
    assert close(adv, [c / (math.sqrt(2 / 7) + 1e-6) for c in centred])
    assert close(adv[0], 1.403121)
    with pytest.raises(ValueError, match="valid names"):
        get_advantage("grpo")(rewards, 4, scale="bogus")


def test_grpo_ignores_extra_inputs_and_rejects_unknown_knob():
    rewards = T([1.0, 0])
    a1, _ = get_advantage("grpo")(rewards, 2)
    a2, _ = get_advantage("grpo")(rewards, 2, **adv_inputs([True, False], [5, 7]))
    assert torch.equal(a1, a2)
    with pytest.raises(TypeError):
        get_advantage("grpo")(rewards, 2, scael="group")


# ----------------------------------------------------------------------------------- ADORA


# Three groups of G=4 (rewards = correctness):
#   g0 correct [T,F,F,F] len [100,50,60,70]: max_pos 100 > mean_neg 60 -> length adv holds; p=.25<=.5
#   g1 correct [T,F,F,F] len [ 40,50,60,70]: 40 > 60 false -> fails;                         p=.25<=.5
#   g2 correct [T,T,T,F] len [ 10,20,30,100]: 30 > 100 false -> fails;                       p=.75 > .5
# GRPO A: one-of-four correct -> mean .25, std .5 -> [1.5,-.5,-.5,-.5]; three-of-four -> [.5,.5,.5,-1.5]
ADORA_CORRECT = [True, False, False, False, True, False, False, False, True, True, True, False]
ADORA_LENGTHS = [100, 50, 60, 70, 40, 50, 60, 70, 10, 20, 30, 100]
ADORA_GRPO = [1.5, -0.5, -0.5, -0.5, 1.5, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, -1.5]


@pytest.mark.parametrize(
    "mode,weights,frac_up,frac_down",
    [
        ("length-attenuate", [1.0, 0.1, 0.1], 0.0, 2 / 3),
        ("difficulty-amplify", [2.0, 2.0, 1.0], 2 / 3, 0.0),
        ("both", [2.0, 0.2, 0.1], 1 / 3, 2 / 3),  # products 2*1, 2*.1, 1*.1
    ],
)
def test_adora_modes(mode, weights, frac_up, frac_down):
    rewards = T(ADORA_CORRECT, dtype=torch.float)
    adv, stats = get_advantage("adora")(rewards, 4, mode=mode, **adv_inputs(ADORA_CORRECT, ADORA_LENGTHS))
    expected = [a * weights[i // 4] for i, a in enumerate(ADORA_GRPO)]
    assert close(adv, expected, tol=1e-4)
    assert stats["frac_up"] == pytest.approx(frac_up)
    assert stats["frac_down"] == pytest.approx(frac_down)
    assert stats["mean_weight"] == pytest.approx(sum(weights) / 3)


def test_adora_default_mode_is_difficulty_and_unknown_mode_raises():
    rewards = T(ADORA_CORRECT, dtype=torch.float)
    inputs = adv_inputs(ADORA_CORRECT, ADORA_LENGTHS)
    default, _ = get_advantage("adora")(rewards, 4, **inputs)
    amplified, _ = get_advantage("adora")(rewards, 4, mode="difficulty-amplify", **inputs)
    assert torch.equal(default, amplified)
    with pytest.raises(ValueError, match="valid names"):
        get_advantage("adora")(rewards, 4, mode="length", **inputs)


def test_adora_tau_boundary_and_knobs():
    # p = 2/4 = .5 <= tau=.5 -> amplified (Eq. 6 uses <=); tau=.4 -> not; amplify=3 scales by 3
    rewards = T([1.0, 1, 0, 0])
    inputs = adv_inputs([True, True, False, False])
    base, _ = get_advantage("grpo")(rewards, 4)
    adv, _ = get_advantage("adora")(rewards, 4, **inputs)
    assert close(adv, 2 * base)
    adv, _ = get_advantage("adora")(rewards, 4, tau=0.4, **inputs)
    assert close(adv, base)
    adv, _ = get_advantage("adora")(rewards, 4, amplify=3.0, **inputs)
    assert close(adv, 3 * base)


def test_adora_edge_no_correct():
    # rewards carry a format bonus so A != 0 without any correct rollout:
    # [.1,0,0,0]: mean .025, std .05 -> A = [1.5,-.5,-.5,-.5] (up to eps)
    rewards = T([0.1, 0, 0, 0])
    inputs = adv_inputs([False] * 4, [30, 10, 10, 10])
    base, _ = get_advantage("grpo")(rewards, 4)
    verl, _ = get_advantage("adora")(rewards, 4, mode="length-attenuate", **inputs)
    vl, _ = get_advantage("adora")(rewards, 4, mode="length-attenuate", edge_rule="openrlhf", **inputs)
    assert close(verl, 0.1 * base)  # verl code: max over empty = -inf -> criterion fails -> lam
    assert close(vl, base)  # VL code: no correct rollout -> weight stays 1


def test_adora_edge_all_wrong_truncated():
    # correct len 10; the three wrong ones hit the cap (len 100, truncated)
    kw = dict(lengths=T([10, 100, 100, 100]), truncated=T([False, True, True, True]), group_size=4)
    correct = T([True, False, False, False])
    assert adora_length_advantage(correct, **kw).tolist() == [True]  # verl: empty mean = -inf
    assert adora_length_advantage(correct, edge_rule="openrlhf", **kw).tolist() == [False]  # VL: +inf
    # keeping truncated ones in the wrong set: 10 > mean 100 false, both rules
    assert adora_length_advantage(correct, exclude_truncated=False, **kw).tolist() == [False]
    rewards = correct.float()
    adv, stats = get_advantage("adora")(
        rewards, 4, mode="length-attenuate", correct=correct, lengths=kw["lengths"], truncated=kw["truncated"]
    )
    assert close(adv, [1.5, -0.5, -0.5, -0.5], tol=1e-4) and stats["mean_weight"] == 1.0


def test_adora_edge_no_wrong():
    kw = dict(lengths=T([5, 6, 7, 8]), truncated=T([False] * 4), group_size=4)
    correct = T([True] * 4)
    assert adora_length_advantage(correct, **kw).tolist() == [True]  # verl: empty mean = -inf
    assert adora_length_advantage(correct, edge_rule="openrlhf", **kw).tolist() == [False]
    with pytest.raises(ValueError, match="valid names"):
        adora_length_advantage(correct, edge_rule="x", **kw)


def test_adora_edge_all_equal_rewards():
    # all wrong, binary: p = 0 <= .5 -> w = 2 (counted in frac_up), but A = 0 anyway
    rewards = T([0.0] * 4)
    adv, stats = get_advantage("adora")(rewards, 4, mode="both", **adv_inputs([False] * 4))
    assert torch.equal(adv, torch.zeros(4))
    # "both": length fails (verl, no correct) -> .1, difficulty -> 2: w = .2
    assert stats["mean_weight"] == pytest.approx(0.2) and stats["frac_zero_std"] == 1.0


# ----------------------------------------------------------------------------------- clip ranges


def test_fixed_clip_range():
    adv = T([1.0, -1.0, 0.0])
    low, high, stats = get_clip_range("fixed")(adv, torch.zeros(3), eps_low=0.2, eps_high=0.28)
    assert close(low, [0.2] * 3) and close(high, [0.28] * 3)
    assert stats == pytest.approx({"clip_mean": 0.28, "clip_min": 0.28, "clip_max": 0.28})


# Two mixed groups and one all-equal group (G=4)
ETR_ADV = T([1.5, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, -1.5, 0, 0, 0, 0])
ETR_STD = T([0.6] * 4 + [0.2] * 4 + [0.0] * 4)


def test_etr_micro_only():
    # mean|A| over non-zero = (1.5 + 3*.5 + 3*.5 + 1.5) / 8 = .75; s = |A|/.75 -> 2 or .6667
    # normalisation: (2*2 + 6*.6667) / 8 = 1, so f = s; zero-advantage rows get f = 1
    low, high, stats = get_clip_range("etr")(ETR_ADV, ETR_STD, eps_low=0.2, eps_high=0.2, macro=False)
    f = [2, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2, 1, 1, 1, 1]
    assert close(high, [0.2 * x for x in f]) and close(low, high)
    assert stats["clip_mean"] == pytest.approx(0.2)
    assert stats["clip_min"] == pytest.approx(0.2 * 2 / 3) and stats["clip_max"] == pytest.approx(0.4)


def test_etr_macro_only():
    # mean std over groups with std > 0 = (.6 + .2) / 2 = .4; m = 1.5 and .5; mean over active = 1
    low, high, _ = get_clip_range("etr")(ETR_ADV, ETR_STD, eps_low=0.2, eps_high=0.28, micro=False)
    assert close(high, [0.42] * 4 + [0.14] * 4 + [0.28] * 4)
    assert close(low, [0.3] * 4 + [0.1] * 4 + [0.2] * 4)


def test_etr_micro_times_macro():
    # f raw = s * m = [2*1.5, .667*1.5 x3 | .667*.5 x3, 2*.5] = [3,1,1,1 | 1/3,1/3,1/3,1]
    # mean over active = (3 + 3 + 1 + 1) / 8 = 1 -> unchanged
    _, high, stats = get_clip_range("etr")(ETR_ADV, ETR_STD, eps_low=0.2, eps_high=0.28)
    f = [3, 1, 1, 1, 1 / 3, 1 / 3, 1 / 3, 1, 1, 1, 1, 1]
    assert close(high, [0.28 * x for x in f])
    assert stats["clip_mean"] == pytest.approx(0.28)
    assert stats["clip_min"] == pytest.approx(0.28 / 3) and stats["clip_max"] == pytest.approx(0.84)


def test_etr_clamp_then_normalise():
    # one group A = [3,-1,-1,-1]: mean|A| = 1.5, rel = [2, 2/3, 2/3, 2/3]; kappa=2: [4, .444 x3]
    # clamp to [.5, 2]: [2, .5, .5, .5]; normalise by mean 3.5/4 = .875: [2.285714, .571429 x3]
    adv, std = T([3.0, -1, -1, -1]), T([1.0] * 4)
    s, m = etr_factors(adv, std, macro=False, kappa=2.0)
    assert close(s, [2, 0.5, 0.5, 0.5]) and close(m, [1.0] * 4)
    _, high, _ = get_clip_range("etr")(adv, std, eps_low=0.2, eps_high=0.2, macro=False, kappa=2.0)
    assert close(high, [0.2 * 2 / 0.875] + [0.2 * 0.5 / 0.875] * 3)
    _, high, _ = get_clip_range("etr")(
        adv, std, eps_low=0.2, eps_high=0.2, macro=False, kappa=2.0, normalize=False
    )
    assert close(high, [0.4, 0.1, 0.1, 0.1])


def test_etr_macro_clamp():
    # stds .9 and .1 -> mean .5 -> 1.8 and .2 -> clamp .5; normalise by (1.8 + .5)/2 = 1.15
    adv = T([1.0, -1.0, 1.0, -1.0])
    std = T([0.9, 0.9, 0.1, 0.1])
    _, high, _ = get_clip_range("etr")(adv, std, eps_low=0.2, eps_high=0.2, micro=False)
    assert close(high, [0.2 * 1.8 / 1.15] * 2 + [0.2 * 0.5 / 1.15] * 2)


def test_etr_batch_average_equals_eps0_random():
    g = torch.Generator().manual_seed(0)
    rewards = (torch.rand(64, generator=g) < 0.4).float()
    adv, _ = get_advantage("grpo")(rewards, 8)
    low, high, stats = get_clip_range("etr")(adv, group_std(rewards, 8), eps_low=0.2, eps_high=0.28)
    active = adv.abs() > 1e-8
    assert active.any()
    assert high[active].mean().item() == pytest.approx(0.28, rel=1e-5)
    assert low[active].mean().item() == pytest.approx(0.2, rel=1e-5)
    assert torch.all(high[~active] == 0.28)


def test_etr_all_zero_advantages_is_fixed():
    low, high, _ = get_clip_range("etr")(torch.zeros(4), torch.zeros(4), eps_low=0.2, eps_high=0.28)
    assert close(low, [0.2] * 4) and close(high, [0.28] * 4)


# ----------------------------------------------------------------------------------- shaping


def test_percentile_gamma_linear_quantile():
    # sorted [.5,1,1.5,2,3], q=.9: pos 4*.9 = 3.6 -> 2 + .6*(3-2) = 2.6
    r = T([[0.5, 1.0, 1.5, 2.0, 3.0]])
    shaped, stats = get_shaping("percentile")(r, torch.ones_like(r))
    assert stats["gamma"] == pytest.approx(2.6)
    assert close(shaped, r / (r + 2.6))  # e.g. .5/3.1 = .16129, 3/5.6 = .535714
    assert stats["shaped_ratio_max"] == pytest.approx(3 / 5.6, rel=1e-5)
    assert stats["hinted_ratio_mean"] == pytest.approx(1.6)


def test_percentile_only_counts_masked_tokens():
    # last token masked: [.5,1,1.5,2], pos 3*.9 = 2.7 -> 1.5 + .7*.5 = 1.85; the masked token is unshaped
    r = T([[0.5, 1.0, 1.5, 2.0, 3.0]])
    shaped, stats = get_shaping("percentile")(r, T([[1.0, 1, 1, 1, 0]]))
    assert stats["gamma"] == pytest.approx(1.85)
    assert close(shaped[0, :4], r[0, :4] / (r[0, :4] + 1.85)) and shaped[0, 4] == 3.0


def test_percentile_row_vs_batch_scope():
    # row 0 gamma 2.6; row 1 all ones -> gamma 1
    # batch: sorted [.5,1,1,1,1,1,1,1.5,2,3], pos 9*.9 = 8.1 -> 2 + .1*1 = 2.1
    r = T([[0.5, 1.0, 1.5, 2.0, 3.0], [1.0] * 5])
    mask = torch.ones_like(r)
    shaped, stats = get_shaping("percentile")(r, mask)
    assert close(shaped[1], [0.5] * 5) and close(shaped[0], r[0] / (r[0] + 2.6))
    assert stats["gamma"] == pytest.approx((2.6 + 1) / 2)
    shaped, stats = get_shaping("percentile")(r, mask, scope="batch")
    assert stats["gamma"] == pytest.approx(2.1) and close(shaped, r / (r + 2.1))
    with pytest.raises(ValueError, match="valid names"):
        get_shaping("percentile")(r, mask, scope="micro")


def test_percentile_floor():
    r = T([[1e-6, 2e-6, 3e-6]])
    shaped, stats = get_shaping("percentile")(r, torch.ones_like(r))
    assert stats["gamma"] == pytest.approx(1e-4)
    assert close(shaped, r / (r + 1e-4), tol=1e-9)


def test_percentile_gamma_is_detached():
    # d/dr [r / (r + gamma)] with gamma constant = gamma / (r + gamma)^2; one token: gamma = r = 2 -> 2/16
    r = T([[2.0]], requires_grad=True)
    shaped, _ = get_shaping("percentile")(r, torch.ones(1, 1))
    shaped.sum().backward()
    assert r.grad.item() == pytest.approx(2 / 16)


def test_percentile_rows_without_hinted_tokens_are_untouched_and_finite():
    r = T([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    shaped, _ = get_shaping("percentile")(r, T([[1.0, 1.0], [0.0, 0.0]]))
    assert torch.equal(shaped[1], T([3.0, 4.0]))
    shaped.sum().backward()
    assert torch.isfinite(r.grad).all()
    _, stats = get_shaping("percentile")(r, torch.zeros(2, 2))
    assert math.isnan(stats["gamma"])


def test_constant_power_none_shapings():
    r = T([[1.0, 4.0]])
    mask = T([[1.0, 1.0]])
    shaped, _ = get_shaping("constant")(r, mask)  # gamma 1: 1/2, 4/5
    assert close(shaped, [[0.5, 0.8]])
    shaped, _ = get_shaping("constant")(r, mask, gamma=4.0)  # 1/5, 4/8
    assert close(shaped, [[0.2, 0.5]])
    shaped, stats = get_shaping("power")(r, mask)  # r^.5: 1, 2
    assert close(shaped, [[1.0, 2.0]]) and stats["gamma"] == 0.5
    shaped, _ = get_shaping("power")(r, mask, gamma=2.0)
    assert close(shaped, [[1.0, 16.0]])
    shaped, _ = get_shaping("none")(r, mask)
    assert torch.equal(shaped, r)


# ----------------------------------------------------------------------------------- policy loss


def trl_per_token_loss(logp, old_logp, adv, eps_low, eps_high):
    """TRL GRPOTrainer._compute_loss, loss_type in grpo/bnpo/dr_grpo/dapo, token-level IS, delta None."""
    adv = adv.unsqueeze(1)
    coef_1 = torch.exp(logp - old_logp)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    return -torch.min(coef_1 * adv, coef_2 * adv), coef_1, adv


def test_policy_loss_matches_trl():
    g = torch.Generator().manual_seed(1)
    B, L = 4, 6
    logp = -torch.rand(B, L, generator=g) * 3
    old = logp + torch.randn(B, L, generator=g) * 0.3
    adv = torch.randn(B, generator=g)
    mask = (torch.rand(B, L, generator=g) < 0.8).float()
    mask[:, 0] = 1
    ours, stats = policy_loss(logp, old, adv, mask, eps_low_i=0.2, eps_high_i=0.28)
    ref, coef_1, adv2 = trl_per_token_loss(logp, old, adv, 0.2, 0.28)
    assert torch.allclose(ours, ref, atol=1e-7)
    region = ((coef_1 < 0.8) & (adv2 < 0)) | ((coef_1 > 1.28) & (adv2 > 0))
    assert stats["clip_frac"] == pytest.approx(((region * mask).sum() / mask.sum()).item())
    assert 0 < stats["clip_frac"] < 1
    # aggregation, TRL formulas
    seq = ((ref * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    tok = (ref * mask).sum() / mask.sum().clamp(min=1.0)
    assert torch.allclose(aggregate(ours, mask, "seq-mean"), seq)
    assert torch.allclose(aggregate(ours, mask, "token-mean"), tok)
    assert torch.allclose(
        aggregate(ours, mask, "dr-grpo", max_completion_length=10), (ref * mask).sum() / (B * 10)
    )
    assert torch.allclose(aggregate(ours, mask, "token-mean", num_items=37.0), (ref * mask).sum() / 37.0)
    # per-row tensors equal to the constants, and (B,1) advantages, give the same loss
    same, _ = policy_loss(
        logp, old, adv.unsqueeze(1), mask, eps_low_i=torch.full((B,), 0.2), eps_high_i=torch.full((B,), 0.28)
    )
    assert torch.allclose(same, ours)


def test_hinted_unclipped_plain_clipped():
    # r = 1.5, A = 1, eps .2. plain: -min(1.5, 1.2) = -1.2, d/dlogp = 0 (clipped)
    # hinted, no shaping: -r = -1.5, d/dlogp = -r = -1.5
    logp = torch.full((2, 1), math.log(1.5), requires_grad=True)
    old, adv, mask = torch.zeros(2, 1), T([1.0, 1.0]), torch.ones(2, 1)
    hinted = T([False, True])
    loss, stats = policy_loss(
        logp, old, adv, mask, eps_low_i=0.2, eps_high_i=0.2, hinted=hinted, shaping="none"
    )
    assert close(loss, [[-1.2], [-1.5]])
    loss.sum().backward()
    assert close(logp.grad, [[0.0], [-1.5]])
    assert stats["clip_frac"] == 1.0  # only the plain token counts, and it is clipped
    assert stats["hinted_token_frac"] == 0.5
    # clip_hinted: the hinted row is clipped too
    loss, _ = policy_loss(
        logp, old, adv, mask, eps_low_i=0.2, eps_high_i=0.2, hinted=hinted, shaping="none", clip_hinted=True
    )
    assert close(loss, [[-1.2], [-1.2]])


def test_hinted_constant_shaping_gradient():
    # r' = r/(r+1) = 1.5/2.5 = .6; d/dlogp of -r' = -r/(r+1)^2 = -1.5/6.25 = -.24
    logp = torch.full((1, 1), math.log(1.5), requires_grad=True)
    loss, stats = policy_loss(
        logp,
        torch.zeros(1, 1),
        T([1.0]),
        torch.ones(1, 1),
        eps_low_i=0.2,
        eps_high_i=0.2,
        hinted=T([True]),
        shaping="constant",
        shaping_kwargs={"gamma": 1.0},
    )
    assert close(loss, [[-0.6]])
    loss.sum().backward()
    assert logp.grad.item() == pytest.approx(-0.24)
    assert math.isnan(stats["clip_frac"])  # no plain tokens


def test_hinted_percentile_uses_valid_tokens_unless_padding_included():
    # hinted row r = [.5, 1, 1.5, 2, 3], last token padding: gamma 1.85 (valid) vs 2.6 (whole row)
    r = T([[0.5, 1.0, 1.5, 2.0, 3.0]])
    logp, old, mask = torch.log(r), torch.zeros(1, 5), T([[1.0, 1, 1, 1, 0]])
    kw = dict(eps_low_i=0.2, eps_high_i=0.2, hinted=T([True]))
    loss, stats = policy_loss(logp, old, T([2.0]), mask, **kw)
    assert stats["gamma"] == pytest.approx(1.85)
    assert close(loss[0, :4], -2.0 * r[0, :4] / (r[0, :4] + 1.85))
    _, stats = policy_loss(logp, old, T([2.0]), mask, gamma_include_padding=True, **kw)
    assert stats["gamma"] == pytest.approx(2.6)


def test_per_row_clip_range():
    # r = 1.3, A = 1: eps_high .1 -> -1.1 (clipped); eps_high .5 -> -1.3 (inside); A = -1, r = .6, eps_low .3:
    # clip(.6, .7, ..) = .7 -> -min(-.6, -.7) = .7 (clipped)
    logp = torch.log(T([[1.3], [1.3], [0.6]]))
    loss, stats = policy_loss(
        logp,
        torch.zeros(3, 1),
        T([1.0, 1.0, -1.0]),
        torch.ones(3, 1),
        eps_low_i=T([0.2, 0.2, 0.3]),
        eps_high_i=T([0.1, 0.5, 0.2]),
    )
    assert close(loss, [[-1.1], [-1.3], [0.7]])
    assert stats["clip_frac"] == pytest.approx(2 / 3)


# ----------------------------------------------------------------------------------- aggregate, KL


def test_aggregate_modes():
    loss = T([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])  # the 9s are padding
    mask = T([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(loss, mask, "token-mean").item() == pytest.approx(2.5)  # 10 / 4
    assert aggregate(loss, mask, "token-mean", num_items=8).item() == pytest.approx(1.25)  # 10 / 8
    assert aggregate(loss, mask, "seq-mean").item() == pytest.approx(3.0)  # mean(6/3, 4/1)
    assert aggregate(loss, mask, "dr-grpo", max_completion_length=5).item() == pytest.approx(1.0)  # 10/(2*5)
    with pytest.raises(ValueError, match="max_completion_length"):
        aggregate(loss, mask, "dr-grpo")
    with pytest.raises(ValueError, match="valid names"):
        aggregate(loss, mask, "mean")


def test_kl_k3():
    logp = T([0.0, -1.0, -2.0])
    ref = T([0.0, 0.0, -3.0])
    # d = ref - logp = [0, 1, -1]: exp(d) - d - 1 = [0, e - 2, 1/e]
    assert close(kl_k3(logp, ref), [0.0, math.e - 2, math.exp(-1)])


def test_seq_mean_counts_only_kept_rows():
    # per-sequence means 1.5, (removed), 5 -> (1.5 + 5) / 2 kept rows = 3.25; whole-update count 4 -> 1.625
    loss = T([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    mask = T([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    assert aggregate(loss, mask, "seq-mean").item() == pytest.approx(3.25)
    assert aggregate(loss, mask, "seq-mean", num_items=4).item() == pytest.approx(1.625)


def test_etr_low_cap():
    # micro only, A = [9, 1, 1, 1]: mean |A| = 3, s = [3, 1/3, 1/3, 1/3] (bounds wide), mean s = 1 -> f = s
    # eps_low .2 f = [.6, .0667 x3] -> capped at .5 -> [.5, .0667 x3]; eps_high .28 f = [.84, .0933 x3]
    adv, std = T([9.0, 1.0, 1.0, 1.0]), T([1.0] * 4)
    kw = dict(eps_low=0.2, eps_high=0.28, macro=False, s_min=0.01, s_max=100.0)
    low, high, stats = get_clip_range("etr")(adv, std, eps_low_max=0.5, **kw)
    assert close(low, [0.5, 0.2 / 3, 0.2 / 3, 0.2 / 3])
    assert close(high, [0.84, 0.28 / 3, 0.28 / 3, 0.28 / 3])
    assert stats["frac_low_capped"] == 0.25
    uncapped, _, _ = get_clip_range("etr")(adv, std, **kw)
    assert close(uncapped, [0.6, 0.2 / 3, 0.2 / 3, 0.2 / 3])


def test_low_var_kl_is_clamped_k3():
    # d = ref - logp = [1, 12]: k3 = [e - 2, e^12 - 13 = 162741.8] -> clamped to 10
    logp, ref = T([0.0, 0.0]), T([1.0, 12.0])
    assert close(core.get_kl("low_var_kl")(logp, ref), [math.e - 2, 10.0])
    assert core.get_kl("k3")(logp, ref)[1].item() == pytest.approx(math.exp(12) - 13, rel=1e-5)
