"""The trial's statistics, each a small pure function over plain numbers, each citing its method.

Everything here is computed with scipy's distributions, except the beta tail the stopping rule needs at every
AE save and at start-up (a continued fraction, checked against scipy in the tests), so that neither pays scipy's
one-second import. The tests check each function against published worked values and against scipy.
Every function raises ValueError naming the argument when its input is out of range.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence



def _scipy_stats():
    """scipy.stats, imported on first use: it costs ~1 s, and the CLI and most pages never need it (issue 18)."""
    from scipy import stats

    return stats

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class BoundaryRow:
    """For ``n`` participants evaluated: the fewest events ``x`` that cross, and the posterior there."""

    n: int
    x: int | None
    posterior: float | None


@dataclass(frozen=True)
class PoissonRate:
    """Events per ``per`` units of exposure, with its exact interval."""

    events: int
    exposure: float
    per: float
    rate: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class WilcoxonResult:
    n_nonzero: int
    statistic: float | None
    p_value: float | None


@dataclass(frozen=True)
class MeanCI:
    """A mean of paired differences (or, for ratios, their geometric mean) with its t interval."""

    n: int
    estimate: float | None
    low: float | None
    high: float | None
    sd: float | None


def _check_count(x: int, n: int) -> None:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n: must be a whole number >= 0, got {n!r}")
    if not isinstance(x, int) or not 0 <= x <= n:
        raise ValueError(f"x: must be a whole number between 0 and n={n}, got {x!r}")


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level: must be between 0 and 1, got {level!r}")


def _check_prior(a: float, b: float) -> None:
    if not (a > 0 and b > 0):
        raise ValueError(f"prior: Beta(a, b) needs a > 0 and b > 0, got a={a!r}, b={b!r}")


def beta_sf(p0: float, a: float, b: float) -> float:
    """P(X > p0) for X ~ Beta(a, b): 1 - I_p0(a, b), the regularized incomplete beta function.

    Evaluated by its continued fraction with the modified Lentz method (Press et al., Numerical Recipes 3rd ed.,
    section 6.4), on the side where it converges fast (p0 < (a + 1) / (a + b + 2)); relative error ~1e-14.
    """
    if p0 <= 0:
        return 1.0
    if p0 >= 1:
        return 0.0
    if p0 < (a + 1) / (a + b + 2):
        return 1.0 - _front(p0, a, b) * _beta_cf(p0, a, b) / a
    return _front(1 - p0, b, a) * _beta_cf(1 - p0, b, a) / b


def _front(x: float, a: float, b: float) -> float:
    """x^a (1-x)^b / B(a, b), through log-gamma so large posterior parameters do not overflow."""
    return math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))


def _beta_cf(x: float, a: float, b: float, eps: float = 1e-15, max_terms: int = 10_000) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes 6.4, betacf), modified Lentz evaluation."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_terms + 1):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)), -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge for x={x}, a={a}, b={b}")


@lru_cache(maxsize=1 << 16)  # a pure function of five numbers, asked again by every view of the stopping rule
def posterior_prob_above(x: int, n: int, p0: float, a: float = 1.0, b: float = 1.0) -> float:
    """P(rate > p0 | x events in n) under a Beta(a, b) prior.

    Raises ValueError for x outside 0..n, p0 outside (0, 1) or a non-positive prior parameter.
    """
    _check_count(x, n)
    _check_prior(a, b)
    if not 0 < p0 < 1:
        raise ValueError(f"p0: the unacceptable rate must be between 0 and 1, got {p0!r}")
    # Beta-binomial conjugacy: posterior is Beta(a + x, b + n - x) (Thall & Simon, Biometrics 1994;50:337)
    return beta_sf(p0, a + x, b + n - x)


def crosses(x: int, n: int, p0: float, threshold: float, a: float = 1.0, b: float = 1.0) -> bool:
    """True when the posterior is strictly above the threshold (equal to it does not cross)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold: must be between 0 and 1, got {threshold!r}")
    return posterior_prob_above(x, n, p0, a, b) > threshold


def boundary_table(ns: Iterable[int], p0: float, threshold: float,
                   a: float = 1.0, b: float = 1.0) -> list[BoundaryRow]:
    """For each n, the smallest x whose posterior P(rate > p0) is above ``threshold`` (None if no x <= n does).

    The posterior rises with x for fixed n, so the first crossing x is the boundary.
    Raises ValueError as ``posterior_prob_above`` and ``crosses`` do.
    """
    return list(_boundary_table(tuple(ns), p0, threshold, a, b))


