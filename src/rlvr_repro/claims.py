"""Evaluate the claims registry (``paper/claims.yaml``) against one experiment's aggregated outputs.

One place for per-claim statistics; ``report.py`` only renders the rows this module returns.

* A claim names a benchmark **role** (``macro``, ``aime``, ``hard``, ...), not a split. The registry maps
  roles onto split names per data source (synthetic: ``test``/``ood``; hub: the benchmarks) and, where
  an experiment needs another mapping, per experiment (``experiments: {<name>: {roles: ...}}``).
* A test **kind** is a function in ``KINDS`` (name -> function, like the algorithm registries): it turns
  the data into one ``Unit`` per model size, i.e. a paired difference method - baseline with its interval
  (``stats.CI``: Student-t over seeds, or the two-level bootstrap over seeds and problems).
* Every row then gets the single verdict rule ``stats.verdict``, the minimum detectable effect
  (``stats.mde``), the reading of an inconclusive row (``stats.inconclusive_reading``), the comparison
  with a published effect (``stats.published_consistency``), and, across the claims of one paper in one
  experiment, Holm- and Benjamini-Hochberg-adjusted p-values (``stats.holm``, ``stats.benjamini_hochberg``).
* Errors, not "not run": a claim whose methods the experiment trains (``Experiment.runs``) but whose
  data lack them, or whose role maps onto a split the evaluation did not write. "not run": the
  experiment does not train the claim's methods. "not measured": the metric (e.g. pass@16 with n < 16
  samples) is not in eval.csv for the runs the claim needs.

Spec: docs/METHODS.md §0-§4 (methods and evaluation); the verdict rule is stated in the registry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import yaml

from rlvr_repro import stats
from rlvr_repro.aggregate import (
    RUN_KEYS,
    START_METHOD,
    curve_seed_values,
    eval_seed_values,
    hardest_difficulty,
    size_order,
    smooth,
    steps_to_target,
)

CLAIM_FIELDS = ["id", "paper", "paraphrase", "published", "source", "test"]
TEST_FIELDS = ["kind", "statistic", "comparison", "direction", "unit"]
ALL_SIZES = "(all models)"
CLAIMS_CSV_COLUMNS = [
    "claim_id",
    "paper",
    "exploratory",
    "exp",
    "size",
    "role",
    "splits",
    "method",
    "baseline",
    "statistic",
    "unit",
    "direction",
    "n",
    "n_seeds",
    "method_value",
    "baseline_value",
    "diff",
    "lo",
    "hi",
    "se",
    "interval",
    "level",
    "p",
    "verdict",
    "n_family",
    "p_holm",
    "holm",
    "p_bh",
    "bh",
    "mde",
    "mde_method",
    "min_effect",
    "reading",
    "reading_value",
    "published_effect",
    "published_check",
    "note",
]


class ClaimsError(ValueError):
    """The registry is malformed, or an experiment lacks what one of its claims needs (named)."""


# --------------------------------------------------------------------------------------------------
# the experiment being evaluated
# --------------------------------------------------------------------------------------------------
@dataclass
class Experiment:
    """What one experiment trains and evaluates: ``runs`` holds (size, method, seed) for every trained
    run and the start model; ``None`` means "unknown: take what the data hold" (then nothing can be
    reported missing)."""

    name: str
    source: str = "synthetic"
    splits: list[str] = field(default_factory=list)
    runs: set[tuple[str, str, int]] | None = None

    def sizes_with(self, methods: Iterable[str]) -> list[str]:
        methods = set(methods)
        runs = self.runs or set()
        sizes = {s for s, _, _ in runs}
        return size_order(s for s in sizes if methods <= {m for z, m, _ in runs if z == s})

    def trains(self, method: str) -> bool:
        return self.runs is None or any(m == method for _, m, _ in self.runs)


def experiment_from_json(obj: Mapping | str) -> Experiment:
    """``{"name", "source", "splits", "runs": [[size, method, seed], ...]}`` (the report rule writes it)."""
    if isinstance(obj, str):  # inline JSON, or the path of a JSON file
        obj = json.loads(obj if obj.lstrip().startswith("{") else Path(obj).read_text(encoding="utf-8"))
    runs = obj.get("runs")
    return Experiment(
        name=str(obj["name"]),
        source=str(obj.get("source", "synthetic")),
        splits=list(obj.get("splits", [])),
        runs=None if runs is None else {(str(s), str(m), int(k)) for s, m, k in runs},
    )


def experiment_from_config(config: Mapping) -> Experiment:
    """The experiment a merged config describes: its runs (RL, SFT-continue, ablations) plus the start
    model per size and seed, and the splits ``evaluate`` scores (hub: the benchmarks; else test, ood)."""
    from rlvr_repro import config as cfg  # jsonschema + yaml only

    hub = config["data"].get("source", "synthetic") == "hub"
    splits = list(config["data"]["benchmarks"]) if hub else ["test", "ood"]
    runs = {(str(s), str(m), int(k)) for s, m, k in cfg.runs(dict(config))}
    runs |= {(str(s), START_METHOD, int(k)) for s in config["sizes"] for k in config["seeds"]}
    return Experiment(config["name"], "hub" if hub else "synthetic", splits, runs)


def experiment_from_data(name: str, ev: pd.DataFrame) -> Experiment:
    """Fallback when no experiment description is given: splits from eval.csv, source guessed from them."""
    splits = sorted(set(ev["split"].dropna().astype(str))) if len(ev) else []
    source = "synthetic" if set(splits) <= {"test", "ood"} else "hub"
    return Experiment(name=name, source=source, splits=splits, runs=None)


# --------------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------------
def load_claims(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ClaimsError(f"{path}: claims file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ClaimsError(f"{path}: not valid YAML ({exc})") from None
    claims = doc.get("claims")
    if not isinstance(claims, list) or not claims:
        raise ClaimsError(f"{path}: no 'claims' list")
    doc.setdefault("verdict_rule", {})
    doc.setdefault("papers", {})
    doc.setdefault("roles", {})
    doc.setdefault("experiments", {})
    seen: set = set()
    for i, c in enumerate(claims):
        where = f"{path}: claim #{i + 1} ({c.get('id', '?')})"
        _check_claim(c, where, seen, doc)
    return doc


def _check_claim(c: dict, where: str, seen: set, doc: dict) -> None:
    missing = [f for f in CLAIM_FIELDS if f not in c]
    if missing:
        raise ClaimsError(f"{where}: missing field(s) {', '.join(missing)}")
    if c["id"] in seen:
        raise ClaimsError(f"{where}: duplicate id")
    seen.add(c["id"])
    t = c["test"]
    missing = [f for f in TEST_FIELDS if f not in t]
    if missing:
        raise ClaimsError(f"{where}: test is missing {', '.join(missing)}")
    if t["kind"] not in KINDS:
        raise ClaimsError(f"{where}: unknown test kind {t['kind']!r} (known: {', '.join(KINDS)})")
    if t["direction"] not in stats.DIRECTIONS:
        raise ClaimsError(f"{where}: direction must be one of {', '.join(stats.DIRECTIONS)}")
    if t["unit"] not in ("seed", "problem"):
        raise ClaimsError(f"{where}: unit must be seed or problem")
    if not {"method", "baseline"} <= set(t["comparison"]):
        raise ClaimsError(f"{where}: comparison needs method and baseline")
    if KIND_SOURCE[t["kind"]] in ("eval", "problems") and "role" not in t:
        raise ClaimsError(f"{where}: test needs a benchmark role (one of the registry's roles)")
    for source, roles in doc["roles"].items():
        if "role" in t and t["role"] not in roles:
            raise ClaimsError(f"{where}: role {t['role']!r} is not mapped for data source {source!r}")
    if min_effect_spec(c, doc) is None:
        raise ClaimsError(f"{where}: no min_effect (claim or verdict_rule.min_effect.{_effect_family(t)})")


def _effect_family(t: dict) -> str:
    if t["kind"] in ("problem_pass1", "decomposition", "decomposition_part"):
        return "share"
    metric = str(t.get("metric", ""))
    if metric in ("avg@n", "greedy_acc", "pass@k", "acc_by_difficulty", "accuracy", "reward"):
        return "accuracy"
    return metric or t["kind"]


def min_effect_spec(claim: dict, doc: dict):
    """The smallest effect of interest: the claim's ``min_effect``, else the rule's default for its
    statistic family; a number (claim units) or ``{relative: r}`` (r x |baseline value|)."""
    if "min_effect" in claim:
        return claim["min_effect"]
    return (doc.get("verdict_rule", {}).get("min_effect") or {}).get(_effect_family(claim["test"]))


def _min_effect(spec, baseline_value: float) -> float:
    if isinstance(spec, Mapping):
        return float(spec["relative"]) * abs(float(baseline_value))
    return float(spec)


def resolve_role(doc: dict, exp: Experiment, role: str) -> dict:
    """{splits: [...], difficulty: ...} of a role in this experiment (experiment override, else source)."""
    roles = (doc.get("experiments", {}).get(exp.name) or {}).get("roles") or doc["roles"].get(exp.source)
    if roles is None:
        raise ClaimsError(f"experiment {exp.name}: no role mapping for data source {exp.source!r}")
    if role not in roles:
        raise ClaimsError(f"experiment {exp.name}: role {role!r} is not mapped (known: {', '.join(roles)})")
    spec = roles[role]
    splits = spec["splits"] if isinstance(spec, Mapping) else spec
    splits = [splits] if isinstance(splits, str) else list(splits)
    return {"splits": splits, "difficulty": spec.get("difficulty") if isinstance(spec, Mapping) else None}


# --------------------------------------------------------------------------------------------------
# test kinds: each returns one Unit per model size
# --------------------------------------------------------------------------------------------------
@dataclass
class Data:
    curves: pd.DataFrame
    ev: pd.DataFrame
    problems: pd.DataFrame


@dataclass
class Ctx:
    test: dict
    method: str
    baseline: str
    splits: list[str]
    difficulty: str | None
    level: float
    n_boot: int
    boot_seed: int
    seed_interval: str

    @property
    def key(self) -> str:
        return self.test.get("metric", "accuracy")


@dataclass
class Unit:
    size: str
    ci: stats.CI
    method_value: float
    baseline_value: float
    note: str


def _seeds_note(seeds: Iterable) -> str:
    return f"seeds {' '.join(str(s) for s in sorted(seeds))}"


def _paired_seed_units(by_size: Mapping[str, Mapping[str, Mapping]], ctx: Ctx, extra=None) -> list[Unit]:
    """Seed-level claims: paired difference method - baseline on matching seeds, per size."""
    out = []
    for size in size_order(by_size):
        by = by_size[size]
        if ctx.method not in by or ctx.baseline not in by:
            continue
        a, b = by[ctx.method], by[ctx.baseline]
        common = sorted(set(a) & set(b))
        ci = stats.paired_diff_ci(
            a, b, level=ctx.level, method=ctx.seed_interval, n_boot=ctx.n_boot, seed=ctx.boot_seed
        )
        note = _seeds_note(common) + (extra(size, common) if extra else "")
        mv = float(np.mean([a[s] for s in common])) if common else math.nan
        bv = float(np.mean([b[s] for s in common])) if common else math.nan
        out.append(Unit(size, ci, mv, bv, note))
    return out


def _by_size(vals: pd.DataFrame) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for (size, method), g in vals.groupby(["size", "method"]):
        out.setdefault(size, {})[method] = dict(
            zip(g["seed"].astype(int), g["value"].astype(float), strict=True)
        )
    return out


def kind_eval(ctx: Ctx, data: Data) -> list[Unit]:
    """One eval.csv value per run (a list of splits: their unweighted mean, a macro average)."""
    t = ctx.test
    vals = eval_seed_values(data.ev, t["metric"], ctx.splits, t.get("k"), ctx.difficulty)
    return _paired_seed_units(_by_size(vals), ctx)


def kind_curve_final(ctx: Ctx, data: Data) -> list[Unit]:
    """Mean of a curves.csv key over the final ``final_frac`` share of logged steps, per run."""
    vals = curve_seed_values(data.curves, ctx.key, frac=float(ctx.test.get("final_frac", 0.1)), where="final")
    return _paired_seed_units(_by_size(vals), ctx)


def kind_curve_drop(ctx: Ctx, data: Data) -> list[Unit]:
    """Mean over the first ``frac`` share of steps minus mean over the final ``frac`` share, per run."""
    frac = float(ctx.test.get("frac", 0.1))
    first = curve_seed_values(data.curves, ctx.key, frac=frac, where="first")
    last = curve_seed_values(data.curves, ctx.key, frac=frac, where="final")
    m = first.merge(last, on=RUN_KEYS, suffixes=("_first", "_last"))
    vals = m.assign(value=m["value_first"] - m["value_last"])[[*RUN_KEYS, "value"]]
    return _paired_seed_units(_by_size(vals), ctx)


def kind_steps_to_target(ctx: Ctx, data: Data) -> list[Unit]:
    """First step at which a run's smoothed curve (trailing mean over ``smooth`` steps) reaches the
    baseline's final smoothed value on the same seed; never reached: censored at its last step + 1."""
    window = int(ctx.test.get("smooth", 5))
    by_size: dict[str, dict[str, dict]] = {}
    censored: set = set()
    if ctx.key not in data.curves.columns:
        return []
    for (size, seed), g in data.curves.dropna(subset=[ctx.key]).groupby(["size", "seed"]):
        base = g[g["method"] == ctx.baseline].sort_values("step")
        if base.empty:
            continue
        target = float(smooth(base[ctx.key].to_numpy(), window)[-1])
        for m in (ctx.method, ctx.baseline):
            run = g[g["method"] == m]
            if run.empty:
                continue
            s = steps_to_target(run["step"].to_numpy(), run[ctx.key].to_numpy(), target, window)
            if math.isnan(s):
                s = float(run["step"].max() + 1)
                censored.add((size, m, int(seed)))
            by_size.setdefault(size, {}).setdefault(m, {})[int(seed)] = s

    def cens(size, common):
        c = sorted(f"{m}/seed {s}" for (z, m, s) in censored if z == size and s in common)
        return f"; never reached the target (censored at last step + 1): {', '.join(c)}" if c else ""

    return _paired_seed_units(by_size, ctx, cens)


