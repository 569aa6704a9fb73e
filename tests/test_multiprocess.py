"""Two processes (`accelerate launch`, gloo on the CPU) against one on the same batch: every method gives
the same loss and the same gradient (tests/mp_harness.py: rollouts seeded per group, one optimizer step).

The two runs lay the batch out differently: one process holds the 4 groups and takes 4 micro-batches;
each of two processes holds 2 groups (0 and 2, or 1 and 3: TRL's sampler interleaves the ranks) and takes
2 micro-batches. Advantages, ETR's batch statistics, Guide's re-sampling (padded to the same count on
every rank) and the loss normalisers must be gathered over processes for the numbers to agree.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rlvr_repro.models import build_model

pytestmark = pytest.mark.multiprocess
ROOT = Path(__file__).resolve().parents[1]
HARNESS = str(ROOT / "tests/mp_harness.py")
METHODS = ["grpo", "adora", "etr", "filter_grpo", "guide", "stack"]
REFILL = ["filter_grpo+refill", "guide+refill"]  # fresh prompts per process: no 1-process twin
# computed on gathered tensors: the same in both runs
GLOBAL_METRICS = (
    "reward",
    "accuracy",
    "frac_zero_std",
    "frac_kept",
    "adora/",
    "etr/",
    "num_tokens",
    "grad_norm",
)
# logged from each process's own rows (the main process's share is what gets logged)
LOCAL_METRICS = ("refill/informative_prompts", "refill/rollouts", "guide/frac_replaced")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(n: int, model: Path, out: Path) -> dict:
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    if n == 1:
        cmd = [sys.executable, HARNESS]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), HARNESS]  # fmt: skip
    run = subprocess.run([*cmd, str(model), str(out), *METHODS, *REFILL], env=env, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return torch.load(out, weights_only=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mp")
    build_model("tiny", tmp / "model", seed=0)
    one = launch(1, tmp / "model", tmp / "one" / "out.pt")
    two = launch(2, tmp / "model", tmp / "two" / "out.pt")
    return one, two


@pytest.mark.parametrize("method", METHODS)
def test_two_processes_give_the_loss_and_gradient_of_one(runs, method):
    one, two = runs[0][method], runs[1][method]
    assert (one["world"], two["world"]) == (1, 2)
    assert two["logs"]["loss"] == pytest.approx(one["logs"]["loss"], rel=1e-4, abs=1e-7)
    scale = one["grads"].abs().max()
    assert scale > 0
    assert torch.allclose(two["grads"], one["grads"], rtol=1e-4, atol=1e-6 * scale)
    for key, value in one["logs"].items():
        if key.startswith(GLOBAL_METRICS):
            assert two["logs"][key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


def test_guide_resampled_on_both_ranks(runs):
    """The batch really exercises Guide across ranks: some groups failed and were re-sampled."""
    assert runs[0]["guide"]["logs"]["guide/frac_hinted"] > 0
    assert runs[0]["guide"]["logs"]["guide/frac_replaced"] > 0


@pytest.mark.parametrize("method", REFILL)
def test_refill_keeps_processes_in_lockstep(runs, method):
    """Refill rounds run on every process until every process is full (or rounds run out); each draws
    its own fresh prompts, so two processes train on other groups than one does (dapo.py)."""
    one, two = runs[0][method]["logs"], runs[1][method]["logs"]
    for logs in (one, two):
        assert logs["refill/rounds"] >= 2  # always-right and never-right prompts: a second round was needed
        assert torch.isfinite(torch.tensor(logs["loss"]))
    assert two["frac_kept"] > 0 and runs[1][method]["grads"].abs().max() > 0


def test_hook_metrics_are_global(runs):
    one, two = runs[0]["guide"]["logs"], runs[1]["guide"]["logs"]
    assert all(two.get(k) == pytest.approx(one[k]) for k in LOCAL_METRICS)
