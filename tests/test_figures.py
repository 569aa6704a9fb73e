"""aggregate -> tables -> figures on small fixture runs (written in the documented input shapes)."""

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlvr_repro import aggregate, figures, tables
from rlvr_repro.aggregate import level_standardised

SIZE_OFFSET = {"tiny": 0.0, "small": 0.05}
EVAL_FIELDS = aggregate.EVAL_COLUMNS  # the files evaluate.py writes
PROBLEM_FIELDS = aggregate.PROBLEM_COLUMNS


def make_runs(root: Path, effects: dict, sizes=("tiny", "small"), seeds=(0, 1, 2), steps=20, exp="toy"):
    """Write one directory per run with metrics.jsonl, eval.csv, problems.csv.

    ``effects``: method -> accuracy offset over GRPO. Test avg@n of a run is
    0.30 + effect + size offset + 0.01 * (seed - 1), so the mean over seeds 0..2 is 0.30 + effect + offset.
    "sft" gets eval and problems only (no training curve), as the SFT start is evaluated once per seed.
    """
    files = {"metrics": [], "eval": [], "problems": []}
    for size in sizes:
        for method, eff in effects.items():
            for seed in seeds:
                run = root / exp / size / method / f"seed{seed}"
                run.mkdir(parents=True, exist_ok=True)
                ident = {"exp": exp, "size": size, "method": method, "seed": seed}
                noise = 0.01 * (seed - 1)
                acc = 0.30 + eff + SIZE_OFFSET[size] + noise
                if method != "sft":
                    with (run / "metrics.jsonl").open("w") as fh:
                        for step in range(steps):
                            row = ident | {
                                "step": step,
                                "reward": 0.1 + 0.02 * step * (1 + eff),
                                "accuracy": 0.1 + 0.02 * step * (1 + 2 * eff) + noise,
                                "entropy": 1.0 - 0.03 * step * (1 - 2 * eff),
                                "clip_frac": 0.01,
                                "completion_length": 80 - step * (1 + eff),
                                "frac_zero_std": 0.3,
                                "step_time": 1.5,
                            }
                            if method == "adora":
                                row["adora/frac_up"] = 0.4
                            for level in (1, 2):  # per-level rollout accuracy (trainer), one level a step
                                if step % 2 == level - 1:
                                    row[f"accuracy/level_{level}"] = row["accuracy"] / level
                            fh.write(json.dumps(row) + "\n")
                    files["metrics"].append(run / "metrics.jsonl")
                rows = []
                for split, base in (("test", acc), ("ood", acc - 0.1)):
                    rows.append(
                        ident
                        | {"split": split, "metric": "avg@n", "value": base, "n": 16, "temperature": 1.0}
                    )
                    rows.append(
                        ident
                        | {
                            "split": split,
                            "metric": "greedy_acc",
                            "value": base + 0.02,
                            "n": 1,
                            "temperature": 0.0,
                        }
                    )
                    rows.append(
                        ident
                        | {
                            "split": split,
                            "metric": "mean_length",
                            "value": 70 - 50 * eff,
                            "n": 16,
                            "temperature": 1.0,
                        }
                    )
                    for k in (1, 2, 4, 8, 16):
                        val = min(1.0, base * (1 + 0.3 * (k.bit_length() - 1)))
                        rows.append(
                            ident
                            | {
                                "split": split,
                                "metric": "pass@k",
                                "k": k,
                                "value": val,
                                "n": 16,
                                "temperature": 1.0,
                            }
                        )
                for d in (1, 2, 3):
                    rows.append(
                        ident
                        | {
                            "split": "test",
                            "metric": "acc_by_difficulty",
                            "difficulty": d,
                            "value": acc + 0.2 - 0.1 * d,
                        }
                        | {"n": 16, "temperature": 1.0}
                    )
                with (run / "eval.csv").open("w", newline="") as fh:
                    w = csv.DictWriter(fh, EVAL_FIELDS)
                    w.writeheader()
                    w.writerows(rows)
                files["eval"].append(run / "eval.csv")
                prow = []
                for split, nprob in (("test", 20), ("ood", 10)):
                    for i in range(nprob):
                        if method == "sft":
                            c = max(0, i - 10)
                        else:
                            c = min(16, max(0, i - 8 + seed + int(40 * eff)))
                        prow.append(
                            ident
                            | {
                                "split": split,
                                "problem_id": f"{split}-{i}",
                                "difficulty": (1 + i % 3) if split == "test" else "",
                            }
                            | {"n": 16, "c": c, "greedy_correct": int(c >= 8), "mean_length": 60.0}
                        )
                with (run / "problems.csv").open("w", newline="") as fh:
                    w = csv.DictWriter(fh, PROBLEM_FIELDS)
                    w.writeheader()
                    w.writerows(prow)
                files["problems"].append(run / "problems.csv")
    return files


