"""Pinned CPU numerics (issue 18): the kernels a CPU picks decide the last bit, and sampling amplifies it.

Every `rlvr_repro.cli` job calls `pin()` before torch is imported, so ATen's dispatch level, MKL's
conditional numerical reproducibility (CNR) mode and oneDNN's maximum ISA are the same on every x86-64
machine that has the chosen level. The level comes from the config key `cpu_isa` (schema default),
which the Snakemake rules hand to each job as the environment variable `RLVR_CPU_ISA`.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ENV = "RLVR_CPU_ISA"
# level -> (ATEN_CPU_CAPABILITY, MKL_CBWR, ONEDNN_MAX_CPU_ISA); "default" leaves the CPU's own choice.
LEVELS = {
    "avx2": ("avx2", "AVX2,STRICT", "AVX2"),
    "avx512": ("avx512", "AVX512,STRICT", "AVX512_CORE"),
    "default": None,
}
KEYS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")
X86 = {"x86_64", "amd64", "i386", "i686"}


def pin(level: str | None = None) -> dict:
    """Set the kernel-choice variables for `level` (overriding any set by the caller); return what was set.

    On a non-x86 machine the x86 levels mean nothing: say so on stderr and go on unpinned.
    """
    level = os.environ.get(ENV) if level is None else level
    if level is None:
        return {"level": None, "note": f"{ENV} unset: kernels are the CPU's own choice"}
    if level not in LEVELS:
        raise ValueError(f"{ENV}={level!r}: cpu_isa must be one of {sorted(LEVELS)}")
    arch = platform.machine().lower()
    if LEVELS[level] is None:
        return {"level": level, **{k: os.environ.get(k) for k in KEYS}}
    if arch not in X86:
        note = f"cpu_isa={level} cannot be honoured on {arch}: running with the CPU's own kernels"
        print(f"warning: {note}", file=sys.stderr)
        return {"level": level, "honoured": False, "note": note}
    for key, value in zip(KEYS, LEVELS[level], strict=True):
        os.environ[key] = value
    return {"level": level, "honoured": True, **{k: os.environ[k] for k in KEYS}}


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The `model name` line of /proc/cpuinfo (the processor's marketing name), else platform's guess."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.split(":")[0].strip() == "model name":
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def settings() -> dict:
    """What provenance.json records: the pin variables, thread variables and the CPU model."""
    keys = (ENV, *KEYS, "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return {"cpu_model": cpu_model(), "arch": platform.machine(), **{k: os.environ.get(k) for k in keys}}
