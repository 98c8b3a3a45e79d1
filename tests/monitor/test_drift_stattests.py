"""Every drift statistic equals scipy's on the same data (to 1e-9); PSI by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from prodline.monitor import stattests as st


def _pair(n1: int, n2: int, seed: int, *, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n1), rng.normal(0.1, 1.2, size=n2)
    if decimals is not None:  # ties
        a, b = a.round(decimals), b.round(decimals)
    return np.sort(a), np.sort(b)


@pytest.mark.parametrize(
    ("n1", "n2", "decimals"),
    [
        (300, 300, None),
        (500, 700, None),
        (800, 1200, 1),
        (20_000, 15_000, None),
        (12_000, 30_000, 2),
    ],
)
def test_ks_equals_scipy(n1: int, n2: int, decimals: int | None) -> None:
    a, b = _pair(n1, n2, n1 + n2, decimals=decimals)
    ours = st.ks_2samp(a, b)
    theirs = stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-9)


@pytest.mark.parametrize(("n1", "n2"), [(1000, 1000), (1000, 700), (333, 5000), (7, 3)])
def test_wasserstein_equals_scipy(n1: int, n2: int) -> None:
    a, b = _pair(n1, n2, n1 * 7 + n2, decimals=2)
    assert st.wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-9)
    normed = st.wasserstein_normed(a, b).statistic
    assert normed == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a), abs=1e-9)


def test_wasserstein_of_a_constant_reference_uses_the_floor() -> None:
    a, b = np.zeros(50), np.full(50, 0.5)
    assert st.wasserstein_normed(a, b).statistic == pytest.approx(0.5 / 0.001)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chi_squared_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.choice(["a", "b", "c", "d"], 400, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "d"], 900, p=[0.25, 0.25, 0.25, 0.25])
    _, r, c = st.category_counts(ref, cur)
    ours = st.chi_squared(r, c)
    theirs = stats.chisquare(c, r * c.sum() / r.sum())
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-9)
    # and the contingency-table view agrees on the direction of the evidence
    assert (ours.p_value < 0.05) == (stats.chi2_contingency([r, c]).pvalue < 0.05)


def test_a_category_new_in_the_current_window_is_infinite_chi_squared() -> None:
    _, r, c = st.category_counts(np.array(["a"] * 50 + ["b"] * 50), np.array(["a", "b", "z"] * 30))
    result = st.chi_squared(r, c)
    assert math.isinf(result.statistic) and result.p_value == 0.0


def test_one_category_on_both_sides_has_no_drift() -> None:
    assert st.chi_squared(np.array([40.0]), np.array([90.0])) == (0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 3])
def test_jensen_shannon_equals_scipy_on_shared_bins(seed: int) -> None:
    a, b = _pair(2000, 3000, seed)
    r, c = st.binned_shares(a, b, 10)
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=10)
    hr = np.histogram(a, edges)[0] / len(a)
    hc = np.histogram(b, edges)[0] / len(b)
    np.testing.assert_allclose(r, np.where(hr == 0, st.EPSILON, hr), atol=1e-12)
    np.testing.assert_allclose(c, np.where(hc == 0, st.EPSILON, hc), atol=1e-12)
    assert st.jensen_shannon(r, c).statistic == pytest.approx(jensenshannon(r, c), abs=1e-9)


def test_jensen_shannon_equals_scipy_on_categories() -> None:
    rng = np.random.default_rng(5)
    _, r, c = st.category_counts(rng.choice(list("abcde"), 300), rng.choice(list("abcdef"), 500))
    assert st.jensen_shannon(r, c).statistic == pytest.approx(jensenshannon(r, c), abs=1e-9)
    assert st.jensen_shannon(r, r).statistic == pytest.approx(0.0, abs=1e-9)


def test_psi_by_hand() -> None:
    # Reference 0..9 → deciles put one value per bin; current piles into the ends.
    ref = np.arange(10, dtype=float)
    cur = np.sort(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 9.0, 9.0, 9.0, 9.0]))
    result = st.psi(ref, cur, bins=10)
    # Edges (quantiles of 0..9 at 0, .1, …, 1): 0, .9, 1.8, …, 8.1, 9 → opened to ±inf.
    # Reference: 0.1 in each of 10 bins. Current: 0.5 in the first, 0.5 in the last,
    # 1e-4 (epsilon) in the 8 empty ones.
    r = np.full(10, 0.1)
    c = np.array([0.5] + [1e-4] * 8 + [0.5])
    expected = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert result.statistic == pytest.approx(expected, abs=1e-12)
    assert result.statistic == pytest.approx(float(np.sum((c - r) * np.log(c / r))), abs=1e-12)
    assert result.p_value is None
    assert st.psi(ref, ref).statistic == pytest.approx(0.0, abs=1e-12)
