"""Hand-computed checks of rlvr_repro.rl.adora (arithmetic in the comments)."""

import pytest
import torch
from rl_helpers import T, adv_inputs, close

from rlvr_repro.rl.adora import adora_length_advantage
from rlvr_repro.rl.core import get_advantage

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
