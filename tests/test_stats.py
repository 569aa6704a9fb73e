import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from rlvr_repro import stats


# ----------------------------------------------------------------------------------------- verdict
def test_verdict_clear_win_loss_tie_nan():
    assert stats.verdict(0.5, 2.0, "greater") == "reproduced"
    assert stats.verdict(0.5, 2.0, "less") == "contradicted"
    assert stats.verdict(-2.0, -0.5, "less") == "reproduced"
    assert stats.verdict(-2.0, -0.5, "greater") == "contradicted"
    assert stats.verdict(-1.0, 1.0, "greater") == "inconclusive"
    assert stats.verdict(0.0, 1.0, "greater") == "inconclusive"  # touching zero does not exclude it
    assert stats.verdict(math.nan, math.nan, "greater") == "inconclusive"
    assert stats.verdict(0.1, math.nan, "less") == "inconclusive"
    with pytest.raises(ValueError):
        stats.verdict(0, 1, "two-sided")


def test_verdict_from_constructed_seed_data():
    grpo = {0: 0.40, 1: 0.42, 2: 0.41}
    win = {0: 0.50, 1: 0.53, 2: 0.51}
    loss = {0: 0.30, 1: 0.31, 2: 0.33}
    tie = {0: 0.45, 1: 0.38, 2: 0.41}
    for method in ("t", "bootstrap"):
        c = stats.paired_diff_ci(win, grpo, method=method)
        assert stats.verdict(c.lo, c.hi, "greater") == "reproduced"
        c = stats.paired_diff_ci(loss, grpo, method=method)
        assert stats.verdict(c.lo, c.hi, "greater") == "contradicted"
        c = stats.paired_diff_ci(tie, grpo, method=method)
        assert stats.verdict(c.lo, c.hi, "greater") == "inconclusive"


# ------------------------------------------------------------------------------------- intervals
def test_mean_ci_constant_and_single():
    assert stats.mean_ci([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3, 0.3))
    assert stats.t_ci([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3, 0.3))
    m, lo, hi = stats.mean_ci([0.7])
    assert m == 0.7 and math.isnan(lo) and math.isnan(hi)
    m, lo, hi = stats.t_ci([0.7])
    assert m == 0.7 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in stats.mean_ci([]))


def test_mean_ci_deterministic_and_contains_mean():
    x = [0.1, 0.4, 0.35, 0.2, 0.5]
    a = stats.mean_ci(x, seed=3, n_boot=2000)
    b = stats.mean_ci(x, seed=3, n_boot=2000)
    assert a == b
    assert a[1] <= a[0] <= a[2]


def test_t_interval_matches_known_quantiles():
    assert stats.t_ppf(0.975, 2) == pytest.approx(4.302653, abs=1e-5)
    assert stats.t_ppf(0.975, 1) == pytest.approx(12.706205, abs=1e-4)
    assert stats.t_ppf(0.975, 10) == pytest.approx(2.228139, abs=1e-5)
    m, lo, hi = stats.t_ci([1.0, 2.0, 3.0])
    assert m == 2.0
    assert hi - m == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    # with 3 seeds the t-interval (table default) is wider than the percentile bootstrap
    assert (hi - lo) > (stats.mean_ci([1.0, 2.0, 3.0])[2] - stats.mean_ci([1.0, 2.0, 3.0])[1])
    assert stats.DEFAULT_SEED_CI == "t"


def test_paired_diff_uses_matching_seeds_only():
    a = {0: 1.0, 1: 2.0, 2: 3.0, 5: 100.0}
    b = {0: 0.5, 1: 1.5, 2: 2.5, 7: -100.0}
    c = stats.paired_diff_ci(a, b)
    assert c.n == 3
    assert c.mean == pytest.approx(0.5)
    assert (c.lo, c.hi) == pytest.approx((0.5, 0.5))
    c = stats.paired_diff_ci({0: 1.0, 1: float("nan")}, {0: 0.0, 1: 0.0})
    assert c.n == 1 and math.isnan(c.lo)