@lru_cache(maxsize=64)  # the same rule's table on every view: computed once per process
def _boundary_table(ns: tuple[int, ...], p0: float, threshold: float, a: float, b: float) -> tuple[BoundaryRow, ...]:
    rows = []
    for n in ns:
        found = None
        for x in range(n + 1):
            if crosses(x, n, p0, threshold, a, b):
                found = BoundaryRow(n, x, posterior_prob_above(x, n, p0, a, b))
                break
        rows.append(found or BoundaryRow(n, None, None))
    return tuple(rows)


def clopper_pearson(x: int, n: int, level: float = LEVEL) -> Interval:
    """Exact two-sided interval for a binomial proportion x/n; n = 0 gives (0, 1) as nothing is known.

    Raises ValueError for x outside 0..n or a level outside (0, 1).
    """
    _check_count(x, n)
    _check_level(level)
    alpha = 1 - level
    # Clopper & Pearson, Biometrika 1934;26:404, as beta quantiles (Newcombe, Stat Med 1998;17:857, method 5)
    low = 0.0 if x == 0 else float(_scipy_stats().beta.ppf(alpha / 2, x, n - x + 1))
    high = 1.0 if x == n else float(_scipy_stats().beta.ppf(1 - alpha / 2, x + 1, n - x))
    return Interval(low, high)


def poisson_rate(events: int, exposure: float, per: float = 100.0, level: float = LEVEL) -> PoissonRate:
    """Exposure-adjusted rate (events per ``per`` units of exposure) with its exact Poisson interval.

    With no exposure the rate is None: nothing has been observed yet, which is not a rate of zero.
    Raises ValueError for negative events or exposure.
    """
    if not isinstance(events, int) or events < 0:
        raise ValueError(f"events: must be a whole number >= 0, got {events!r}")
    if exposure < 0 or math.isnan(exposure):
        raise ValueError(f"exposure: must be >= 0, got {exposure!r}")
    _check_level(level)
    if exposure == 0:
        return PoissonRate(events, 0.0, per, None, None, None)
    alpha = 1 - level
    # Exact Poisson limits via chi-square (Garwood, Biometrika 1936;28:437; Ulm, Am J Epidemiol 1990;131:373)
    low = 0.0 if events == 0 else float(_scipy_stats().chi2.ppf(alpha / 2, 2 * events)) / 2
    high = float(_scipy_stats().chi2.ppf(1 - alpha / 2, 2 * events + 2)) / 2
    scale = per / exposure
    return PoissonRate(events, float(exposure), per, events * scale, low * scale, high * scale)


EXACT_WILCOXON_UP_TO = 50  # as scipy: the exact null distribution up to 50 non-zero differences, normal beyond


