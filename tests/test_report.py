"""End to end on fixtures: aggregate -> tables -> figures -> report (claims evaluated, HTML self-contained),
and the report's pieces: claim rows in one unit system, the positive control, task properties against
their targets, numbered figures, labels instead of method keys, the configuration collapsed at the end."""

import html as htmllib
import json
import math
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
LABELS = [["sft", "SFT start"], ["grpo", "GRPO"], ["adora", "ADORA"], ["etr", "ETR"]]
KEYS = ("sft", "grpo", "adora", "etr")  # lower-case keys: never shown as such, only their labels

MET = "met (SFT start)"
NAN = float("nan")
NEW_PROPERTIES = {  # properties.task_properties: {property: {model label: value, target, met (...)}}
    "mean_success": {"SFT start": 0.3125, "GRPO seed 0": 0.41, "target": "0.20-0.60", MET: True},
    "hard_all_fail": {"SFT start": 0.2, "GRPO seed 0": 0.1, "target": ">= 0.50", MET: False},
    "length_rule_holds": {"SFT start": NAN, "GRPO seed 0": 0.5, "target": "0.05-0.95", MET: None},
    "len_correct": {"SFT start": 41.5, "GRPO seed 0": NAN},
    "entropy": {"SFT start": 1.2345, "GRPO seed 0": 0.9876},
    "success_level_1": {"SFT start": 0.75, "GRPO seed 0": 0.8},
    "grpo_training_accuracy": {"first fifth": 0.1, "last fifth": 0.3, "runs": 3},
    "protocol": {"prompts": 16, "G": 4, "max_new_tokens": 64, "seed": 0},
}  # fmt: skip
OLD_PROPERTIES = {  # evaluate.task_properties (older files)
    "sft_solves_some_rl": {"value": 0.62, "prompts": 400, "G": 8},
    "hard_all_fail": {"value": 0.37, "hard_prompts": 150, "hard_from_difficulty": 3},
}


def sample(method: str, seed: int, reward: float, pid: int) -> dict:
    return {"size": "tiny", "method": method, "seed": seed, "split": "test", "problem_id": f"test-{pid}",
            "prompt": "Q: What is 2+3?\nA:", "completion": "2+3 = 5\n#### 5" if reward else "#### 7",
            "extracted": "5" if reward else "7", "gold": "5", "reward": reward}  # fmt: skip


def build_report(root: Path, properties: dict | None = None) -> Path:
    """The toy experiment: adora a clear win over grpo, etr a tie, sft 10 points below grpo; guide and the
    ablations absent. Figures per paper (--claims), labels given, graded samples for two methods."""
    files = make_runs(root / "runs", {"sft": -0.1, "grpo": 0.0, "adora": 0.1, "etr": 0.0}, steps=12)
    agg, tdir, fdir = root / "agg", root / "tables", root / "figures"
    run_aggregate(files, agg)
    data = ["--eval", str(agg / "eval.csv"), "--problems", str(agg / "problems.csv")]
    assert tables.main([*data, "--out-dir", str(tdir)]) == 0
    fig_args = [*data, "--curves", str(agg / "curves.csv"), "--claims", str(CLAIMS), "--out-dir", str(fdir)]
    assert figures.main([*fig_args, "--labels", json.dumps(LABELS)]) == 0
    prov = root / "provenance.json"
    prov.write_text(json.dumps({
        "git_commit": "abc1234deadbeef", "git_dirty": False, "versions": {"torch": "2.13.0", "trl": "1.16.0"},
        "config": {"task": {"name": "toy-arith"}, "model": {"sizes": ["tiny"]}, "train": {"steps": 12}},
        "hardware": "2 CPU cores", "created": "2026-01-01T00:00:00",
    }))  # fmt: skip
    props = []
    for size, content in (("tiny", properties or NEW_PROPERTIES), ("small", properties or NEW_PROPERTIES)):
        props.append(root / f"task_properties_{size}.json")
        props[-1].write_text(json.dumps(content))
    samples = root / "samples.jsonl"
    rows = [sample("adora", 0, 1.0, 1), sample("adora", 0, 0.0, 2), sample("grpo", 1, 0.0, 3)]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
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
    argv += ["--task-properties", *map(str, props), "--template", str(TEMPLATE), "--out", str(out)]
    argv += ["--data-dir", str(agg), "--labels", json.dumps(LABELS), "--samples", str(samples)]
    assert report.main(argv) == 0
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_report(tmp_path_factory.mktemp("rep"))


