from pathlib import Path

import pytest
import yaml

from rlvr_repro import config as cfg

ROOT = Path(__file__).resolve().parents[1]


def default():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def test_default_and_every_experiment_validate():
    base = default()
    cfg.validate(base)
    for path in sorted((ROOT / "config/experiments").glob("*.yaml")):
        cfg.validate(cfg.merge(base, yaml.safe_load(path.read_text())), source=str(path))


def test_schema_error_names_the_key():
    bad = default()
    bad["rl"]["num_generations"] = 1
    with pytest.raises(cfg.ConfigError, match=r"rl\.num_generations"):
        cfg.validate(bad)
    bad = default()
    bad["sft"]["learning_rate"] = "fast"
    with pytest.raises(cfg.ConfigError, match=r"sft\.learning_rate"):
        cfg.validate(bad)
    bad = default()
    bad["evall"] = {}
    with pytest.raises(cfg.ConfigError, match="evall"):
        cfg.validate(bad)


def test_method_block_with_unknown_key_is_rejected():
    bad = default()
    bad["methods"]["grpo"]["num_generation"] = 4  # typo of num_generations
    with pytest.raises(cfg.ConfigError, match=r"methods\.grpo.*num_generation"):
        cfg.validate(bad)


def test_method_spec_merges_over_rl_defaults():
    c = default()
    spec = cfg.rl_spec(c, "filter_grpo")
    assert spec["filter_groups"] is True
    assert spec["num_generations"] == c["rl"]["num_generations"]
    assert spec["clip"] == c["rl"]["clip"]
    assert "label" not in spec


def test_sft_continue_matches_rl_compute_budget():
    c = default()
    c["rl"].update(steps=8, prompts_per_step=8, prompts_per_update=4, num_generations=8)
    spec = cfg.sft_continue_spec(c, "sft_continue")
    assert spec["steps"] == 16  # 8 rollout steps x 2 updates each
    assert spec["batch_size"] == 32  # one update: 4 prompts x 8 completions
    assert spec["learning_rate"] == c["sft"]["learning_rate"]


def test_runs_cover_sizes_methods_seeds_and_ablations():
    c = default()
    del c["run"]  # without `run:`, every method and ablation block runs
    everything = cfg.runs(c)
    assert len(everything) == len(c["sizes"]) * len(c["methods"]) * len(c["seeds"]) + len(
        c["ablations"]["methods"]
    ) * len(c["seeds"])
    c["run"] = {"methods": ["grpo", "etr"], "ablations": ["dapo"]}
    runs = cfg.runs(c)
    main = len(c["sizes"]) * 2 * len(c["seeds"])
    ablations = 1 * len(c["seeds"])
    assert len(runs) == len(set(runs)) == main + ablations


def test_run_selection_rejects_unknown_methods():
    c = default()
    c["run"] = {"methods": ["grpoo"]}
    with pytest.raises(cfg.ConfigError, match="grpoo"):
        cfg.runs(c)
