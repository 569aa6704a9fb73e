"""The KV-cache sampler against Hugging Face `generate`: same tokens greedily, EOS rows leave the batch."""

import pytest
import torch

from rlvr_repro import sampling
from rlvr_repro.models import build_model, load_model, load_tokenizer

PROMPTS = ["Q: 3+4*2?\nA: ", "Q: A square has side 7. Find its area.\nA: ", "Q: 9-1?\nA: "]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("m")
    build_model("small", path, seed=3)
    tokenizer, model = load_tokenizer(str(path)), load_model(str(path)).eval()
    tokenizer.padding_side = "left"
    return tokenizer, model, tokenizer(PROMPTS, return_tensors="pt", padding=True)


def hf_greedy(model, enc, max_new, eos):
    out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, eos_token_id=eos, pad_token_id=0)
    rows = []
    for ids in out[:, enc["input_ids"].size(1) :].tolist():
        rows.append(ids[: ids.index(eos) + 1] if eos in ids else ids)
    return rows


def test_greedy_matches_generate_with_left_padding(tiny):
    tokenizer, model, enc = tiny
    ours = sampling.generate(
        model, enc["input_ids"], enc["attention_mask"], 1, 0.0, 24, tokenizer.eos_token_id
    )
    assert ours == hf_greedy(model, enc, 24, tokenizer.eos_token_id)
    assert all(len(row) == 24 for row in ours)  # an untrained model never says EOS: full length


def test_rows_that_emit_eos_leave_the_batch_and_the_rest_are_unchanged(tiny):
    tokenizer, model, enc = tiny
    full = sampling.generate(
        model, enc["input_ids"], enc["attention_mask"], 1, 0.0, 24, tokenizer.eos_token_id
    )
    eos = full[0][5]  # pretend the 6th greedy token of prompt 0 is EOS: row 0 stops there
    ours = sampling.generate(model, enc["input_ids"], enc["attention_mask"], 1, 0.0, 24, eos)
    assert ours[0] == full[0][: full[0].index(eos) + 1]
    assert ours == hf_greedy(model, enc, 24, eos)  # the surviving rows' caches were kept in step


def test_n_samples_per_prompt_in_prompt_major_order_and_seeded(tiny):
    tokenizer, model, enc = tiny
    torch.manual_seed(0)
    a = sampling.generate(model, enc["input_ids"], enc["attention_mask"], 4, 1.0, 8, tokenizer.eos_token_id)
    torch.manual_seed(0)
    b = sampling.generate(model, enc["input_ids"], enc["attention_mask"], 4, 1.0, 8, tokenizer.eos_token_id)
    assert a == b and len(a) == 12
    # each sample runs to the cap or stops at its EOS (an untrained model draws EOS now and then)
    assert all(len(row) == 8 or (len(row) < 8 and row[-1] == tokenizer.eos_token_id) for row in a)
    # sample j of prompt i continues prompt i: with T -> 0 every sample of a prompt is its greedy answer
    greedy = sampling.generate(
        model, enc["input_ids"], enc["attention_mask"], 1, 0.0, 8, tokenizer.eos_token_id
    )
    cold = sampling.generate(
        model, enc["input_ids"], enc["attention_mask"], 4, 1e-4, 8, tokenizer.eos_token_id
    )
    assert cold == [row for row in greedy for _ in range(4)]


def test_next_token_top_p_keeps_the_smallest_prefix_with_enough_mass():
    logits = torch.tensor([[0.5, 0.3, 0.2]]).log().expand(4000, 3)
    torch.manual_seed(0)
    assert set(sampling.next_token(logits, 1.0, 0.5).tolist()) == {0}  # 0.5 alone reaches 0.5
    drawn = sampling.next_token(logits, 1.0, 0.6)  # {0, 1}, renormalised to 5/8, 3/8
    assert set(drawn.tolist()) == {0, 1}
    assert abs((drawn == 0).float().mean().item() - 0.625) < 0.03
    full = sampling.next_token(logits, 1.0, 1.0)
    assert abs((full == 2).float().mean().item() - 0.2) < 0.03
    assert sampling.next_token(logits[:1], 0.0, 1.0).item() == 0


def test_next_token_is_the_inverse_cdf_at_its_uniform():
    logits = torch.tensor([[0.5, 0.3, 0.2]]).log().expand(7, 3)
    u = torch.tensor([0.0, 0.49, 0.5, 0.79, 0.8, 0.999, 0.9999999])
    assert sampling.next_token(logits, 1.0, 1.0, u).tolist() == [0, 0, 1, 1, 2, 2, 2]
    # top-p 0.6 keeps {0, 1}, renormalised to 5/8, 3/8: the CDF is rescaled, not truncated
    u = torch.tensor([0.0, 0.62, 0.63, 0.99, 0.5, 0.3, 0.7])
    assert sampling.next_token(logits, 1.0, 0.6, u).tolist() == [0, 0, 1, 1, 0, 0, 1]


def test_common_uniforms_couple_nearby_policies():
    """The same uniforms under two nearby distributions pick different tokens only where u falls between
    their CDFs: with probability sum_i |F_p(i) - F_q(i)| (here .03 + .01 + .01); independent draws
    disagree with probability 1 - sum_i p_i q_i (.69)."""
    p = torch.tensor([0.40, 0.30, 0.20, 0.10])
    q = torch.tensor([0.37, 0.32, 0.20, 0.11])
    coupled = (p.cumsum(0) - q.cumsum(0)).abs()[:-1].sum().item()  # 0.05
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    a = sampling.next_token(p.log().expand(20000, 4), 1.0, 1.0, u)
    b = sampling.next_token(q.log().expand(20000, 4), 1.0, 1.0, u)
    assert abs((a != b).float().mean().item() - coupled) < 0.006  # 4 standard errors
    assert abs((a == 0).float().mean().item() - 0.40) < 0.015  # each side is still exact sampling
    fresh = sampling.next_token(q.log().expand(20000, 4), 1.0, 1.0)
    assert abs((a != fresh).float().mean().item() - (1 - (p * q).sum().item())) < 0.015


def test_a_row_that_stops_early_leaves_the_other_rows_draws_unchanged(tiny):
    """Uniforms are per (row, position): a row leaving the batch does not shift the others' stream."""
    tokenizer, model, enc = tiny
    ids, mask, eos = enc["input_ids"], enc["attention_mask"], tokenizer.eos_token_id

    def draw(stop):
        g = torch.Generator().manual_seed(5)
        return sampling.generate(model, ids, mask, 4, 1.0, 12, stop, generator=g)

    full = draw(eos)
    fake = full[0][2]  # a token row 0 draws at position 3: now every row stops at its first one
    cut = draw([eos, fake])
    for row_full, row_cut in zip(full, cut, strict=True):
        stop = next((i for i, t in enumerate(row_full) if t == fake), None)
        assert row_cut == (row_full if stop is None else row_full[: stop + 1])
    assert any(fake not in row for row in full) and len(cut[0]) == 3
