"""Claims at paper scale: roles map onto benchmark splits, missing data is an error, and every row carries
its verdict, MDE, multiplicity and published comparison. Fixtures are eval.csv / problems.csv rows in the
columns aggregate.py defines, with the hub benchmarks as splits."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from rlvr_repro import aggregate, claims, stats

REPO = Path(__file__).resolve().parents[1]
CLAIMS = REPO / "paper" / "claims.yaml"
HUB = ["math500", "aime24", "aime25", "amc23", "minerva", "olympiadbench"]
SIZE = "qwen25math7b"


def eval_rows(exp, values, splits=HUB, metric="avg@n", k=None):
    """values: method -> {seed: value on every split}."""
    rows = []
    for method, by_seed in values.items():
        for seed, v in by_seed.items():
            for split in splits:
                rows.append(
                    {"exp": exp, "size": SIZE, "method": method, "seed": seed, "split": split}
                    | {"metric": metric, "k": k, "difficulty": "", "value": v, "n": 16, "temperature": 0.6}
                )
    return pd.DataFrame(rows, columns=aggregate.EVAL_COLUMNS)


def problem_rows(exp, counts, splits=("aime24", "aime25")):
    """counts: method -> {seed: [c per problem]} on every split (n = 16)."""
    rows = []
    for method, by_seed in counts.items():
        for seed, cs in by_seed.items():
            for split in splits:
                for i, c in enumerate(cs):
                    rows.append(
                        {"exp": exp, "size": SIZE, "method": method, "seed": seed, "split": split}
                        | {"problem_id": f"q{i}", "difficulty": "", "n": 16, "c": c}
                        | {"greedy_correct": int(c >= 8), "mean_length": 600.0}
                    )
    return pd.DataFrame(rows, columns=aggregate.PROBLEM_COLUMNS)


def experiment(name, methods, seeds=(0, 1, 2), splits=HUB):
    runs = {(SIZE, m, s) for m in [*methods, "sft"] for s in seeds}
    return claims.Experiment(name=name, source="hub", splits=list(splits), runs=runs)


def empty_curves():
    return pd.DataFrame(columns=aggregate.CURVE_REQUIRED)


@pytest.fixture(scope="module")
def doc():
    return claims.load_claims(CLAIMS)


def rows_of(df, claim_id):
    return df[df["claim_id"] == claim_id]


# ------------------------------------------------------------------------------------- dry run
def test_every_claim_maps_onto_benchmarks_at_paper_scale(doc):
    methods = {m for c in doc["claims"] for m in claims._needed(c["test"])}
    exp = experiment("all_methods_hub", methods)
    plan = claims.plan_claims(doc, exp)
    assert len(plan) == len(doc["claims"]) and set(plan["status"]) == {"evaluated"}
    with_role = plan[plan["role"] != ""]
    # every role names benchmark columns, none of the synthetic splits
    for _, r in with_role.iterrows():
        splits = r["splits"].split()
        assert splits and set(splits) <= set(HUB), r["claim_id"]
    by_id = plan.set_index("claim_id")
    assert by_id.loc["guide_macro_acc_vs_grpo", "splits"] == " ".join(HUB)  # the macro average
    assert by_id.loc["etr_aime_vs_grpo", "splits"] == "aime24 aime25"
    assert by_id.loc["etr_math500_vs_grpo", "splits"] == "math500"
    assert by_id.loc["guide_hard_pass1_vs_grpo", "splits"] == "aime24 aime25"  # hard problems: AIME


def test_paper_configs_dry_run(doc):
    import yaml

    from rlvr_repro import config as cfg

    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in ("guide_qwen25math7b", "etr_qwen25math7b", "etr_qwen3_8b_base", "adora_qwen25_7b"):
        merged = cfg.merge(
            base, yaml.safe_load((REPO / "config" / "experiments" / f"{name}.yaml").read_text())
        )
        exp = claims.experiment_from_config(merged)
        assert exp.source == "hub" and set(exp.splits) == set(HUB)
        plan = claims.plan_claims(doc, exp)
        paper = {"guide_qwen25math7b": "guide", "adora_qwen25_7b": "adora"}.get(name, "etr")
        main = plan[(plan["paper"] == paper) & plan["claim_id"].str.contains("_vs_grpo")]
        assert (main["status"] == "evaluated").all(), (name, main)


def test_synthetic_roles_keep_test_and_ood(doc):
    exp = claims.Experiment("default", "synthetic", ["test", "ood"], None)
    assert claims.resolve_role(doc, exp, "macro")["splits"] == ["test", "ood"]
    assert claims.resolve_role(doc, exp, "hard") == {"splits": ["test"], "difficulty": "hardest"}


# ------------------------------------------------------------------------------ evaluation
def test_etr_on_benchmarks_hand_computed(doc):
    # etr - grpo per seed: 0.04, 0.05, 0.06 on every benchmark -> mean 0.05, sd 0.01, se 0.01/sqrt(3)
    grpo = {0: 0.30, 1: 0.31, 2: 0.32}
    etr = {0: 0.34, 1: 0.36, 2: 0.38}
    ev = eval_rows("etr_x", {"grpo": grpo, "etr": etr, "sft": {0: 0.2, 1: 0.2, 2: 0.2}})
    data = claims.Data(empty_curves(), ev, problem_rows("etr_x", {}))
    exp = experiment("etr_x", ["grpo", "etr"])
    etr = doc | {"claims": [c for c in doc["claims"] if c["paper"] == "etr"]}
    with pytest.raises(claims.ClaimsError, match="etr_learns_faster: experiment etr_x trains etr.*curves"):
        claims.evaluate_claims(etr, data, [exp])  # etr and grpo trained but no training curves
    doc_eval = doc | {"claims": [c for c in doc["claims"] if c["test"]["kind"] == "eval"]}
    df = claims.evaluate_claims(doc_eval, data, [exp])
    row = rows_of(df, "etr_aime_vs_grpo").iloc[0]
    se = 0.01 / math.sqrt(3)
    assert row["splits"] == "aime24 aime25" and row["n"] == 3
    assert row["diff"] == pytest.approx(0.05)
    assert row["lo"] == pytest.approx(0.05 - 4.302653 * se, abs=1e-6)
    assert row["se"] == pytest.approx(se)
    t = 0.05 / se  # two-sided p on 2 df: 1 - t / sqrt(t^2 + 2)
    assert row["p"] == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-5)
    assert (
        row["mde"] == pytest.approx((4.302653 + 1.060660) * se, abs=1e-6) and row["mde_method"] == "t (df 2)"
    )
    assert row["verdict"] == "reproduced"
    # ETR's three accuracy claims form its family: Holm multiplies the smallest p by 3
    fam = df[(df["paper"] == "etr") & df["n_family"].notna()]
    assert set(fam["claim_id"]) == {"etr_aime_vs_grpo", "etr_math500_vs_grpo", "etr_consistently_beats_grpo"}
    assert (fam["n_family"] == 3).all()
    assert fam["p_holm"].tolist() == pytest.approx(stats.holm(fam["p"].tolist()))
    assert row["p_holm"] == pytest.approx(min(1.0, 3 * row["p"]))
    assert rows_of(df, "etr_aime_vs_grpo").iloc[1]["size"] == claims.ALL_SIZES  # across_models row
    assert rows_of(df, "etr_ablation_micro_only")["verdict"].tolist() == ["not run"]


def test_one_seed_is_descriptive(doc):
    ev = eval_rows("guide_x", {m: {0: v} for m, v in (("grpo", 0.3), ("guide", 0.4), ("filter_grpo", 0.3))})
    data = claims.Data(empty_curves(), ev, problem_rows("guide_x", {}))
    one = doc | {"claims": [c for c in doc["claims"] if c["id"] == "guide_macro_acc_vs_grpo"]}
    df = claims.evaluate_claims(
        one, data, [experiment("guide_x", ["grpo", "guide", "filter_grpo"], seeds=(0,))]
    )
    row = df.iloc[0]
    assert row["verdict"] == "descriptive" and row["diff"] == pytest.approx(0.1) and math.isnan(row["p_holm"])


def test_missing_method_or_split_is_an_error(doc):
    one = doc | {"claims": [c for c in doc["claims"] if c["id"] == "guide_macro_acc_vs_grpo"]}
    exp = experiment("guide_x", ["grpo", "guide"])
    ev = eval_rows("guide_x", {"grpo": {0: 0.3, 1: 0.3, 2: 0.3}})
    with pytest.raises(claims.ClaimsError, match=r"guide_macro_acc_vs_grpo.*guide_x.*guide at size"):
        claims.evaluate_claims(one, claims.Data(empty_curves(), ev, problem_rows("guide_x", {})), [exp])
    vals = {m: {0: 0.3, 1: 0.3, 2: 0.3} for m in ("grpo", "guide")}
    ev = eval_rows("guide_x", vals, splits=[s for s in HUB if s != "aime25"])
    with pytest.raises(claims.ClaimsError, match=r"guide_macro_acc_vs_grpo.*guide_x.*role 'macro'.*aime25"):
        claims.evaluate_claims(one, claims.Data(empty_curves(), ev, problem_rows("guide_x", {})), [exp])
    # not trained here at all: "not run", not an error
    df = claims.evaluate_claims(
        one, claims.Data(empty_curves(), ev, problem_rows("x", {})), [experiment("x", [])]
    )
    assert df["verdict"].tolist() == ["not run"] and "guide" in df["note"].iloc[0]


def test_unmeasured_metric_is_not_measured(doc):
    one = doc | {"claims": [c for c in doc["claims"] if c["id"] == "guide_pass16_vs_grpo"]}
    vals = {m: {0: 0.3, 1: 0.3, 2: 0.3} for m in ("grpo", "guide")}
    ev = eval_rows("g", vals, metric="pass@k", k=8)  # eval n = 8: no pass@16
    df = claims.evaluate_claims(
        one, claims.Data(empty_curves(), ev, problem_rows("g", {})), [experiment("g", ["grpo", "guide"])]
    )
    assert df["verdict"].tolist() == ["not measured"] and "k=16" in df["note"].iloc[0]


def test_hard_problems_on_aime_two_level(doc):
    one = doc | {"claims": [c for c in doc["claims"] if c["id"] == "guide_hard_pass1_vs_grpo"]}
    # guide solves 2 more of 16 on every problem and seed: paired difference 2/16 everywhere
    grpo = {s: [0, 4, 8, 12] for s in (0, 1, 2)}
    guide = {s: [2, 6, 10, 14] for s in (0, 1, 2)}
    pr = problem_rows("g", {"grpo": grpo, "guide": guide})
    ev = eval_rows("g", {m: {0: 0.3, 1: 0.3, 2: 0.3} for m in ("grpo", "guide")})
    df = claims.evaluate_claims(
        one, claims.Data(empty_curves(), ev, pr), [experiment("g", ["grpo", "guide"])]
    )
    row = df.iloc[0]
    assert row["splits"] == "aime24 aime25" and row["n"] == 3 * 8 and row["n_seeds"] == 3
    assert (row["diff"], row["lo"], row["hi"]) == pytest.approx((0.125, 0.125, 0.125))
    assert row["interval"] == "two-level bootstrap over seeds and problems" and row["mde_method"] == "z"
    assert row["verdict"] == "reproduced"


def test_published_effect_and_equivalence(doc):
    ids = {"adora_acc_vs_grpo", "adora_robust_to_tau"}
    sub = doc | {"claims": [c for c in doc["claims"] if c["id"] in ids]}
    grpo = {0: 0.30, 1: 0.31, 2: 0.32}
    adora = {0: 0.33, 1: 0.35, 2: 0.37}  # diffs 0.03, 0.04, 0.05: mean 0.04, t-interval +-0.0248
    tau = {0: 0.335, 1: 0.35, 2: 0.365}  # vs adora: -0.005, 0, 0.005 -> inside (-0.02, 0.02)
    ev = eval_rows("adora_qwen25_7b", {"grpo": grpo, "adora": adora, "adora_tau_alt": tau})
    data = claims.Data(empty_curves(), ev, problem_rows("adora_qwen25_7b", {}))
    df = claims.evaluate_claims(
        sub, data, [experiment("adora_qwen25_7b", ["grpo", "adora", "adora_tau_alt"])]
    )
    main = rows_of(df, "adora_acc_vs_grpo").iloc[0]
    assert main["published_effect"] == pytest.approx(0.035)
    assert main["published_check"] == "consistent"  # 0.035 inside [0.0152, 0.0648]
    eq = rows_of(df, "adora_robust_to_tau").iloc[0]
    assert eq["diff"] == pytest.approx(0.0, abs=1e-12) and eq["verdict"] == "reproduced"
    assert eq["min_effect"] == pytest.approx(0.02)
    # TOST p: se = 0.005/sqrt(3), t = 0.02/se = 4 sqrt(3); one-sided p on 2 df = (1 - t/sqrt(t^2 + 2)) / 2
    assert eq["p"] == pytest.approx((1 - 4 * math.sqrt(3) / math.sqrt(50)) / 2, rel=1e-5)
    # the same claim data in another experiment: the paper's number is not comparable there
    ev2 = ev.assign(exp="toy")
    df2 = claims.evaluate_claims(sub, claims.Data(empty_curves(), ev2, problem_rows("toy", {})),
                                 [experiment("toy", ["grpo", "adora", "adora_tau_alt"])])  # fmt: skip
    assert rows_of(df2, "adora_acc_vs_grpo").iloc[0]["published_check"] == "not comparable (other setting)"


def test_registry_rejects_unmapped_role(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text(
        "roles: {synthetic: {macro: {splits: [test, ood]}}}\n"
        "verdict_rule: {min_effect: {accuracy: 0.02}}\n"
        "claims:\n  - {id: x, paper: p, paraphrase: y, published: z, source: s,\n"
        "     test: {kind: eval, statistic: a, metric: avg@n, role: aime, comparison: {method: a, baseline: b},\n"
        "            direction: greater, unit: seed}}\n"
    )
    with pytest.raises(claims.ClaimsError, match="role 'aime'"):
        claims.load_claims(bad)


def test_consistency_across_experiments(doc):
    one = doc | {"claims": [c for c in doc["claims"] if c["id"] == "etr_math500_vs_grpo"]}
    grpo = {0: 0.30, 1: 0.31, 2: 0.32}
    frames, exps = [], []
    for name, etr in (("etr_a", {0: 0.34, 1: 0.36, 2: 0.38}), ("etr_b", {0: 0.33, 1: 0.34, 2: 0.35})):
        frames.append(eval_rows(name, {"grpo": grpo, "etr": etr}))
        exps.append(experiment(name, ["grpo", "etr"]))
    data = claims.Data(empty_curves(), pd.concat(frames, ignore_index=True), problem_rows("x", {}))
    df = claims.evaluate_claims(one, data, exps)
    assert df["size"].tolist() == [SIZE, SIZE, claims.ALL_SIZES]
    both = df.iloc[2]
    assert both["exp"] == "etr_a + etr_b" and both["verdict"] == "reproduced"  # both models reproduced
    assert both["p"] == pytest.approx(max(df.iloc[0]["p"], df.iloc[1]["p"]))  # intersection-union test
    assert math.isnan(both["p_holm"])  # not part of the Holm family
    # one seed per model (the paper-scale ETR configs): descriptive, with the signs counted
    one_seed = [f[f["seed"] == 0] for f in frames]
    data = claims.Data(empty_curves(), pd.concat(one_seed, ignore_index=True), problem_rows("x", {}))
    df = claims.evaluate_claims(one, data, [experiment(e.name, ["grpo", "etr"], seeds=(0,)) for e in exps])
    assert df["verdict"].tolist() == ["descriptive"] * 3
    assert "2 of 2 differences on the claimed side" in df.iloc[2]["note"]


def test_cli_dry_run_and_experiment_json(capsys):
    from rlvr_repro import cli

    argv = ["claims", "--claims", str(CLAIMS), "--base", str(REPO / "config" / "config.yaml")]
    argv += ["--experiment", str(REPO / "config" / "experiments" / "guide_qwen25math7b.yaml")]
    assert cli.main(argv) == 0
    plan = capsys.readouterr().out
    assert "guide_hard_pass1_vs_grpo,guide,problem_pass1,hard,aime24 aime25" in plan
    exp = claims.experiment_from_json(
        '{"name": "e", "source": "hub", "splits": ["aime24"], "runs": [["s", "grpo", 0]]}'
    )
    assert exp.runs == {("s", "grpo", 0)} and exp.trains("grpo") and not exp.trains("guide")
    # the report rule passes the whole run list inline: longer than any file name may be
    runs = [["tiny", f"method{i}", seed] for i in range(60) for seed in range(3)]
    long = json.dumps({"name": "e", "source": "synthetic", "splits": ["test", "ood"], "runs": runs})
    assert len(long) > 4096 and len(claims.experiment_from_json(long).runs) == 180
