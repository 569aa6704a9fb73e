"""A rollout batch as rows: select groups, concatenate rounds (torch only; docs/METHODS.md §5).

A batch is TRL's generation output (prompt_ids / prompt_mask left-padded, per-token tensors right-padded)
plus the project's per-row fields: `rewards` (what the advantage sees), `scores` (the verifier's reward,
what filtering sees), `hinted`, `keep` (0 = out of the loss), `rows` (the dataset rows) and `old_context`
(the prompt token ids old log-probs were taken on; None = the row's own prompt).
"""

from __future__ import annotations

import torch
from torch import Tensor

LEFT_PADDED = ("prompt_ids", "prompt_mask")
META = ("generated",)


def n_rows(batch: dict) -> int:
    return batch["completion_ids"].size(0)


def select(batch: dict, idx: list[int]) -> dict:
    """Rows `idx` of every per-row entry (tensors and lists); meta entries are dropped."""
    out = {}
    index = torch.tensor(idx, dtype=torch.long)
    for key, value in batch.items():
        if key in META or (torch.is_tensor(value) and value.dim() == 0):
            continue
        out[key] = value[index.to(value.device)] if torch.is_tensor(value) else [value[i] for i in idx]
    return out


def select_groups(batch: dict, groups: list[int], group_size: int) -> dict:
    return select(batch, [g * group_size + j for g in groups for j in range(group_size)])


def _pad(t: Tensor, width: int, value, left: bool) -> Tensor:
    extra = width - t.size(1)
    if extra <= 0:
        return t
    return torch.nn.functional.pad(t, (extra, 0) if left else (0, extra), value=value)


def cat(parts: list[dict], pad_token_id: int) -> dict:
    """Concatenate batches row-wise; 2-D entries are padded to the widest part (prompts on the left).

    A per-token entry missing from some parts (old log-probs TRL skipped) is NaN there.
    """
    keys = list(dict.fromkeys(k for p in parts for k in p if k not in META))
    out = {}
    for key in keys:
        values = [p.get(key) for p in parts]
        if any(isinstance(v, list) for v in values):
            out[key] = [x for v in values for x in v]
            continue
        ref = next(v for v in values if v is not None)
        if ref.dim() == 0:
            continue
        if ref.dim() == 1:
            out[key] = torch.cat(values)
            continue
        width = max(v.size(1) for v in values if v is not None)
        left = key in LEFT_PADDED
        pad_value = pad_token_id if key.endswith("_ids") else (0 if key.endswith("_mask") else 0.0)
        filled = []
        for part, v in zip(parts, values, strict=True):
            if v is None:
                v = torch.full((n_rows(part), width), float("nan"), device=ref.device, dtype=ref.dtype)
            filled.append(_pad(v, width, pad_value, left))
        out[key] = torch.cat(filled)
    out["generated"] = sum(p.get("generated", 0) for p in parts)
    return out


def truncated(completion_ids: Tensor, completion_mask: Tensor, eos_token_ids) -> Tensor:
    """(B,) bool: the completion has no end-of-sequence token, i.e. it stopped at the length cap."""
    eos = torch.tensor(list(eos_token_ids), device=completion_ids.device)
    return ~(torch.isin(completion_ids, eos) & completion_mask.bool()).any(dim=1)


def unpadded_prompts(batch: dict) -> list[list[int]]:
    """Each row's prompt token ids without padding."""
    return [ids[m.bool()].tolist() for ids, m in zip(batch["prompt_ids"], batch["prompt_mask"], strict=True)]
