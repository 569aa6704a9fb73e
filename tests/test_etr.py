"""Hand-computed checks of rlvr_repro.rl.etr (arithmetic in the comments)."""

import pytest
import torch
from rl_helpers import T, close

from rlvr_repro.rl.core import get_advantage, get_clip_range, group_std
from rlvr_repro.rl.etr import etr_factors

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