def visible_text(page: str) -> str:
    """The page's text outside <style> and the collapsed configuration, tags removed, entities decoded."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    page = re.sub(r"<details class='config'>.*?</details>", "", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def claim_rows(page: str, claim_id: str) -> str:
    m = re.search(
        rf"<tbody class='claim-group'>((?:(?!</tbody>).)*?<code>{claim_id}</code>.*?)</tbody>", page, re.S
    )
    assert m, claim_id
    return m.group(1)


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
    page = built.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<link" not in page and "<script" not in page
    assert "{{" not in page and "[missing:" not in page and "RLVRBLOCK" not in page
    for text in (
        "abc1234deadbeef",
        "2 CPU cores",
        "toy-arith",
        "What toy scale can and cannot say",
        "Guide-GRPO",
    ):
        assert text in page, text


def test_paper_layout_order(built):
    """Title, abstract with the verdict counts, the summary table and contents, then the claims; the
    configuration is the last section, collapsed."""
    page = built.read_text()
    h2 = re.findall(r"<h2 id='(s-[a-z0-9-]+)'><span class='secno'>(\d+)</span>(.*?)</h2>", page)
    titles = [t for _, _, t in h2]
    assert titles[0] == "Claims" and titles[-1] == "Configuration and provenance"
    assert {"Positive control", "Figures", "Task properties", "Sample graded completions"} <= set(titles)
    assert [int(n) for _, n, _ in h2] == list(range(1, len(h2) + 1))
    toc = re.search(r"<nav class='toc'.*?</nav>", page, re.S).group(0)
    assert all(f"href='#{slug}'" in toc for slug, _, _ in h2)
    pos = [
        page.index(x)
        for x in (
            "<h1>",
            'class="abstract"',
            "table class='tbl summary'",
            "<nav",
            "<table class='tbl claims'",
        )
    ]
    assert pos == sorted(pos)
    abstract = " ".join(
        visible_text(re.search(r'<div class="abstract">.*?</div>', page, re.S).group(0)).split()
    )
    assert "The 32 claims" in abstract and "survive the Holm correction" in abstract
    assert re.search(r"\d+ reproduced, \d+ contradicted, \d+ inconclusive", abstract)
    last = page[page.rindex("<h2 ") :]
    assert "<details class='config'><summary>" in last and "<details class='provenance'><summary>" in last
    assert "<details open" not in page


def test_summary_counts_per_paper(built):
    claims = pd.read_csv(built.parent / "claims.csv")
    page = built.read_text()
    row = re.search(r"<tr><th><a href='#claims-adora'>ADORA</a></th>(.*?)</tr>", page).group(1)
    cells = [int(x) for x in re.findall(r"<td>(\d+)</td>", row)]
    adora = claims[(claims["paper"] == "adora") & (claims["size"] != "(all models)") & ~claims["exploratory"]]
    n_claims = claims.loc[claims["paper"] == "adora", "claim_id"].nunique()
    assert cells[0] == n_claims
    assert cells[2] == int((adora["verdict"] == "reproduced").sum()) >= 2
    assert cells[-2] == int(adora["n_family"].notna().sum())  # tested
    assert cells[-1] == int((adora["holm"] == "survives").sum())  # survive Holm


def test_claim_row_units_and_reasons(built):
    page = built.read_text()
    adora = claim_rows(page, "adora_acc_vs_grpo")
    # published +3.5 points next to ours, both in percentage points; means in percent; n; MDE; Holm
    assert "<b>Δ +3.5 pts</b>" in adora
    assert "<b>Δ +10.0 pts</b> [+10.0, +10.0]" in adora
    assert "ADORA 35.0% vs GRPO 25.0%; n&nbsp;=&nbsp;3 seeds" in adora
    assert "vs published: not comparable (other setting)" in adora and "MDE 0.0 pts" in adora
    assert re.search(r"Holm-adjusted (&lt; 0.001|\d\.\d{3}) of \d+ tested: survives", adora)
    assert ">tiny<" in adora and ">small<" in adora
    across = claim_rows(page, "etr_aime_vs_grpo")
    assert ">all sizes<" in across and "every model must reproduce" in across
    tie = claim_rows(page, "etr_math500_vs_grpo")
    assert "<b>no effect larger than 0.0 pts</b>" in tie and "no variation between units" in tie
    entropy = claim_rows(page, "etr_entropy_final_higher")
    assert "nats" in entropy and "pts" not in entropy
    steps = claim_rows(page, "adora_fewer_steps_to_grpo_final")
    assert "steps" in steps and "%" not in re.sub(r"<p class='claim'>.*?</p>", "", steps)
    # claims that cannot run are listed beneath their paper's table, with the reason
    notrun = re.search(
        r"<details class='notrun'>.*?</details>", page[page.index("id='claims-adora'") :], re.S
    )
    assert "adora_acc_vs_dapo" in notrun.group(0) and "in its data" in notrun.group(0)


def test_no_nan_and_labels_not_keys(built):
    text = visible_text(built.read_text())
    assert not re.search(r"\bnan\b", text, re.I)
    for key in KEYS:
        assert not re.search(rf"(?<![\w.-]){key}(?![\w-])", text), key
    assert "SFT start" in text and "ADORA" in text


def test_positive_control(built):
    ev = pd.read_csv(built.parents[3] / "agg" / "eval.csv")
    pc = report.positive_control(ev)
    test = pc[pc["split"] == "test"].set_index("size")
    # grpo - sft = +0.10 on every seed: a zero-width interval, reproduced, n = 3 seeds
    assert test.loc["tiny", "diff"] == pytest.approx(0.10) and test.loc["small", "diff"] == pytest.approx(
        0.10
    )
    assert test.loc["tiny", "n"] == 3 and test.loc["tiny", "verdict"] == "reproduced"
    assert list(pc["split"].unique())[0] == "test"
    page = built.read_text()
    section = page[page.index("Positive control</h2>") :]
    assert "<b>+10.0 pts</b> [+10.0, +10.0]" in section[: section.index("<h2")]
    assert "Positive control: GRPO changes test avg@n over its SFT start by tiny: +10.0 pts" in visible_text(
        page
    )


def test_positive_control_paired_over_seeds():
    values = {"grpo": [0.5, 0.6, 0.9], "sft": [0.4, 0.4, 0.5]}
    rows = [{"exp": "e", "size": "tiny", "method": m, "seed": s, "split": "test", "metric": "avg@n",
             "k": math.nan, "difficulty": math.nan, "value": v, "n": 4, "temperature": 1.0}
            for m, vals in values.items() for s, v in enumerate(vals)]  # fmt: skip
    pc = report.positive_control(pd.DataFrame(rows))
    ci = stats.paired_diff_ci({0: 0.5, 1: 0.6, 2: 0.9}, {0: 0.4, 1: 0.4, 2: 0.5})
    r = pc.iloc[0]
    assert r["diff"] == pytest.approx(ci.mean) and r["lo"] == pytest.approx(ci.lo) and r["n"] == 3
    assert r["start_value"] == pytest.approx(0.4333333) and r["method_value"] == pytest.approx(2.0 / 3.0)


def test_task_properties_table():
    labels = report.Labels(dict(LABELS))
    out = report.task_properties_html({"tiny": NEW_PROPERTIES, "small": NEW_PROPERTIES}, None, labels)
    main = re.search(r"<table class='tbl props'>.*?</table>", out, re.S).group(0)
    row = re.search(r"<tr><th>mean success<br>.*?</tr>", main, re.S).group(0)
    assert "<td>20–60%</td>" in row and "<td>31.2%</td>" in row and "<td>41.0%</td>" in row
    assert "<td class='met'>met</td>" in row
    hard = re.search(r"<tr><th>hard all fail<br>.*?</tr>", main, re.S).group(0)
    assert "<td>≥ 50%</td>" in hard and "<td class='unmet'>not met</td>" in hard
    assert "<td>1.234</td>" in main and "<td>41.5</td>" in main  # nats, tokens
    assert "success at difficulty 1" in main and "nan" not in out
    assert main.index("SFT start") < main.index("GRPO seed 0")  # the start model first
    other = out[out.index(main) + len(main) :]
    assert "first fifth: 10.0%" in other and "prompts: 16" in other  # trends, protocol
    old = report.task_properties_html({"tiny": OLD_PROPERTIES}, None, labels)  # the older file format
    assert "value: 62.0%; prompts: 400; G: 8" in old and "value: 37.0%; hard_prompts: 150" in old


def test_figures_numbered_per_paper(built):
    page = built.read_text()
    numbers = [int(n) for n in re.findall(r"<figure id='fig-(\d+)'", page)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10
    assert page.count("data:image/png;base64,") == len(numbers)
    assert "id='figures-adora'" in page and "id='figures-etr'" in page
    assert "id='figures-guide'" not in page  # guide not trained: no figures for it
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)
    assert all(re.match(r"<b>Figure \d+\.</b> \w", c) and "methods: " in c for c in captions)
    assert not re.search(r"settings in the figure footer|Figure [a-z_]+ \(also", page)
    etr = page[page.index("id='figures-etr'") :]
    entropy = next(c for c in re.findall(r"<figcaption>(.*?)</figcaption>", etr, re.S) if "entropy" in c)
    assert "etr_entropy_final_higher" in entropy and "SFT start" not in entropy  # no training curve for it
    assert re.search(r"Fig\. \d+", claim_rows(page, "etr_entropy_final_higher"))


def test_figures_fall_back_to_one_group(tmp_path):
    (tmp_path / "passk.png").write_bytes(b"")  # no per-paper folders: the all-method set, one group
    figs = report.plan_figures(report.load_claims(CLAIMS), tmp_path, {"grpo"})
    assert [(f.paper, f.name) for f in figs] == [("all", "passk")]


def test_tables_relabelled_without_nan(built, tmp_path):
    page = built.read_text()
    assert "<tr><th>ADORA</th>" in page and "<tr><th>adora</th>" not in page
    cells = ["30.0 ± nan", "nan", "+1.0 [+0.5, +1.5] (n=3)"]
    df = pd.DataFrame({"x": cells}, index=["grpo", "etr", "adora"])
    df.index.name = "method"
    tables.write_table(df, tmp_path, "t", "Paired difference method − grpo")
    (tmp_path / "tables.json").write_text(json.dumps({"t": {"caption": "method − grpo", "csv": "t.csv"}}))
    out = report.tables_html(tmp_path, report.Labels(dict(LABELS)))
    assert "<td>30.0</td>" in out and "<td>–</td>" in out and "nan" not in out and "method − GRPO" in out


def test_graded_samples_per_method(built):
    page = built.read_text()
    section = page[page.index("Sample graded completions</h2>") :]
    section = section[: section.index("<h2")]
    assert "<th rowspan='2'>ADORA</th>" in section and "<th rowspan='1'>GRPO</th>" in section
    assert section.index(">GRPO<") < section.index(">ADORA<")  # config order
    assert "<td class='met'>1</td>" in section and "<td class='unmet'>0</td>" in section


def test_labels_in_free_text():
    labels = report.Labels({"grpo": "GRPO", "filter_grpo": "Filter-GRPO", "stack": "ADORA+ETR+Guide"})
    assert labels.text("method − grpo; start model (sft)") == "method − GRPO; start model (SFT start)"
    assert labels.text("all methods and the stack") == "all methods and the stack"  # an English word
    assert (
        labels.text("not trained: stack, filter_grpo", prose=False)
        == "not trained: ADORA+ETR+Guide, Filter-GRPO"
    )
    assert labels.text("adora_acc_vs_grpo") == "adora_acc_vs_grpo"  # claim ids untouched
    assert labels.order(["stack", "zeta", "sft", "grpo"]) == ["sft", "grpo", "stack", "zeta"]
    assert report.resolve_labels(None, [{"config": {"methods": {"grpo": {"label": "G"}}}}])("grpo") == "G"


def test_units_never_print_nan():
    assert report.PERCENT.value(0.35) == "35.0%" and report.PERCENT.delta(-0.0004) == "+0.0 pts"
    assert report.PERCENT.interval(float("nan"), 0.1) == "" and report.num(float("nan")) == "–"
    assert report.target_text("0.20-0.60") == "20–60%" and report.target_text(">= 0.10") == "≥ 10%"
    assert report.test_units({"kind": "steps_to_target", "metric": "accuracy"}).diff == "steps"


def test_print_css(built):
    css = report.CSS
    media = css[css.index("@media print") :]
    for rule in (
        "break-inside:avoid",
        "thead{display:table-header-group}",
        "details.config",
        "::details-content",
    ):
        assert rule in media, rule


def test_report_imports_no_torch():
    code = "import rlvr_repro.report, rlvr_repro.claims, rlvr_repro.tables, sys\n"
    code += "assert 'torch' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  - id: x\n    paper: p\n")
    argv = ["--claims", str(bad), "--tables-dir", str(tmp_path), "--figures-dir", str(tmp_path)]
    argv += ["--template", str(TEMPLATE), "--out", str(tmp_path / "r.html")]
    assert report.main(argv) == 2
    assert str(bad) in capsys.readouterr().err


def test_minimal_markdown_fallback():
    out = report.minimal_markdown(
        '<div class="a" markdown="1">\n\n# T\n\nsome *x* and **y**\n\n- a\n- b\n\n</div>\n'
    )
    assert "<h1>T</h1>" in out and "<em>x</em>" in out and "<strong>y</strong>" in out and "<li>b</li>" in out
    assert out.startswith('<div class="a">') and out.endswith("</div>")


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