def test_problem_bootstrap_paired_and_one_sample():
    rng = np.random.default_rng(0)
    a = {f"p{i}": float(v) for i, v in enumerate(rng.uniform(0.5, 1.0, 60))}
    b = {f"p{i}": a[f"p{i}"] - 0.2 for i in range(60)}
    b["extra"] = 0.0  # unmatched problem is ignored
    c = stats.problem_bootstrap_ci(a, b, n_boot=2000)
    assert c.n == 60 and c.unit == "problem"
    assert c.mean == pytest.approx(0.2) and c.lo == pytest.approx(0.2) and c.hi == pytest.approx(0.2)
    c1 = stats.problem_bootstrap_ci(a, n_boot=2000)
    assert c1.lo < c1.mean < c1.hi


# ---------------------------------------------------------------------------------------- pass@k
def test_pass_at_k_small_cases():
    assert stats.pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert stats.pass_at_k(5, 0, 3) == 0.0
    assert stats.pass_at_k(5, 4, 2) == 1.0  # n - c = 1 < k
    assert stats.pass_at_k(5, 5, 5) == 1.0
    assert stats.pass_at_k(1, 1, 1) == 1.0


def test_pass_at_k_large_n_exact():
    n, c, k = 1000, 7, 500
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert stats.pass_at_k(n, c, k) == float(exact)
    # product form 1 - prod_{i=n-c+1}^{n} (1 - k/i) agrees to float precision
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1 - k / i
    assert stats.pass_at_k(n, c, k) == pytest.approx(1 - prod, rel=1e-12)
    assert stats.pass_at_k(1000, 1, 1) == pytest.approx(1e-3)


def test_pass_at_k_validation_and_array():
    for args in [(0, 0, 1), (5, -1, 1), (5, 6, 1), (5, 2, 0), (5, 2, 6)]:
        with pytest.raises(ValueError, match="pass@k"):
            stats.pass_at_k(*args)
    assert stats.pass_at_k_array(5, [0, 2, 4], 2).tolist() == pytest.approx([0.0, 0.7, 1.0])


def test_pass_at_k_estimator():
    assert stats.pass_at_k(16, 0, 16) == 0.0
    assert stats.pass_at_k(16, 1, 16) == 1.0
    assert stats.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert stats.pass_at_k(100, 1, 16) == pytest.approx(0.16)
    assert stats.pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))
    with pytest.raises(ValueError):
        stats.pass_at_k(4, 5, 1)


def test_decomposition_hand_made_table():
    n = 16
    # problem: (c before, c after)
    table = {
        "a": (4, 12),  # pass@16 before (est. >= .5), not pass@1 before, pass@1 after -> self-distillation
        "b": (0, 10),  # unsolved before, solved after -> capability gain
        "c": (10, 14),  # already solved at pass@1 before -> retained, not a gain
        "d": (1, 2),  # not solved after -> nothing
        "e": (9, 3),  # solved before, lost after
        "f": (2, 9),  # pass@16 estimate 1 - C(14,16)/.. = 1 -> self-distillation
    }
    before = pd.DataFrame([{"problem_id": p, "n": n, "c": cb} for p, (cb, _) in table.items()])
    after = pd.DataFrame([{"problem_id": p, "n": n, "c": ca} for p, (_, ca) in table.items()])
    d = stats.passk_decomposition(before, after, k=16)
    assert d["n_problems"] == 6
    assert sorted(d["self_distillation_ids"]) == ["a", "f"]
    assert d["capability_gain_ids"] == ["b"]
    assert (d["self_distillation"], d["capability_gain"], d["retained"], d["lost"]) == (2, 1, 1, 1)
    assert d["self_distillation_share"] == pytest.approx(2 / 6)
    assert d["self_distillation_fraction_of_gains"] == pytest.approx(2 / 3)


