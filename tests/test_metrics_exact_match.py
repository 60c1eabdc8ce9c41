"""EM@k on hand-worked examples (PROTOCOL: stripped, newlines and tabs as spaces)."""
import pytest

from repro.metrics.exact_match import cut_at_stops, em_at_k, first_hit_rank, normalize, score


def test_normalize_flattens_newlines_and_tabs_and_strips():
    assert normalize(" a\tb\nc \r\n") == "a b c"
    # Runs of spaces are kept: the paper only replaces, it never collapses.
    assert normalize("a  b") == "a  b" != normalize("a b")


def test_flattened_multiline_candidate_matches_its_one_line_reference():
    assert first_hit_rank(["for x in y:\n\tprint(x)"], "for x in y: \tprint(x)") == 1


def test_empty_prediction_matches_only_an_empty_reference():
    assert first_hit_rank([""], "x = 1") is None
    assert first_hit_rank(["   \n"], "") == 1
    assert first_hit_rank([], "x = 1") is None


def test_stops_cut_candidates_at_the_earliest_stop():
    assert cut_at_stops("a = 1\nb = 2</s>", ["</s>", "\n"]) == "a = 1"
    assert first_hit_rank(["x = 1\nprint(x)"], "x = 1") is None
    assert first_hit_rank(["x = 1\nprint(x)"], "x = 1", stops=["\n"]) == 1
    assert first_hit_rank(["y = 2", "x = 1<eos> junk"], "x = 1", stops=["<eos>", ""]) == 2


def test_em_at_k_counts_first_hits_up_to_k():
    ranks = [1, 3, None, 10]
    assert em_at_k(ranks, 1) == 25.0
    assert em_at_k(ranks, 2) == 25.0
    assert em_at_k(ranks, 3) == 50.0
    assert em_at_k(ranks, 10) == 75.0
    assert em_at_k([], 5) == 0.0


@pytest.mark.parametrize("k", [0, -1, 11])
def test_k_outside_1_to_10_is_an_error(k):
    with pytest.raises(ValueError, match=f"k={k}"):
        em_at_k([1], k)


def test_score_reports_em_1_to_10_and_ranks():
    cands = [["a", "b"], ["x", "y\nz"], ["q"]]
    refs = ["b", "y z", "r"]
    scores, ranks = score(cands, refs)
    assert ranks == [2, 2, None]
    assert list(scores) == [f"em@{k}" for k in range(1, 11)]
    assert scores["em@1"] == 0.0
    assert scores["em@2"] == pytest.approx(66.6667)


def test_score_rejects_mismatched_lengths_and_max_k_over_10():
    with pytest.raises(ValueError, match="2 candidate lists and 1 references"):
        score([["a"], ["b"]], ["a"])
    with pytest.raises(ValueError, match="max_k"):
        score([["a"]], ["a"], max_k=11)