def _problem_rows(ctx: Ctx, data: Data) -> pd.DataFrame:
    sub = data.problems[data.problems["split"].isin(ctx.splits)]
    if ctx.difficulty is not None and len(sub):
        level = ctx.difficulty
        if level == "hardest":
            level = hardest_difficulty(sub["difficulty"].dropna().astype(str))
        sub = sub[sub["difficulty"].astype(str) == str(level)]
    return sub.assign(key=sub["split"].astype(str) + "/" + sub["problem_id"].astype(str))


def _two_level_units(per_size: Mapping[str, Mapping[int, Mapping]], ctx: Ctx, values) -> list[Unit]:
    out = []
    for size in size_order(per_size):
        diffs = per_size[size]
        if not diffs:
            continue
        ci = stats.two_level_bootstrap(diffs, level=ctx.level, n_boot=ctx.n_boot, seed=ctx.boot_seed)
        mv, bv, note = values(size)
        out.append(Unit(size, ci, mv, bv, note))
    return out


def kind_problem_pass1(ctx: Ctx, data: Data) -> list[Unit]:
    """Per problem and seed, pass@1 = c/n of method minus baseline (same seed, same problem); interval:
    two-level bootstrap over seeds and problems."""
    sub = _problem_rows(ctx, data)
    per_size, summary = {}, {}
    for size, g in sub.groupby("size"):
        piv = g.assign(v=g["c"] / g["n"]).pivot_table(index=["seed", "key"], columns="method", values="v")
        if ctx.method not in piv or ctx.baseline not in piv:
            continue
        d = (piv[ctx.method] - piv[ctx.baseline]).dropna()
        per_size[size] = {int(s): dict(x.droplevel(0).items()) for s, x in d.groupby(level=0)}
        seeds = sorted(per_size[size])
        both = piv.loc[d.index]
        summary[size] = (
            float(both[ctx.method].groupby(level=0).mean().mean()),
            float(both[ctx.baseline].groupby(level=0).mean().mean()),
            f"{_where(ctx, g)}; per-problem c/n on {_seeds_note(seeds)}",
        )
    return _two_level_units(per_size, ctx, summary.__getitem__)


