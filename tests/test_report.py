"""End to end on fixtures: aggregate -> tables -> figures -> report (claims evaluated, HTML self-contained)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_figures import make_runs, run_aggregate

from rlvr_repro import figures, report, stats, tables

REPO = Path(__file__).resolve().parents[1]
CLAIMS = REPO / "paper" / "claims.yaml"
TEMPLATE = REPO / "paper" / "report.md.tmpl"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("rep")
    # adora: clear win over grpo; etr: identical to grpo (a tie); guide and the ablations are absent.
    files = make_runs(root / "runs", {"sft": -0.1, "grpo": 0.0, "adora": 0.1, "etr": 0.0}, steps=12)
    agg, tdir, fdir = root / "agg", root / "tables", root / "figures"
    run_aggregate(files, agg)
    assert (
        tables.main(
            ["--eval", str(agg / "eval.csv"), "--problems", str(agg / "problems.csv"), "--out-dir", str(tdir)]
        )
        == 0
    )
    assert (
        figures.main(
            [
                "--curves",
                str(agg / "curves.csv"),
                "--eval",
                str(agg / "eval.csv"),
                "--problems",
                str(agg / "problems.csv"),
            ]
            + ["--out-dir", str(fdir)]
        )
        == 0
    )
    prov = root / "provenance.json"
    prov.write_text(
        json.dumps(
            {
                "git_commit": "abc1234deadbeef",
                "git_dirty": False,
                "versions": {"torch": "2.13.0", "trl": "1.16.0"},
                "config": {
                    "task": {"name": "toy-arith"},
                    "model": {"sizes": ["tiny", "small"]},
                    "train": {"steps": 12},
                },
                "hardware": "2 CPU cores",
                "created": "2026-01-01T00:00:00",
            }
        )
    )
    props = []
    for size, hard_fail in (("tiny", 0.41), ("small", 0.37)):
        props.append(root / f"task_properties_{size}.json")
        props[-1].write_text(
            json.dumps(
                {
                    "sft_solves_some_rl": {"value": 0.62, "prompts": 400, "G": 8},
                    "hard_all_fail": {"value": hard_fail, "hard_prompts": 150, "hard_from_difficulty": 3},
                    "length_gap": {"len_correct": 41.5, "len_wrong": float("nan")},
                }
            )
        )
    out = root / "results" / "toy" / "report" / "report.html"
    argv = [
        "--claims",
        str(CLAIMS),
        "--tables-dir",
        str(tdir),
        "--figures-dir",
        str(fdir),
        "--provenance",
        str(prov),
    ]
    argv += [
        "--task-properties",
        *map(str, props),
        "--template",
        str(TEMPLATE),
        "--out",
        str(out),
        "--data-dir",
        str(agg),
    ]
    assert report.main(argv) == 0
    return out


def test_claims_registry_is_complete():
    doc = report.load_claims(CLAIMS)
    ids = {c["id"] for c in doc["claims"]}
    assert len(ids) == len(doc["claims"]) >= 20
    papers = {c["paper"] for c in doc["claims"]}
    assert {"adora", "guide", "etr", "project"} <= papers
    methods = {c["test"]["comparison"]["method"] for c in doc["claims"]} | {
        c["test"]["comparison"]["baseline"] for c in doc["claims"]
    }
    for m in (
        "adora_length",
        "adora_both",
        "guide_noshape",
        "guide_noplain",
        "etr_micro",
        "etr_macro",
        "stack",
    ):
        assert m in methods, m
    for c in doc["claims"]:
        assert '"' not in c["paraphrase"], c["id"]  # paraphrases, never quotes


def test_claims_evaluated(built):
    claims = pd.read_csv(built.parent / "claims.csv")
    assert "verdict" in claims.columns
    v = claims.groupby("claim_id")["verdict"].apply(set).to_dict()
    assert v["adora_acc_vs_grpo"] == {"reproduced"}  # both sizes
    assert v["adora_longer_correct_responses"] == {"not measured"}  # no mean_length_correct in the fixture
    assert v["etr_math500_vs_grpo"] == {"inconclusive"}  # exact tie at both sizes and across them
    assert v["guide_macro_acc_vs_grpo"] == {"not run"}  # guide absent
    assert v["etr_ablation_micro_only"] == {"not run"}
    assert v["adora_acc_vs_dapo"] == {"not run"}
    assert "not run" not in v["grpo_gains_mostly_self_distillation"]
    assert "not run" not in v["adora_fewer_steps_to_grpo_final"]
    assert "not run" not in v["etr_entropy_final_higher"]
    # macro = mean of test and ood (ood = test - 0.1): adora 0.35 vs grpo 0.25 at tiny
    row = claims[(claims["claim_id"] == "adora_acc_vs_grpo") & (claims["size"] == "tiny")].iloc[0]
    assert row["diff"] == pytest.approx(0.10) and row["n"] == 3 and row["splits"] == "test ood"
    assert row["method_value"] == pytest.approx(0.35) and row["baseline_value"] == pytest.approx(0.25)
    assert row["published_check"] == "not comparable (other setting)"  # toy experiment, not the paper's
    # a tie with zero spread: MDE 0 <= 2 points, so the interval bounds the effect at 0
    tie = claims[(claims["claim_id"] == "etr_math500_vs_grpo") & (claims["size"] == "tiny")].iloc[0]
    assert tie["reading"] == "no effect larger than" and float(tie["reading_value"]) == pytest.approx(0.0)
    absent = claims[claims["claim_id"] == "guide_macro_acc_vs_grpo"].iloc[0]
    assert "guide" in absent["note"]
    assert set(claims["verdict"]) <= set(stats.VERDICTS)


def test_html_self_contained(built):
    html = built.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html
    assert html.count("data:image/png;base64,") >= 5
    assert "{{" not in html and "[missing:" not in html
    for text in (
        "Setup",
        "abc1234deadbeef",
        "2 CPU cores",
        "toy-arith",
        "hard_all_fail",
        "41.5",
        "Claims by paper",
    ):
        assert text in html, text
    for text in ("ADORA", "Guide-GRPO", "ETR", "What toy scale can and cannot say", "not run"):
        assert text in html, text
    # SFT test avg@n (task property (d)) is read from eval.csv: 0.30 - 0.1 at tiny
    assert re.search(r"sft_test_not_saturated</th><td>[^<]*</td><td>0\.2</td><td>0\.25</td>", html)
    assert "35.0 vs 25.0; Δ +10.0 pts [+10.0, +10.0] (n=3 seeds)" in html
    assert "Holm (" in html and "MDE " in html


def test_report_imports_no_torch():
    code = "import rlvr_repro.report, rlvr_repro.claims, rlvr_repro.tables, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  - id: x\n    paper: p\n")
    argv = ["--claims", str(bad), "--tables-dir", str(tmp_path), "--figures-dir", str(tmp_path)]
    argv += ["--template", str(TEMPLATE), "--out", str(tmp_path / "r.html")]
    assert report.main(argv) == 2
    assert str(bad) in capsys.readouterr().err


def test_minimal_markdown_fallback():
    out = report.minimal_markdown("# T\n\nsome *x* and **y**\n\n- a\n- b\n")
    assert "<h1>T</h1>" in out and "<em>x</em>" in out and "<strong>y</strong>" in out and "<li>b</li>" in out


def test_report_with_experiment_description(built, capsys):
    root = built.parents[3]
    argv = [
        "--claims",
        str(CLAIMS),
        "--tables-dir",
        str(root / "tables"),
        "--figures-dir",
        str(root / "figures"),
    ]
    argv += [
        "--template",
        str(TEMPLATE),
        "--data-dir",
        str(root / "agg"),
        "--out",
        str(root / "exp" / "r.html"),
    ]
    runs = [
        [size, m, seed]
        for size in ("tiny", "small")
        for m in ("sft", "grpo", "adora", "etr")
        for seed in (0, 1, 2)
    ]
    exp = {"name": "toy", "source": "synthetic", "splits": ["test", "ood"], "runs": runs}
    assert report.main([*argv, "--experiment", json.dumps(exp)]) == 0
    claims = pd.read_csv(root / "exp" / "claims.csv")
    assert set(claims.loc[claims["claim_id"] == "guide_macro_acc_vs_grpo", "verdict"]) == {"not run"}
    # the experiment says it trains guide, but the data hold no guide run: an error naming both
    exp["runs"] = runs + [["tiny", "guide", s] for s in (0, 1, 2)]
    assert report.main([*argv, "--experiment", json.dumps(exp)]) == 2
    err = capsys.readouterr().err
    assert "experiment toy trains guide at size tiny" in err
