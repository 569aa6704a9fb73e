import pytest

from rlvr_repro.models import SIZES, build_model, load_model, load_tokenizer


def test_sizes_span_the_toy_range(tmp_path):
    counts = {size: build_model(size, tmp_path / size) for size in SIZES}
    assert list(counts.values()) == sorted(counts.values())
    assert 2e5 < min(counts.values()) and max(counts.values()) < 5e6


def test_roundtrip_through_from_pretrained_keeps_every_character(tmp_path):
    build_model("tiny", tmp_path)
    tok = load_tokenizer(str(tmp_path))
    text = "Q: What is 3+4*2?\nA: 3+4*2 = 3+8 = 11\n#### 11"
    ids = tok(text)["input_ids"]
    assert len(ids) == len(text)  # one token per character
    assert tok.decode(ids) == text
    model = load_model(str(tmp_path))
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.vocab_size == len(tok)


def test_missing_model_path_says_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="valid sizes"):
        build_model("huge", tmp_path / "x")


def test_every_size_has_head_dim_32_for_vllm_cpu():
    """vLLM's CPU attention backend rejects head_dim 24; every toy size uses 32."""
    for size, dims in SIZES.items():
        assert dims["hidden_size"] // dims["num_attention_heads"] == 32, size
        assert dims["num_attention_heads"] % dims["num_key_value_heads"] == 0, size