def _where(ctx: Ctx, g: pd.DataFrame) -> str:
    where = f"splits {', '.join(ctx.splits)}"
    if ctx.difficulty == "hardest":
        where += f", hardest difficulty = {hardest_difficulty(g['difficulty'].dropna().astype(str))}"
    elif ctx.difficulty is not None:
        where += f", difficulty {ctx.difficulty}"
    return where


def _decomp_indicators(ctx: Ctx, g: pd.DataFrame, method: str, start: str, seed: int) -> pd.DataFrame:
    """Per problem on one seed: self-distillation (sd) and capability-gain (cg) indicators of ``method``
    against the start model (stats.passk_decomposition)."""
    t = ctx.test
    params = {
        "k": int(t.get("k", 16)),
        "solved_before": t.get("solved_before", "estimate"),
        "before_threshold": float(t.get("before_threshold", 0.5)),
        "after_threshold": float(t.get("after_threshold", 0.5)),
    }
    before = g[(g["method"] == start) & (g["seed"] == seed)][["key", "n", "c"]].rename(
        columns={"key": "problem_id"}
    )
    after = g[(g["method"] == method) & (g["seed"] == seed)][["key", "n", "c"]].rename(
        columns={"key": "problem_id"}
    )
    d = stats.passk_decomposition(before, after, **params)
    sd, cg = set(d["self_distillation_ids"]), set(d["capability_gain_ids"])
    ids = d["problem_ids"]
    return pd.DataFrame({"sd": [float(p in sd) for p in ids], "cg": [float(p in cg) for p in ids]}, index=ids)


