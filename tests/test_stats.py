"""The trial's statistics against published worked values and against scipy used another way."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, stats as sst

from safety_service.domain import stats


# --- Beta-binomial posterior and the boundary table -------------------------------------------

def test_it_gives_the_closed_form_posterior_for_one_event_in_one_participant():
    # Beta(2, 1) has density 2p, so P(p > 0.2) = 1 - 0.2^2 = 0.96
    assert stats.posterior_prob_above(1, 1, 0.20) == pytest.approx(0.96, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(p0=st.floats(0.0005, 0.9995), a=st.floats(0.05, 600), b=st.floats(0.05, 600))
def test_it_computes_the_beta_tail_as_scipy_does(p0, a, b):
    # the continued fraction that spares the AE save and start-up scipy's import, against scipy.stats.beta.sf
    assert stats.beta_sf(p0, a, b) == pytest.approx(float(sst.beta.sf(p0, a, b)), abs=1e-11)


def test_it_gives_the_beta_tail_at_the_ends_of_the_unit_interval():
    assert stats.beta_sf(0.0, 2, 3) == 1.0 and stats.beta_sf(1.0, 2, 3) == 0.0


def test_it_gives_the_closed_form_posterior_with_no_events():
    # Beta(1, n + 1): P(p > p0) = (1 - p0)^(n + 1)
    assert stats.posterior_prob_above(0, 10, 0.20) == pytest.approx(0.8 ** 11, rel=1e-12)


@pytest.mark.parametrize("x,n,a,b", [(0, 5, 1, 1), (3, 12, 1, 1), (7, 20, 0.5, 0.5), (2, 9, 0.4, 1.6)])
def test_it_matches_the_posterior_integrated_numerically(x, n, a, b):
    # independent route: integrate the unnormalised posterior p^(a+x-1) (1-p)^(b+n-x-1) numerically
    f = lambda p: p ** (a + x - 1) * (1 - p) ** (b + n - x - 1)
    above, _ = integrate.quad(f, 0.2, 1, limit=200)
    whole, _ = integrate.quad(f, 0, 1, limit=200)
    assert stats.posterior_prob_above(x, n, 0.2, a, b) == pytest.approx(above / whole, rel=1e-7)


def _boundary_by_binomial_sum(n, p0, threshold, a, b):
    """Independent boundary: with integer a, b, P(Beta(A, B) > p0) = P(Binomial(A+B-1, p0) <= A-1)."""
    for x in range(n + 1):
        A, B = a + x, b + n - x
        if sst.binom.cdf(A - 1, A + B - 1, p0) > threshold:
            return x
    return None


def test_it_builds_the_boundary_table_that_an_independent_scipy_computation_gives():
    table = stats.boundary_table(range(1, 41), 0.20, 0.90, 1, 1)
    assert [r.n for r in table] == list(range(1, 41))
    for row in table:
        assert row.x == _boundary_by_binomial_sum(row.n, 0.20, 0.90, 1, 1), row


def test_it_puts_the_boundary_where_one_fewer_event_does_not_cross():
    for row in stats.boundary_table(range(1, 31), 0.20, 0.90):
        assert stats.posterior_prob_above(row.x, row.n, 0.2) > 0.90
        if row.x > 0:
            assert stats.posterior_prob_above(row.x - 1, row.n, 0.2) <= 0.90


def test_it_reports_the_known_boundaries_for_a_uniform_prior():
    # hand-checked: n=1 needs 1 event (0.96); n=2 needs 2 (1 gives 0.896); n=5 needs 2 (0.9011); n=10 needs 4
    table = {r.n: r.x for r in stats.boundary_table([1, 2, 5, 10, 20, 30], 0.20, 0.90)}
    assert table == {1: 1, 2: 2, 5: 2, 10: 4, 20: 7, 30: 9}


def test_it_does_not_cross_when_the_posterior_equals_the_threshold_exactly():
    p = stats.posterior_prob_above(1, 1, 0.2)  # 0.96
    assert stats.crosses(1, 1, 0.2, p) is False
    assert stats.crosses(1, 1, 0.2, math.nextafter(p, 0)) is True


def test_it_returns_no_boundary_when_even_all_events_would_not_cross():
    (row,) = stats.boundary_table([1], 0.20, 0.99)
    assert row.x is None and row.posterior is None


@pytest.mark.parametrize("kwargs,field", [
    (dict(x=3, n=2, p0=0.2), "x"), (dict(x=-1, n=2, p0=0.2), "x"), (dict(x=0, n=-1, p0=0.2), "n"),
    (dict(x=0, n=2, p0=0.0), "p0"), (dict(x=0, n=2, p0=1.0), "p0"), (dict(x=0, n=2, p0=0.2, a=0), "prior"),
])
def test_it_refuses_impossible_posterior_inputs_naming_the_argument(kwargs, field):
    with pytest.raises(ValueError, match=field):
        stats.posterior_prob_above(**kwargs)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), data=st.data())
def test_it_gives_a_posterior_that_never_falls_with_an_added_event(n, data):
    # non-strict: near certainty both sides round to 1.0 in floating point
    x = data.draw(st.integers(0, n - 1))
    assert stats.posterior_prob_above(x + 1, n, 0.2) >= stats.posterior_prob_above(x, n, 0.2)


# --- Clopper-Pearson ------------------------------------------------------------------------

def test_it_gives_the_published_upper_limit_for_zero_of_thirty():
    ci = stats.clopper_pearson(0, 30)
    assert ci.low == 0.0
    assert round(ci.high * 100, 1) == 11.6
    # closed form for x = 0: 1 - (alpha/2)^(1/n)
    assert ci.high == pytest.approx(1 - 0.025 ** (1 / 30), rel=1e-10)


@pytest.mark.parametrize("x,n,low,high", [
    # Newcombe, Stat Med 1998;17:857, Table II, method 5 (exact Clopper-Pearson)
    (81, 263, 0.2527, 0.3676), (15, 148, 0.0578, 0.1617), (0, 20, 0.0, 0.1684), (1, 29, 0.0009, 0.1776),
])
def test_it_matches_newcombes_published_exact_intervals(x, n, low, high):
    ci = stats.clopper_pearson(x, n)
    assert round(ci.low, 4) == low and round(ci.high, 4) == high


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 200), data=st.data())
def test_it_agrees_with_scipys_binomtest_exact_interval(n, data):
    x = data.draw(st.integers(0, n))
    ref = sst.binomtest(x, n).proportion_ci(0.95, method="exact")
    ci = stats.clopper_pearson(x, n)
    assert ci.low == pytest.approx(ref.low, abs=1e-9) and ci.high == pytest.approx(ref.high, abs=1e-9)


def test_it_gives_the_whole_range_when_nobody_has_been_evaluated():
    assert stats.clopper_pearson(0, 0) == stats.Interval(0.0, 1.0)


def test_it_gives_an_upper_limit_of_one_when_every_participant_had_the_event():
    ci = stats.clopper_pearson(5, 5)
    assert ci.high == 1.0 and ci.low == pytest.approx(0.025 ** (1 / 5))


# --- exposure-adjusted rates ------------------------------------------------------------------

@pytest.mark.parametrize("events,low,high", [
    # the classic exact Poisson 95 % limits for the count itself (Garwood 1936; tabulated by Ulm 1990)
    (0, 0.0, 3.689), (1, 0.0253, 5.572), (2, 0.2422, 7.225), (3, 0.6187, 8.767), (10, 4.795, 18.39),
])
def test_it_gives_the_tabulated_exact_poisson_limits(events, low, high):
    r = stats.poisson_rate(events, exposure=100.0, per=100.0)  # per 100 of 100 units: the count itself
    assert r.rate == events
    assert r.low == pytest.approx(low, abs=6e-4) and r.high == pytest.approx(high, abs=6e-3)


def test_it_scales_the_rate_per_hundred_participant_months():
    r = stats.poisson_rate(3, exposure=60.0)
    assert r.rate == pytest.approx(5.0)  # 3 events in 60 participant-months = 5 per 100
    assert r.low == pytest.approx(sst.chi2.ppf(0.025, 6) / 2 * 100 / 60)
    assert r.high == pytest.approx(sst.chi2.ppf(0.975, 8) / 2 * 100 / 60)


def test_it_matches_the_gamma_form_of_the_exact_poisson_interval():
    # independent route: lower = Gamma(k).ppf(alpha/2), upper = Gamma(k+1).ppf(1-alpha/2)
    r = stats.poisson_rate(7, exposure=100.0)
    assert r.low == pytest.approx(sst.gamma.ppf(0.025, 7)) and r.high == pytest.approx(sst.gamma.ppf(0.975, 8))


def test_it_gives_no_rate_without_exposure_rather_than_zero():
    r = stats.poisson_rate(0, exposure=0.0)
    assert r.rate is None and r.low is None and r.high is None


@pytest.mark.parametrize("events,exposure,field", [(-1, 1.0, "events"), (1, -0.5, "exposure"), (1.5, 1.0, "events")])
def test_it_refuses_a_negative_count_or_exposure(events, exposure, field):
    with pytest.raises(ValueError, match=field):
        stats.poisson_rate(events, exposure)


# --- Wilcoxon signed-rank -------------------------------------------------------------------

def test_it_reproduces_the_published_wilcoxon_result_for_darwins_paired_plants():
    # Darwin's Zea mays height differences (Fisher, Design of Experiments), the scipy reference example:
    # negative ranks 10 + 14 = 24, exact two-sided p = 0.041259765625
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    res = stats.wilcoxon_signed_rank(d)
    assert res.statistic == 24.0 and res.n_nonzero == 15
    assert res.p_value == pytest.approx(0.041259765625, rel=1e-12)


def test_it_gives_the_exact_smallest_p_for_five_differences_all_of_one_sign():
    # exact null of W over 2^5 sign patterns: P(W = 0) = 1/32, two-sided 2/32
    assert stats.wilcoxon_signed_rank([1.0, 2.0, 3.0, 4.0, 5.0]).p_value == pytest.approx(1 / 16)


def test_it_drops_zero_differences_as_wilcoxon_did():
    res = stats.wilcoxon_signed_rank([0.0, 0.0, 1.5, -0.5, 2.0, 3.0])
    ref = sst.wilcoxon([1.5, -0.5, 2.0, 3.0])
    assert res.n_nonzero == 4 and res.p_value == pytest.approx(ref.pvalue)


def test_it_gives_no_test_when_every_difference_is_zero():
    res = stats.wilcoxon_signed_rank([0.0, 0.0, 0.0])
    assert res == stats.WilcoxonResult(0, None, None)


def test_it_gives_no_test_for_no_pairs():
    assert stats.wilcoxon_signed_rank([]).p_value is None


# --- mean change, geometric mean ratio, slope ----------------------------------------------

SLEEP_DIFF = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]  # Student 1908 (Cushny & Peebles), drug 2 - drug 1


def test_it_gives_students_published_paired_t_interval_for_the_sleep_data():
    # R t.test(extra ~ group, sleep, paired = TRUE): mean 1.58, 95 % CI 0.7001142 to 2.4598858 (sign flipped)
    m = stats.mean_ci(SLEEP_DIFF)
    assert m.n == 10 and m.estimate == pytest.approx(1.58)
    assert m.low == pytest.approx(0.7001142, abs=1e-6) and m.high == pytest.approx(2.4598858, abs=1e-6)


def test_it_computes_mean_change_as_follow_up_minus_baseline():
    m = stats.mean_change([40.0, 50.0, 30.0], [42.0, 47.0, 36.0])
    assert m.estimate == pytest.approx((2 - 3 + 6) / 3)
    ref = sst.ttest_1samp([2, -3, 6], 0).confidence_interval(0.95)
    assert (m.low, m.high) == (pytest.approx(ref.low), pytest.approx(ref.high))


def test_it_gives_a_mean_but_no_interval_for_a_single_pair():
    m = stats.mean_change([40.0], [45.0])
    assert m.n == 1 and m.estimate == 5.0 and m.low is None and m.high is None


def test_it_refuses_unpaired_sequences():
    with pytest.raises(ValueError, match="follow_up"):
        stats.mean_change([1.0, 2.0], [1.0])


def test_it_gives_the_geometric_mean_ratio_on_the_log_scale():
    base, follow = [100.0, 400.0, 900.0], [50.0, 400.0, 1800.0]  # ratios 0.5, 1, 2: geometric mean 1
    g = stats.geometric_mean_ratio(base, follow)
    assert g.estimate == pytest.approx(1.0)
    logs = np.log(np.array(follow) / np.array(base))
    ref = sst.ttest_1samp(logs, 0).confidence_interval(0.95)
    assert g.low == pytest.approx(math.exp(ref.low)) and g.high == pytest.approx(math.exp(ref.high))
    assert g.sd == pytest.approx(float(np.std(logs, ddof=1)))


def test_it_matches_scipys_geometric_mean_for_the_ratio():
    base, follow = [120.0, 300.0, 45.0, 800.0], [90.0, 210.0, 50.0, 400.0]
    g = stats.geometric_mean_ratio(base, follow)
    assert g.estimate == pytest.approx(sst.gmean(np.array(follow) / np.array(base)))


@pytest.mark.parametrize("base,follow,field", [([0.0], [1.0], "baseline"), ([1.0], [-2.0], "follow_up")])
def test_it_refuses_a_value_that_has_no_logarithm(base, follow, field):
    with pytest.raises(ValueError, match=field):
        stats.geometric_mean_ratio(base, follow)


def test_it_gives_the_ols_slope_that_linregress_gives():
    t, y = [0.0, 0.25, 0.5, 1.0, 1.1], [45.0, 44.1, 43.5, 41.0, 41.2]
    assert stats.ols_slope(t, y) == pytest.approx(sst.linregress(t, y).slope)


def test_it_gives_the_exact_slope_of_a_straight_line():
    assert stats.ols_slope([0, 1, 2], [50.0, 47.0, 44.0]) == pytest.approx(-3.0)


def test_it_gives_no_slope_from_a_single_time_point():
    assert stats.ols_slope([1.0, 1.0], [40.0, 42.0]) is None
    assert stats.ols_slope([], []) is None


def _scipys_enumeration(diffs: list[float]) -> float:
    """The p sst.wilcoxon gives with ties up to 13 differences: its permutation test of the sum of positive ranks over
    every sign pattern, with the 2^n patterns ranked in one vectorised call (sst.wilcoxon ranks them one at a time,
    ~3 s at 13 differences)."""
    def positive_rank_sum(x, axis):
        return sst.wilcoxon(x, axis=axis, zero_method="wilcox", alternative="greater", method="asymptotic").statistic
    return sst.permutation_test((np.asarray(diffs, dtype=float),), positive_rank_sum, permutation_type="samples",
                                vectorized=True, n_resamples=np.inf, alternative="two-sided").pvalue


@pytest.mark.parametrize("diffs", [[0.5, 1.0, 1.0, -0.5, 1.5, 0.0, 2.0, -1.0, 0.5],
                                   [-1.0, 1.0, 2.0, 2.0, -0.5, 0.0, 0.0, 1.5]])
def test_the_vectorised_enumeration_gives_scipys_p_with_ties(diffs):
    assert _scipys_enumeration(diffs) == sst.wilcoxon(diffs, zero_method="wilcox", alternative="two-sided").pvalue


def test_the_exact_p_with_ties_is_what_scipys_full_enumeration_of_sign_patterns_gives():
    """Up to 13 differences scipy enumerates every sign pattern (permutation method) when there are ties; the exact
    counting gives the same p. Without ties, up to 50, scipy's exact distribution. From 10 differences scipy's
    enumeration is taken vectorised (the same p, checked above), which spares the run ~15 s."""
    import random

    rng = random.Random(18)
    for trial in range(60):
        n = rng.randint(1, 13) if trial % 2 else rng.randint(14, 50)
        if trial % 2:  # ties (values on a coarse grid) and zeros
            diffs = [rng.choice((-3, -2, -1, 0, 1, 1, 2, 3, 4)) * 0.5 for _ in range(n)]
        else:
            diffs = [rng.uniform(-5, 8) for _ in range(n)]
        ours = stats.wilcoxon_signed_rank(diffs)
        nonzero = [d for d in diffs if d != 0]
        if not nonzero:
            continue
        ref = sst.wilcoxon(diffs, zero_method="wilcox", alternative="two-sided",
                           method="asymptotic" if trial % 2 and n >= 10 else "auto")  # its statistic, for any method
        ref_p = _scipys_enumeration(diffs) if trial % 2 and n >= 10 else ref.pvalue
        assert ours.statistic == pytest.approx(ref.statistic), (trial, diffs)
        assert ours.p_value == pytest.approx(ref_p, rel=1e-9), (trial, diffs)


def test_the_exact_p_with_ties_is_the_same_on_every_run_beyond_thirteen_differences():
    """scipy draws random sign patterns there (its p moves from run to run); a DSMB report must not."""
    diffs = [0.5, 1.0, 1.0, -0.5, 1.5, 2.0, 2.0, -1.0, 0.5, 1.0, 3.0, 1.5, -0.5, 2.5, 1.0, 0.5, 2.0, -1.5]
    first = stats.wilcoxon_signed_rank(diffs)
    assert all(stats.wilcoxon_signed_rank(diffs) == first for _ in range(3))
    assert 0 < first.p_value < 0.01
