"""APPS arithmetic on hand-worked records: test-pass averages, strict accuracy, pass@k."""
import json
import math
import random
from fractions import Fraction

import pytest

from repro.errors import UserError
from repro.tasks.apps.metrics import (AppsRecordError, PassAtKError, pass_at_k, sample_pass_share,
                                score_apps, score_apps_file)


def rec(pid, diff, sample, results, mode="paper"):
    return {"problem_id": pid, "difficulty": diff, "sample": sample, "mode": mode,
            "results": results, "times": [0.1] * len(results), "errors": [None] * len(results)}


@pytest.mark.parametrize("n,c,k,expected", [
    (5, 1, 1, 0.2), (5, 1, 2, 0.4), (5, 2, 2, 0.7), (5, 0, 5, 0.0), (5, 4, 2, 1.0),
    (5, 1, 5, 1.0), (1, 1, 1, 1.0), (1, 0, 1, 0.0)])
def test_pass_at_k_hand_worked(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_equals_the_binomial_form():
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)


def test_pass_at_k_is_accurate_where_binomials_are_huge():
    n, c, k = 2000, 7, 1000
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)


def test_k_larger_than_n_is_an_error_naming_k_and_n():
    with pytest.raises(PassAtKError, match=r"k=6.*n=5"):
        pass_at_k(5, 1, 6)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)


def test_only_true_counts_as_passed():
    assert sample_pass_share([True, False, -1, True]) == 0.5
    assert sample_pass_share([-2]) == 0.0  # compile error: 0 whatever the number of tests
    assert sample_pass_share([-1, -1, -1]) == 0.0  # global timeout: every test failed


RECORDS = [
    rec("p1", "introductory", 0, [True, False, True, True]),  # 0.75, fails
    rec("p1", "introductory", 1, [True, True, True, True]),   # 1.0, passes
    rec("p2", "interview", 0, [-2]),                           # compile error
    rec("p2", "interview", 1, [-1, -1, -1]),                   # timeout on every test
    rec("p3", "introductory", 0, [True, True]),                # 1.0, passes
    rec("p3", "introductory", 1, [False, True]),               # 0.5
]


def test_score_apps_hand_worked():
    s = score_apps(RECORDS, ks=(1, 2))
    assert set(s) == {"introductory", "interview", "overall", "mode"} and s["mode"] == "paper"
    intro = s["introductory"]
    assert (intro["problems"], intro["samples"]) == (2, 4)
    assert intro["avg_test_pass_first"] == pytest.approx(87.5)
    assert intro["avg_test_pass_mean"] == pytest.approx(81.25)
    assert intro["strict_accuracy"] == pytest.approx(50.0)
    assert intro["pass@1"] == pytest.approx(50.0)
    assert intro["pass@2"] == pytest.approx(100.0)
    assert all(v == 0 for k, v in s["interview"].items() if k not in ("problems", "samples"))
    overall = s["overall"]
    assert overall["avg_test_pass_first"] == pytest.approx(175 / 3)
    assert overall["avg_test_pass_mean"] == pytest.approx(162.5 / 3)
    assert overall["strict_accuracy"] == pytest.approx(100 / 3)
    assert overall["pass@1"] == pytest.approx(100 / 3)
    assert overall["pass@2"] == pytest.approx(200 / 3)


def test_score_apps_ignores_record_order():
    shuffled = RECORDS[:]
    random.Random(7).shuffle(shuffled)
    assert score_apps(shuffled, ks=(1, 2)) == score_apps(RECORDS, ks=(1, 2))


def test_k_above_the_samples_per_problem_is_an_error_not_a_dropped_column():
    with pytest.raises(PassAtKError, match=r"pass@5.*k=5.*n=2"):
        score_apps(RECORDS)  # default ks (1, 2, 5), 2 samples per problem


@pytest.mark.parametrize("bad,field", [
    (rec("p", "introductory", 0, [-2, False]), "results"),
    (rec("p", "introductory", 0, [1, True]), "results"),
    (rec("p", "introductory", 0, []), "results"),
    (rec("p", "easy", 0, [True]), "difficulty"),
    (rec("p", "introductory", -1, [True]), "sample"),
    (rec("p", "introductory", 0, [True], mode="lenient"), "mode"),
    ({"problem_id": "p", "difficulty": "interview", "sample": 0, "mode": "paper"}, "results"),
])
def test_malformed_records_name_the_field(bad, field):
    with pytest.raises(AppsRecordError) as err:
        score_apps([bad], ks=(1,))
    assert err.value.field == field and err.value.record == 0


def test_inconsistent_record_sets_are_errors():
    with pytest.raises(ValueError, match="mix verdict modes"):
        score_apps([rec("a", "interview", 0, [True]), rec("b", "interview", 0, [True], "strict")], ks=(1,))
    with pytest.raises(ValueError, match="not 0..n-1"):
        score_apps([rec("a", "interview", 1, [True])], ks=(1,))
    with pytest.raises(AppsRecordError, match="appears twice"):
        score_apps([rec("a", "interview", 0, [True])] * 2, ks=(1,))
    with pytest.raises(ValueError, match="no APPS records"):
        score_apps([], ks=(1,))


def test_score_apps_file_turns_bad_input_into_user_errors(tmp_path):
    path = tmp_path / "apps_results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    assert score_apps_file(path, ks=(1, 2)) == score_apps(RECORDS, ks=(1, 2))
    with pytest.raises(UserError) as err:
        score_apps_file(path)
    assert err.value.field == "ks" and str(path) in str(err.value)
    path.write_text(json.dumps(RECORDS[0]) + "\n{not json\n")
    with pytest.raises(UserError, match="line 2"):
        score_apps_file(path, ks=(1,))
    path.write_text(json.dumps(rec("p", "introductory", 0, ["yes"])) + "\n")
    with pytest.raises(UserError) as err:
        score_apps_file(path, ks=(1,))
    assert "results" in err.value.field


def test_per_problem_scores_average_to_the_run_metric_and_reach_claim_checks(tmp_path):
    """The per-problem scores a claim check resamples have the run's own metric as their mean
    (score_apps: avg of the first sample, pass@k), per difficulty and overall."""
    from repro.stats import per_sample_scores

    rng = random.Random(7)
    records = [rec(pid, diff, s, [rng.random() < 0.5 for _ in range(4)])
               for pid, diff in [("1", "introductory"), ("2", "introductory"), ("3", "interview"), ("4", "competition")]
               for s in range(3)]
    (tmp_path / "apps_results.paper.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    scores = score_apps(records, ks=(1, 2))
    for difficulty in ("introductory", "interview", "overall"):
        for name, key in (("avg", "avg_test_pass_first"), ("pass@2", "pass@2")):
            per_problem = per_sample_scores(tmp_path, f"apps/{difficulty}/{name}")
            assert sum(per_problem.values()) / len(per_problem) == pytest.approx(scores[difficulty][key])
    assert per_sample_scores(tmp_path, "apps-strict/overall/avg") is None    # no strict records in this run
    assert per_sample_scores(tmp_path, "apps/overall/strict_accuracy") is None