def _decomposition(ctx: Ctx, data: Data, part: str | None) -> list[Unit]:
    sub = _problem_rows(ctx, data)
    start = ctx.baseline if part is None else ctx.test.get("start", START_METHOD)
    per_size, summary = {}, {}
    for size, g in sub.groupby("size"):
        need = {ctx.method, start} | (set() if part is None else {ctx.baseline})
        seeds = sorted(set.intersection(*(set(g.loc[g["method"] == m, "seed"]) for m in need)))
        diffs, mv, bv = {}, [], []
        for seed in seeds:
            a = _decomp_indicators(ctx, g, ctx.method, start, seed)
            if part is None:  # 1[self-distillation] - 1[capability gain], method vs start
                diffs[seed] = (a["sd"] - a["cg"]).to_dict()
                mv.append(a["sd"].mean())
                bv.append(a["cg"].mean())
            else:  # one part, method minus baseline, both against the start model
                b = _decomp_indicators(ctx, g, ctx.baseline, start, seed)[part]
                common = a.index.intersection(b.index)
                diffs[seed] = (a.loc[common, part] - b[common]).to_dict()
                mv.append(a.loc[common, part].mean())
                bv.append(b[common].mean())
        if not seeds:
            continue
        per_size[size] = diffs
        what = (
            f"method_value = self-distillation share, baseline_value = capability-gain share ({ctx.method} vs {start})"
            if part is None
            else f"{part} share vs start {start}"
        )
        summary[size] = (
            float(np.mean(mv)),
            float(np.mean(bv)),
            f"{what}; {_where(ctx, g)}; {_seeds_note(seeds)}",
        )
    return _two_level_units(per_size, ctx, summary.__getitem__)


