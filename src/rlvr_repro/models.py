"""Tiny character-level models built locally, loaded exactly like hub models.

The tokenizer maps every printable ASCII character and newline to one token. Models are
`Qwen2ForCausalLM` configs in named sizes, so a hub id such as `Qwen/Qwen2.5-Math-1.5B` goes
through the same `from_pretrained` calls as the toy models.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen2Config

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]
CHARS = [chr(i) for i in range(32, 127)] + ["\n"]

# Named sizes; parameter counts are printed by `rlvr build-model` and recorded in the model dir.
SIZES = {  # head_dim 32 everywhere: vLLM's CPU attention rejects 24 (its kernels take 32, 64, 80, ...)
    "tiny": dict(
        hidden_size=96,
        num_hidden_layers=3,
        num_attention_heads=3,
        num_key_value_heads=1,
        intermediate_size=288,
    ),
    "small": dict(
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=384,
    ),
    "base": dict(
        hidden_size=192,
        num_hidden_layers=6,
        num_attention_heads=6,
        num_key_value_heads=2,
        intermediate_size=576,
    ),
}


def build_tokenizer() -> PreTrainedTokenizerFast:
    """One token per character: arithmetic is never split into multi-digit tokens."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )


def build_config(size: str, tokenizer, max_positions: int = 512) -> Qwen2Config:
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; valid sizes: {sorted(SIZES)}")
    return Qwen2Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **SIZES[size],
    )


def build_model(size: str, out_dir: str | Path, seed: int = 0) -> int:
    """Create a randomly initialised model and its tokenizer in `out_dir`; return the parameter count."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    model = AutoModelForCausalLM.from_config(build_config(size, tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return sum(p.numel() for p in model.parameters())


def _check_local(path_or_id: str) -> None:
    """A path that looks local but is absent gets a clear error instead of a hub lookup."""
    p = Path(path_or_id)
    looks_local = path_or_id.startswith((".", "/", "~")) or p.parts[:1] == ("results",)
    if looks_local and not (p / "config.json").is_file():
        raise FileNotFoundError(
            f"model not found: looked for {p / 'config.json'} (a local model directory written by "
            f"save_pretrained); for a hub model pass its id, e.g. Qwen/Qwen2.5-Math-1.5B"
        )


def load_tokenizer(path_or_id: str):
    """AutoTokenizer, except for our own character tokenizer: transformers 5 maps every `qwen2`
    model dir to `Qwen2Tokenizer`, whose byte-level pre-tokenizer would replace ours."""
    _check_local(path_or_id)
    local_config = Path(path_or_id) / "tokenizer_config.json"
    if (
        local_config.is_file()
        and json.loads(local_config.read_text()).get("tokenizer_class") == "TokenizersBackend"
    ):
        tokenizer = PreTrainedTokenizerFast.from_pretrained(path_or_id)
    else:
        tokenizer = AutoTokenizer.from_pretrained(path_or_id)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path_or_id: str, dtype: torch.dtype | str = "auto"):
    _check_local(path_or_id)
    return AutoModelForCausalLM.from_pretrained(path_or_id, dtype=dtype)


MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def fetch_model(source: str, out_dir: str | Path, end_tokens: tuple[str, ...] = ()) -> Path:
    """Materialise a configured base model in `out_dir` so every job reads one local copy.

    `source` is a local model directory (hard-linked, or copied across file systems) or a hub id,
    optionally pinned as ``id@revision``, downloaded with `huggingface_hub.snapshot_download`
    (weights as safetensors, config, tokenizer and generation config; no training checkpoints).
    On a cluster this runs once, wherever the workflow's head job can reach the hub.

    `end_tokens` (e.g. ``<|im_end|>`` for chat-formatted prompts, `loaders.TEMPLATE_END_TOKENS`) are
    added to the generation config's ``eos_token_id``: a base model prompted with a chat template ends
    its turn with them, and TRL (generation, completion masks), the trainer's truncation flags and
    both evaluation engines all read the stop tokens from there.
    """
    import shutil

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    local = Path(source).expanduser()
    if local.is_dir():
        from .sft import _link_or_copy

        if not (local / "config.json").is_file():
            raise FileNotFoundError(f"model not found: looked for {local / 'config.json'}")
        shutil.copytree(local, tmp, copy_function=_link_or_copy)
    else:
        _check_local(source)
        from huggingface_hub import snapshot_download

        repo_id, _, revision = source.partition("@")
        snapshot_download(
            repo_id=repo_id, revision=revision or None, local_dir=tmp, allow_patterns=MODEL_FILES
        )
    if end_tokens:
        add_end_tokens(tmp, end_tokens)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def add_end_tokens(model_dir: Path, end_tokens: tuple[str, ...]) -> list[int]:
    """Add the ids of `end_tokens` found in the tokenizer to generation_config.json's eos_token_id."""
    from transformers import GenerationConfig

    vocab = load_tokenizer(str(model_dir)).get_vocab()
    path = Path(model_dir) / "generation_config.json"
    if path.is_file():
        gen = GenerationConfig.from_pretrained(model_dir)
    else:
        gen = GenerationConfig.from_model_config(AutoConfig.from_pretrained(model_dir))
    eos = gen.eos_token_id
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    eos += [vocab[t] for t in end_tokens if t in vocab and vocab[t] not in eos]
    gen.eos_token_id = eos
    if path.is_file() or path.is_symlink():
        path.unlink()  # a hard link to the source model: write a new file, never through the link
    gen.save_pretrained(model_dir)
    return eos
