"""Paper-scale experiment files: each plans the full DAG, launches training the way its resources
say (CPU line unchanged, accelerate on its own GPUs, srun across nodes), and its batch sizes fit
the process count. SLURM: the plugin's real sbatch lines (fake sbatch), and optionally the smoke DAG
through a local SLURM cluster (scripts/slurm_local.sh)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rlvr_repro import config as cfg
from rlvr_repro.rl import batch_geometry

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "config/experiments").glob("*.yaml"))
PAPER = [p for p in EXPERIMENTS if yaml.safe_load(p.read_text()).get("data", {}).get("source") == "hub"]


def merged(path):
    return cfg.merge(
        yaml.safe_load((ROOT / "config/config.yaml").read_text()), yaml.safe_load(path.read_text())
    )


def snakemake(*args, env=None, check=False):
    """Snakemake with --forceall, so a plan lists every job even where a local results/ is complete."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "--forceall", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, check=check)  # fmt: skip


def shell_lines(out: str, command: str) -> list[str]:
    lines = [line.removeprefix("Shell command: ") for line in out.splitlines()]
    return [line for line in lines if f"-m rlvr_repro.cli {command} " in line]


def test_paper_experiments_exist():
    names = {p.stem for p in PAPER}
    assert names == {"guide_qwen25math7b", "etr_qwen25math7b", "etr_qwen3_8b_base", "adora_qwen25_7b",
                     "single_gpu_qwen25math15b"}  # fmt: skip


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_plans_the_full_dag(path):
    out = snakemake("-n", "--configfile", str(path.relative_to(ROOT)))
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert "report" in out.stdout and "rl" in out.stdout


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_settings_are_complete_and_batches_fit(path):
    c = merged(path)
    cfg.validate(c, source=str(path))
    assert c["sft"]["steps"] == 0 and set(c["model"]) == set(c["sizes"])
    for key in ("n", "temperature", "top_p", "max_new_tokens"):
        assert key in c["eval"], key
    assert c["eval"]["engine"] == "vllm" and c["data"]["benchmarks"]
    world = c["resources"]["train"]["gpu"] * c["resources"]["train"].get("nodes", 1)
    methods, _ = cfg.selected(c)
    for method in methods:
        if cfg.is_sft_method(c, method):
            continue
        spec = cfg.rl_spec(c, method)
        geo = batch_geometry(spec, world)
        assert geo["per_device_train_batch_size"] % spec["num_generations"] == 0  # whole groups per device
        assert geo["per_device_train_batch_size"] * world * geo["steps_per_generation"] == (
            spec["prompts_per_step"] * spec["num_generations"]
        )


def test_cpu_shell_lines_are_unchanged_and_gpu_jobs_go_through_accelerate():
    smoke = snakemake("-n", "-p", "--configfile", "config/experiments/smoke.yaml")
    rl = shell_lines(smoke.stdout, "rl")
    assert rl and all(line.startswith("python -m rlvr_repro.cli rl --model ") for line in rl)
    guide = snakemake("-n", "-p", "--configfile", "config/experiments/guide_qwen25math7b.yaml")
    rl = shell_lines(guide.stdout, "rl")
    assert len(rl) == 3
    assert all(line.startswith("python -m rlvr_repro.gpus --count 8 -- accelerate launch --config_file "
                               "config/accelerate/zero3.yaml --num_processes 8 --num_machines 1") for line in rl)  # fmt: skip
    assert (
        "fetch_model" in guide.stdout
        and "build-model --size qwen25math7b --source Qwen/Qwen2.5-Math-7B" in guide.stdout
    )