def kind_decomposition(ctx: Ctx, data: Data) -> list[Unit]:
    """Per problem and seed, 1[self-distillation] - 1[capability gain] of method vs the start model."""
    return _decomposition(ctx, data, None)


def kind_decomposition_part(ctx: Ctx, data: Data) -> list[Unit]:
    """Per problem and seed, one part's indicator (``part``), method minus baseline, vs the start model."""
    part = {"self_distillation": "sd", "capability_gain": "cg"}[ctx.test.get("part", "capability_gain")]
    return _decomposition(ctx, data, part)


KINDS: dict[str, Callable[[Ctx, Data], list[Unit]]] = {
    "eval": kind_eval,
    "problem_pass1": kind_problem_pass1,
    "curve_final": kind_curve_final,
    "curve_drop": kind_curve_drop,
    "steps_to_target": kind_steps_to_target,
    "decomposition": kind_decomposition,
    "decomposition_part": kind_decomposition_part,
}
KIND_SOURCE = {
    "eval": "eval",
    "problem_pass1": "problems",
    "curve_final": "curves",
    "curve_drop": "curves",
    "steps_to_target": "curves",
    "decomposition": "problems",
    "decomposition_part": "problems",
}


# --------------------------------------------------------------------------------------------------
# one claim in one experiment
# --------------------------------------------------------------------------------------------------
def _needed(t: dict) -> list[str]:
    need = [t["comparison"]["method"], t["comparison"]["baseline"]]
    if t["kind"] == "decomposition_part":
        need.append(t.get("start", START_METHOD))
    return list(dict.fromkeys(need))


def _frame(data: Data, kind: str) -> pd.DataFrame:
    return {"eval": data.ev, "curves": data.curves, "problems": data.problems}[KIND_SOURCE[kind]]


def _present(df: pd.DataFrame) -> set[tuple[str, str]]:
    if df.empty or "method" not in df.columns:
        return set()
    return set(zip(df["size"].astype(str), df["method"].astype(str), strict=True))


def _check_available(claim: dict, exp: Experiment, data: Data, splits: list[str] | None) -> list[str]:
    """Sizes to evaluate; raises ClaimsError where the experiment trains the methods but the data lack
    them, or where a role's split was not evaluated."""
    t = claim["test"]
    need = _needed(t)
    df = _frame(data, t["kind"])
    present = _present(df)
    if exp.runs is None:
        sizes = size_order({s for s, _ in present})
        sizes = [s for s in sizes if all((s, m) in present for m in need)]
    else:
        sizes = exp.sizes_with(need)
        lacking = [f"{m} at size {s}" for s in sizes for m in need if (s, m) not in present]
        if lacking:
            raise ClaimsError(
                f"claim {claim['id']}: experiment {exp.name} trains {', '.join(lacking)} but "
                f"{KIND_SOURCE[t['kind']]}.csv has no rows for it"
            )
    if splits and sizes:
        have = set(df["split"].astype(str)) if "split" in df.columns else set()
        missing = [s for s in splits if s not in have]
        if missing:
            raise ClaimsError(
                f"claim {claim['id']}: experiment {exp.name}: role {t['role']!r} maps onto split(s) "
                f"{', '.join(missing)}, absent from {KIND_SOURCE[t['kind']]}.csv (evaluated: {', '.join(sorted(have))})"
            )
    return sizes


def _unmeasured(t: dict, data: Data, splits: list[str], sizes: list[str]) -> list[str]:
    """Runs the claim needs whose eval.csv lacks the metric (e.g. pass@16 when n < 16)."""
    if t["kind"] != "eval":
        return []
    ev = data.ev
    sel = (ev["metric"] == t["metric"]) & ev["split"].isin(splits)
    if t.get("k") is not None:
        sel &= ev["k"] == t["k"]
    have = _present(ev[sel])
    return [f"{m} at {s}" for s in sizes for m in _needed(t) if (s, m) not in have]


