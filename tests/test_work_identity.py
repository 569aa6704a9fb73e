"""Issue 22: a rerun never trains on stale work, and SFT resume does exactly the remaining steps."""

from __future__ import annotations

import json

import pytest
import torch
from rl_helpers import tiny_model

from rlvr_repro import sft
from rlvr_repro.jsonl import write_jsonl
from rlvr_repro.models import load_model
from rlvr_repro.runs import WORK_IDENTITY
from rlvr_repro.tasks import make_prompt

SFT_SPEC = {"steps": 4, "batch_size": 4, "per_device_train_batch_size": 1, "learning_rate": 1e-3, "save_steps": 2, "logging_steps": 1,
            "lr_scheduler": "constant", "max_length": 64}  # fmt: skip


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory)


@pytest.fixture
def sft_run(model_dir, tmp_path):
    data = tmp_path / "sft.jsonl"
    records = [
        {"id": f"p{i}", "prompt": make_prompt(f"{i}+{i + 1}"), "answer": str(2 * i + 1),
         "solution": f"{i}+{i + 1}={2 * i + 1}\n#### {2 * i + 1}", "hint": "", "difficulty": 1, "split": "sft"}
        for i in range(8)
    ]  # fmt: skip
    write_jsonl(data, records)

    def run(name, work="work", model=model_dir, **overrides):
        metrics = tmp_path / f"{name}.metrics.jsonl"
        spec = {**SFT_SPEC, **overrides}
        out = tmp_path / f"{name}.model"
        sft.train_sft(str(model), data, out, spec, 0, 1, tmp_path / work, metrics, {"run": name})
        return [json.loads(line) for line in metrics.read_text().splitlines()], out

    return run


def weights(path):
    return load_model(str(path)).state_dict()


def max_dw(a, b):
    wa, wb = weights(a), weights(b)
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


def test_sft_resume_does_exactly_the_remaining_steps(sft_run, tmp_path):
    full, full_out = sft_run("full", work="full")
    assert [r["step"] for r in full] == [1, 2, 3, 4]
    first, _ = sft_run("split", steps=2)
    resumed, out = sft_run("split", steps=4)  # same work dir: resumes from checkpoint-2
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    assert max_dw(full_out, out) == 0.0
    again, again_out = sft_run("split", steps=4)  # finished: no step past max_steps
    assert [r["step"] for r in again] == [1, 2, 3, 4]
    assert not (tmp_path / "work" / "checkpoint-5").exists()
    assert max_dw(out, again_out) == 0.0


def test_changed_learning_rate_starts_fresh(sft_run, tmp_path):
    _, before = sft_run("a")
    with pytest.warns(UserWarning, match="moved aside"):
        rows, after = sft_run("b", learning_rate=3e-3)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert max_dw(before, after) > 0.0  # retrained, not the old checkpoint-4
    assert (tmp_path / "work" / WORK_IDENTITY).is_file()
    assert list(tmp_path.glob("work.stale-*"))


def test_changed_start_model_starts_fresh(sft_run, model_dir, tmp_path):
    _, before = sft_run("a")
    other = tmp_path / "other_start"
    model = load_model(model_dir)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    model.save_pretrained(other)
    from rlvr_repro.models import load_tokenizer

    load_tokenizer(model_dir).save_pretrained(other)
    with pytest.warns(UserWarning, match="moved aside"):
        _, after = sft_run("b", model=other)
    assert max_dw(before, after) > 0.0
