"""The streaming quantile sketch (hciplan/simulator/sketch.py): its stated error bound, exact parts, merge order."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hciplan.simulator.montecarlo import percentile
from hciplan.simulator.sketch import Sketch

PERCENTS = (0, 1, 10, 25, 50, 80, 90, 95, 99, 100)
# durations and measures in minutes: zeros, tiny and large values, and (for robustness) negatives
values = st.lists(st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e7),
                            st.floats(min_value=-1e4, max_value=-1e-6)), min_size=1, max_size=400)
eps_values = st.sampled_from((0.001, 0.01, 0.05))


def sketched(xs, eps=0.001) -> Sketch:
    s = Sketch(eps)
    s.extend(xs)
    return s


@settings(max_examples=300, deadline=None)
@given(values, eps_values)
def test_every_percentile_is_within_the_stated_relative_error(xs, eps):
    s, ordered = sketched(xs, eps), sorted(xs)
    for p in PERCENTS:
        exact = percentile(ordered, p)
        # the bin boundary is computed with log(): allow a rounding's worth beyond eps
        assert abs(s.quantile(p) - exact) <= eps * abs(exact) * (1 + 1e-9), (p, exact, s.quantile(p))


@settings(max_examples=200, deadline=None)
@given(values)
def test_count_min_max_and_mean_are_exact(xs):
    s = sketched(xs)
    assert (len(s), s.min, s.max) == (len(xs), min(xs), max(xs))
    assert s.mean() == float(sum(map(Fraction, xs)) / len(xs))  # the exact mean, correctly rounded


@settings(max_examples=200, deadline=None)
@given(values, st.randoms(use_true_random=False))
def test_any_split_and_merge_order_gives_the_same_sketch(xs, rnd):
    whole = sketched(xs)
    cuts = sorted(rnd.sample(range(len(xs) + 1), k=min(len(xs) + 1, 4)))
    parts = [sketched(xs[a:b]) for a, b in zip([0] + cuts, cuts + [len(xs)])]
    rnd.shuffle(parts)
    merged = Sketch()
    for part in parts:
        merged.merge(part)
    assert merged == whole
    assert [merged.quantile(p) for p in PERCENTS] == [whole.quantile(p) for p in PERCENTS]
    assert merged.mean() == whole.mean()


def test_memory_is_bounded_by_the_range_not_the_count():
    rng = random.Random(7)
    s = sketched(rng.lognormvariate(6, 0.5) for _ in range(200_000))
    # values spanning e^3 .. e^9 minutes: ln(e^6) / ln(gamma) bins at most, about 3,000 for eps 0.001
    assert len(s.bins) < 3_100 and len(s) == 200_000


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="sketch error"):
        Sketch(0)
    with pytest.raises(ValueError, match="cannot sketch"):
        Sketch().add(math.nan)
    with pytest.raises(ValueError, match="cannot merge"):
        Sketch(0.01).merge(Sketch(0.001))
    assert Sketch().error_label() == "+-0.1%"