def test_multi_node_training_runs_one_launcher_per_node(tmp_path):
    extra = tmp_path / "two_nodes.yaml"
    extra.write_text(
        yaml.safe_dump({"name": "pytest_two_nodes", "resources": {"train": {"gpu": 8, "nodes": 2}}})
    )
    out = snakemake("-n", "-p", "--configfile", "config/experiments/guide_qwen25math7b.yaml", str(extra))
    rl = shell_lines(out.stdout, "rl")
    assert rl, out.stderr[-2000:]
    for line in rl:
        assert line.startswith(
            'export RLVR_MAIN_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)";'
        )
        assert "srun --nodes=2 --ntasks-per-node=1 --gpus-per-node=8" in line
        assert '--machine_rank "$SLURM_NODEID"' in line and "--num_processes 16 --num_machines 2" in line
    assert "nodes=2" in out.stdout and "tasks_per_node=8" in out.stdout and "mpi=srun" in out.stdout


def test_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    for name, kind in [("zero2", "DEEPSPEED"), ("zero3", "DEEPSPEED"), ("single_gpu", "NO")]:
        conf = load_config_from_file(str(ROOT / f"config/accelerate/{name}.yaml"))
        assert conf.distributed_type.value == kind and conf.mixed_precision == "bf16"
    assert (
        load_config_from_file(str(ROOT / "config/accelerate/zero3.yaml")).deepspeed_config["zero_stage"] == 3
    )


FAKE_SBATCH = """#!/bin/sh
echo "$*" >> "$RLVR_SBATCH_RECORD"
echo 4242
"""


@pytest.mark.parametrize("nodes", [1, 2])
def test_slurm_plugin_submits_the_rules_resources(tmp_path, nodes):
    """The real executor plugin builds the sbatch call; a fake sbatch records it (no SLURM needed)."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    name = f"pytest_sbatch{nodes}"
    out_dir = ROOT / "results" / name
    shutil.rmtree(out_dir, ignore_errors=True)
    (out_dir / "data").mkdir(parents=True)
    (out_dir / "data/rl.jsonl").write_text("")
    (out_dir / "models/qwen25math7b/sft").mkdir(parents=True)
    (out_dir / "models/qwen25math7b/sft/config.json").write_text("{}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, body in {"sbatch": FAKE_SBATCH, "squeue": "#!/bin/sh\nexit 0\n", "scancel": "#!/bin/sh\nexit 0\n",
                       "sacct": "#!/bin/sh\nexit 1\n", "sacctmgr": "#!/bin/sh\nexit 1\n",
                       "scontrol": "#!/bin/sh\necho 'MinJobAge = 300 sec'\n",
                       "sinfo": "#!/bin/sh\necho PARTITION; echo 'cpu*'; echo gpu\n"}.items():  # fmt: skip
        (bin_dir / tool).write_text(body)
        (bin_dir / tool).chmod(0o755)
    record = tmp_path / "sbatch.txt"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RLVR_SBATCH_RECORD": str(record)}
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"name": name, "resources": {"train": {"gpu": 8, "nodes": nodes}}}))
    target = f"results/{name}/runs/qwen25math7b/guide/seed0/metrics.jsonl"
    cmd = [sys.executable, "-m", "snakemake", "--nolock", "--profile", "workflow/profiles/slurm", "--configfile",
           "config/experiments/guide_qwen25math7b.yaml", str(extra), "--rerun-triggers", "mtime",
           "--slurm-status-command", "squeue", target]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.time() + 120
        while not (record.exists() and record.read_text().strip()):
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.time() < deadline, "no sbatch call within 120 s"
            time.sleep(0.5)
    finally:
        proc.kill()  # Snakemake's SIGTERM handling waits on the (fake) cluster
        proc.wait(timeout=60)
        shutil.rmtree(out_dir, ignore_errors=True)
    call = record.read_text().strip()
    print(call)
    assert (
        "--job-name" in call and "rule_rl_wildcards_qwen25math7b_guide" in call
    )  # one job trains every seed
    assert "-p gpu" in call and "-t 1440" in call and "--mem 480000" in call and "--cpus-per-gpu=8" in call
    assert f"--gpus={8 * nodes}" in call
    if nodes > 1:
        assert "--nodes=2" in call and "--ntasks-per-node=8" in call
    else:  # one node's GPUs on one node, never spread (issue 16, #2)
        assert "--nodes=1" in call and "--ntasks-per-node" not in call


def test_slurm_profile_site_settings_survive_the_workflow_profile():
    """`profiles/default` loads as the workflow profile under `--profile workflow/profiles/slurm`; its
    settings must not replace the SLURM profile's site resources (issue 16, #1)."""
    out = snakemake("-n", "--profile", "workflow/profiles/slurm", "--configfile",
                    "config/experiments/guide_qwen25math7b.yaml")  # fmt: skip
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert "workflow specific profile" in out.stdout + out.stderr  # the default profile is loaded too
    lines = out.stdout.splitlines()
    rl = [lines[i + 1 : i + 12] for i, line in enumerate(lines) if line.startswith("rule rl:")]
    resources = [line for block in rl for line in block if "resources:" in line]
    assert resources and all("slurm_partition=gpu" in line and "runtime=1440" in line for line in resources)
    workflow_profile = yaml.safe_load((ROOT / "workflow/profiles/default/config.yaml").read_text())
    assert "default-resources" not in workflow_profile


