"""Pinned CPU numerics (issue 18): the pin overrides a caller's request and is recorded."""

import subprocess
import sys

import pytest

from rlvr_repro import numerics


def _capability(env: dict) -> str:
    code = "from rlvr_repro.numerics import pin; pin(); import torch; print(torch.backends.cpu.get_cpu_capability())"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_pin_overrides_a_caller_request(monkeypatch):
    import os

    env = {**os.environ, "RLVR_CPU_ISA": "avx2", "ATEN_CPU_CAPABILITY": "avx512"}
    assert _capability(env) == "AVX2"


def test_pin_sets_every_variable(monkeypatch):
    for key in numerics.KEYS:
        monkeypatch.delenv(key, raising=False)
    out = numerics.pin("avx2")
    if not out["honoured"]:
        pytest.skip("not an x86-64 machine")
    assert out["MKL_CBWR"] == "AVX2,STRICT" and out["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert numerics.settings()["ATEN_CPU_CAPABILITY"] == "avx2"


def test_bad_level_names_the_key():
    with pytest.raises(ValueError, match="cpu_isa"):
        numerics.pin("sse9")


def test_cpu_model_reads_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    assert numerics.cpu_model(info) == "Test CPU 9000"


def test_other_architecture_goes_on(monkeypatch, capsys):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    assert numerics.pin("avx2")["honoured"] is False
    assert "aarch64" in capsys.readouterr().err
