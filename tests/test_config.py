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


# --- failing early: unknown keys, registry names, --config strings ---------------------------------
def test_unknown_keys_fail_with_the_nearest_valid_key():
    for block in ("rl", "sft"):
        bad = default()
        bad[block]["num_generation" if block == "rl" else "lerning_rate"] = 4
        want = "num_generations" if block == "rl" else "learning_rate"
        with pytest.raises(cfg.ConfigError, match=rf"{block}: unknown key .*did you mean '{want}'"):
            cfg.validate(bad)
    bad = default()
    bad["methods"]["guide"]["guide"]["ratio_contxt"] = "plain"
    with pytest.raises(cfg.ConfigError, match=r"methods\.guide\.guide: .*did you mean 'ratio_context'"):
        cfg.validate(bad)


def test_rl_passes_grpo_config_fields_through_but_not_the_ones_the_project_sets():
    good = default()
    good["rl"]["max_grad_norm"] = 0.5
    good["methods"]["etr"]["vllm_importance_sampling_cap"] = 2.0
    cfg.validate(good)
    bad = default()
    bad["rl"]["max_grad_norm"] = "large"
    with pytest.raises(cfg.ConfigError, match=r"rl\.max_grad_norm: 'large' is not of type 'number'"):
        cfg.validate(bad)
    bad = default()
    bad["rl"]["lr_scheduler_type"] = "linear"
    with pytest.raises(cfg.ConfigError, match=r"'lr_scheduler_type' is set by the project; use lr_scheduler"):
        cfg.validate(bad)


def test_static_grpo_fields_match_the_installed_trl():
    import trl

    from rlvr_repro import grpo_fields

    assert grpo_fields.TRL_VERSION == trl.__version__
    assert grpo_fields.GRPO_CONFIG_FIELDS == grpo_fields.live_fields()
    assert set(cfg.PROJECT_SET_GRPO_FIELDS) <= set(grpo_fields.GRPO_CONFIG_FIELDS)


def _grpo_config():
    from rlvr_repro.rl.train import grpo_config

    return grpo_config


def test_fields_the_project_sets_are_the_ones_the_rl_job_refuses(tmp_path):
    grpo_config = _grpo_config()
    spec = cfg.rl_spec(default(), "grpo")
    for key in cfg.PROJECT_SET_GRPO_FIELDS:
        with pytest.raises(ValueError, match=key):
            grpo_config({**spec, key: None}, tmp_path, 0)


def test_registry_names_come_from_the_registries():
    names = cfg.live_registry_names()
    assert {"grpo", "adora"} <= set(names["advantage"]) and {"fixed", "etr"} <= set(names["clip"])
    assert {"dynamic_sampling", "guide_hints", "overlong"} <= set(names["rollout_hook"])


def test_unknown_registry_names_fail_with_a_suggestion():
    bad = default()
    bad["methods"]["adora"]["advantage"]["name"] = "adoar"
    with pytest.raises(
        cfg.ConfigError, match=r"methods\.adora\.advantage\.name: unknown advantage 'adoar'.*'adora'"
    ):
        cfg.validate(bad)
    bad = default()
    bad["rl"]["clip"]["name"] = "fixd"  # the default, so every method inheriting it is named
    with pytest.raises(cfg.ConfigError, match=r"rl\.clip\.name: unknown clip 'fixd' in method grpo.*'fixed'"):
        cfg.validate(bad)
    bad = default()
    bad["ablations"]["methods"]["guide_noshape"]["guide"]["shaping"] = "nnone"
    with pytest.raises(cfg.ConfigError, match=r"guide\.shaping: unknown shaping 'nnone'.*'none'"):
        cfg.validate(bad)


def test_config_strings_become_the_schema_types():
    c = default()
    c["rl"].update(steps="3", learning_rate="1e-4", filter_groups="true", lr_scheduler="constant")
    c["eval"].update(max_problems="null", ks=["1", "4"])
    cfg.coerce_strings(c)
    assert c["rl"]["steps"] == 3 and c["rl"]["learning_rate"] == 1e-4 and c["rl"]["filter_groups"] is True
    assert c["rl"]["lr_scheduler"] == "constant" and c["eval"]["max_problems"] is None
    assert c["eval"]["ks"] == [1, 4]
    cfg.validate(c)
    c["rl"]["steps"] = "three"  # not a number: left as it is, so validation names it
    with pytest.raises(cfg.ConfigError, match=r"rl\.steps: 'three' is not of type 'integer'"):
        cfg.validate(cfg.coerce_strings(c))


