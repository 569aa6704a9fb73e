import json

import pytest

from rlvr_repro.properties import _met, by_level, group_properties, training_trends


def _groups():
    # (row, marks, lengths); max_new = 10, tau = 0.5, hard_from = 3
    return [
        ({"difficulty": 1}, [1, 1, 0, 0], [4, 5, 2, 3]),  # p = .5, mixed below tau; max ok 5 > mean wrong 2.5
        ({"difficulty": 1}, [1, 1, 1, 0], [2, 2, 2, 6]),  # p = .75, above tau; 2 > 6 fails
        ({"difficulty": 3}, [0, 0, 0, 0], [3, 3, 10, 10]),  # all fail, hard
        ({"difficulty": 4}, [1, 0, 0, 0], [7, 10, 10, 10]),  # p = .25, hard; wrong all capped -> no verdict
    ]


def test_group_properties_by_hand():
    props = group_properties(_groups(), tau=0.5, hard_from=3, max_new=10)
    assert props["mean_success"] == pytest.approx((0.5 + 0.75 + 0 + 0.25) / 4)
    assert props["solves_some"] == pytest.approx(0.75)
    assert props["hard_all_fail"] == pytest.approx(0.5)  # one of the two hard groups
    assert props["mixed_below_tau"] == pytest.approx(0.5)  # p = .5 and p = .25
    assert props["mixed_above_tau"] == pytest.approx(0.25)
    assert props["all_equal"] == pytest.approx(0.25)
    assert props["length_rule_holds"] == pytest.approx(0.5)  # holds in group 1, fails in group 2
    assert props["len_correct"] == pytest.approx((4 + 5 + 2 + 2 + 2 + 7) / 6)
    assert props["len_wrong"] == pytest.approx((2 + 3 + 6 + 3 + 3 + 10 + 10 + 10 + 10 + 10) / 10)
    assert by_level(_groups()) == {"1": pytest.approx(0.625), "3": 0.0, "4": 0.25}


def test_targets_and_trends(tmp_path):
    assert _met("mean_success", 0.3) is True and _met("mean_success", 0.05) is False
    assert _met("hard_all_fail", float("nan")) is None
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "accuracy": s / 10, "entropy": 1 - s / 10} for s in range(1, 11)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    trends = training_trends([path])
    assert trends["accuracy_first_fifth"] == pytest.approx(0.15)  # steps 1-2
    assert trends["accuracy_last_fifth"] == pytest.approx(0.95)  # steps 9-10
    assert trends["entropy_last_fifth"] == pytest.approx(0.05)


def test_standardised_trend_removes_the_level_mix(tmp_path):
    """Raw accuracy falls because late steps draw the hard level; per level it rises by 0.1."""
    rows = []
    for s in range(1, 11):
        late = s > 5
        levels = {"accuracy/level_1": 0.8 + 0.1 * late, "accuracy/level_4": 0.1 + 0.1 * late}
        raw = 0.2 if late else 0.7  # the mix: mostly level 4 late, mostly level 1 early
        rows.append({"step": s, "accuracy": raw, **levels})
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    trends = training_trends([path])
    assert trends["accuracy_last_fifth"] < trends["accuracy_first_fifth"]
    assert trends["accuracy_standardised_first_fifth"] == pytest.approx((0.8 + 0.1) / 2)
    assert trends["accuracy_standardised_last_fifth"] == pytest.approx((0.9 + 0.2) / 2)
