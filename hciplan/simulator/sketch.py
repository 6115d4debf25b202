"""A streaming quantile sketch with a stated relative error: memory that does not grow with the runs.

`simulate` keeps every run's float measures (end, exposure, work time, ...) so
that its percentiles are exact. Above some run count that costs 8 bytes a run
per measure (docs/performance.md, "Simulate: memory"). `Sketch` is the fixed
size alternative, one class for every float measure (so a new per-run measure
plugs in the same way: `sketch.add(value)` in the batch, `merged()` in the
parent):

- **Bins**: fixed log-spaced bins (the DDSketch construction). A value x > 0
  falls in bin i = ceil(log(x) / log(gamma)), gamma = (1 + eps) / (1 - eps);
  the bin's representative 2 gamma^i / (gamma + 1) is within relative error
  eps of every value in (gamma^(i-1), gamma^i]. Zeros are counted apart (the
  answer is then exactly 0), and so are negative values (bins of |x|).
- **Quantiles**: nearest rank, as `montecarlo.percentile` over the sorted
  values: the bin holding the value of that rank answers, so the answer is
  within relative error eps of the exact percentile (and clamped to the exact
  min and max, which are kept).
- **Exact parts**: the count, min, max and sum are exact; the sum is kept as
  an integer multiple of 2^-1074 (every float is one), so `mean()` is the
  same float as math.fsum(values) / n, the exact path's mean.
- **Deterministic**: a value's bin depends on the value alone and merging adds
  integer counts, so any batch split and any merge order give the same sketch
  (same seed, same bytes, whatever --jobs is).

Memory: one dict entry per occupied bin. With eps = 0.001 a span from 0.01 to
1e6 minutes is at most ln(1e8) / ln(gamma), about 9,200 bins, whatever the
number of runs.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

DEFAULT_EPS = 0.001  # relative error of every sketched percentile (0.1%): an assumption, chosen against bin count
_SCALE = 1074  # every finite float is an integer multiple of 2^-1074 (the smallest subnormal)


def _exact(x: float) -> int:
    """x as an integer multiple of 2^-1074, exactly."""
    n, d = x.as_integer_ratio()  # d is a power of two, at most 2^1074
    return n << (_SCALE - (d.bit_length() - 1))


class Sketch:
    """Counts of values in log-spaced bins: quantiles within relative error `eps`, exact count/min/max/mean."""

    __slots__ = ("eps", "_log_gamma", "_gamma", "bins", "negative", "zeros", "count", "min", "max", "_sum")

    def __init__(self, eps: float = DEFAULT_EPS):
        if not 0 < eps < 1:
            raise ValueError(f"sketch error must be in (0, 1), got {eps}")
        self.eps = eps
        self._gamma = (1 + eps) / (1 - eps)
        self._log_gamma = math.log(self._gamma)
        self.bins: Counter[int] = Counter()  # bin index of positive values -> count
        self.negative: Counter[int] = Counter()  # bin index of |x| of negative values -> count
        self.zeros = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self._sum = 0

    def _index(self, x: float) -> int:
        return math.ceil(math.log(x) / self._log_gamma)

    def _value(self, index: int) -> float:
        return 2 * math.exp(index * self._log_gamma) / (self._gamma + 1)

    def add(self, x: float) -> None:
        if not math.isfinite(x):
            raise ValueError(f"cannot sketch {x}")
        if x > 0:
            self.bins[self._index(x)] += 1
        elif x < 0:
            self.negative[self._index(-x)] += 1
        else:
            self.zeros += 1
        self.count += 1
        self.min = min(self.min, x)
        self.max = max(self.max, x)
        self._sum += _exact(x)

    def extend(self, values) -> None:
        for x in values:
            self.add(x)

    def merge(self, other: Sketch) -> None:
        """Fold `other` in (its counts are added; it is left as it was). Order does not matter."""
        if other.eps != self.eps:
            raise ValueError(f"cannot merge sketches of error {self.eps} and {other.eps}")
        self.bins.update(other.bins)
        self.negative.update(other.negative)
        self.zeros += other.zeros
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self._sum += other._sum

    def __len__(self) -> int:
        return self.count

    def __eq__(self, other) -> bool:
        return isinstance(other, Sketch) and self.state() == other.state()

    __hash__ = None

    def state(self) -> tuple:
        """Everything the sketch holds, canonically ordered (for equality and tests)."""
        return (self.eps, sorted(self.bins.items()), sorted(self.negative.items()), self.zeros, self.count,
                self.min, self.max, self._sum)

    def mean(self) -> float:
        """The mean as the exact path computes it: math.fsum(values) / n, the same float (fsum rounds the exact sum)."""
        if not self.count:
            raise ValueError("no values sketched")
        return float(Fraction(self._sum, 1 << _SCALE)) / self.count

    def quantile(self, p: float) -> float:
        """Nearest-rank p-th percentile (p in 0..100), within relative error eps of the exact one."""
        if not self.count:
            raise ValueError("no values sketched")
        rank = min(self.count, max(1, math.ceil(p / 100 * self.count)))
        if rank == 1:
            return self.min
        if rank == self.count:
            return self.max
        seen = 0
        for index in sorted(self.negative, reverse=True):  # most negative first
            seen += self.negative[index]
            if seen >= rank:
                return max(self.min, min(self.max, -self._value(index)))
        seen += self.zeros
        if seen >= rank:
            return 0.0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return max(self.min, min(self.max, self._value(index)))
        raise AssertionError("the rank is among the values")

    def error_label(self) -> str:
        """How the report states the error: '+-0.1%'."""
        return f"+-{self.eps * 100:g}%"
