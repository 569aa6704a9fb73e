import json
import os
import sys
from pathlib import Path

# the repository root: the Snakefile, src/, config/
ROOT = Path(workflow.basedir)
sys.path.insert(0, str(ROOT / "src"))

from rlvr_repro import config as cfg  # noqa: E402
from rlvr_repro.rl.geometry import (
    geometry_table,
)  # noqa: E402 (no torch/TRL at DAG time)

cfg.coerce_strings(config)  # --config 'rl={steps: 3}' gives the string '3'
cfg.validate(
    config, source="config (config/config.yaml + --configfile/--config overrides)"
)

# issue 18: every job's CLI pins its CPU kernels to this level (rlvr_repro.numerics) before torch loads
os.environ.update(RLVR_CPU_ISA=config["cpu_isa"])

print(geometry_table(config), file=sys.stderr)  # the update geometry of every RL run

EXP = config["name"]
OUT = f"results/{EXP}"
SIZES = config["sizes"]
ALL_SIZES = list(
    dict.fromkeys(SIZES + [config.get("ablations", {}).get("size", SIZES[0])])
)
SEEDS = config["seeds"]
RUNS = cfg.runs(config)
METHODS = cfg.all_methods(config)
RL_METHODS = [m for m in METHODS if not cfg.is_sft_method(config, m)]
SFT_METHODS = [m for m in METHODS if cfg.is_sft_method(config, m)]
THREADS = config.get("threads", 1)
SFT_THREADS = config.get("sft_threads", THREADS)  # the warm start runs alone: give it the idle cores


HUB_DATA = config["data"].get("source", "synthetic") == "hub"
BENCHMARKS = list(config["data"]["benchmarks"]) if HUB_DATA else ["test", "ood"]
DATA_SPLITS = ["sft", "rl"] + BENCHMARKS


wildcard_constraints:
    size="|".join(ALL_SIZES),
    seed=r"\d+",
    split="|".join(DATA_SPLITS),


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def identity(w, method=None):
    return as_json(
        {"exp": EXP, "size": w.size, "method": method or w.method, "seed": int(w.seed)}
    )


def base_model(w):
    """The local base model of this size: `build_model` builds the tiny sizes and fetches (once) the
    hub id or path that `config.model` names, so no job reads the hub itself."""
    return f"{OUT}/models/{w.size}/init"


def model_source(w):
    """The hub id or path `config.model` names for a size (wildcards or a size name), "" for tiny sizes:
    `fetch_model` materialises the former once, `build_model` builds the latter."""
    size = w if isinstance(w, str) else w.size
    return config.get("model", {}).get(size, "")


def eval_splits():
    """{split name: JSONL path} that `evaluate` scores: the configured benchmarks for hub data,
    test and ood for the synthetic tasks."""
    return {name: f"{OUT}/data/{name}.jsonl" for name in BENCHMARKS}


# --- resources and launch: the same rules on a CPU, a GPU workstation and SLURM ---------------------
JOB_DEFAULTS = {  # the CPU toy's resources; config `resources.<kind>` overrides them
    "sft": {"gpu": 0, "nodes": 1, "mem_mb": 4000, "runtime": 60},
    "train": {"gpu": 0, "nodes": 1, "mem_mb": 4000, "runtime": 60},
    "eval": {"gpu": 0, "nodes": 1, "mem_mb": 4000, "runtime": 60},
}


# Conda env of the training/evaluation rules under --use-conda: the GPU one (vLLM, DeepSpeed) when
# any job kind of this experiment asks for GPUs, the CPU one otherwise.
GPU_RUN = any(
    config.get("resources", {}).get(k, {}).get("gpu", 0) for k in JOB_DEFAULTS
)
TRAIN_ENV = "../../envs/gpu.yaml" if GPU_RUN else "../../envs/train.yaml"


def engine_env(section):
    """Conda env of an evaluation rule: the GPU one where its `engine: vllm` imports vLLM (issue 16, #4)."""
    vllm = config.get(section, {}).get("engine") == "vllm"
    return "../../envs/gpu.yaml" if vllm else "../../envs/train.yaml"


def job_spec(kind):
    """config `resources.<kind>` over the CPU defaults (`gpu` counts GPUs per node)."""
    return {**JOB_DEFAULTS[kind], **config.get("resources", {}).get(kind, {})}


def job_resources(kind, runs=1):
    """Snakemake resources of a job kind. `gpu` is the job's total (per node x nodes): what the
    workstation profile's global `gpu` limit and SLURM's --gpus count. A multi-node job is an `mpi`
    job for the SLURM executor (the rule's own `srun` starts one launcher per node)."""
    spec = job_spec(kind)
    out = {
        "mem_mb": spec["mem_mb"],
        "runtime": spec["runtime"]
        * runs,  # a job trains `runs` seeds one after another
        "gpu": spec["gpu"] * spec["nodes"],
    }
    if spec.get("cpus_per_gpu") and spec["gpu"]:
        out["cpus_per_gpu"] = spec["cpus_per_gpu"]
    # --nodes=1 too: SLURM could otherwise spread one node's GPUs over nodes
    if spec["gpu"]:
        out["nodes"] = spec["nodes"]
    if spec["nodes"] > 1:
        out.update(mpi="srun", tasks_per_node=spec["gpu"])
    return out