def slurm_up() -> bool:
    if shutil.which("slurmctld") is None or shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mix", "alloc"))


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.skipif(not slurm_up(), reason="no running SLURM cluster (bash scripts/slurm_local.sh start)")
def test_smoke_dag_through_slurm():
    pytest.importorskip("snakemake_executor_plugin_slurm")
    name = "pytest_slurm_smoke"
    shutil.rmtree(ROOT / "results" / name, ignore_errors=True)
    out = snakemake("--profile", "workflow/profiles/slurm", "--configfile", "config/experiments/smoke.yaml",
                    "--config", f"name={name}", "--slurm-status-command", "squeue")  # fmt: skip
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert (ROOT / "results" / name / "report/report.html").stat().st_size > 0
    assert json.loads((ROOT / "results" / name / "provenance.json").read_text())["config"]["name"] == name


def test_multi_node_needs_several_gpus_per_node():
    c = merged(ROOT / "config/experiments/guide_qwen25math7b.yaml")
    c["resources"]["train"] = {"gpu": 1, "nodes": 2}
    with pytest.raises(cfg.ConfigError, match=r"resources\.train: a multi-node job"):
        cfg.validate(c)
    c["data"]["benchmarks"]["rl"] = {"loader": "math500"}  # would overwrite data/rl.jsonl
    c["resources"]["train"] = {"gpu": 8, "nodes": 2}
    with pytest.raises(cfg.ConfigError, match="data.benchmarks"):
        cfg.validate(c)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_lets_its_clip_mechanisms_act(path):
    from rlvr_repro.rl.geometry import geometry_rows

    assert geometry_rows(merged(path))  # raises on a clip no-op (issue 16, #7)


def test_dry_run_refuses_a_clip_no_op_naming_method_and_geometry():
    from rlvr_repro.rl.geometry import check_clip_acts, geometry_rows

    c = merged(ROOT / "config/experiments/single_gpu_qwen25math15b.yaml")
    spec = cfg.rl_spec(c, "etr")
    assert batch_geometry(spec)["max_steps"] == 2 * spec["steps"]  # two updates per rollout batch
    c["rl"]["prompts_per_update"] = c["rl"]["prompts_per_step"]
    with pytest.raises(ValueError, match=r"method 'etr': clip.name=etr .*1 optimizer update per rollout"):
        geometry_rows(c)
    one = {"prompts_per_step": 8, "num_generations": 2}
    with pytest.raises(ValueError, match="clip-higher"):
        check_clip_acts("dapo", {**one, "clip": {"name": "fixed", "eps_low": 0.2, "eps_high": 0.28}})
    with pytest.raises(ValueError, match="guide.ratio_context=plain"):
        check_clip_acts("guide", {**one, "guide": {"enabled": True, "ratio_context": "plain"}})
    check_clip_acts("guide", {**one, "guide": {"enabled": True, "ratio_context": "hinted"}})
    check_clip_acts("etr", {**one, "num_iterations": 2, "clip": {"name": "etr"}})