def test_decomposition_readings_are_parameters():
    # n=100 samples: c=1 gives pass@16 = 0.16: solved under "any" (c>0) but not under "estimate" (>= .5)
    before = [{"problem_id": "x", "n": 100, "c": 1}]
    after = [{"problem_id": "x", "n": 100, "c": 80}]
    assert stats.passk_decomposition(before, after, solved_before="estimate")["capability_gain"] == 1
    assert stats.passk_decomposition(before, after, solved_before="any")["self_distillation"] == 1
    assert stats.passk_decomposition(before, after, after_threshold=0.9)["capability_gain"] == 0
    with pytest.raises(ValueError):
        stats.passk_decomposition(before + before, after)


def test_stats_module_needs_no_torch():
    code = "import rlvr_repro.stats, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------ verdict extensions
def test_verdict_equivalence_and_descriptive():
    m = 0.02
    assert stats.verdict(-0.01, 0.015, "equivalent", margin=m) == "reproduced"  # inside (-m, m)
    assert stats.verdict(0.025, 0.04, "equivalent", margin=m) == "contradicted"  # wholly above m
    assert stats.verdict(-0.05, -0.03, "equivalent", margin=m) == "contradicted"
    assert stats.verdict(-0.01, 0.03, "equivalent", margin=m) == "inconclusive"  # straddles m
    with pytest.raises(ValueError, match="margin"):
        stats.verdict(-0.01, 0.01, "equivalent")
    # one seed: nothing about the method, whatever the interval over problems says
    assert stats.verdict(0.1, 0.2, "greater", n_seeds=1) == "descriptive"
    assert stats.verdict(0.1, 0.2, "greater", n_seeds=2) == "reproduced"


