"""Exact mutual information from counts, InfoGAN's bound, ownership, per-class W_1."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mutual_info_score

from otlab.gan.class_metrics import (
    class_report,
    code_report,
    contingency,
    match_codes,
    mode_ownership,
    mutual_information,
    per_class_w1,
    variational_bound,
)
from otlab.gan.data import mixture_modes

EIGHT = mixture_modes("8gaussians")[0]


@st.composite
def count_tables(draw, *, max_side=6, scaled=True):
    """Non-negative integer tables with a positive total, scaled by up to 1e12."""
    shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    table = draw(arrays(np.int64, shape, elements=st.integers(0, 50)))
    table.flat[draw(st.integers(0, table.size - 1))] += 1
    return table * (draw(st.sampled_from([1, 7, 10**6, 10**12])) if scaled else 1)


def _entropy(p):
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


@given(count_tables())
def test_mutual_information_lies_between_zero_and_the_smaller_entropy(counts):
    mi = mutual_information(counts)
    bound = min(_entropy(counts.sum(axis=1)), _entropy(counts.sum(axis=0)))
    assert 0.0 <= mi <= bound + 1e-12


@given(count_tables(scaled=False))
def test_mutual_information_matches_scikit_learn_on_the_same_table(counts):
    # scikit-learn's products of the margins overflow int64 at large counts: unscaled tables
    expected = mutual_info_score(None, None, contingency=counts)
    np.testing.assert_allclose(mutual_information(counts), max(expected, 0.0), atol=1e-12)


@given(count_tables(scaled=False), st.sampled_from([3, 10**6, 10**12, 10**15]))
def test_mutual_information_is_invariant_to_scaling_the_counts(counts, scale):
    np.testing.assert_allclose(mutual_information(counts * scale), mutual_information(counts),
                               rtol=1e-12, atol=1e-15)


@given(count_tables(), st.randoms(use_true_random=False))
def test_mutual_information_is_invariant_to_relabelling_codes_and_classes(counts, rnd):
    rows, cols = list(range(counts.shape[0])), list(range(counts.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    np.testing.assert_allclose(mutual_information(counts[rows][:, cols]),
                               mutual_information(counts), atol=1e-12)
    np.testing.assert_allclose(mutual_information(counts.T), mutual_information(counts),
                               atol=1e-12)


@pytest.mark.parametrize("k", [2, 8, 25])
def test_a_code_that_names_the_class_carries_log_k_and_an_independent_one_nothing(k):
    np.testing.assert_allclose(mutual_information(3 * np.eye(k)), np.log(k), rtol=1e-14)
    rng = np.random.default_rng(k)
    independent = np.outer(rng.integers(1, 9, k), rng.integers(1, 9, k + 1))
    np.testing.assert_allclose(mutual_information(independent), 0.0, atol=1e-14)


def test_mutual_information_of_a_hand_computed_table():
    # p = [[1/2, 0], [1/4, 1/4]]: p_c = (1/2, 1/2), p_m = (3/4, 1/4)
    expected = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    np.testing.assert_allclose(mutual_information([[10, 0], [5, 5]]), expected, rtol=1e-14)


@given(count_tables(), st.integers(0, 2**32 - 1))
def test_the_variational_bound_never_exceeds_the_mutual_information(counts, seed):
    q = np.random.default_rng(seed).uniform(0.01, 1.0, counts.shape)
    q /= q.sum(axis=0)
    assert variational_bound(counts, q) <= mutual_information(counts) + 1e-12


@given(count_tables())
def test_the_variational_bound_is_tight_at_the_posterior_of_the_code(counts):
    cols = counts.sum(axis=0)
    q = np.where(cols > 0, counts / np.where(cols > 0, cols, 1), 1.0 / counts.shape[0])
    np.testing.assert_allclose(variational_bound(counts, q), mutual_information(counts),
                               atol=1e-12)


def test_variational_bound_is_minus_infinity_when_q_rules_out_a_pair_that_occurs():
    assert variational_bound([[1, 0], [0, 1]], [[0.0, 0.5], [1.0, 0.5]]) == -np.inf


@pytest.mark.parametrize("counts, q, message", [
    ([[1, 2]], [[0.5, 0.5], [0.5, 0.5]], "shape of counts"),
    ([[1, 2], [3, 4]], [[0.5, 0.2], [0.5, 0.2]], "columns summing to 1"),
])
def test_variational_bound_rejects_a_q_that_is_not_a_conditional_law(counts, q, message):
    with pytest.raises(ValueError, match=message):
        variational_bound(counts, q)


@pytest.mark.parametrize("counts, message", [
    ([[0, 0]], "positive total"), ([[1, -1]], "non-negative"), ([1, 2], "2-D table"),
])
def test_counts_that_are_not_a_table_are_refused_naming_what_is_wrong(counts, message):
    with pytest.raises(ValueError, match=message):
        mutual_information(counts)


def test_contingency_counts_pairs_and_refuses_values_out_of_range():
    counts = contingency([0, 1, 1, 2], [1, 1, 1, 0], n_codes=3, n_classes=2)
    np.testing.assert_array_equal(counts, [[0, 1], [0, 2], [1, 0]])
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 2\); got values 2..2"):
        contingency([0], [2], n_codes=1, n_classes=2)
    with pytest.raises(ValueError, match="one length"):
        contingency([0, 1], [0], n_codes=2, n_classes=2)


@given(st.permutations(range(6)))
def test_matching_recovers_the_permutation_a_code_applies_to_the_classes(perm):
    counts = 40 * np.eye(6)[list(perm)] + 1  # code c mostly lands in class perm[c]
    np.testing.assert_array_equal(match_codes(counts), perm)


def test_ownership_needs_one_dominant_code_value_and_enough_points():
    assert mode_ownership(np.diag([25, 25, 19]))["modes_owned_fraction"] == 2 / 3
    assert mode_ownership([[19, 0], [1, 20]], purity=0.96)["modes_owned_fraction"] == 0.5
    # a collapsed generator: every code puts everything in class 0 -> pure codes, one mode
    collapsed = mode_ownership([[50, 0, 0], [50, 0, 0]])
    assert collapsed == {"modes_owned_fraction": 0.0, "code_purity": 1.0}


@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3))
def test_shifting_one_class_moves_its_w1_by_the_shift_and_no_other(dx, dy):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    labels = np.repeat([0, 1, 2], 10)
    fake = x.copy()
    fake[labels == 1] += [dx, dy]
    w1 = per_class_w1(x, labels, fake, labels, 4)
    np.testing.assert_allclose(w1[:3], [0.0, np.hypot(dx, dy), 0.0], atol=1e-9, rtol=1e-9)
    assert np.isnan(w1[3])


def test_an_unconditional_generator_missing_a_class_has_no_mean_over_all_classes():
    real, labels = np.repeat(EIGHT, 30, axis=0), np.repeat(np.arange(8), 30)
    fake = np.repeat(EIGHT[:6], 40, axis=0)  # classes 6 and 7 never generated
    r = class_report("8gaussians", real, labels, fake)
    assert np.isnan(r["mean_class_w1"]) and np.isnan(r["label_accuracy"])
    assert r["classes_generated"] == 6 and r["classes_covered"] == 6
    np.testing.assert_allclose(r["mean_generated_class_w1"], 0.0, atol=1e-12)
    assert np.isnan(r["w1_class_6"]) and np.isnan(r["w1_class_7"])


def test_a_conditional_generator_that_ignores_its_label_has_chance_accuracy():
    real, labels = np.repeat(EIGHT, 40, axis=0), np.repeat(np.arange(8), 40)
    rolled = np.roll(labels, 40)  # every point generated "for" the next class
    r = class_report("8gaussians", real, labels, real, rolled)
    assert r["label_accuracy"] == 0.0 and r["classes_covered"] == 0
    assert r["classes_generated"] == 8 and r["mean_class_w1"] > 1.0


def test_code_report_of_codes_that_permute_the_modes_owns_every_mode():
    labels = np.repeat(np.arange(8), 30)
    codes = (labels + 3) % 8
    r = code_report("8gaussians", np.repeat(EIGHT, 30, axis=0), labels,
                    np.repeat(EIGHT, 30, axis=0), codes, 8)
    np.testing.assert_allclose(r["mutual_information"], np.log(8), rtol=1e-14)
    assert r["modes_owned_fraction"] == 1.0 and r["code_purity"] == 1.0
    np.testing.assert_allclose(r["mean_code_w1"], 0.0, atol=1e-12)
