"""Hand-computed checks of rlvr_repro.rl.core: registries, GRPO, PPO clip, aggregations, KL."""

import math

import pytest
import torch
from rl_helpers import T, adv_inputs, close

from rlvr_repro.rl import core, load
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
    policy_loss,
)

load()

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


# ----------------------------------------------------------------------------------- clip ranges


def test_fixed_clip_range():
    adv = T([1.0, -1.0, 0.0])
    low, high, stats = get_clip_range("fixed")(adv, torch.zeros(3), eps_low=0.2, eps_high=0.28)
    assert close(low, [0.2] * 3) and close(high, [0.28] * 3)
    assert stats == pytest.approx({"clip_mean": 0.28, "clip_min": 0.28, "clip_max": 0.28})


# Two mixed groups and one all-equal group (G=4)
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


def test_low_var_kl_is_clamped_k3():
    # d = ref - logp = [1, 12]: k3 = [e - 2, e^12 - 13 = 162741.8] -> clamped to 10
    logp, ref = T([0.0, 0.0]), T([1.0, 12.0])
    assert close(core.get_kl("low_var_kl")(logp, ref), [math.e - 2, 10.0])
    assert core.get_kl("k3")(logp, ref)[1].item() == pytest.approx(math.exp(12) - 13, rel=1e-5)


def test_registry_names_cover_every_module():
    names = core.registry_names()
    assert names["advantage"] == ["adora", "grpo"] and names["clip"] == ["etr", "fixed"]
    assert names["kl"] == ["k3", "low_var_kl"]
    assert names["rollout_hook"] == ["dynamic_sampling", "guide_hints", "overlong"]
    assert names["loss_transform"] == ["guide_hinted"]


def test_hooks_are_fresh_per_spec_and_ordered():
    spec = {"filter_groups": True, "guide": {"enabled": True}, "overlong": {"enabled": True},
            "max_completion_length": 10}  # fmt: skip
    rounds, sampler = core.rollout_hooks(spec)
    assert [type(h).__name__ for h in rounds] == ["GuideHints", "Overlong"]  # re-sample, then shape rewards
    assert type(sampler).__name__ == "DynamicSampling"
    _, other = core.rollout_hooks(spec)
    assert other is not sampler and other.buffer is not sampler.buffer
    assert core.rollout_hooks({"guide": {"enabled": False}}) == ([], None)


def test_batch_geometry_and_save_steps_on_rollout_boundaries():
    from rlvr_repro.rl import batch_geometry

    # 8 prompts x 8 = 64 completions per rollout, 4 prompts x 8 = 32 per update: 2 updates of 32 rows
    spec = {"steps": 8, "prompts_per_step": 8, "prompts_per_update": 4, "num_generations": 8, "save_steps": 4}
    assert batch_geometry(spec) == {"per_device_train_batch_size": 32, "gradient_accumulation_steps": 1,
                                    "steps_per_generation": 2, "max_steps": 16}  # fmt: skip
    # 8 processes, one group each per micro-step: 32 / (8 x 8) is not whole -> refused; 4 per device fits
    with pytest.raises(ValueError, match="does not split"):
        batch_geometry({**spec, "per_device_train_batch_size": 8}, world_size=8)
    with pytest.raises(ValueError, match="save_steps"):
        batch_geometry({**spec, "save_steps": 3})