def launcher(kind, distributed=True):
    """The command prefix that runs `-m rlvr_repro.cli ...`: plain `python` on a CPU; on one node,
    `accelerate launch` (or, with distributed=False, one `python` process, e.g. vLLM evaluation) on
    this job's own GPUs (`rlvr_repro.gpus` sets CUDA_VISIBLE_DEVICES); one `accelerate launch` per node
    through `srun` for a multi-node SLURM job."""
    spec = job_spec(kind)
    gpu, nodes = spec["gpu"], spec["nodes"]
    if gpu == 0:
        return "python"
    if not distributed:
        return f"python -m rlvr_repro.gpus --count {gpu} -- python"
    accel = spec.get("accelerate_config", "config/accelerate/zero3.yaml")
    if nodes == 1:
        return (
            f"python -m rlvr_repro.gpus --count {gpu} -- accelerate launch --config_file {accel}"
            f" --num_processes {gpu} --num_machines 1 --main_process_port 0"
        )
    return (  # $SLURM_NODEID differs per node, so it is read inside each srun task ("$@" = the rest)
        'export RLVR_MAIN_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)";'
        f" srun --nodes={nodes} --ntasks-per-node=1 --gpus-per-node={gpu} --cpus-per-task=$SLURM_CPUS_ON_NODE"
        ' --kill-on-bad-exit=1 sh -c \'exec accelerate launch --machine_rank "$SLURM_NODEID"'
        ' --main_process_ip "$RLVR_MAIN_IP" "$@"\' accelerate'
        f" --config_file {accel} --num_processes {gpu * nodes} --num_machines {nodes}"
        " --main_process_port 29500 --same_network"
    )


def run_dir(size="{size}", method="{method}", seed="{seed}"):
    return f"{OUT}/runs/{size}/{method}/seed{seed}"


def seed_files(name):
    """`name` in every seed's run directory of the job's (size, method): one job trains all seeds."""
    return expand(
        f"{OUT}/runs/{{{{size}}}}/{{{{method}}}}/seed{{seed}}/{name}", seed=SEEDS
    )


def seed_dirs(name):
    return [directory(path) for path in seed_files(name)]


def train_run_args(w, output):
    """`--run OUT WORK_DIR METRICS SEED` per seed, in the order of the job's outputs."""
    runs = zip(SEEDS, output.models, output.metrics)
    return " ".join(
        f"--run {m} {run_dir(w.size, w.method, s)}/work {x} {s}" for s, m, x in runs
    )


def property_models(w):
    """Task properties are measured on the SFT start and, when GRPO is trained, on its first seed's final
    model; the GRPO runs' metrics give the training trends."""
    grpo = "grpo" in RL_METHODS and (w.size, "grpo", SEEDS[0]) in RUNS
    return {
        "sft": f"{OUT}/models/{w.size}/sft",
        "grpo": [f"{run_dir(w.size, 'grpo', SEEDS[0])}/model"] if grpo else [],
        "grpo_metrics": (
            [f"{run_dir(w.size, 'grpo', s)}/metrics.jsonl" for s in SEEDS]
            if grpo
            else []
        ),
    }


def property_model_args(w, input):
    models = [f"--model 'SFT start={input.sft}'"]
    models += [f"--model 'GRPO seed {SEEDS[0]}={path}'" for path in input.grpo]
    return " ".join(models)


def eval_files(kind):
    runs = RUNS + [(size, "sft", seed) for size in SIZES for seed in SEEDS]
    return [
        f"{OUT}/eval/{size}/{method}/seed{seed}/{kind}.csv"
        for size, method, seed in runs
    ]


def metrics_files():
    return [
        f"{run_dir(size, method, seed)}/metrics.jsonl" for size, method, seed in RUNS
    ]


def model_to_eval(size, method, seed):
    if method == "sft":
        return f"{OUT}/models/{size}/sft"
    return f"{run_dir(size, method, seed)}/model"


def models_to_eval(w):
    """One evaluation job per (size, method) covers every seed: one process start, not one per seed."""
    return [model_to_eval(w.size, w.method, seed) for seed in SEEDS]


def eval_run_args(w, output):
    runs = zip(SEEDS, output.metrics, output.problems)
    return " ".join(
        f"--run {model_to_eval(w.size, w.method, s)} {s} {m} {p}" for s, m, p in runs
    )


def all_outputs():
    return [
        f"{OUT}/report/report.html",
        f"{OUT}/tables/method_size.md",
        f"{OUT}/figures/done",
    ]


# Rules run `python -m rlvr_repro.cli` from this checkout: the same code in a venv, a conda env
# (envs/*.yaml hold the dependencies) or a cluster job, which re-reads this file.
# Without --use-conda, jobs use the Python that runs Snakemake (e.g. .venv/bin/snakemake unactivated).
_uses_conda = "conda" in str(workflow.deployment_settings.deployment_method).lower()
_path = "" if _uses_conda else f'export PATH="{Path(sys.executable).parent}:$PATH"; '
shell.prefix(f"{_path}export PYTHONPATH={ROOT / 'src'}; ")