def run_aggregate(files: dict, out: Path) -> None:
    argv = ["--metrics", *map(str, files["metrics"]), "--eval", *map(str, files["eval"])]
    argv += ["--problems", *map(str, files["problems"]), "--out-dir", str(out)]
    assert aggregate.main(argv) == 0


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig")
    files = make_runs(root / "runs", {"sft": -0.1, "grpo": 0.0, "adora": 0.1})
    agg = root / "agg"
    run_aggregate(files, agg)
    tdir, fdir = root / "tables", root / "figures"
    assert (
        tables.main(
            [
                "--eval",
                str(agg / "eval.csv"),
                "--problems",
                str(agg / "problems.csv"),
                "--curves",
                str(agg / "curves.csv"),
            ]
            + ["--out-dir", str(tdir)]
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
            + ["--out-dir", str(fdir), "--smooth", "3"]
        )
        == 0
    )
    return root, agg, tdir, fdir


def test_aggregate_outputs(pipeline):
    _, agg, _, _ = pipeline
    curves = pd.read_csv(agg / "curves.csv")
    assert len(curves) == 2 * 2 * 3 * 20  # grpo, adora x 2 sizes x 3 seeds x 20 steps (sft has no curve)
    assert (
        "adora/frac_up" in curves.columns
        and curves.loc[curves["method"] == "grpo", "adora/frac_up"].isna().all()
    )
    ev = pd.read_csv(agg / "eval.csv")
    assert set(ev["method"]) == {"sft", "grpo", "adora"}
    pr = pd.read_csv(agg / "problems.csv")
    assert len(pr) == 3 * 2 * 3 * 30


def test_level_standardised_by_hand():
    """Per level: trailing mean over the last 2 steps that drew it; equal weight over levels; NaN until
    both levels were drawn and on steps without rollouts."""
    nan = float("nan")
    run = {"exp": "e", "size": "tiny", "method": "grpo", "seed": 0}
    rows = [
        {**run, "step": 1, "accuracy/level_1": 1.0, "accuracy/level_2": nan},
        {**run, "step": 2, "accuracy/level_1": nan, "accuracy/level_2": nan},  # no rollouts this step
        {**run, "step": 3, "accuracy/level_1": 0.5, "accuracy/level_2": 0.0},
        {**run, "step": 5, "accuracy/level_1": nan, "accuracy/level_2": 0.4},
        {**run, "step": 4, "accuracy/level_1": 0.0, "accuracy/level_2": nan},  # out of order on purpose
    ]
    other = [{**r, "seed": 1, "accuracy/level_1": 0.0 if r["step"] != 2 else nan} for r in rows]
    curves = pd.DataFrame(rows + other)
    got = level_standardised(curves, window=2)
    # rows are in file order (steps 1, 2, 3, 5, 4); values follow step order within each run
    want = [nan, nan, (0.75 + 0.0) / 2, (0.25 + 0.2) / 2, (0.25 + 0.0) / 2]
    want += [nan, nan, 0.0, (0.0 + 0.2) / 2, 0.0]
    np.testing.assert_allclose(got.to_numpy(), want)