def dry_run(*config):
    import subprocess
    import sys

    args = ["-n", "--nolock", "--configfile", "config/experiments/smoke.yaml", "--config", *config]
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_dry_run_stops_on_a_misspelled_key_or_name_with_a_suggestion():
    out = dry_run("methods={grpo: {num_generation: 4}}")
    assert out.returncode != 0
    assert (
        "methods.grpo: unknown key 'num_generation'; did you mean 'num_generations'"
        in out.stdout + out.stderr
    )
    out = dry_run("methods={adora: {advantage: {name: adoar}}}")
    assert out.returncode != 0 and "did you mean 'adora'" in out.stdout + out.stderr


def test_dry_run_takes_nested_numbers_from_the_command_line():
    out = dry_run("rl={steps: 3, max_grad_norm: 0.5}", "eval={n: 2}")
    assert out.returncode == 0, (out.stdout + out.stderr)[-2000:]


def schema_keys(node, prefix=""):
    """Dotted paths of every property the schema file declares; a definition's keys as `<definition>.key`."""
    if not isinstance(node, dict) or "$ref" in node:
        return []
    keys = []
    for key, sub in (node.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        keys += [path, *schema_keys(sub, path)]
    return keys


def test_every_schema_key_is_documented_in_config_readme():
    schema = yaml.safe_load(cfg.SCHEMA.read_text())
    keys = schema_keys(schema)
    for name, definition in schema["definitions"].items():
        keys += schema_keys(definition, name)
    readme = (ROOT / "config/README.md").read_text()
    missing = [key for key in keys if f"`{key}`" not in readme]
    assert not missing, f"config/README.md does not describe: {missing}"
    assert len(keys) > 100
    for field in cfg.PROJECT_SET_GRPO_FIELDS:  # the pass-through fields refused, and why
        assert f"`{field}`" in readme, field


def test_registry_keyword_arguments_come_from_the_functions():
    kwargs = cfg.live_registry_kwargs()
    assert {"mode", "tau", "amplify", "lam"} <= set(kwargs["advantage"]["adora"])
    assert "correct" not in kwargs["advantage"]["adora"]  # supplied by the trainer, not the config
    assert {"kappa", "eps_low_max"} <= set(kwargs["clip"]["etr"])


def test_misspelled_keyword_argument_of_a_registered_function_fails_with_a_suggestion():
    bad = default()
    bad["methods"]["adora"]["advantage"]["tua"] = 0.5
    with pytest.raises(
        cfg.ConfigError, match=r"methods\.adora\.advantage: advantage 'adora' takes no 'tua'.*'tau'"
    ):
        cfg.validate(bad)
    bad = default()
    bad["rl"]["clip"]["kappa"] = 2.0  # an ETR knob on the default `fixed` clip: every inheriting method
    with pytest.raises(cfg.ConfigError, match=r"rl\.clip: clip 'fixed' takes no 'kappa' \(method grpo"):
        cfg.validate(bad)
    bad = default()
    bad["methods"]["guide"]["guide"]["shaping_kwargs"] = {"qq": 0.5}
    with pytest.raises(cfg.ConfigError, match=r"shaping 'percentile' takes no 'qq'.*did you mean 'q'"):
        cfg.validate(bad)


def test_gradient_checkpointing_is_off_on_the_cpu_and_on_in_the_large_paper_configs(tmp_path):
    """TRL 1.16's GRPOConfig turns checkpointing on; config.yaml turns it off and the job obeys (issue 23)."""
    base = default()
    assert _grpo_config()(cfg.rl_spec(base, "grpo"), tmp_path, 0).gradient_checkpointing is False
    assert base["sft"]["gradient_checkpointing"] is False
    for name in ("adora_qwen25_7b", "etr_qwen25math7b", "etr_qwen3_8b_base", "guide_qwen25math7b",
                 "single_gpu_qwen25math15b"):  # fmt: skip
        merged = cfg.merge(base, yaml.safe_load((ROOT / f"config/experiments/{name}.yaml").read_text()))
        assert merged["rl"]["gradient_checkpointing"] is True, name
        assert merged["sft"]["gradient_checkpointing"] is True, name