def test_seed_ci_carries_se_df_and_p():
    c = stats.paired_diff_ci({0: 2.0, 1: 3.0, 2: 4.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    # diffs 2, 3, 4: mean 3, sd 1, se 1/sqrt(3), t = 3 sqrt(3) = 5.196 on 2 df
    assert (c.mean, c.df, c.n_seeds) == (3.0, 2.0, 3)
    assert c.se == pytest.approx(1 / math.sqrt(3))
    # two-sided p of t = 5.196 on 2 df: 2 * (1 - F) = 1 - t / sqrt(t^2 + 2) (closed form for df = 2)
    t = 3 * math.sqrt(3)
    assert c.p == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-6)
    assert c.p < 0.05 and c.lo > 0  # p and interval agree


# ------------------------------------------------------------------------------ two-level bootstrap
def _simulate(rng, S, P, sd_seed, sd_problem):
    u = rng.normal(0.0, sd_seed, S)
    return {
        s: {f"p{p}": float(u[s] + e) for p, e in enumerate(rng.normal(0.0, sd_problem, P))} for s in range(S)
    }


def test_two_level_bootstrap_matches_its_exact_variance():
    data = _simulate(np.random.default_rng(1), S=4, P=50, sd_seed=0.1, sd_problem=0.3)
    means = stats.two_level_bootstrap_means(data, n_boot=20000, seed=0)
    exact = stats.two_level_bootstrap_variance(data)
    assert np.var(means) == pytest.approx(exact, rel=0.05)  # Monte Carlo error of 20000 draws ~1%
    c = stats.two_level_bootstrap(data, n_boot=4000)
    assert c.n_seeds == 4 and c.n == 200 and c.unit == "problem"
    assert c.mean == pytest.approx(np.mean([np.mean(list(v.values())) for v in data.values()]))


def test_two_level_bootstrap_variance_known_components():
    # x_sp = u_s + e_sp, Var u = 0.1^2, Var e = 0.3^2, S = 3 seeds, P = 40 problems:
    # E V* = (S-1)/S^2 (s_u^2 + s_e^2/P) + (P-1)/(S P^2) s_e^2
    #      = 2/9 (0.01 + 0.09/40) + 39/(3*1600) 0.09 = 0.0027222 + 0.00073125 = 0.00345347
    S, P, su, se = 3, 40, 0.1, 0.3
    analytic = (S - 1) / S**2 * (su**2 + se**2 / P) + (P - 1) / (S * P**2) * se**2
    assert analytic == pytest.approx(0.00345347, rel=1e-5)
    rng = np.random.default_rng(7)
    v = [stats.two_level_bootstrap_variance(_simulate(rng, S, P, su, se)) for _ in range(2000)]
    assert np.mean(v) == pytest.approx(analytic, rel=0.05)
    # the resampled variance itself (not only its closed form) on a few of these data sets
    rng = np.random.default_rng(8)
    boot = [
        np.var(stats.two_level_bootstrap_means(_simulate(rng, S, P, su, se), 3000, i)) for i in range(200)
    ]
    assert np.mean(boot) == pytest.approx(analytic, rel=0.12)
    # with the seed effect in, the interval is wider than the problem-only bootstrap of the seed-mean
    data = _simulate(np.random.default_rng(3), S, P, su, se)
    flat = {p: np.mean([data[s][p] for s in data]) for p in data[0]}
    assert stats.two_level_bootstrap(data, n_boot=4000).se > stats.problem_bootstrap_ci(flat, n_boot=4000).se


def test_two_level_bootstrap_one_seed_is_problem_only():
    data = {0: {"a": 1.0, "b": 0.0, "c": 1.0, "d": 1.0}}
    c = stats.two_level_bootstrap(data, n_boot=20000)
    # one seed: variance of a resampled mean of 4 values = (1/4) * population variance (3/16)
    assert c.se**2 == pytest.approx(3 / 64, rel=0.05)
    assert stats.two_level_bootstrap_variance(data) == pytest.approx(3 / 64)
    assert c.n_seeds == 1


# ------------------------------------------------------------------------------ multiplicity, power
def test_holm_and_bh_hand_computed():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> Holm 4*.005=.02, 3*.01=.03, 2*.03=.06, max(.06, 1*.04)=.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: m p / j = .02, .02, .04, .04; running minimum from the top leaves them as they are
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # nan is not tested and does not count in m
    h = stats.holm([0.02, math.nan, 0.04])
    assert h[0] == pytest.approx(0.04) and math.isnan(h[1]) and h[2] == pytest.approx(0.04)
    assert stats.benjamini_hochberg([0.5, 0.9]) == pytest.approx([0.9, 0.9])
    assert stats.holm([]) == []


def test_mde_z_and_t():
    assert stats.mde(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    # 3 seeds: t_{0.975, 2} = 4.302653, t_{0.8, 2} = 1.060660
    assert stats.mde(1.0, df=2) == pytest.approx(4.302653 + 1.060660, abs=1e-5)
    assert stats.mde(0.5, df=2) == pytest.approx(0.5 * 5.363313, abs=1e-5)
    assert math.isnan(stats.mde(math.nan))


def test_inconclusive_reading():
    # half-width 0.03, MDE 0.05 > smallest effect of interest 0.02 -> underpowered
    assert stats.inconclusive_reading(-0.02, 0.04, "greater", 0.05, 0.02) == (
        "underpowered",
        pytest.approx(0.03),
    )
    # MDE 0.015 <= 0.02 -> bounded: nothing above hi = 0.008 in the claimed direction
    assert stats.inconclusive_reading(-0.006, 0.008, "greater", 0.015, 0.02) == (
        "no effect larger than",
        0.008,
    )
    assert stats.inconclusive_reading(-0.006, 0.008, "less", 0.015, 0.02) == ("no effect larger than", 0.006)


def test_published_consistency_rule():
    assert stats.published_consistency(0.035, 0.01, 0.05) == "consistent"
    assert stats.published_consistency(0.035, 0.0, 0.02) == "smaller than published"
    assert stats.published_consistency(0.035, 0.04, 0.09) == "larger than published"
    assert stats.published_consistency(None, 0.0, 0.02) == "no published number"
    assert stats.published_consistency(0.035, math.nan, math.nan) == "no interval"