def test_aggregate_errors_name_the_file(tmp_path, capsys):
    bad = tmp_path / "metrics.jsonl"
    bad.write_text('{"exp": "e", "size": "tiny", "method": "grpo", "seed": 0, "step": 0}\n{not json\n')
    assert aggregate.main(["--metrics", str(bad), "--out-dir", str(tmp_path / "o")]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    missing = tmp_path / "nope" / "eval.csv"
    assert aggregate.main(["--eval", str(missing), "--out-dir", str(tmp_path / "o")]) == 2
    assert str(missing) in capsys.readouterr().err
    short = tmp_path / "eval.csv"
    short.write_text("exp,size,method,seed\nx,tiny,grpo,0\n")
    assert aggregate.main(["--eval", str(short), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(short) in err and "split" in err
    nokey = tmp_path / "m2.jsonl"
    nokey.write_text('{"exp": "e", "size": "tiny", "method": "grpo", "seed": 0}\n')
    assert aggregate.main(["--metrics", str(nokey), "--out-dir", str(tmp_path / "o")]) == 2
    assert f"{nokey}:1" in capsys.readouterr().err


def test_tables_contain_expected_means(pipeline):
    _, _, tdir, _ = pipeline
    long = pd.read_csv(tdir / "summary_long.csv")
    row = long[
        (long["size"] == "tiny")
        & (long["method"] == "adora")
        & (long["split"] == "test")
        & (long["metric"] == "avg@n")
    ]
    assert row["mean"].item() == pytest.approx(0.40)
    assert row["n_seeds"].item() == 3 and row["n_problems"].item() == 20
    row = long[
        (long["size"] == "small")
        & (long["method"] == "grpo")
        & (long["split"] == "ood")
        & (long["metric"] == "avg@n")
    ]
    assert row["mean"].item() == pytest.approx(0.25)
    # t-interval half-width: sd 0.01, t(0.975, 2) = 4.3027 -> 0.0248
    assert row["half_width"].item() == pytest.approx(4.302653 * 0.01 / 3**0.5, rel=1e-4)
    md = (tdir / "avg_at_n_test.md").read_text()
    assert "| adora | 40.0 ± 2.5 | 45.0 ± 2.5 |" in md
    assert "seeds per cell: 3" in md and "n=16" in md and "test 20" in md
    tex = (tdir / "avg_at_n_test.tex").read_text()
    assert r"\toprule" in tex and r"$\pm$" in tex and "sft\\_" not in tex
    assert r"avg@n" in tex
    h2h = tables.read_display_csv(tdir / "head_to_head.csv")
    assert h2h.loc["adora", ("tiny", "test avg@n")] == "40.0 ± 2.5"
    paired = pd.read_csv(tdir / "paired_long.csv")
    r = paired[
        (paired["method"] == "adora")
        & (paired["size"] == "tiny")
        & (paired["split"] == "test")
        & (paired["metric"] == "avg@n")
    ]
    assert r["diff"].item() == pytest.approx(0.10)
    assert "+10.0 [+10.0, +10.0] (n=3)" in (tdir / "paired_vs_grpo.md").read_text()
    combined = (tdir / "method_size.md").read_text()
    assert "test avg@n" in combined and "ood greedy acc" in combined
    manifest = json.loads((tdir / "tables.json").read_text())
    assert {
        "head_to_head",
        "paired_vs_grpo",
        "passk_decomposition",
        "avg_at_n_ood",
        "greedy_acc_test",
    } <= set(manifest)
    dec = pd.read_csv(tdir / "decomposition_long.csv")
    assert set(dec["method"]) == {"grpo", "adora"}


def test_latex_escapes_underscores():
    df = pd.DataFrame({"tiny": ["1.0 ± 0.1"]}, index=pd.Index(["filter_grpo"], name="method"))
    tex = tables.to_latex(df, caption="a_b 50%")
    assert r"filter\_grpo" in tex and r"a\_b 50\%" in tex and r"$\pm$" in tex


def test_figures_exist(pipeline):
    _, _, _, fdir = pipeline
    for name in figures.FIGURE_NAMES:
        for ext in ("png", "pdf"):
            p = fdir / f"{name}.{ext}"
            assert p.is_file() and p.stat().st_size > 1000, p


def test_training_note_from_provenance(tmp_path):
    prov = tmp_path / "provenance.json"
    prov.write_text(
        json.dumps({"config": {"rl": {"num_generations": 8, "prompts_per_step": 4, "temperature": 1.0}}})
    )
    note = figures.training_note(prov)
    assert "G = 8" in note and "prompts per step: 4" in note and "temperature 1.0" in note
    assert figures.training_note(None) == ""


def test_macro_average_over_benchmarks_per_run():
    import pandas as pd

    from rlvr_repro.tables import split_order, with_macro

    rows = [
        {
            "exp": "e",
            "size": "s",
            "method": "grpo",
            "seed": 0,
            "split": b,
            "metric": "avg@n",
            "k": None,
            "difficulty": None,
            "value": v,
            "n": 4,
            "temperature": 1.0,
        }  # fmt: skip
        for b, v in [("math500", 0.5), ("aime24", 0.1), ("gsm8k", 0.9)]
    ]
    ev = with_macro(pd.DataFrame(rows))
    macro = ev[ev["split"] == "macro"]
    assert len(macro) == 1 and abs(macro["value"].iloc[0] - 0.5) < 1e-12  # (0.5 + 0.1 + 0.9) / 3
    assert split_order(ev["split"]) == ["aime24", "gsm8k", "math500", "macro"]
    one_split = with_macro(pd.DataFrame(rows[:1]))
    assert "macro" not in set(one_split["split"])


# --- palette, labels, bands, axes -----------------------------------------------------------------
@pytest.fixture
def captured(monkeypatch):
    """Every figure `_finish` saves: (name, fig, title, caption, legend labels, folder); files still written."""
    seen = []
    original = figures._finish

    def record(fig, title, caption, handles_labels, out_dir, name):
        seen.append((name, fig, title, caption, list(handles_labels or {}), out_dir.name))
        return original(fig, title, caption, handles_labels, out_dir, name)

    monkeypatch.setattr(figures, "_finish", record)
    return seen


def test_styles_follow_the_config_order_and_tell_28_methods_apart():
    labels = {f"m{i}": f"Method {i}" for i in range(28)}
    methods = figures.Methods({"sft": "SFT start", **labels}, "sft")
    styles = [methods.style(m) for m in labels]
    assert len({(s.color, s.linestyle) for s in styles}) == 28
    assert {s.color for s in styles} <= set(figures.OKABE_ITO)
    assert methods.style("sft") == figures.START_STYLE and methods.label("m3") == "Method 3"
    assert methods.order(["m2", "zeta", "sft", "m0"]) == ["sft", "m0", "m2", "zeta"]
    assert methods.label("zeta") == "zeta"  # not in the config: its name, and a style of its own
    grown = figures.Methods({"sft": "SFT start", **labels, "new": "New"}, "sft", present=["zeta"])
    assert grown.style("m0") == methods.style("m0") and grown.style("new") not in styles
    assert grown.style("zeta") not in [grown.style(m) for m in [*labels, "new"]]


def test_bands_stay_inside_the_metric_range():
    acc = np.array([[0.0, 2.0, 99.0], [4.0, 0.0, 100.0]])  # 2 seeds: a t band reaches far below 0
    mean, lo, hi = figures.clipped_interval(acc, "t", 0.95, figures.PERCENT)
    assert (lo >= 0).all() and (hi <= 100).all() and np.allclose(mean, [2.0, 1.0, 99.5])
    raw_lo = figures._interval(acc, "t", 0.95)[1]
    assert raw_lo[0] < 0  # what clipping removes
    reward = np.array([[0.1, 0.5], [0.3, 0.9]])
    _, lo, hi = figures.clipped_interval(reward, "t", 0.95, None)  # no a-priori range: the data's envelope
    assert lo.min() >= 0.1 and hi.max() <= 0.9


def test_legends_use_config_labels_and_axes_are_fixed(tmp_path, captured):
    files = make_runs(tmp_path / "runs", {"sft": -0.1, "grpo": 0.0, "adora": 0.1, "brand_new": 0.05}, steps=4)
    run_aggregate(files, tmp_path / "agg")
    config = {"methods": {"grpo": {"label": "GRPO"}, "brand_new": {"label": "Brand-new method"}},
              "ablations": {"methods": {"adora": {"label": "ADORA"}}}, "rl": {"num_generations": 8}}  # fmt: skip
    (tmp_path / "prov.json").write_text(json.dumps({"config": config}))
    agg = tmp_path / "agg"
    argv = ["--curves", str(agg / "curves.csv"), "--eval", str(agg / "eval.csv"), "--problems"]
    argv += [
        str(agg / "problems.csv"),
        "--out-dir",
        str(tmp_path / "f"),
        "--provenance",
        str(tmp_path / "prov.json"),
    ]
    assert figures.main(argv) == 0
    by_name = {name: (fig, title, caption, legend) for name, fig, title, caption, legend, _ in captured}
    assert set(by_name) == set(figures.FIGURE_NAMES)
    assert by_name["train_accuracy"][3] == ["GRPO", "Brand-new method", "ADORA"]  # config order
    assert by_name["passk"][3][0] == "SFT start"
    title = by_name["train_reward"][1]
    assert "trailing mean over 4 logged steps" in title and "band: pointwise 95% t interval" in title
    for name in ("train_accuracy", "passk", "acc_by_difficulty", "passk_decomposition"):
        for ax in by_name[name][0].axes:
            assert ax.get_ylim() == (0.0, 100.0), name
    for ax in by_name["train_entropy"][0].axes:
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert [t.get_text() for t in by_name["passk"][0].axes[0].get_xticklabels()] == ["1", "2", "4", "8", "16"]
    from PIL import Image

    captured.clear()  # --labels (what the workflow passes) wins over the provenance config's sorted keys
    labels = [["adora", "ADORA"], ["grpo", "GRPO"], ["brand_new", "Brand-new method"]]
    assert figures.main([*argv, "--labels", json.dumps(labels)]) == 0
    assert [legend for name, *_, legend, _ in captured if name == "train_accuracy"] == [
        ["ADORA", "GRPO", "Brand-new method"]
    ]
    dpi = Image.open(tmp_path / "f" / "passk.png").info["dpi"]
    assert round(dpi[0]) == figures.DPI and (tmp_path / "f" / "passk.pdf").stat().st_size > 1000


def test_two_seeds_are_drawn_as_seeds_not_as_a_band(tmp_path, captured):
    files = make_runs(tmp_path / "runs", {"sft": -0.1, "grpo": 0.0, "adora": 0.1}, seeds=(0, 1), steps=6)
    run_aggregate(files, tmp_path / "agg")
    curves = pd.read_csv(tmp_path / "agg" / "curves.csv")
    figures.make_figures(curves, pd.DataFrame(), pd.DataFrame(), tmp_path / "f", window=3)
    name, fig, title, *_ = captured[0]
    assert "individual seeds" in title and "interval" not in title.split(";")[1].replace("no interval", "")
    ax = fig.axes[0]
    assert not ax.collections  # no fill_between band
    assert len(ax.lines) == 2 * 3  # grpo, adora: mean + 2 seed lines each


def test_paper_figures_and_report_layout(tmp_path, captured):
    files = make_runs(tmp_path / "runs", {"sft": -0.1, "grpo": 0.0, "adora": 0.1, "etr": 0.05}, steps=4)
    run_aggregate(files, tmp_path / "agg")
    groups = figures.paper_methods(Path(__file__).resolve().parents[1] / "paper/claims.yaml")
    assert {"adora", "guide", "etr"} <= set(groups) and {"adora", "grpo"} <= set(groups["adora"])
    agg, out, rep = tmp_path / "agg", tmp_path / "f", tmp_path / "report"
    argv = ["--curves", str(agg / "curves.csv"), "--eval", str(agg / "eval.csv"), "--problems"]
    argv += [str(agg / "problems.csv"), "--out-dir", str(out), "--report-dir", str(rep)]
    argv += ["--claims", str(Path(__file__).resolve().parents[1] / "paper/claims.yaml")]
    assert figures.main(argv) == 0
    assert sorted(p.name for p in (rep / "all").iterdir()) == sorted(f"{n}.png" for n in figures.FIGURE_NAMES)
    assert (out / "adora" / "train_reward.pdf").is_file() and (rep / "etr" / "passk.png").is_file()
    etr_legends = {label for name, *_, legend, folder in captured if folder == "etr" for label in legend}
    assert etr_legends == {"sft", "grpo", "etr", "self-distillation", "capability gain"}  # no adora
    sizes = {p.name: p.stat().st_size for p in (out / "etr").glob("*.png")}
    assert sizes and all(size > 10_000 for size in sizes.values())