def evaluate_claim(claim: dict, doc: dict, exp: Experiment, data: Data) -> list[dict]:
    t = claim["test"]
    rule = doc.get("verdict_rule", {})
    method, baseline = t["comparison"]["method"], t["comparison"]["baseline"]
    role = resolve_role(doc, exp, t["role"]) if "role" in t else {"splits": [], "difficulty": None}
    base = {
        "claim_id": claim["id"],
        "paper": claim["paper"],
        "exploratory": bool(claim.get("exploratory", False)),
        "exp": exp.name,
        "role": t.get("role", ""),
        "splits": " ".join(role["splits"]),
        "method": method,
        "baseline": baseline,
        "statistic": t["statistic"],
        "unit": t["unit"],
        "direction": t["direction"],
        "level": float(rule.get("level", stats.DEFAULT_LEVEL)),
    }
    absent = [m for m in _needed(t) if not exp.trains(m)]
    if absent:
        note = f"not trained in experiment {exp.name}: {', '.join(absent)}"
        return [base | {"size": "", "n": 0, "verdict": stats.NOT_RUN, "note": note}]
    sizes = _check_available(claim, exp, data, role["splits"])
    if not sizes:
        note = f"no model size of experiment {exp.name} has {', '.join(_needed(t))} in its data"
        return [base | {"size": "", "n": 0, "verdict": stats.NOT_RUN, "note": note}]
    lacking = _unmeasured(t, data, role["splits"], sizes)
    if lacking:
        what = t["metric"] + (f" k={t['k']}" if t.get("k") is not None else "")
        note = f"{what} is not in eval.csv for {', '.join(lacking)}" + (
            f" ({t['needs']})" if t.get("needs") else ""
        )
        return [base | {"size": "", "n": 0, "verdict": stats.NOT_MEASURED, "note": note}]
    ctx = Ctx(
        test=t,
        method=method,
        baseline=baseline,
        splits=role["splits"],
        difficulty=t.get("difficulty", role["difficulty"]),
        level=base["level"],
        n_boot=int(rule.get("n_boot", stats.DEFAULT_N_BOOT)),
        boot_seed=int(rule.get("boot_seed", 0)),
        seed_interval=rule.get("seed_interval", stats.DEFAULT_SEED_CI),
    )
    units = [u for u in KINDS[t["kind"]](ctx, data) if u.size in sizes]
    if not units:
        note = f"no paired values for {method} and {baseline} (matching seeds, problems, difficulty)"
        return [base | {"size": "", "n": 0, "verdict": stats.NOT_MEASURED, "note": note}]
    rows = [base | unit_row(claim, doc, exp, u) for u in units]
    return rows


def unit_row(claim: dict, doc: dict, exp: Experiment, u: Unit) -> dict:
    """Verdict, power and magnitude columns of one size."""
    t, ci = claim["test"], u.ci
    min_eff = _min_effect(min_effect_spec(claim, doc), u.baseline_value)
    margin = min_eff if t["direction"] == "equivalent" else None
    v = stats.verdict(ci.lo, ci.hi, t["direction"], margin=margin, n_seeds=ci.n_seeds)
    p = _equivalence_p(ci, min_eff, v == stats.CONTRADICTED) if t["direction"] == "equivalent" else ci.p
    mde = stats.mde(ci.se, ci.df)
    reading, reading_value = "", math.nan
    if v == stats.INCONCLUSIVE:
        reading, reading_value = stats.inconclusive_reading(ci.lo, ci.hi, t["direction"], mde, min_eff)
    pub = claim.get("published_effect") or {}
    comparable = exp.name in pub.get("experiments", [])
    published = pub.get("value") if comparable else None
    check = stats.published_consistency(published, ci.lo, ci.hi) if comparable else (
        "not comparable (other setting)" if pub else "no published number"
    )  # fmt: skip
    interval = f"{ci.method} over {'seeds' if ci.unit == 'seed' else 'seeds and problems'}"
    return {
        "size": u.size,
        "n": ci.n,
        "n_seeds": ci.n_seeds,
        "method_value": u.method_value,
        "baseline_value": u.baseline_value,
        "diff": ci.mean,
        "lo": ci.lo,
        "hi": ci.hi,
        "se": ci.se,
        "interval": interval,
        "p": p,
        "verdict": v,
        "mde": mde,
        "mde_method": f"t (df {ci.df:g})" if math.isfinite(ci.df) else "z",
        "min_effect": min_eff,
        "reading": reading,
        "reading_value": reading_value,
        "published_effect": pub.get("value", math.nan) if pub else math.nan,
        "published_check": check,
        "note": u.note,
    }


