"""The conda environments Snakemake's --use-conda builds pin what pyproject.toml pins."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pip_pins(env: str) -> dict[str, str]:
    deps = yaml.safe_load((ROOT / "envs" / env).read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return {m[1].lower(): m[2] for d in pip if (m := re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", d))}


def test_train_env_pins_match_pyproject_and_torch_is_the_cpu_build():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", d).groups() for d in project if "==" in d)
    env = _pip_pins("train.yaml")
    for name, version in pinned.items():
        if name.lower() == "snakemake":  # Snakemake runs the workflow; the jobs do not import it
            continue
        assert env[name.lower()] == version, name
    assert env["torch"] == "2.13.0+cpu"  # never a CUDA build on the CPU path
    assert all("==" in d or d.startswith("--") for d in yaml.safe_load((ROOT / "envs/train.yaml").read_text())[
        "dependencies"][-1]["pip"])  # fmt: skip


def test_analysis_env_has_no_torch_and_is_fully_pinned():
    pins = _pip_pins("analysis.yaml")
    assert "torch" not in pins and "trl" not in pins
    assert {"pandas", "numpy", "matplotlib", "pyyaml", "jsonschema"} <= set(pins)