def wilcoxon_signed_rank(differences: Sequence[float]) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired differences against zero.

    Zero differences are dropped (Wilcoxon's own convention); with none left there is no test
    and statistic and p are None rather than a misleading p = 1. Up to 50 differences the p-value is exact,
    ties included (``_exact_signed_rank_p``); beyond, scipy's normal approximation.
    """
    diffs = [float(d) for d in differences]
    nonzero = [d for d in diffs if d != 0]
    if not nonzero:
        return WilcoxonResult(0, None, None)
    if len(nonzero) <= EXACT_WILCOXON_UP_TO:
        ranks = _midranks([abs(d) for d in nonzero])
        r_plus = sum(r for r, d in zip(ranks, nonzero) if d > 0)
        r_minus = sum(ranks) - r_plus
        return WilcoxonResult(len(nonzero), float(min(r_plus, r_minus)), _exact_signed_rank_p(ranks, r_plus))
    # Wilcoxon, Biometrics Bulletin 1945;1:80; scipy's normal approximation with its tie correction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _scipy_stats().wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
    return WilcoxonResult(len(nonzero), float(res.statistic), float(res.pvalue))


def _midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j + 2) / 2
        i = j + 1
    return ranks


def _exact_signed_rank_p(ranks: Sequence[float], r_plus: float) -> float:
    """Two-sided p of the signed-rank sum given the (mid)ranks: every one of the 2^n sign patterns counted.

    The conditional permutation test (Streitberg & Roehmel, Statistical Software Newsletter 1986;12:10): midranks
    doubled are integers, and the number of sign patterns giving each sum of positive ranks is built one rank at a
    time. Without ties it is Wilcoxon's exact distribution; with ties it is what scipy's permutation method gives
    by enumerating the patterns. p = 2 x the smaller tail, at most 1.
    """
    weights = [round(2 * r) for r in ranks]
    ways = [1] + [0] * sum(weights)  # ways[s]: sign patterns whose doubled positive-rank sum is s
    top = 0
    for w in weights:
        for total in range(top, -1, -1):
            if ways[total]:
                ways[total + w] += ways[total]
        top += w
    observed = round(2 * r_plus)
    below, above = sum(ways[:observed + 1]), sum(ways[observed:])
    return min(1.0, 2 * min(below, above) / 2 ** len(weights))


def mean_ci(values: Sequence[float], level: float = LEVEL) -> MeanCI:
    """Mean with a Student t interval (mean +/- t(n-1) x SD / sqrt(n)); fewer than 2 values give no interval."""
    _check_level(level)
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return MeanCI(0, None, None, None, None)
    mean = sum(xs) / n
    if n == 1:
        return MeanCI(1, mean, None, None, None)
    sd = math.sqrt(sum((v - mean) ** 2 for v in xs) / (n - 1))
    # Student, Biometrika 1908;6:1: the paired-t interval for a mean difference
    half = float(_scipy_stats().t.ppf(1 - (1 - level) / 2, n - 1)) * sd / math.sqrt(n)
    return MeanCI(n, mean, mean - half, mean + half, sd)


def mean_change(baseline: Sequence[float], follow_up: Sequence[float], level: float = LEVEL) -> MeanCI:
    """Mean of paired changes (follow-up minus baseline) with its t interval.

    Raises ValueError when the two sequences differ in length.
    """
    if len(baseline) != len(follow_up):
        raise ValueError(f"follow_up: {len(follow_up)} values for {len(baseline)} baselines")
    return mean_ci([f - b for b, f in zip(baseline, follow_up)], level)


def log_ratios(baseline: Sequence[float], follow_up: Sequence[float]) -> list[float]:
    """log(follow-up / baseline) per pair; raises ValueError naming the side when a value is not > 0."""
    if len(baseline) != len(follow_up):
        raise ValueError(f"follow_up: {len(follow_up)} values for {len(baseline)} baselines")
    out = []
    for i, (b, f) in enumerate(zip(baseline, follow_up)):
        if not b > 0:
            raise ValueError(f"baseline[{i}]: must be > 0 on the log scale, got {b!r}")
        if not f > 0:
            raise ValueError(f"follow_up[{i}]: must be > 0 on the log scale, got {f!r}")
        out.append(math.log(f / b))
    return out


def geometric_mean_ratio(baseline: Sequence[float], follow_up: Sequence[float],
                         level: float = LEVEL) -> MeanCI:
    """Geometric mean of follow-up/baseline with its interval, back-transformed from the log scale.

    The sd field stays on the log scale (the SD of the log ratios). Raises ValueError as ``log_ratios``.
    """
    # Log-transform, t interval, exponentiate (Bland & Altman, BMJ 1996;312:1079) -- usual for UACR (KDIGO 2012)
    m = mean_ci(log_ratios(baseline, follow_up), level)
    if m.estimate is None:
        return m
    exp = (lambda v: None if v is None else math.exp(v))
    return MeanCI(m.n, math.exp(m.estimate), exp(m.low), exp(m.high), m.sd)


def ols_slope(times: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of values on times; None with fewer than two distinct times.

    Raises ValueError when the sequences differ in length.
    """
    if len(times) != len(values):
        raise ValueError(f"values: {len(values)} values for {len(times)} times")
    ts = [float(t) for t in times]
    if len(set(ts)) < 2:
        return None
    n = len(ts)
    mt, mv = sum(ts) / n, sum(values) / n
    # Ordinary least squares slope = Sxy / Sxx (Gauss-Markov); the per-participant eGFR slope of Levey et al. AJKD 2020
    sxy = sum((t - mt) * (v - mv) for t, v in zip(ts, values))
    sxx = sum((t - mt) ** 2 for t in ts)
    return sxy / sxx
