"""A small KV-cache sampler for the CPU rollout and evaluation paths (the GPU path uses vLLM).

Two savings over `model.generate(num_return_sequences=n)`, both exact (same model, same distribution):
each prompt is prefilled once and its cache copied n times, and a row that has emitted EOS leaves the
batch (its cache rows are dropped), so the batch shrinks as completions end instead of decoding padding
until the longest one stops. Greedy output equals `generate`'s token for token (tests/test_sampling.py).

Common random numbers: a sampled token is the inverse CDF of softmax(logits / T) at a uniform drawn up
front for its (row, position), u ~ U(0, 1)^(rows x max_new_tokens). This is exact sampling, and it
spends the random stream the same way whatever the completions' lengths, so two nearby policies given
the same stream draw mostly the same tokens: methods compared on one seed see coupled rollouts and
evaluation samples, which shrinks the variance of their paired differences without biasing them.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


def next_token(logits: torch.Tensor, temperature: float, top_p: float, u: torch.Tensor | None = None):
    """Sample from softmax(logits / T) restricted to the top-p nucleus; T = 0 is argmax. With `u` (one
    uniform per row), the token is the inverse CDF at u; without it, fresh uniforms are drawn."""
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, -1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        outside = sorted_p.cumsum(-1) - sorted_p >= top_p  # the smallest prefix with mass >= top_p stays
        sorted_p = sorted_p.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    if u is None:
        u = torch.rand(probs.size(0), device=probs.device)
    cdf = probs.cumsum(-1)
    token = torch.searchsorted(cdf, (u.to(cdf) * cdf[:, -1]).unsqueeze(-1), right=True).squeeze(-1)
    return token.clamp(max=probs.size(-1) - 1)


@torch.no_grad()
def generate(model, input_ids, attention_mask, n: int, temperature: float, max_new_tokens: int,
             eos_token_id: int | list[int], top_p: float = 1.0,
             generator: torch.Generator | None = None) -> list[list[int]]:  # fmt: skip
    """Completion token ids (EOS included when emitted) for each of the n samples of each left-padded
    prompt row, in the order prompt 0 sample 0..n-1, prompt 1 sample 0..n-1, ... The uniforms of every
    (row, position) are drawn first, from `generator` (else the global RNG)."""
    eos = torch.tensor(eos_token_id, device=input_ids.device).reshape(-1)
    cache = DynamicCache()
    positions = (attention_mask.cumsum(1) - 1).clamp(min=0)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions,
                past_key_values=cache, use_cache=True)  # fmt: skip
    cache.batch_repeat_interleave(n)
    logits = out.logits[:, -1].repeat_interleave(n, 0)
    mask = attention_mask.repeat_interleave(n, 0)
    position = positions[:, -1].repeat_interleave(n, 0) + 1
    alive = torch.arange(logits.size(0))
    uniforms = torch.rand(logits.size(0), max_new_tokens, generator=generator) if temperature else None
    completions = [[] for _ in range(logits.size(0))]
    for step in range(max_new_tokens):
        token = next_token(logits, temperature, top_p, None if uniforms is None else uniforms[alive, step])
        for row, t in zip(alive.tolist(), token.tolist(), strict=True):
            completions[row].append(t)
        keep = (~torch.isin(token, eos)).nonzero().squeeze(1)
        if keep.numel() == 0 or step == max_new_tokens - 1:
            break
        if keep.numel() < alive.numel():
            alive, token, mask, position = alive[keep], token[keep], mask[keep], position[keep]
            cache.batch_select_indices(keep)
        mask = torch.cat([mask, mask.new_ones(mask.size(0), 1)], 1)
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=position[:, None],
                    past_key_values=cache, use_cache=True)  # fmt: skip
        logits, position = out.logits[:, -1], position + 1
    return completions