def _equivalence_p(ci: stats.CI, margin: float, against: bool) -> float:
    """p-value matching an equivalence verdict (t on df, else normal). Equivalence: two one-sided tests
    of |diff| >= margin, the larger one-sided p (<= 0.025 exactly when the 95% interval lies inside the
    margins). ``against`` (non-equivalence shown): two-sided p of |diff| <= margin, 2 (1 - F((|d| - m)/se)).
    """
    if not math.isfinite(ci.se):
        return math.nan
    if ci.se == 0.0:
        inside = abs(ci.mean) < margin
        return (1.0 if inside else 0.0) if against else (0.0 if inside else 1.0)
    cdf = (lambda z: stats.t_cdf(z, ci.df)) if math.isfinite(ci.df) else NormalDist().cdf
    if against:
        return min(1.0, 2.0 * (1.0 - cdf((abs(ci.mean) - margin) / ci.se)))
    return max(1.0 - cdf((ci.mean + margin) / ci.se), 1.0 - cdf((margin - ci.mean) / ci.se))


def consistency_row(rows: list[dict]) -> dict:
    """ "Consistently" across every model evaluated together (sizes, and experiments when several are
    evaluated at once): reproduced only when every model's row is; contradicted when any is; descriptive
    when any model has one seed (the note counts the models with a difference on the claimed side);
    p = the largest p (intersection-union test)."""
    verdicts = [r["verdict"] for r in rows]
    side = {"greater": 1.0, "less": -1.0}.get(rows[0]["direction"], 0.0)
    on_side = sum(1 for r in rows if side * float(r["diff"]) > 0)
    if len(rows) < 2:
        v, note = stats.INCONCLUSIVE, "one model evaluated; consistency needs the claim's other models"
    elif all(x == stats.REPRODUCED for x in verdicts):
        v, note = stats.REPRODUCED, "reproduced at every model"
    elif stats.CONTRADICTED in verdicts:
        v, note = stats.CONTRADICTED, "contradicted at some model"
    elif stats.DESCRIPTIVE in verdicts:
        v, note = (
            stats.DESCRIPTIVE,
            f"one seed at some model; {on_side} of {len(rows)} differences on the claimed side",
        )
    else:
        v, note = stats.INCONCLUSIVE, "not reproduced at every model"
    ps = [float(r["p"]) for r in rows]
    keep = (
        "claim_id",
        "paper",
        "exploratory",
        "role",
        "method",
        "baseline",
        "statistic",
        "unit",
        "direction",
        "level",
    )
    return {k: rows[0][k] for k in keep} | {
        "exp": " + ".join(dict.fromkeys(r["exp"] for r in rows)),
        "splits": " | ".join(dict.fromkeys(r["splits"] for r in rows)),
        "size": ALL_SIZES,
        "n": len(rows),
        "p": max(ps) if len(rows) > 1 and all(math.isfinite(x) for x in ps) else math.nan,
        "verdict": v,
        "note": f"{note}: " + ", ".join(f"{r['exp']}/{r['size']} {r['verdict']}" for r in rows),
    }


