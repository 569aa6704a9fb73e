"""Small, tested statistics: intervals, the verdict rule, multiplicity, power, pass@k and its decomposition.

Pure numpy / stdlib (no torch): the analysis entry points import this module.

Conventions used everywhere in the report (each is a reading, stated in the report):

* Units. A claim about trained models is tested over training seeds (one number per seed, paired
  with the reference method on the same seed). A claim about problems is tested over problems
  (per-problem values averaged over seeds, then problems are resampled).
* Interval over seeds: with 3 seeds a percentile bootstrap can take only 10 distinct resampled means;
  its "95%" interval is roughly [min, max] of the seeds and under-covers badly. The Student-t interval
  (df = n - 1, t = 4.30 at n = 3) is wide but honest about that. ``DEFAULT_SEED_CI = "t"`` is therefore
  the default for tables and for seed-level verdicts; the bootstrap is offered as ``mean_ci`` and can
  be selected with ``method="bootstrap"``.
* Interval over problems: ``two_level_bootstrap`` resamples seeds, then problems within each drawn
  seed, so both training-seed and problem-sampling variation enter (``problem_bootstrap_ci`` keeps the
  trained models fixed and is kept for one-seed descriptions).
* Verdict: ``verdict(lo, hi, direction)``: "reproduced" only when the interval of the difference
  excludes zero in the claimed direction, "contradicted" when it excludes zero in the other direction,
  "inconclusive" otherwise (including a nan interval); "descriptive" when fewer than two seeds exist.
  ``direction="equivalent"`` (with a margin m) is the interval form of two one-sided tests.
* Multiplicity: ``holm`` and ``benjamini_hochberg`` adjust the p-values of one family (one paper).
* Power: ``mde`` is the minimum detectable effect (alpha 0.05 two-sided, power 0.8) from a standard
  error; ``inconclusive_reading`` turns it into "underpowered" or "no effect larger than x".
* Magnitude: ``published_consistency`` compares a published effect with our interval.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from statistics import NormalDist

import numpy as np

DEFAULT_SEED_CI = "t"  # "t" or "bootstrap": the interval used by tables and seed-level verdicts
DEFAULT_LEVEL = 0.95
DEFAULT_N_BOOT = 10000

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8

__all__ = [
    "CI",
    "DEFAULT_SEED_CI",
    "benjamini_hochberg",
    "holm",
    "inconclusive_reading",
    "mde",
    "mean_ci",
    "paired_diff_ci",
    "pass_at_k",
    "pass_at_k_array",
    "passk_decomposition",
    "problem_bootstrap_ci",
    "published_consistency",
    "seed_ci",
    "t_ci",
    "t_ppf",
    "two_level_bootstrap",
    "two_level_bootstrap_variance",
    "verdict",
]

REPRODUCED = "reproduced"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
DESCRIPTIVE = "descriptive"
NOT_RUN = "not run"
NOT_MEASURED = "not measured"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, DESCRIPTIVE, NOT_MEASURED, NOT_RUN)
DIRECTIONS = ("greater", "less", "equivalent")


# --------------------------------------------------------------------------------------------------
# pass@k (Chen et al. 2021)
# --------------------------------------------------------------------------------------------------
def _check_pass_args(n: int, c: int, k: int) -> None:
    if n < 1:
        raise ValueError(f"pass@k needs n >= 1 samples, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got k={k}, n={n}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, arXiv 2107.03374 Eq. 1).

        pass@k = 1 - C(n-c, k) / C(n, k)     (= 1 when n - c < k)

    Exact: Python integer binomials and a Fraction, rounded once to float, so n = 1000 is fine.
    """
    n, c, k = int(n), int(c), int(k)
    _check_pass_args(n, c, k)
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def pass_at_k_array(n: int, c_array, k: int) -> np.ndarray:
    """`pass_at_k` for many problems sharing n and k; c_array is any 1-D sequence of counts."""
    return np.array([pass_at_k(n, int(c), k) for c in np.asarray(c_array).reshape(-1)], dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# intervals
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CI:
    """A point estimate with a two-sided interval; ``n`` is the number of units (seeds or problems).

    ``se`` is the standard error behind the interval (t: sd / sqrt(n); bootstrap: sd of the resampled
    means), ``df`` its degrees of freedom (nan: normal), ``p`` the two-sided p-value of "mean = 0" that
    matches the interval (t test; bootstrap: twice the smaller share of resampled means on either side
    of 0), ``n_seeds`` the number of training seeds behind it.
    """

    mean: float
    lo: float
    hi: float
    n: int
    method: str = ""
    unit: str = ""
    se: float = math.nan
    df: float = math.nan
    p: float = math.nan
    n_seeds: int = 0

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0

    def as_dict(self) -> dict:
        return asdict(self)


def _clean(values: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    return arr[np.isfinite(arr)]


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularized incomplete beta (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student-t CDF (no scipy in the environment)."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@functools.lru_cache(maxsize=256)
def t_ppf(p: float, df: float) -> float:
    """Student-t quantile by bisection on ``t_cdf``."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def t_ci(values: Iterable[float], level: float = DEFAULT_LEVEL) -> tuple[float, float, float]:
    """Student-t interval mean +- t_{(1+level)/2, n-1} * sd / sqrt(n). n=1 -> (mean, nan, nan)."""
    x = _clean(values)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(x.mean())
    if x.size == 1:
        return (m, math.nan, math.nan)
    half = t_ppf(0.5 + level / 2.0, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return (m, m - half, m + half)


def _bootstrap_means(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // max(1, x.size)))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def mean_ci(
    values: Iterable[float], level: float = DEFAULT_LEVEL, n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> tuple[float, float, float]:
    """Percentile-bootstrap interval of the mean: (mean, lo, hi). n=1 -> (mean, nan, nan).

    With 3 seeds this interval is coarse and too narrow (see the module docstring); the tables use
    ``t_ci`` by default (``DEFAULT_SEED_CI``).
    """
    x = _clean(values)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(x.mean())
    if x.size == 1:
        return (m, math.nan, math.nan)
    means = _bootstrap_means(x, n_boot, seed)
    alpha = 1.0 - level
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (m, float(lo), float(hi))


def seed_ci(
    values: Iterable[float],
    method: str = DEFAULT_SEED_CI,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> CI:
    """Interval over seeds with the chosen method ("t" or "bootstrap"), with its se, df and p-value."""
    x = _clean(values)
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    if method == "t":
        m, lo, hi = t_ci(x, level)
        df = float(x.size - 1) if x.size > 1 else math.nan
        p = _t_pvalue(m, se, df)
    elif method == "bootstrap":
        m, lo, hi = mean_ci(x, level, n_boot, seed)
        df, p = math.nan, math.nan
        if x.size > 1:
            means = _bootstrap_means(x, n_boot, seed)  # the draws behind mean_ci (same seed)
            se, p = float(np.std(means, ddof=1)), _bootstrap_pvalue(means)
    else:
        raise ValueError(f"unknown interval method {method!r} (use 't' or 'bootstrap')")
    return CI(m, lo, hi, int(x.size), method, "seed", se=se, df=df, p=p, n_seeds=int(x.size))


def _t_pvalue(mean: float, se: float, df: float) -> float:
    """Two-sided p of mean = 0 from a t statistic (normal when df is nan); se = 0 -> 0 or 1."""
    if not (math.isfinite(mean) and math.isfinite(se)):
        return math.nan
    if se == 0.0:
        return 0.0 if mean != 0.0 else 1.0
    z = abs(mean) / se
    tail = 1.0 - (t_cdf(z, df) if math.isfinite(df) else NormalDist().cdf(z))
    return min(1.0, 2.0 * tail)


def _bootstrap_pvalue(means: np.ndarray) -> float:
    """Two-sided percentile-bootstrap p of mean = 0: 2 min(P*(mean <= 0), P*(mean >= 0)), capped at 1.

    It is below 1 - level exactly when the percentile interval at that level excludes 0.
    """
    if means.size == 0:
        return math.nan
    return float(min(1.0, 2.0 * min(np.mean(means <= 0.0), np.mean(means >= 0.0))))


def paired_diff_ci(
    a_by_seed: Mapping,
    b_by_seed: Mapping,
    level: float = DEFAULT_LEVEL,
    method: str = DEFAULT_SEED_CI,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> CI:
    """Interval of the mean paired difference a - b over the seeds present (and finite) in both."""
    seeds = sorted(
        s
        for s in set(a_by_seed) & set(b_by_seed)
        if np.isfinite(float(a_by_seed[s])) and np.isfinite(float(b_by_seed[s]))
    )
    diffs = [float(a_by_seed[s]) - float(b_by_seed[s]) for s in seeds]
    return seed_ci(diffs, method=method, level=level, n_boot=n_boot, seed=seed)


def problem_bootstrap_ci(
    a_by_problem: Mapping,
    b_by_problem: Mapping | None = None,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> CI:
    """Percentile bootstrap over problems of mean(a) or, given b, of the paired mean(a - b).

    Inputs map problem id -> per-problem value (e.g. c/n averaged over seeds). Only problems present
    (and finite) in both are used. This interval treats the trained models as fixed: it says whether a
    difference is robust to which problems were drawn, not to training-seed variation.
    """
    keys = [k for k in a_by_problem if np.isfinite(float(a_by_problem[k]))]
    if b_by_problem is not None:
        keys = [k for k in keys if k in b_by_problem and np.isfinite(float(b_by_problem[k]))]
        x = np.array([float(a_by_problem[k]) - float(b_by_problem[k]) for k in keys])
    else:
        x = np.array([float(a_by_problem[k]) for k in keys])
    m, lo, hi = mean_ci(x, level=level, n_boot=n_boot, seed=seed)
    se = p = math.nan
    if x.size > 1:
        means = _bootstrap_means(x, n_boot, seed)
        se, p = float(np.std(means, ddof=1)), _bootstrap_pvalue(means)
    return CI(m, lo, hi, int(x.size), "bootstrap", "problem", se=se, p=p, n_seeds=1)


def _seed_problem_arrays(values: Mapping) -> list[np.ndarray]:
    """seed -> {problem: value} (or seed -> sequence) as one finite array per seed with any values."""
    out = []
    for s in sorted(values, key=str):
        v = values[s]
        arr = _clean(v.values() if isinstance(v, Mapping) else v)
        if arr.size:
            out.append(arr)
    return out


def two_level_bootstrap_means(values: Mapping, n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> np.ndarray:
    """Resampled means of a two-level bootstrap: draw S seeds with replacement, then, independently for
    every drawn seed, its P_s problems with replacement; a replicate is the mean of the drawn seeds'
    problem means (every seed weighs the same)."""
    arrays = _seed_problem_arrays(values)
    S = len(arrays)
    rng = np.random.default_rng(seed)
    seed_idx = rng.integers(0, S, size=(n_boot, S))
    sums = np.zeros(n_boot)
    for j in range(S):
        for s, x in enumerate(arrays):
            rows = np.nonzero(seed_idx[:, j] == s)[0]
            chunk = max(1, 2_000_000 // x.size)
            for start in range(0, rows.size, chunk):
                r = rows[start : start + chunk]
                sums[r] += x[rng.integers(0, x.size, size=(r.size, x.size))].mean(axis=1)
    return sums / S


def two_level_bootstrap_variance(values: Mapping) -> float:
    """The exact variance of the two-level bootstrap mean for the observed data (no resampling noise):

        V* = (1/S) * mean_s (xbar_s - xbar)^2  +  (1/S) * mean_s [ (1/P_s) * mean_p (x_sp - xbar_s)^2 ]

    (between-seed part: variance of a mean of S seed means drawn with replacement; within part: the
    variance of a problem-resampled mean of each drawn seed, averaged). Under x_sp = mu + u_s + e_sp
    with Var u = s_u^2, Var e = s_e^2 and P problems per seed, its expectation is

        E V* = (S-1)/S^2 * (s_u^2 + s_e^2/P) + (P-1)/(S P^2) * s_e^2,

    against the true Var(xbar) = s_u^2/S + s_e^2/(S P): the seed part is shrunk by (S-1)/S (3 seeds:
    by a third) and the problem part counted about twice (Davison & Hinkley 1997, section 3.8).
    """
    arrays = _seed_problem_arrays(values)
    S = len(arrays)
    if S == 0:
        return math.nan
    means = np.array([x.mean() for x in arrays])
    between = float(np.mean((means - means.mean()) ** 2)) / S
    within = float(np.mean([np.mean((x - x.mean()) ** 2) / x.size for x in arrays])) / S
    return between + within


def two_level_bootstrap(
    values: Mapping, level: float = DEFAULT_LEVEL, n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> CI:
    """Percentile interval of the mean over seeds and problems from ``two_level_bootstrap_means``.

    ``values``: seed -> {problem id: per-problem value on that seed} (e.g. a paired difference of c/n).
    The point estimate is the mean of the seed means. One seed: only problems are resampled (the
    trained model is then fixed; ``verdict`` calls such a row descriptive).
    """
    arrays = _seed_problem_arrays(values)
    if not arrays:
        return CI(math.nan, math.nan, math.nan, 0, "two-level bootstrap", "problem")
    m = float(np.mean([x.mean() for x in arrays]))
    n_problems = int(sum(x.size for x in arrays))
    means = two_level_bootstrap_means(values, n_boot, seed)
    alpha = 1.0 - level
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return CI(m, float(lo), float(hi), n_problems, "two-level bootstrap", "problem",
              se=float(np.std(means, ddof=1)), p=_bootstrap_pvalue(means), n_seeds=len(arrays))  # fmt: skip


# --------------------------------------------------------------------------------------------------
# the verdict rule
# --------------------------------------------------------------------------------------------------
def verdict(
    lo: float, hi: float, direction: str, margin: float | None = None, n_seeds: int | None = None
) -> str:
    """Verdict on a claimed effect from the interval [lo, hi] of (method - reference).

    direction "greater": the claim is that the difference is positive; "less": negative.
    reproduced   -- the interval excludes 0 on the claimed side;
    contradicted -- the interval excludes 0 on the other side;
    inconclusive -- the interval contains 0, or is nan (no data).
    direction "equivalent" (needs ``margin`` m > 0; two one-sided tests in interval form):
    reproduced when the interval lies inside (-m, m), contradicted when it lies wholly outside
    [-m, m], inconclusive otherwise.
    descriptive  -- ``n_seeds`` < 2: one training run per method says nothing about the method.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if n_seeds is not None and n_seeds < 2:
        return DESCRIPTIVE
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return INCONCLUSIVE
    if direction == "equivalent":
        if margin is None or not margin > 0:
            raise ValueError("direction 'equivalent' needs a margin > 0")
        if -margin < lo and hi < margin:
            return REPRODUCED
        if lo > margin or hi < -margin:
            return CONTRADICTED
        return INCONCLUSIVE
    if lo > 0:
        return REPRODUCED if direction == "greater" else CONTRADICTED
    if hi < 0:
        return REPRODUCED if direction == "less" else CONTRADICTED
    return INCONCLUSIVE


# --------------------------------------------------------------------------------------------------
# multiplicity, power, magnitude
# --------------------------------------------------------------------------------------------------
def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values; nan entries stay nan and are not counted in m.

    Sorted p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    Reject at level alpha exactly where adj <= alpha (family-wise error <= alpha).
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    idx = np.nonzero(np.isfinite(p))[0]
    m = idx.size
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg (1995) adjusted p-values (q-values); nan entries stay nan.

    Sorted p_(1) <= ... <= p_(m): q_(i) = min_{j >= i} min(1, m p_(j) / j). Reject where q <= alpha
    (false discovery rate <= alpha under independence or positive dependence).
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    idx = np.nonzero(np.isfinite(p))[0]
    m = idx.size
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, min(1.0, m * p[i] / (rank + 1)))
        out[i] = running
    return out.tolist()


def mde(se: float, df: float = math.nan, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER) -> float:
    """Minimum detectable effect of a two-sided level-alpha test with the given power:

        MDE = (q_{1 - alpha/2} + q_{power}) * SE

    with q the Student-t quantile on ``df`` degrees of freedom when df is finite (few seeds: t-based),
    else the normal quantile (z_{0.975} + z_{0.8} = 2.80). 3 seeds (df 2): (4.303 + 1.061) SE = 5.36 SE.
    """
    if not math.isfinite(se):
        return math.nan
    if math.isfinite(df):
        return (t_ppf(1.0 - alpha / 2.0, df) + t_ppf(power, df)) * se
    z = NormalDist()
    return (z.inv_cdf(1.0 - alpha / 2.0) + z.inv_cdf(power)) * se


def inconclusive_reading(
    lo: float, hi: float, direction: str, mde_value: float, min_effect: float
) -> tuple[str, float]:
    """What an inconclusive interval says, in the claim's units:

    ("underpowered", half-width) when the MDE exceeds the smallest effect of interest ``min_effect``
    (a true effect of that size would usually be missed), else ("no effect larger than", x) with x the
    interval's bound on the claimed side (greater: hi; less: -lo; equivalent: max |bound|), floored at 0.
    """
    half = (hi - lo) / 2.0
    if not (math.isfinite(mde_value) and math.isfinite(half)) or mde_value > min_effect:
        return "underpowered", half
    if direction == "greater":
        bound = hi
    elif direction == "less":
        bound = -lo
    else:
        bound = max(abs(lo), abs(hi))
    return "no effect larger than", max(0.0, bound)


def published_consistency(published: float | None, lo: float, hi: float) -> str:
    """Magnitude check against a published effect (same units as ours): "consistent" when the published
    value lies inside our interval, "smaller than published" when our whole interval is below it,
    "larger than published" when above it; "no interval" / "no published number" otherwise."""
    if published is None or not math.isfinite(float(published)):
        return "no published number"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "no interval"
    if hi < published:
        return "smaller than published"
    if lo > published:
        return "larger than published"
    return "consistent"


# --------------------------------------------------------------------------------------------------
# pass@k decomposition (Guide paper analysis)
# --------------------------------------------------------------------------------------------------
def passk_decomposition(
    before,
    after,
    k: int = 16,
    solved_before: str = "estimate",
    before_threshold: float = 0.5,
    after_threshold: float = 0.5,
    exclude_solved_at_pass1_before: bool = True,
) -> dict:
    """Split the problems gained by training into self-distillation and capability gain.

    ``before``/``after``: tables (pandas DataFrames or lists of dicts) with columns problem_id, n, c for
    the start model (SFT) and the trained model on the same split and seed; they are matched on
    problem_id.

    Readings (parameters, not the paper's text):
    * solved at pass@k before: ``solved_before="estimate"`` -> unbiased pass@k with k' = min(k, n) is
      >= ``before_threshold`` (more likely than not that k samples contain a correct one);
      ``solved_before="any"`` -> c > 0 (equivalently, the pass@k estimate is > 0).
    * solved at pass@1 after: c / n >= ``after_threshold``.
    * a gain is a problem solved at pass@1 after and, when ``exclude_solved_at_pass1_before``, not
      already solved at pass@1 before (c / n >= ``after_threshold`` before).
    * self-distillation: a gain that was solved at pass@k before; capability gain: a gain that was not.

    Returns counts, shares of all matched problems, and per-problem indicator lists (for a bootstrap
    over problems).
    """
    bmap = _rows_by_problem(before)
    amap = _rows_by_problem(after)
    ids = sorted(set(bmap) & set(amap), key=str)
    sd_ids, cg_ids, retained, lost = [], [], 0, 0
    for pid in ids:
        nb, cb = bmap[pid]
        na, ca = amap[pid]
        if nb <= 0 or na <= 0:
            continue
        kk = min(int(k), int(nb))
        if solved_before == "estimate":
            was_solved_k = pass_at_k(nb, cb, kk) >= before_threshold
        elif solved_before == "any":
            was_solved_k = cb > 0
        else:
            raise ValueError(f"solved_before must be 'estimate' or 'any', got {solved_before!r}")
        was_solved_1 = cb / nb >= after_threshold
        is_solved_1 = ca / na >= after_threshold
        if was_solved_1 and is_solved_1:
            retained += 1
        if was_solved_1 and not is_solved_1:
            lost += 1
        if not is_solved_1 or (exclude_solved_at_pass1_before and was_solved_1):
            continue
        (sd_ids if was_solved_k else cg_ids).append(pid)
    n = len(ids)
    sd, cg = len(sd_ids), len(cg_ids)
    share = (lambda x: x / n) if n else (lambda x: math.nan)
    return {
        "n_problems": n,
        "self_distillation": sd,
        "capability_gain": cg,
        "retained": retained,
        "lost": lost,
        "self_distillation_share": share(sd),
        "capability_gain_share": share(cg),
        "self_distillation_fraction_of_gains": sd / (sd + cg) if sd + cg else math.nan,
        "self_distillation_ids": sd_ids,
        "capability_gain_ids": cg_ids,
        "problem_ids": ids,
    }


def _rows_by_problem(table) -> dict:
    if hasattr(table, "to_dict"):
        records = table.to_dict("records")
    else:
        records = list(table)
    out = {}
    for r in records:
        pid = r["problem_id"]
        if pid in out:
            raise ValueError(f"problem_id {pid!r} appears twice; pass one split and one seed at a time")
        out[pid] = (int(r["n"]), int(r["c"]))
    return out
