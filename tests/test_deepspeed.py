"""DeepSpeed ZeRO-2 and ZeRO-3 on the CPU (DeepSpeed's CPU accelerator, gloo, 2 processes) through the
project's accelerate configs, against one plain process on the same batch: the same loss
and the same gradient norm (tests/mp_harness.py: rollouts seeded per group, one optimizer step)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rlvr_repro.models import build_model

pytestmark = [
    pytest.mark.deepspeed,
    pytest.mark.skipif(
        importlib.util.find_spec("deepspeed") is None, reason="deepspeed not installed (envs/vllm-cpu.txt)"
    ),
]
ROOT = Path(__file__).resolve().parents[1]
HARNESS = str(ROOT / "tests/mp_harness.py")
METHODS = ["grpo", "guide"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], out: Path, model: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src"), "DS_ACCELERATOR": "cpu"}
    done = subprocess.run([*cmd, str(model), str(out), *METHODS], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    return torch.load(out, weights_only=False)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ds")
    build_model("tiny", tmp / "model", seed=0)
    return tmp, run([sys.executable, HARNESS], tmp / "plain.pt", tmp / "model")


@pytest.mark.parametrize("stage", [2, 3])
def test_zero_on_cpu_gives_the_loss_of_one_plain_process(reference, stage):
    tmp, plain = reference
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / f"config/accelerate/zero{stage}.yaml"), "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--main_process_port", str(free_port()), HARNESS]  # fmt: skip
    ds = run(cmd, tmp / f"zero{stage}.pt", tmp / "model")
    for method in METHODS:
        assert ds[method]["world"] == 2
        assert ds[method]["logs"]["loss"] == pytest.approx(plain[method]["logs"]["loss"], rel=1e-4, abs=1e-7)
        # the gradient's global norm (clipping at 1e6 never bites): DeepSpeed's over its partitions
        assert ds[method]["logs"]["grad_norm"] == pytest.approx(plain[method]["logs"]["grad_norm"], rel=1e-4)