# --------------------------------------------------------------------------------------------------
# all claims, multiplicity
# --------------------------------------------------------------------------------------------------
def add_multiplicity(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm and BH over one family = the confirmatory rows (not exploratory, one per size, with a finite
    p and a reproduced/contradicted/inconclusive verdict) of one paper in one experiment."""
    df = df.copy()
    tested = (
        ~df["exploratory"].astype(bool)
        & (df["size"] != ALL_SIZES)
        & df["verdict"].isin([stats.REPRODUCED, stats.CONTRADICTED, stats.INCONCLUSIVE])
        & np.isfinite(pd.to_numeric(df["p"], errors="coerce").astype(float))
    )
    for col in ("p_holm", "p_bh", "n_family"):
        df[col] = math.nan
    df["holm"] = ""
    df["bh"] = ""
    for _, g in df[tested].groupby(["exp", "paper"]):
        p = g["p"].astype(float).tolist()
        df.loc[g.index, "p_holm"] = stats.holm(p)
        df.loc[g.index, "p_bh"] = stats.benjamini_hochberg(p)
        df.loc[g.index, "n_family"] = len(g)
    decided = tested & df["verdict"].isin([stats.REPRODUCED, stats.CONTRADICTED])
    for col, adj in (("holm", "p_holm"), ("bh", "p_bh")):
        df.loc[decided, col] = np.where(df.loc[decided, adj] <= alpha, "survives", "does not survive")
    return df


def evaluate_claims(doc: dict, data: Data, experiments: list[Experiment] | None = None) -> pd.DataFrame:
    """Every claim in every experiment (default: each ``exp`` in the data, described by the data)."""
    if experiments is None:
        names = sorted(
            set(data.ev["exp"].dropna().astype(str))
            | set(data.curves.get("exp", pd.Series(dtype=str)).dropna().astype(str))
        ) or ["?"]
        experiments = [experiment_from_data(n, data.ev[data.ev["exp"].astype(str) == n]) for n in names]
    rows = []
    for claim in doc["claims"]:
        per_model = []
        for exp in experiments:
            sub = Data(*(_only(df, exp.name) for df in (data.curves, data.ev, data.problems)))
            out = evaluate_claim(claim, doc, exp, sub)
            rows += out
            per_model += [r for r in out if r["verdict"] not in (stats.NOT_RUN, stats.NOT_MEASURED)]
        if claim.get("across_models") and per_model:
            rows.append(consistency_row(per_model))
    df = pd.DataFrame(rows)
    for col in CLAIMS_CSV_COLUMNS:
        if col not in df.columns:
            df[col] = math.nan
    level = float(doc.get("verdict_rule", {}).get("level", stats.DEFAULT_LEVEL))
    return add_multiplicity(df[CLAIMS_CSV_COLUMNS], 1.0 - level)[CLAIMS_CSV_COLUMNS]


def _only(df: pd.DataFrame, exp: str) -> pd.DataFrame:
    if df.empty or "exp" not in df.columns:
        return df
    return df[df["exp"].astype(str) == exp]


# --------------------------------------------------------------------------------------------------
# dry run and CLI
# --------------------------------------------------------------------------------------------------
PLAN_COLUMNS = [
    "claim_id",
    "paper",
    "kind",
    "role",
    "splits",
    "difficulty",
    "metric",
    "methods",
    "sizes",
    "status",
]


def plan_claims(doc: dict, exp: Experiment) -> pd.DataFrame:
    """Dry run (no data read): per claim, the splits its role maps onto in this experiment, the methods
    it needs, the sizes where the experiment trains all of them, and "evaluated" or why "not run"."""
    rows = []
    for c in doc["claims"]:
        t = c["test"]
        role = resolve_role(doc, exp, t["role"]) if "role" in t else {"splits": [], "difficulty": None}
        unknown = [s for s in role["splits"] if exp.splits and s not in exp.splits]
        if unknown:
            raise ClaimsError(
                f"claim {c['id']}: experiment {exp.name}: role {t['role']!r} maps onto split(s) "
                f"{', '.join(unknown)}, which it does not evaluate ({', '.join(exp.splits)})"
            )
        need = _needed(t)
        absent = [m for m in need if not exp.trains(m)]
        sizes = exp.sizes_with(need) if exp.runs is not None else []
        status = f"{stats.NOT_RUN}: {', '.join(absent)} not trained" if absent else "evaluated"
        metric = t.get("metric", "") + (f" k={t['k']}" if t.get("k") is not None else "")
        rows.append(
            [c["id"], c["paper"], t["kind"], t.get("role", ""), " ".join(role["splits"]),
             t.get("difficulty", role["difficulty"]) or "", metric, " ".join(need), " ".join(sizes), status]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def build_parser():
    import argparse

    p = argparse.ArgumentParser(
        prog="rlvr claims",
        description="Dry run of the claims registry for experiment configs (which splits each claim reads, "
        "which methods it needs, what is not run); with --data-dir, the claims evaluated on the aggregated "
        "curves.csv, eval.csv and problems.csv. Several experiments at once also give each across_models "
        "claim one row over all their models.",
    )
    p.add_argument("--claims", default="paper/claims.yaml")
    p.add_argument(
        "--base", default="config/config.yaml", help="the config every experiment file is merged over"
    )
    p.add_argument("--experiment", action="append", default=[], help="config/experiments/X.yaml (repeatable)")
    p.add_argument(
        "--data-dir",
        action="append",
        default=[],
        help="results/<exp>/tables, one per --experiment, same order",
    )
    p.add_argument("--out", default=None, help="write the CSV here (default: stdout)")
    return p


def _load_experiment(base: Path, path: str | None) -> Experiment:
    from rlvr_repro import config as cfg  # jsonschema + yaml only

    merged = yaml.safe_load(Path(base).read_text(encoding="utf-8"))
    if path:
        merged = cfg.merge(merged, yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    cfg.validate(merged, source=f"{base} + {path}" if path else str(base))
    return experiment_from_config(merged)


def main(argv: list[str] | None = None) -> int:
    import sys

    from rlvr_repro.aggregate import read_tables

    args = build_parser().parse_args(argv)
    try:
        exps = [_load_experiment(args.base, e) for e in args.experiment or [None]]
        doc = load_claims(args.claims)
        if args.data_dir:
            if len(args.data_dir) != len(exps):
                raise ValueError("give one --data-dir per --experiment")
            frames = [read_tables(d) for d in args.data_dir]
            data = Data(*(pd.concat([f[i] for f in frames], ignore_index=True) for i in range(3)))
            out = evaluate_claims(doc, data, exps)
        else:
            out = pd.concat([plan_claims(doc, e).assign(exp=e.name) for e in exps], ignore_index=True)
    except (ClaimsError, FileNotFoundError, ValueError) as exc:
        print(f"[claims] error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out.to_csv(args.out, index=False)
    else:
        print(out.to_csv(index=False), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
