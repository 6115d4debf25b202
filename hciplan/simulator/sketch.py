"""A streaming quantile sketch with a stated relative error: memory that does not grow with the runs.

Up to `montecarlo.EXACT_RUNS` runs, `simulate` keeps every run's float measures
(end, exposure, work time, ...) so that its percentiles are exact; that costs
8 bytes a run per measure (docs/performance.md, "Simulate: memory"). Above
it, each measure is a `Sketch`: one class for every float measure, so a new
per-run measure plugs in the same way (an array('d') field of the batch,
folded into a Sketch by `montecarlo.Fold`).

- **Bins**: fixed log-spaced bins (the DDSketch construction). A value x > 0
  falls in bin i = ceil(log(x) / log(gamma)), gamma = (1 + eps) / (1 - eps);
  the bin's representative 2 gamma^i / (gamma + 1) is within relative error
  eps of every value in (gamma^(i-1), gamma^i]. Zeros are counted apart (the
  answer is then exactly 0), and so are negative values (bins of |x|).
- **Ranks**: `sketch[k]` is the k-th smallest value (0-based) as its bin's
  representative, so the sketch reads as an ascending sequence: the nearest
  rank percentile (`montecarlo.percentile`) and the order-statistic interval
  (`stats.percentile_interval`) take it as they take a sorted array, and each
  answer is within relative error eps of the exact one (clamped to the exact
  min and max, which are kept, so the first and last values are exact).
- **Exact parts**: the count, min, max, sum and sum of squares are exact (the
  sums as integer multiples of 2^-1074 and 2^-2148: every float is one), so
  `mean()` is the correctly rounded mean and `mean_interval()` uses the exact
  variance.
- **Run indices**: `add(x, index)` keeps per bin the smallest run index that
  fell in it, so `Summary.median_run` can name a run at the median's bin.
- **Deterministic**: a value's bin depends on the value alone and merging adds
  integer counts (and takes minima), so any batch split and any merge order
  give the same sketch (same seed, same bytes, whatever --jobs is).

Memory: one dict entry per occupied bin. With eps = 0.001 a span from 0.01 to
1e6 minutes is at most ln(1e8) / ln(gamma), about 9,200 bins, whatever the
number of runs.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from statistics import NormalDist

DEFAULT_EPS = 0.001  # relative error of every sketched percentile (0.1%): an assumption, chosen against bin count
_SCALE = 1074  # every finite float is an integer multiple of 2^-1074 (the smallest subnormal)
_ZERO = None  # the key of the zeros' "bin" in the ordered view


def _exact(x: float) -> int:
    """x as an integer multiple of 2^-1074, exactly."""
    n, d = x.as_integer_ratio()  # d is a power of two, at most 2^1074
    return n << (_SCALE - (d.bit_length() - 1))


class Sketch:
    """Counts of values in log-spaced bins: ranks within relative error `eps`; exact count, min, max, mean, variance."""

    __slots__ = ("eps", "_log_gamma", "_gamma", "bins", "negative", "zeros", "count", "min", "max", "_sum",
                 "_squares", "first", "_order")

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
        self._squares = 0
        self.first: dict = {}  # (sign, bin) -> the smallest run index added to it (when indices are given)
        self._order = None  # (keys ascending, cumulative counts): built on the first read, dropped on a change

    def _index(self, x: float) -> int:
        return math.ceil(math.log(x) / self._log_gamma)

    def _value(self, index: int) -> float:
        return 2 * math.exp(index * self._log_gamma) / (self._gamma + 1)

    def _key(self, x: float):
        if x > 0:
            return (1, self._index(x))
        if x < 0:
            return (-1, self._index(-x))
        return (0, 0)

    def add(self, x: float, index: int | None = None) -> None:
        if not math.isfinite(x):
            raise ValueError(f"cannot sketch {x}")
        key = self._key(x)
        if key[0] > 0:
            self.bins[key[1]] += 1
        elif key[0] < 0:
            self.negative[key[1]] += 1
        else:
            self.zeros += 1
        if index is not None and (key not in self.first or index < self.first[key]):
            self.first[key] = index
        self.count += 1
        self.min = min(self.min, x)
        self.max = max(self.max, x)
        exact = _exact(x)
        self._sum += exact
        self._squares += exact * exact
        self._order = None

    def extend(self, values, indices=None) -> None:
        if indices is None:
            for x in values:
                self.add(x)
        else:
            for x, i in zip(values, indices):
                self.add(x, i)

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
        self._squares += other._squares
        for key, index in other.first.items():
            if key not in self.first or index < self.first[key]:
                self.first[key] = index
        self._order = None

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __eq__(self, other) -> bool:
        return isinstance(other, Sketch) and self.state() == other.state()

    __hash__ = None

    def __repr__(self) -> str:
        return f"Sketch({self.count} values, {len(self.bins) + len(self.negative)} bins, eps {self.eps})"

    def state(self) -> tuple:
        """Everything the sketch holds, canonically ordered (for equality and tests)."""
        return (self.eps, sorted(self.bins.items()), sorted(self.negative.items()), self.zeros, self.count,
                self.min, self.max, self._sum, self._squares, sorted(self.first.items()))

    def _ordered(self) -> tuple[list, list[int]]:
        if self._order is None:
            keys = [(-1, i) for i in sorted(self.negative, reverse=True)]  # most negative first
            keys += [(0, 0)] if self.zeros else []
            keys += [(1, i) for i in sorted(self.bins)]
            cumulative, seen = [], 0
            for sign, i in keys:
                seen += self.bins[i] if sign > 0 else self.negative[i] if sign < 0 else self.zeros
                cumulative.append(seen)
            self._order = (keys, cumulative)
        return self._order

    def _rank_key(self, k: int):
        keys, cumulative = self._ordered()
        return keys[bisect.bisect_right(cumulative, k)]

    def _represent(self, key) -> float:
        sign, i = key
        value = 0.0 if sign == 0 else sign * self._value(i)
        return max(self.min, min(self.max, value))

    def __getitem__(self, k: int) -> float:
        """The k-th smallest value (0-based; negative from the end), within relative error eps."""
        if isinstance(k, slice):
            raise TypeError("a sketch has no slices: it holds counts, not values")
        if k < 0:
            k += self.count
        if not 0 <= k < self.count:
            raise IndexError("sketch rank out of range")
        if k == 0:
            return self.min
        if k == self.count - 1:
            return self.max
        return self._represent(self._rank_key(k))

    def __iter__(self):
        """Every value in ascending order as its bin's representative (for plots; a million values take time)."""
        keys, cumulative = self._ordered()
        previous = 0
        for key, seen in zip(keys, cumulative):
            value = self._represent(key)
            for k in range(previous, seen):
                yield self.min if k == 0 else self.max if k == self.count - 1 else value  # as sketch[k]
            previous = seen

    def first_index(self, k: int) -> int | None:
        """The smallest run index added to the bin of the k-th smallest value (None without indices)."""
        return self.first.get(self._rank_key(k))

    def mean(self) -> float:
        """The exact mean, correctly rounded."""
        if not self.count:
            raise ValueError("no values sketched")
        return self._sum / ((1 << _SCALE) * self.count)  # int / int: correctly rounded

    def mean_interval(self, confidence: float) -> tuple[float | None, float | None]:
        """mean +- z s / sqrt(n) from the exact sums, as stats.mean_interval; (None, None) below two values."""
        n = self.count
        if n < 2:
            return None, None
        variance = (n * self._squares - self._sum * self._sum) / ((1 << (2 * _SCALE)) * n * (n - 1))
        half = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(max(variance, 0.0)) / math.sqrt(n)
        mean = self.mean()
        return mean - half, mean + half

    def quantile(self, p: float) -> float:
        """Nearest-rank p-th percentile (p in 0..100), within relative error eps of the exact one."""
        if not self.count:
            raise ValueError("no values sketched")
        return self[min(self.count, max(1, math.ceil(p / 100 * self.count))) - 1]

    def error_label(self) -> str:
        """How the report states the error: '+-0.1%'."""
        return f"+-{self.eps * 100:g}%"

