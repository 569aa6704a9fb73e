"""Hand-computed checks of rlvr_repro.rl.guide: ratio shapings and the hinted-row loss."""

import math

import pytest
import torch
from rl_helpers import T, close

from rlvr_repro.rl.core import get_shaping
from rlvr_repro.rl.guide import guided_policy_loss as policy_loss

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
