"""One simulated run of a plan: a simpy model in which every step is a process.

Each step's process waits for its predecessors' processes to end, then (if the
run has windows and the step heads a unit of work) passes the window rule,
draws its duration and holds for it. Durations come from the run's own
`random.Random`, seeded from (master seed, run index) through SHA-256, so a run
gives the same numbers in any process and on any Python; the base durations are
drawn up front in plan order, so two variants of a plan (another window, another
scenario) see the same draws. Same-time events fire in simpy's deterministic
order (time, priority, insertion).

A plan prepared with `draws="keyed"` (compare, vary, sensitivity) draws
instead from streams keyed by each step's draw key (prepared.draw_keys): every
uniform is a hash of (run, step key, lane, count) turned into a duration by the
distribution's quantile function, and the shared factors are keyed by the
duration model's name. A step's draws then do not move when a variant adds,
removes or reorders other steps: common random numbers (docs/compare.md). The
sequential mode stays the default of `simulate` (docs/performance.md compares
their cost).

Failures are interrupts. A watchdog process (CAU's reboot timeout, the drain
or repair timeout, or the moment a step errors) interrupts the step's process,
and the step decides what happens: in the CAU run, retry the node's whole
attempt (drain again, with fresh durations) until `max_retries_per_node` is
used up, then count the node as failed (a node that went down in any attempt
stops the run: its storage was never repaired); elsewhere the script stops.
Exposure and the resync count from the moment a node first goes down: the
offline part of the setup before its first reboot (`down_start`). A run is
`completed`, `aborted` (a step and a reason) or `stopped_at_window` (the last
safe point before a window closed with work left).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import operator
import random
from dataclasses import dataclass

import simpy

import statistics
from statistics import NormalDist

from hciplan.compiler.durations import SPREAD, Empirical, Fixed, LogNormal, Scaled, Triangular, Uniform
from hciplan.compiler.mixed import mixed_span
from hciplan.compiler.recovery import LOCKED, RECOVERY_NAMES, RECOVERY_OF_MODE
from hciplan.compiler.schedule import busy_minutes
from hciplan.percent import setting_text
from hciplan.simulator.failures import RiskSpec
from hciplan.simulator.prepared import NO_STEP, SimPlan

COMPLETED, ABORTED, STOPPED = "completed", "aborted", "stopped_at_window"
OUTCOMES = (COMPLETED, ABORTED, STOPPED)


def run_seed(seed: int, index: int, stream: str = "") -> int:
    """The seed of run `index`: stable across processes, platforms and Python versions (unlike `hash()`).

    `stream` names a separate generator of the same run (the shared factors draw from their own, so
    a plan without shared spread draws exactly what it drew before they existed).
    """
    digest = hashlib.sha256(f"hciplan.sim/1{stream}:{seed}:{index}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big")


CONDITIONAL_TRIES = 1000  # draws tried for a running step's remaining life before the fallback


@dataclass(frozen=True, slots=True)
class Segment:
    """One attempt of one step on the timeline (trace mode): status ok, skipped, or the failure's mode."""

    step: int
    attempt: int
    start: float
    end: float
    status: str


@dataclass(frozen=True, slots=True)
class RunResult:
    index: int
    outcome: str
    end: float  # minutes from the planned start at which the run ended (its last safe point when stopped)
    step: int  # aborted: the failing step; stopped: the step that could not start; else NO_STEP
    reason: str
    remaining: int  # steps never started
    failed_nodes: tuple[str, ...]
    exposure: float  # minutes with a node down or its storage resyncing
    within_window: bool | None  # completed with every step inside a window (None without windows)
    critical: tuple[int, ...]  # completed runs: the steps on the run's critical path
    upgraded: int  # nodes whose OS upgrade finished (the rest stay on 22H2: mixed mode)
    overrun: float  # minutes units ran past the end of the window they started in (they run to their safe point)
    segments: tuple[Segment, ...] = ()  # trace mode only
    # The schedule by window (docs/simulation.md): the window each unit started in (-1: it never started;
    # empty without windows), and the work time: minutes with some step running (calendar time less the waits).
    unit_windows: tuple[int, ...] = ()
    units_done: tuple[bool, ...] = ()  # with windows: whether each unit reached its safe point (its tail ended)
    work: float = 0.0
    window_work: tuple[float, ...] = ()  # per window: the work time of the units started in it
    mixed: float | None = None  # minutes in mixed OS mode (compiler/mixed.py), if it began and ended in the run
    still_mixed: bool = False  # the run ended with the cluster still in mixed OS mode
    # Runs that end early: the irreversible steps that had started, in plan order, each with whether it
    # finished (False: the run stopped at it while it ran, so its change may be half made). `_closing`.
    crossed: tuple[tuple[int, bool], ...] = ()
    # With windows: the cluster's state at each window's end (a run that ended before it: its final state),
    # as (nodes on 23H2, NODE_STATES index, tenths of a day in mixed OS mode so far). `_closing`.
    window_close: tuple[tuple[int, int, int], ...] = ()
    # What failures cost (compiler/recovery.py): minutes in failed attempts and in recoveries, and the
    # recoveries made (a person brought a failed step back and the script reran it).
    delay: float = 0.0
    recoveries: int = 0


class _Runtime:
    """Per-plan structures for the hot loop, built once per process from a SimPlan."""

    def __init__(self, sp: SimPlan):
        self.sp = sp
        n = sp.size
        injected = {j.step: j for j in sp.injections}
        risks = dict(sp.risks)
        self.injected = injected
        self.risks: dict[int, RiskSpec] = risks
        self.draws = []
        # None, or (reboot index or NO_STEP, setup index or NO_STEP, its offline share, overhead, ratio)
        self.repair = []
        for i, d in enumerate(sp.durations):
            if d.repair:
                self.draws.append(_spread_draw)
                reboot = sp.repair_from[i]
                unit = sp.units[sp.unit_of[reboot]] if reboot is not None and reboot != NO_STEP else None
                lead, share = (unit.down_from, unit.offline) if unit is not None else (NO_STEP, 0.0)
                self.repair.append((reboot, lead, share, d.repair_overhead, d.repair_ratio))
            else:
                self.draws.append(_draw_of(d))
                self.repair.append(None)
        heads = {u.steps[0] for u in sp.units}
        windows = bool(sp.windows)
        self.plain = [not ((windows and i in heads) or i in injected or i in risks) for i in range(n)]
        self.unit_pos = [0] * n
        for u in sp.units:
            for k, i in enumerate(u.steps):
                self.unit_pos[i] = k
        self.window_starts = [w.start for w in sp.windows]
        self.window_ends = [w.end for w in sp.windows]
        self.head = [i in heads for i in range(n)]
        self.exposed = [(k, u.reboot, u.down_from, u.offline, u.tail) for k, u in enumerate(sp.units)
                        if u.reboot != NO_STEP]
        # `_closing`'s: the irreversible steps; the units that take a node (or the cluster) out of its safe
        # state (node passes, the offline bracket: more than one step, or a reboot); mixed mode's steps
        self.irreversible = tuple(i for i in range(n) if sp.irreversible[i])
        self.passes = tuple((k, u.steps[0], u.reboot, u.tail) for k, u in enumerate(sp.units)
                            if len(u.steps) > 1 or u.reboot != NO_STEP)
        self.pass_heads = _getter(tuple(head for _, head, _, _ in self.passes))
        self.pass_tails = _getter(tuple(tail for _, _, _, tail in self.passes))
        # _result's per-plan facts: each unit's (head, tail, steps); the window ends with -inf in front, indexed
        # by bisect_right over the starts (0: before the first window)
        self.unit_parts = tuple((u.steps[0], u.tail, u.steps) for u in sp.units)
        self.chains = _chains(sp.preds)  # for _critical_path
        self.unit_heads, self.unit_tails = [u.steps[0] for u in sp.units], [u.tail for u in sp.units]
        self.limits = [-math.inf] + self.window_ends
        self.window_of = functools.partial(bisect.bisect_right, self.window_starts)  # _inside_windows'
        members = [i for u in sp.units for i in u.steps]
        self.disjoint = len(members) == len(set(members))  # every step in at most one unit (the compiler's units)
        self.step_unit = [len(sp.units)] * n  # the unit of each step; a step in none points past the last
        for k, u in enumerate(sp.units):
            for i in u.steps:
                self.step_unit[i] = k
        self.shared = sp.run_factor != (0.0, 0.0) or any(f != (0.0, 0.0) for f in sp.group_factors)
        self.factor_params = (sp.run_factor,) + tuple(sp.group_factors)  # (mu, sigma): the run's, the groups'
        self.keyed = sp.draws == KEYED
        if self.keyed:
            self.keys = tuple(key_of(k) for k in sp.draw_keys)
            self.group_keys = tuple(key_of("/factor/" + name) for name in sp.group_names)
            self.factor_keys = (_NIGHT,) + self.group_keys  # the run factor's, then the groups'
            self.quantiles = [_keyed_draw(d) for d in sp.durations]
            self.pinned = dict(sp.pinned)
            parts = [_keyed_parts(d) for d in sp.durations]
            build = _keyed_base_numpy if _numpy() is not None else _keyed_base
            self.keyed_base = build(self.keys, self.quantiles, parts, self.pinned)
            # with numpy: the base draws, seeds and shared factors in one pass (_keyed_streams' same floats)
            self.keyed_night = (_keyed_night_numpy(self.keys, self.quantiles, parts, self.pinned, self.factor_keys,
                                                   self.factor_params if self.shared else None, sp.factor_group)
                                if _numpy() is not None else None)
            # the lane counts after the base draws: one MAIN draw per step, one EXTRA where there is an extra part
            self.base_counts = [0] * (LANES * n)
            for i, (_, extra) in enumerate(self.quantiles):
                self.base_counts[LANES * i + MAIN] = 1
                self.base_counts[LANES * i + EXTRA] = 1 if extra is not None else 0
        given = sp.given
        self.now = given.now if given else 0.0
        self.done = {i: (a, b) for i, a, b in given.done} if given else {}
        self.running = dict(given.running) if given else {}
        recovery = sp.recovery
        self.max_recoveries = recovery.max_recoveries if recovery is not None else 0
        # a recovery's duration is its distribution's quantile at a uniform of the failed step's RECOVER lane
        self.recovery_time = ({name: _quantile_of(recovery.of(name)) for name in RECOVERY_NAMES}
                              if recovery is not None else {})


def _getter(indices: tuple[int, ...]):
    """A function list -> tuple of its items at `indices` (operator.itemgetter, which returns a bare item for one)."""
    if len(indices) == 1:
        only = indices[0]
        return lambda values: (values[only],)
    return operator.itemgetter(*indices) if indices else (lambda values: ())


def _fast_draw(dist):
    """A draw as a C-level partial of the generator's own method where possible (the hot loop calls it per step)."""
    if isinstance(dist, Triangular):
        return functools.partial(random.Random.triangular, low=dist.low, high=dist.high, mode=dist.mode)
    if isinstance(dist, Uniform):
        return functools.partial(random.Random.uniform, a=dist.low, b=dist.high)
    if isinstance(dist, LogNormal):
        return functools.partial(random.Random.lognormvariate, mu=dist.mu, sigma=dist.sigma)
    if isinstance(dist, Empirical):
        return functools.partial(random.Random.choice, seq=dist.observed)
    if isinstance(dist, Fixed):
        value = dist.value
        return lambda rng: value
    if isinstance(dist, Scaled):
        spread, minutes = _fast_draw(dist.spread), dist.minutes
        return lambda rng: minutes * spread(rng)
    return dist.draw


def _draw_of(d):
    main = _fast_draw(d.main)
    if d.extra is None:
        return main
    extra = _fast_draw(d.extra)
    return lambda rng: main(rng) + extra(rng)


_spread_draw = _fast_draw(SPREAD)


# --- keyed draws (common random numbers) ----------------------------------------------------------------------

KEYED, SEQUENTIAL = "keyed", "sequential"
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # splitmix64's increment: state + c * GAMMA is the c-th state of a stream
# a step's lanes: its duration's two parts, its failure draw, an error's moment, its recoveries' durations
MAIN, EXTRA, RISK, DELAY, RECOVER = 0, 1, 2, 3, 4
LANES = 5
_LANE = 1 << 32  # counts within a lane stay far below this
_NIGHT = 0x6E69676874  # the run factor's key ("night")
_inv_normal = NormalDist().inv_cdf
# what NormalDist().inv_cdf(p) returns, _normal_dist_inv_cdf(p, 0.0, 1.0), without its checks of p (a keyed
# uniform is always inside (0, 1)): the same float, called directly (CPython's Lib/statistics.py)
_ndtri = getattr(statistics, "_normal_dist_inv_cdf", None) or (lambda p, mu, sigma: _inv_normal(p))
_TWOPI = 2.0 * math.pi  # random.TWOPI


def _gauss_all(rng: random.Random, params) -> list[float]:
    """`[rng.gauss(mu, sigma) for mu, sigma in params]` on a fresh generator, random.gauss written out.

    The same `random()` calls and operations as CPython's random.gauss (Lib/random.py: Box-Muller, two
    normals per pair of uniforms, the second kept for the next call), so the same floats, without a
    method call per factor.
    """
    rand, log, sqrt, cos, sin = rng.random, math.log, math.sqrt, math.cos, math.sin
    out = []
    kept = None
    for mu, sigma in params:
        if kept is None:
            x2pi = rand() * _TWOPI
            g2rad = sqrt(-2.0 * log(1.0 - rand()))
            z, kept = cos(x2pi) * g2rad, sin(x2pi) * g2rad
        else:
            z, kept = kept, None
        out.append(mu + z * sigma)
    return out


def _keyed_uniforms(run_key: int, keys) -> list[float]:
    """`[_unit(_mix(run_key ^ k)) for k in keys]`, _mix and _unit written out (the same integers and floats)."""
    mask, gamma, scale = _MASK, _GAMMA, 1.0 / (1 << 53)
    out = []
    for k in keys:
        x = ((run_key ^ k) + gamma) & mask
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        out.append((((x ^ (x >> 31)) >> 11) + 0.5) * scale)
    return out


def key_of(text: str) -> int:
    """A 64-bit key of a draw key or a factor's name (SHA-256: the same on every platform and Python)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _mix(x: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers that scatters nearby states."""
    x = (x + _GAMMA) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _unit(x: int) -> float:
    """A 64-bit hash as a uniform strictly inside (0, 1) (53 bits; the quantile functions need no 0 or 1)."""
    return ((x >> 11) + 0.5) * (1.0 / (1 << 53))


def _quantile_of(dist):
    """The distribution's quantile function as a fast closure (a keyed draw is its value at a hashed uniform)."""
    if isinstance(dist, Triangular):
        low, mode, high = dist.low, dist.mode, dist.high
        if high == low:
            return lambda u: low
        width, left, right = high - low, mode - low, high - mode
        cut = left / width
        return lambda u: low + math.sqrt(u * width * left) if u < cut else high - math.sqrt((1 - u) * width * right)
    if isinstance(dist, Uniform):
        low, width = dist.low, dist.high - dist.low
        return lambda u: low + u * width
    if isinstance(dist, LogNormal):
        mu, sigma = dist.mu, dist.sigma
        return lambda u: math.exp(mu + sigma * _inv_normal(u))
    if isinstance(dist, Empirical):
        observed, count = dist.observed, len(dist.observed)
        return lambda u: observed[int(u * count)]  # each observation with equal chance, as random.choice
    if isinstance(dist, Fixed):
        value = dist.value
        return lambda u: value
    if isinstance(dist, Scaled):
        spread, minutes = _quantile_of(dist.spread), dist.minutes
        return lambda u: minutes * spread(u)
    return dist.quantile


def _keyed_draw(d):
    """(main, extra) quantile functions of a step's duration; a repair's main part is the spread's."""
    if d.repair:
        return _quantile_of(SPREAD), None
    return _quantile_of(d.main), (_quantile_of(d.extra) if d.extra is not None else None)


def _triangular_constants(dist):
    """_quantile_of's constants for a Triangular or a Scaled Triangular (None: not inlined), in its order."""
    minutes = None
    if isinstance(dist, Scaled):
        minutes, dist = dist.minutes, dist.spread
    if not isinstance(dist, Triangular) or dist.high == dist.low:
        return None
    low, mode, high = dist.low, dist.mode, dist.high
    width, left, right = high - low, mode - low, high - mode
    return low, high, width, left, right, left / width, minutes


def _keyed_parts(d):
    """A step's (main, extra) quantile constants for the batched base draws, or None to call `_keyed_draw`'s."""
    parts = (SPREAD,) if d.repair else (d.main,) if d.extra is None else (d.main, d.extra)
    inlined = tuple(_triangular_constants(p) for p in parts)
    return inlined if all(c is not None for c in inlined) else None


def _keyed_base(keys, quantiles, parts, pinned):
    """The batched keyed base draws of a run: `fresh_draw(i)` of `_keyed_streams` for every step, in one loop.

    The same integers and floats as the per-draw functions: `_mix` and `_unit` written out, a
    step's lane seed mixed once, and the triangular quantile's arithmetic inlined in
    `_quantile_of`'s order (so `u * width * left` stays `(u * width) * left`). A pinned step or
    another distribution calls the step's own quantile functions. Returns (base, step seeds).
    """
    n = len(keys)
    steps = []
    for i in range(n):
        main, extra = quantiles[i]
        q = pinned.get(i)
        steps.append((keys[i], None if q is not None else parts[i], main, extra, q))
    extra_step = (_LANE * _GAMMA) & _MASK  # EXTRA lane, count 0: seed + (1 * _LANE + 0) * _GAMMA
    sqrt, mask, gamma, scale = math.sqrt, _MASK, _GAMMA, 1.0 / (1 << 53)

    def base(run_key: int) -> tuple[list[float], list[int]]:
        out: list[float] = []
        seeds: list[int] = []
        put, keep = out.append, seeds.append
        for key, program, main, extra, q in steps:
            x = ((run_key ^ key) + gamma) & mask  # the step's seed: _mix(run_key ^ key)
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
            seed = x ^ (x >> 31)
            keep(seed)
            x = (seed + gamma) & mask  # its MAIN lane's first draw: _unit(_mix(seed))
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
            u = (((x ^ (x >> 31)) >> 11) + 0.5) * scale
            if program is None:  # pinned, or not inlined: the step's own quantile functions
                drawn = main(u if q is None else q)
                if extra is not None:
                    x = (((seed + extra_step) & mask) + gamma) & mask
                    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
                    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
                    b = (((x ^ (x >> 31)) >> 11) + 0.5) * scale
                    drawn += extra(b if q is None else q)
                put(drawn)
                continue
            low, high, width, left, right, cut, minutes = program[0]
            v = low + sqrt(u * width * left) if u < cut else high - sqrt((1 - u) * width * right)
            if minutes is not None:
                v = minutes * v
            if len(program) > 1:
                x = (((seed + extra_step) & mask) + gamma) & mask  # the EXTRA lane's first draw
                x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
                x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
                u = (((x ^ (x >> 31)) >> 11) + 0.5) * scale
                low, high, width, left, right, cut, minutes = program[1]
                w = low + sqrt(u * width * left) if u < cut else high - sqrt((1 - u) * width * right)
                v += minutes * w if minutes is not None else w
            put(v)
        return out, seeds
    return base


def _keyed_base_numpy(keys, quantiles, parts, pinned):
    """`_keyed_base` on numpy's uint64 and float64 arrays, where numpy is installed (it is optional).

    The same bits: uint64 arithmetic wraps modulo 2**64 as `& _MASK` does, `x >> 11` is below
    2**53 so its float is exact, and +, -, *, sqrt are IEEE 754's correctly rounded operations in
    both, applied in the same order (tests/test_fast_path.py holds the two to the same floats).
    Steps not inlined (pinned, other distributions) call their own quantile functions.
    """
    np = _numpy()
    u64 = np.uint64
    gamma, m1, m2 = u64(_GAMMA), u64(0xBF58476D1CE4E5B9), u64(0x94D049BB133111EB)
    s30, s27, s31, s11 = u64(30), u64(27), u64(31), u64(11)  # numpy scalars: no promotion to float64
    extra_step = u64((_LANE * _GAMMA) & _MASK)
    keys_arr = np.array(keys, dtype=np.uint64)
    scale = 1.0 / (1 << 53)
    program = [None if pinned.get(i) is not None else parts[i] for i in range(len(keys))]
    others = [i for i, p in enumerate(program) if p is None]
    has_extra = np.array([p is not None and len(p) > 1 for p in program])
    any_extra = bool(has_extra.any()) or any(quantiles[i][1] is not None for i in others)
    fill = (0.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0)  # harmless constants where a part is not inlined (1.0 * v == v)

    def column(j, k):
        return np.array([p[j][k] if p is not None and len(p) > j and p[j][k] is not None else fill[k]
                         for p in program], dtype=np.float64)
    main_c = [column(0, k) for k in range(7)]
    extra_c = [column(1, k) for k in range(7)]

    def mix(x):
        x = x + gamma
        x = (x ^ (x >> s30)) * m1
        x = (x ^ (x >> s27)) * m2
        return x ^ (x >> s31)

    def quantile(u, c):
        low, high, width, left, right, cut, minutes = c
        return minutes * np.where(u < cut, low + np.sqrt(u * width * left), high - np.sqrt((1 - u) * width * right))

    def base(run_key: int) -> tuple[list[float], list[int]]:
        with np.errstate(invalid="ignore"):  # the branch np.where drops may take sqrt of a negative
            seed = mix(u64(run_key) ^ keys_arr)
            u = ((mix(seed) >> s11).astype(np.float64) + 0.5) * scale
            v = quantile(u, main_c)
            if any_extra:
                b = ((mix(seed + extra_step) >> s11).astype(np.float64) + 0.5) * scale
                v = np.where(has_extra, v + quantile(b, extra_c), v)
        out = v.tolist()
        for i in others:
            main, extra = quantiles[i]
            q = pinned.get(i)
            drawn = main(float(u[i]) if q is None else q)
            if extra is not None:
                drawn += extra(float(b[i]) if q is None else q)
            out[i] = drawn
        return out, seed.tolist()
    return base

def _keyed_night_numpy(keys, quantiles, parts, pinned, factor_keys, factor_params, factor_group):
    """A run's keyed base draws, step seeds and shared factors in one pass on numpy arrays (numpy installed).

    What `_keyed_streams` computes from `_keyed_base_numpy` and `_keyed_uniforms`, the same bits, with
    fewer array operations (each costs about a microsecond on a plan's hundred steps, whatever its size):
    the factors' keys are mixed with the steps' (a factor's uniform is `_unit(_mix(run_key ^ key))`, the
    unit of its "seed"); a triangular quantile selects its branch's inputs first, so one sqrt, never of
    a negative, serves both branches (the same operations, in `_quantile_of`'s order); the few EXTRA
    parts are drawn in Python; the scaling `b * f` is one array product (IEEE 754 rounds it alike).
    The run factor and the group factors stay Python's `math.exp` and `_ndtri`, whose bits numpy need
    not share. Returns run_key -> (base, scale or None, step seeds).
    """
    np = _numpy()
    u64 = np.uint64
    n = len(keys)
    gamma, m1, m2 = u64(_GAMMA), u64(0xBF58476D1CE4E5B9), u64(0x94D049BB133111EB)
    s30, s27, s31, s11 = u64(30), u64(27), u64(31), u64(11)  # numpy scalars: no promotion to float64
    shared = factor_params is not None
    all_keys = np.array(tuple(keys) + (tuple(factor_keys) if shared else ()), dtype=np.uint64)
    scale53 = 1.0 / (1 << 53)
    program = [None if pinned.get(i) is not None else parts[i] for i in range(n)]
    others = [i for i, p in enumerate(program) if p is None]  # pinned or not inlined: their own functions
    extras = [(i, p[1]) for i, p in enumerate(program) if p is not None and len(p) > 1]
    fill = (0.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0)  # harmless constants where a part is not inlined (1.0 * v == v)
    low, high, width, left, right, cut, minutes = (
        np.array([p[0][k] if p is not None and p[0][k] is not None else fill[k] for p in program], dtype=np.float64)
        for k in range(7))
    extra_lane = (_LANE * _GAMMA) & _MASK  # EXTRA lane, count 0: seed + (1 * _LANE + 0) * _GAMMA
    mask, sqrt, ndtri, exp = _MASK, math.sqrt, _ndtri, math.exp
    if shared:
        (mu, sigma), *params = factor_params
        group_of = np.array(factor_group, dtype=np.intp)

    def arrays(run_keys):
        """The runs' step seeds (with the factors' after them) and MAIN uniforms and inlined values, one row a run."""
        x = np.array(run_keys, dtype=np.uint64)[:, None] ^ all_keys
        x = x + gamma  # _mix, on every key: the steps' seeds, then the factors'
        x = (x ^ (x >> s30)) * m1
        x = (x ^ (x >> s27)) * m2
        seeds_all = x ^ (x >> s31)
        seed = seeds_all[:, :n]
        x = seed + gamma  # each step's MAIN lane, first draw: _unit(_mix(seed))
        x = (x ^ (x >> s30)) * m1
        x = (x ^ (x >> s27)) * m2
        u = ((x ^ (x >> s31)) >> s11).astype(np.float64)
        u += 0.5
        u *= scale53
        below = u < cut
        t = np.where(below, u, 1 - u)
        t *= width
        t *= np.where(below, left, right)
        r = np.sqrt(t)
        v = np.where(below, low + r, high - r)
        v *= minutes
        return seeds_all, seed, u, v

    def finish(v, u, seeds):
        """One run's row `v` completed in Python: the EXTRA parts, and the steps not inlined (drawn, returned)."""
        for i, (lo, hi, wi, le, ri, cu, mi) in extras:  # the EXTRA lane's first draw, as _keyed_base draws it
            y = (((seeds[i] + extra_lane) & mask) + _GAMMA) & mask
            y = ((y ^ (y >> 30)) * 0xBF58476D1CE4E5B9) & mask
            y = ((y ^ (y >> 27)) * 0x94D049BB133111EB) & mask
            b = (((y ^ (y >> 31)) >> 11) + 0.5) * scale53
            w = lo + sqrt(b * wi * le) if b < cu else hi - sqrt((1 - b) * wi * ri)
            v[i] = float(v[i]) + (mi * w if mi is not None else w)  # a float64 holds a float exactly
        drawn_by: list = []
        for i in others:
            main, extra = quantiles[i]
            q = pinned.get(i)
            drawn = main(float(u[i]) if q is None else q)
            if extra is not None:
                y = (((seeds[i] + extra_lane) & mask) + _GAMMA) & mask
                y = ((y ^ (y >> 30)) * 0xBF58476D1CE4E5B9) & mask
                y = ((y ^ (y >> 27)) * 0x94D049BB133111EB) & mask
                drawn += extra(((((y ^ (y >> 31)) >> 11) + 0.5) * scale53) if q is None else q)
            v[i] = drawn
            drawn_by.append((i, drawn))
        return drawn_by

    def factors(f) -> list[float]:
        """A run's group factors from its factors' uniforms (Python's exp and inverse normal: their bits)."""
        night, *rest = f
        night = exp(mu + sigma * ndtri(night, 0.0, 1.0))
        return [night * exp(m + s * ndtri(w, 0.0, 1.0)) for (m, s), w in zip(params, rest)]

    def base(run_key: int):
        seeds_all, seed, u, v = arrays((run_key,))
        seeds_all, u, v = seeds_all[0], u[0], v[0]
        seeds = seed[0].tolist()
        drawn_by = finish(v, u, seeds)
        if not shared:
            out = v.tolist()
            for i, drawn in drawn_by:  # as drawn (a Fixed value stays what it is)
                out[i] = drawn
            return out, None, seeds
        f = ((seeds_all[n:] >> s11).astype(np.float64) + 0.5) * scale53  # the factors' uniforms
        groups = np.array(factors(f.tolist()), dtype=np.float64)
        scale = groups[group_of]
        return (v * scale).tolist(), scale.tolist(), seeds

    def block(run_keys) -> list[list[float]]:
        """`base(k)[0]` of each run key, the runs' arrays computed together (fast.run_block): the same floats."""
        seeds_all, seed, u, v = arrays(run_keys)
        if extras or others:
            for row_v, row_u, seeds in zip(v, u, seed.tolist()):  # rows are views: written in place
                drawn_by = finish(row_v, row_u, seeds)
                if drawn_by and not shared:
                    return [base(k)[0] for k in run_keys]  # a value kept as drawn: the run alone says how
        if not shared:
            return v.tolist()
        f = ((seeds_all[:, n:] >> s11).astype(np.float64) + 0.5) * scale53
        groups = np.array([factors(row) for row in f.tolist()], dtype=np.float64).reshape(len(run_keys), -1)
        return (v * groups[:, group_of]).tolist()
    base.block = block
    return base


@functools.cache
def _numpy():
    """numpy, or None: optional, and imported only by a keyed plan (simulate's sequential draws never pay for it)."""
    try:  # the batched keyed draws are several times cheaper on arrays; pure Python otherwise
        import numpy
    except ImportError:  # pragma: no cover - numpy comes with matplotlib, in the test extras
        return None
    return numpy

_RUNTIMES: dict[str, _Runtime] = {}


def runtime(sp: SimPlan) -> _Runtime:
    rt = _RUNTIMES.get(sp.key)
    if rt is None:
        if len(_RUNTIMES) > 8:
            _RUNTIMES.clear()
        rt = _RUNTIMES[sp.key] = _Runtime(sp)
    return rt


class _State:
    __slots__ = ("clean", "halted", "stop_step", "stop_reason", "abort_step", "abort_reason", "halt_time",
                 "failed", "skipped_units", "down_since", "attempts", "segments", "recoveries", "retry_base",
                 "delay")

    def __init__(self):
        self.clean = True  # nothing failed, halted or stopped yet: steps may take the fast path
        self.halted = False
        self.stop_step = NO_STEP
        self.stop_reason = ""
        self.abort_step = NO_STEP
        self.abort_reason = ""
        self.halt_time = 0.0
        self.failed: list[str] = []
        self.skipped_units: set[int] = set()
        self.down_since: dict[int, float] = {}  # per unit: when its FIRST reboot started (retries reboot again)
        self.attempts: dict[int, int] = {}
        self.segments: list[Segment] = []
        self.recoveries: dict[int, int] = {}  # per step: the recoveries made after it failed
        self.retry_base: dict[int, int] = {}  # per unit: its attempts before the current CAU run (a recovery restarts it)
        self.delay = 0.0  # minutes in failed attempts and recoveries


def down_start(began: float, lead: int, share: float, start: list[float], end: list[float]) -> float:
    """When a node goes down, given its first reboot began at `began`: the offline part of the setup before it.

    The last `share` of the setup step `lead` (the plan's unit.down_from and its offline_share) runs after
    setup's first restart, with the node's drives serving no writes (durations.offline_share). The simpy
    engine and the fast path (fast.py) both compute the down time as `end of reboot - down_start(...)`, the
    same floats; with no setup (or a share of 0) it is the reboot's start itself, bit for bit.
    """
    if lead == NO_STEP or end[lead] < 0:
        return began
    return began - share * (end[lead] - start[lead])


def run_once(sp: SimPlan, seed: int, index: int, trace: bool = False) -> RunResult:
    """Simulate run `index` of the Monte Carlo series with master seed `seed`."""
    rt = runtime(sp)
    base, scale, fresh_draw, uniform = run_draws(sp, rt, seed, index)
    n = sp.size
    env = simpy.Environment(initial_time=rt.now)
    timeout = env.timeout
    start = [-1.0] * n
    end = [-1.0] * n
    procs: list = [None] * n
    st = _State()
    preds, plain, repair, bound, timeout_cause = sp.preds, rt.plain, rt.repair, sp.bound, sp.timeout_cause
    units, unit_of, unit_pos = sp.units, sp.unit_of, rt.unit_pos
    windows = sp.windows
    wstarts, wends = rt.window_starts, rt.window_ends

    def duration(i: int, factor: float = 1.0, fresh: bool = False) -> float:
        # a retry draws anew (another attempt, another duration), on the same night
        drawn = (fresh_draw(i) * (scale[i] if scale else 1.0)) if fresh else base[i]
        rep = repair[i]
        if rep is None:
            return drawn * factor
        reboot, lead, share, overhead, ratio = rep
        if reboot == NO_STEP or end[reboot] < 0:
            return overhead * drawn * factor
        # storage is out of sync from the first time the node went down (the offline part of its setup, then the
        # first reboot) until the node is resumed: retries do not repair it, they add to the resync (a retry after
        # the reboot keeps the node paused until its resume passes)
        u = unit_of[reboot]
        after = unit_pos[reboot] + 1
        resume = units[u].steps[after] if after < len(units[u].steps) else NO_STEP
        until = start[resume] if resume != NO_STEP and start[resume] >= 0 else end[reboot]
        since = st.down_since.get(u)
        down = until - (since if since is not None else down_start(start[reboot], lead, share, start, end))
        return (overhead + ratio * down) * drawn * factor

    def halt(i: int, reason: str):
        if not st.halted:
            st.halted = True
            st.abort_step, st.abort_reason, st.halt_time = i, reason, env.now
        st.clean = False

    def stop(i: int, reason: str):
        if st.stop_step == NO_STEP:
            st.stop_step, st.stop_reason = i, reason
        st.clean = False

    def gate(i: int):
        """The window rule for a unit's head: start only if the unit fits before the window ends."""
        need = units[unit_of[i]].need
        while True:
            now = env.now
            k = bisect.bisect_right(wends, now)  # the first window that has not ended
            if k == len(windows):
                stop(i, LAST_WINDOW_ENDED)
                return False
            if now < wstarts[k]:
                yield timeout(wstarts[k] - now)
                continue
            if now + need <= wends[k]:
                return True
            if k + 1 == len(windows):
                stop(i, no_fit_reason(sp, need, k))
                return False
            yield timeout(wstarts[k + 1] - now)

    def watchdog(proc, target, delay: float, cause: str):
        yield timeout(delay)
        if proc.is_alive and proc.target is target:
            proc.interrupt(cause)

    def attempt(i: int, failure, fresh: bool = False):
        """Run one attempt of step i; return None on success, else the failure's cause."""
        mode, factor = failure if failure is not None else (None, 1.0)
        u = unit_of[i]
        if i == units[u].reboot and u not in st.down_since:  # the first reboot (it may have run on the hot path)
            unit = units[u]
            st.down_since[u] = down_start(start[i] if start[i] >= 0 else env.now, unit.down_from, unit.offline,
                                          start, end)
        if mode is None or mode == "slow":
            d = duration(i, factor, fresh)
            if d <= bound[i]:
                begin = env.now
                yield timeout(d)
                start[i], end[i] = begin, env.now
                return None
            mode = timeout_cause[i]  # past its bound: given up there, as the script gives up its wait
        if mode == "error":
            d = duration(i, 1.0, fresh)
            target, delay = timeout(d), uniform(i, DELAY) * d
        else:
            target = env.event()  # never triggered: the step does not answer
            delay = bound[i]
        begin = env.now
        env.process(watchdog(env.active_process, target, delay, mode))
        try:
            yield target
        except simpy.Interrupt as interrupt:
            st.segments.append(Segment(i, st.attempts.get(unit_of[i], 1), begin, env.now, interrupt.cause))
            return interrupt.cause
        start[i], end[i] = begin, env.now
        return None

    def failure_for(i: int, attempt_no: int):
        injected = rt.injected.get(i)
        if injected is not None:
            if injected.mode == "error":  # `error=N` fails N attempts: CAU's retries and the reruns alike
                return ("error", 1.0) if attempt_no <= injected.attempts else None
            if not st.recoveries.get(i):  # the other modes fail every attempt until a person recovers the step
                return injected.mode, injected.factor
            return None
        risk = rt.risks.get(i)
        if risk is not None and uniform(i, RISK) < risk.probability:
            return risk.mode, risk.factor
        return None

    def explain(i: int, cause: str, attempts: int) -> str:
        node = sp.nodes[i] or sp.cluster
        if sp.is_reboot[i]:
            hung = f"{node} did not answer within the reboot timeout ({sp.reboot_timeout:.0f} min)"
        else:
            hung = f"{sp.ids[i]} did not answer within its bound ({bound[i]:.0f} min)"
        return {
            "hang": hung,
            "drain_failure": f"live migration off {node} did not complete (drain timeout {bound[i]:.0f} min)",
            "resync_stall": f"storage repair after {node} did not finish (repair timeout {bound[i]:.0f} min)",
            "error": f"{sp.ids[i]} failed",
        }[cause] + (f", {attempts} attempt{'s' * (attempts != 1)}" if cause in ("error", "drain_failure") else "")

    def recoverable(i: int) -> bool:
        return st.recoveries.get(i, 0) < rt.max_recoveries

    def recovered(i: int) -> str:
        made = st.recoveries.get(i, 0)
        return f", after {made} recover{'ies' if made != 1 else 'y'}" if made else ""

    def recover(i: int, cause: str, locked: bool):
        """A person recovers failed step i (compiler/recovery.py): the run waits, then the script reruns it."""
        st.recoveries[i] = st.recoveries.get(i, 0) + 1
        st.clean = False
        times = rt.recovery_time
        d = times[RECOVERY_OF_MODE[cause]](uniform(i, RECOVER))
        if locked:  # CAU stopped: the cluster stays Locked until `Invoke-CauRun -ForceRecovery -Force` [A-verify]
            d += times[LOCKED](uniform(i, RECOVER))
        st.delay += d
        began = env.now
        yield timeout(d)
        if trace:
            st.segments.append(Segment(i, st.attempts.get(unit_of[i], 1), began, env.now, "recovery"))

    def cau_step(i: int):
        """A step of a node's CAU attempt: a retry repeats the attempt from the drain, or after the reboot."""
        u = unit_of[i]
        unit = units[u]
        pos = unit_pos[i]
        first = pos
        while True:
            attempt_no = st.attempts.get(u, 1)
            failed = None
            began = env.now
            for k in range(first, pos + 1):
                j = unit.steps[k]
                cause = yield from attempt(j, failure_for(j, attempt_no), attempt_no > 1)
                if cause is not None:
                    failed = (j, cause)
                    break
            if failed is None:
                return
            j, cause = failed
            st.delay += env.now - began  # the failed attempt's time is lost
            node = unit.node
            tries = attempt_no - st.retry_base.get(u, 0)  # the attempts of the current CAU run
            if cause in ("hang", "resync_stall") or tries > sp.max_retries_per_node:
                went_down = u in st.down_since or (unit.reboot != NO_STEP and start[unit.reboot] >= 0)
                if (went_down or len(st.failed) + 1 > sp.max_failed_nodes) and recoverable(j):
                    # CAU would stop here. A person recovers the node and clears the Locked cluster, then a new
                    # CAU run resumes from the failed step (the script's journal), its retries counted afresh.
                    yield from recover(j, cause, locked=True)
                    st.retry_base[u] = attempt_no
                    st.attempts[u] = attempt_no + 1
                    first = unit_pos[j]
                    if first == 0 and windows:  # the node's attempt starts anew: the window rule applies
                        fits = yield from gate(unit.steps[0])
                        if not fits:
                            yield env.event()
                    continue
                st.failed.append(node)
                st.clean = False
                reason = explain(j, cause, tries) + recovered(j)
                if went_down:
                    # It went down in some attempt and its pass never ended: its storage was never repaired.
                    # CAU's next drain waits for healthy storage [W-opts], so no other node may go down
                    # [H-maint, W-resync]; past its recoveries the run stops here.
                    halt(j, f"{reason}; {node} is down or unrepaired since its reboot, so no other node may go "
                            "down until its storage is repaired: CAU stops, the cluster stays in mixed mode")
                    yield env.event()
                if len(st.failed) > sp.max_failed_nodes:
                    halt(j, f"{reason}; failed nodes {len(st.failed)} > max_failed_nodes {sp.max_failed_nodes}: "
                            "CAU stops, the cluster stays in mixed mode")
                    yield env.event()
                st.skipped_units.add(u)  # it never went down: CAU moves on, this node stays on the old OS
                return
            # CAU retries the node's whole attempt [W-opts], but a node past its reboot runs the new build and stays
            # upgraded: the retry finds nothing to install and no restart to make (an inference from [W-opts], not a
            # documented timing), so only the steps after the reboot run again (resume, repair wait; the node is
            # still paused, so its drain is not modelled). Before the reboot ends, the attempt restarts at the drain.
            reboot = unit.reboot
            on_new_build = reboot != NO_STEP and unit_pos[j] > unit_pos[reboot] and end[reboot] >= 0
            first = unit_pos[reboot] + 1 if on_new_build else 0
            if trace:  # keep the finished steps the retry runs again on record
                for k in range(first, unit_pos[j]):
                    prior = unit.steps[k]
                    if start[prior] >= 0:
                        st.segments.append(Segment(prior, attempt_no, start[prior], end[prior], "ok"))
            st.attempts[u] = attempt_no + 1
            st.clean = False  # the steps after this one must see the retry (the resync counts from the first reboot)

    def script_step(i: int):
        """A step outside the CAU run: a failure stops the script; a person recovers it and reruns the script,
        which resumes at this step (fresh draw), until the recoveries allowed are used up."""
        while True:
            tries = 1 + st.recoveries.get(i, 0)
            began = env.now
            cause = yield from attempt(i, failure_for(i, tries), tries > 1)
            if cause is None:
                return
            st.delay += env.now - began
            if not recoverable(i):
                halt(i, explain(i, cause, tries) + recovered(i) + ": the script stops at this step")
                yield env.event()
            yield from recover(i, cause, locked=False)
            if windows and rt.head[i]:  # a unit that starts over obeys the window rule
                fits = yield from gate(i)
                if not fits:
                    yield env.event()

    def slow_path(i: int):
        if st.halted:
            yield env.event()  # nothing new starts after an abort
        u = unit_of[i]
        if u in st.skipped_units:
            if trace:
                st.segments.append(Segment(i, st.attempts.get(u, 1), env.now, env.now, "skipped"))
            return
        if sp.after_cau[i] and st.failed:
            halt(i, f"the CAU run ended with failed node(s) {', '.join(st.failed)}: the cluster stays in mixed "
                    "mode and the functional level cannot be raised")
            yield env.event()
        if windows and rt.head[i]:
            fits = yield from gate(i)
            if not fits:
                yield env.event()
            if st.halted:
                yield env.event()
        if units[u].cau:
            yield from cau_step(i)
        else:
            yield from script_step(i)

    def running_step(i: int, began: float):
        """A step the journal shows running since `began`: it takes what is left of a draw beyond its age."""
        age = env.now - began
        d = duration(i)
        tries = 1
        while d <= age and tries < CONDITIONAL_TRIES:
            d, tries = duration(i, fresh=True), tries + 1
        if d <= age:  # older than nearly every draw: assume it ends soon (a twentieth of its age more)
            d = age * 1.05
        if d > bound[i]:  # it will reach its bound: the script gives up its wait there and stops
            yield timeout(max(0.0, bound[i] - age))
            halt(i, explain(i, timeout_cause[i], 1) + ": the script stops at this step")
            yield env.event()
        yield timeout(d - age)
        start[i], end[i] = began, env.now

    def step(i: int):
        if rt.done or rt.running:
            fact = rt.done.get(i)
            if fact is not None:  # finished before now: a fact, whatever its predecessors show
                start[i], end[i] = fact
                return
            began = rt.running.get(i)
            if began is not None:
                yield from running_step(i, began)
                return
        for p in preds[i]:
            yield procs[p]
        if plain[i] and st.clean:  # the hot path: no window rule, no failure, nothing halted
            begin = env.now
            rep = repair[i]
            if rep is None:
                d = base[i]
            else:
                reboot, lead, share, overhead, ratio = rep
                d = (overhead + ratio * (end[reboot] - down_start(start[reboot], lead, share, start, end)
                                         if reboot != NO_STEP else 0.0)) * base[i]
            if d > bound[i]:  # past its bound: the failure path gives it up there
                st.clean = False
                yield from slow_path(i)
                return
            yield timeout(d)
            start[i] = begin
            end[i] = begin + d  # exactly the time simpy resumes at (now + delay)
            return
        yield from slow_path(i)

    for i in range(n):
        procs[i] = env.process(step(i))
    env.run()
    return _result(sp, index, st, start, end, trace)


def run_draws(sp: SimPlan, rt: _Runtime, seed: int, index: int, draw_base=None):
    """Run `index`'s base durations (scaled by the shared factors), the factors, and its fresh-draw and uniform
    functions, in either draw mode (the simpy engine and the fast path, fast.py, both draw through here).

    `draw_base(rng)`, if given, draws the sequential base durations instead of `rt.draws` (the same values).
    """
    if rt.keyed:
        return _keyed_streams(sp, rt, seed, index)
    rng = random.Random(run_seed(seed, index))
    base = draw_base(rng) if draw_base is not None else [draw(rng) for draw in rt.draws]
    scale = None
    if rt.shared:  # the night's speed: one factor for the run, one per duration model, shared by their steps
        night, *factors = _gauss_all(random.Random(run_seed(seed, index, "/factors")), rt.factor_params)
        night = math.exp(night)
        groups = [night * math.exp(g) for g in factors]
        scale = list(map(groups.__getitem__, sp.factor_group))
        base = list(map(operator.mul, base, scale))  # b * f, step by step

    def fresh_draw(i: int) -> float:
        return rt.draws[i](rng)

    def uniform(i: int, lane: int) -> float:
        return rng.random()
    return base, scale, fresh_draw, uniform


def _keyed_streams(sp: SimPlan, rt: _Runtime, seed: int, index: int):
    """Run `index`'s base durations, shared factors, and its fresh-draw and uniform functions, all keyed.

    Step i's c-th draw in a lane is a hash of (the run's key, i's draw key, lane, c): it depends on
    nothing else, so a variant that changes other steps leaves it alone. A pinned step (sensitivity)
    takes its duration at a fixed quantile; its failure draws stay keyed.
    """
    run_key = run_seed(seed, index, "/keyed")
    if rt.keyed_night is not None:  # numpy: the base draws, step seeds and shared factors in one pass
        base, scale, seeds = rt.keyed_night(run_key)
    else:
        base, seeds = rt.keyed_base(run_key)  # every step's first duration draw, batched (the same floats)
        scale = None
        if rt.shared:
            (mu, sigma), *params = rt.factor_params
            night, *uniforms = _keyed_uniforms(run_key, rt.factor_keys)
            night = math.exp(mu + sigma * _ndtri(night, 0.0, 1.0))
            groups = [night * math.exp(m + s * _ndtri(u, 0.0, 1.0)) for (m, s), u in zip(params, uniforms)]
            scale = list(map(groups.__getitem__, sp.factor_group))
            base = list(map(operator.mul, base, scale))  # b * f, step by step
    quantiles, pinned = rt.quantiles, rt.pinned
    counts = rt.base_counts.copy()  # step i's draws so far in each lane, at LANES i + lane

    def uniform(i: int, lane: int) -> float:
        slot = LANES * i + lane
        c = counts[slot]
        counts[slot] = c + 1
        return _unit(_mix((seeds[i] + (lane * _LANE + c) * _GAMMA) & _MASK))

    def fresh_draw(i: int) -> float:
        main, extra = quantiles[i]
        q = pinned.get(i)
        a = uniform(i, MAIN)
        drawn = main(a if q is None else q)
        if extra is not None:
            b = uniform(i, EXTRA)
            drawn += extra(b if q is None else q)
        return drawn
    return base, scale, fresh_draw, uniform


LAST_WINDOW_ENDED = "the last window has ended"


def no_fit_reason(sp: SimPlan, need: float, k: int) -> str:
    """Why a unit needing `need` minutes stops at the last window, `k` (the simpy gate and fast.py say it alike)."""
    return (f"needs {need:.0f} min ({setting_text(sp.confidence)} confidence); "
            f"window {sp.windows[k].name} ends before that")


def _result(sp: SimPlan, index: int, st: _State, start: list[float], end: list[float], trace: bool,
            schedule: tuple | None = None) -> RunResult:
    """The RunResult of a run's start and end times (-1.0: never started, never ended) and its state.

    `schedule`: the run's (unit windows, units done, overrun, work, window work, within) where the caller
    computed them for many runs at once (fast.run_block, the same bits as `_by_window`, `busy_minutes` and
    `_inside_windows`, which compute them here otherwise).
    """
    n = sp.size
    unfinished = end.count(-1.0)
    last = max(end)
    remaining = 0
    if last < 0:  # no step ended (stopped before the first, after its failure): the run's own start
        last = _run_start(sp)
    if st.halted:
        outcome, step, reason = ABORTED, st.abort_step, st.abort_reason
        last = max(last, st.halt_time)
    elif st.stop_step != NO_STEP:
        outcome, step, reason = STOPPED, st.stop_step, st.stop_reason
    elif unfinished == 0:
        outcome, step, reason = COMPLETED, NO_STEP, ""
    else:  # cannot happen: every step either ends, is skipped after a failed node, or stops the run
        raise AssertionError(f"run {index} ended with {unfinished} steps neither done nor stopped")
    if outcome != COMPLETED:
        if st.skipped_units:
            skipped = {i for u in st.skipped_units for i in sp.units[u].steps if end[i] < 0}
            remaining = sum(1 for i in range(n) if start[i] < 0 and i not in skipped)
        else:
            remaining = sum(map(_NEGATIVE, start))  # the steps never started (True counts 1)

    rt = runtime(sp)
    exposure = 0.0
    down_since = st.down_since
    for u, reboot, lead, share, tail in rt.exposed:
        since = down_since.get(u) if down_since else None  # from the first time down: retries do not repair it
        if since is None:
            began = start[reboot]
            if began >= 0:  # down_start, written out
                since = began if lead == NO_STEP or end[lead] < 0 else began - share * (end[lead] - start[lead])
        # a node that went down and never finished its pass stays exposed until the run ends
        if since is not None and since >= 0:
            exposure += (end[tail] if end[tail] >= 0 else last) - since

    within = None
    critical: tuple[int, ...] = ()
    if outcome == COMPLETED:
        critical = _critical_path(sp.preds, end, rt.chains)
        if sp.windows:
            within = schedule[5] if schedule is not None else _inside_windows(sp, start, end)
    elif sp.windows:
        within = False
    segments: tuple[Segment, ...] = ()
    if trace:
        final = [Segment(i, st.attempts.get(sp.unit_of[i], 1), start[i], end[i], "ok") for i in range(n) if end[i] >= 0]
        segments = tuple(sorted(st.segments + final, key=lambda s: (s.start, s.end, s.step)))
    upgraded = sum(1 for i in sp.os_upgraded if end[i] >= 0)
    span = mixed_span(end, sp.os_upgraded, None if sp.functional_level == NO_STEP else sp.functional_level)
    mixed = None if span is None or span[1] is None else span[1] - span[0]
    if schedule is not None:
        unit_windows, units_done, overrun, work, window_work = schedule[:5]
    elif sp.windows:
        unit_windows, units_done, overrun, work, window_work = _by_window(rt, start, end, last)
    else:
        unit_windows, units_done, overrun, window_work = (), (), 0.0, ()
        # every step's (start, end) where it ended (a step's start and end are set together)
        work = busy_minutes(list(zip(start, end)) if min(end) >= 0 else [(s, e) for s, e in zip(start, end) if e >= 0])
    crossed, window_close = _closing(sp, st, start, end, outcome, step, span)
    return RunResult(index, outcome, last, step, reason, remaining, tuple(st.failed), exposure, within,
                     critical, upgraded, overrun, segments, unit_windows, units_done, work, window_work, mixed,
                     span is not None and span[1] is None, crossed, window_close, st.delay,
                     sum(st.recoveries.values()))


NODE_STATES = ("safe_point", "resyncing", "drained")  # at a window's close, the worst of the passes under way
TENTH_DAY = 144.0  # minutes: mixed OS mode so far is counted in tenths of a day (floored), exact integer tallies


def _closing(sp: SimPlan, st: _State, start: list[float], end: list[float], outcome: str,
             step: int, span=False) -> tuple[tuple[tuple[int, bool], ...], tuple[tuple[int, int, int], ...]]:
    """The irreversible steps an early run had crossed, and the cluster's state at each window's end.

    Post hoc, from the start/end arrays and the failed attempts (`st.segments`, kept in every mode): a
    failed step has no start or end, so its failed attempts say when it (and its unit) began.
    Crossed: every irreversible step that ended, plus the step an aborted run stopped at if it is
    irreversible and had started (an abort before a step starts, such as after a CAU run with failed
    nodes, crosses nothing). At a window's end `t`: nodes on 23H2 counts the reboots into 23H2 ended
    by `t` (as `upgraded` does at the run's end); a pass under way at `t` (began, its tail not ended)
    has its node drained or down until its reboot ends, then resyncing; mixed OS mode so far runs from
    the first node on 23H2 to its end (mixed.py) or to `t`: the calendar runs on after an early end.
    `span`: mixed_span of these ends where the caller has it (`_result`); False: computed here.
    """
    rt = runtime(sp)
    failed: dict[int, tuple[float, float]] = {}  # per unit: its first failed attempt's start, its last's end
    failed_steps = set()
    for seg in st.segments:
        if seg.status not in ("ok", "skipped"):
            u = sp.unit_of[seg.step]
            failed_steps.add(seg.step)
            first, last = failed.get(u, (seg.start, seg.end))
            failed[u] = (min(first, seg.start), max(last, seg.end))
    crossed: tuple[tuple[int, bool], ...] = ()
    if outcome != COMPLETED:
        crossed = tuple((i, True) for i in rt.irreversible if end[i] >= 0)
        if (outcome == ABORTED and step != NO_STEP and sp.irreversible[step] and end[step] < 0
                and (step in failed_steps or step in rt.running)):
            crossed = tuple(sorted(crossed + ((step, False),)))
    if not sp.windows:
        return crossed, ()
    ends = rt.window_ends
    windows = len(ends)
    worst = [0] * windows  # per window: the worst NODE_STATES index of the passes under way at its end
    if not failed and not rt.running and rt.passes:
        # The common run (no failed attempt, no journal): count the passes under way at each t first (begun
        # by t less ended by t: a tail that ended had its head started), and look closer only where some are.
        opened, closed = sorted(rt.pass_heads(start)), sorted(rt.pass_tails(end))
        right, left = bisect.bisect_right, bisect.bisect_left
        never_opened, never_closed = left(opened, 0.0), left(closed, 0.0)  # -1.0: never started, never ended
        busy = [k for k, t in enumerate(ends)
                if right(opened, t) - never_opened > right(closed, t) - never_closed]
    else:
        busy = range(windows)
    for k in busy:
        t = ends[k]
        for u, head, down, tail in rt.passes:
            began = start[head]  # a retried pass began at its first attempt (start[] holds the last one's)
            if u in failed:
                began = failed[u][0] if began < 0 else min(began, failed[u][0])
            elif began < 0:
                began = rt.running.get(head, -1.0)
            if began < 0 or began > t:
                continue
            back = end[tail] if end[tail] >= 0 else failed[u][1] if u in st.skipped_units else -1.0
            if 0 <= back <= t:
                continue
            # drained or down until its reboot ends, then resyncing until its tail (the repair wait) ends
            state = 1 if down != NO_STEP and 0 <= end[down] <= t else 2
            if state > worst[k]:
                worst[k] = state
    upgraded = sorted(e for e in (end[i] for i in sp.os_upgraded) if e >= 0)
    if span is False:  # not handed over by _result, which computed it from the same ends
        span = mixed_span(end, sp.os_upgraded, None if sp.functional_level == NO_STEP else sp.functional_level)
    rows = []
    for k, t in enumerate(ends):
        minutes = 0.0
        if span is not None and span[0] <= t:  # mixed mode began by t: to its end, or to t if it had not ended
            minutes = (span[1] if span[1] is not None and span[1] <= t else t) - span[0]
        rows.append((bisect.bisect_right(upgraded, t), worst[k], int(minutes // TENTH_DAY)))
    return crossed, tuple(rows)


def _run_start(sp: SimPlan) -> float:
    """Where a run starts: 0, or the journal's now (`hciplan progress`)."""
    return sp.given.now if sp.given else 0.0


_NEGATIVE = (0.0).__gt__  # x -> 0.0 > x, i.e. x < 0
_NOT_NEGATIVE = (0.0).__le__  # x -> 0.0 <= x, i.e. x >= 0


def _by_window(rt: _Runtime, start: list[float], end: list[float], last: float):
    """A run's schedule by window: (unit windows, units done, overrun, work, window work).

    - unit windows: the window each unit's head started in (-1: it never started, or started before the first);
    - units done: whether each unit's tail ended (it reached its safe point);
    - overrun: minutes past its window's end of each unit that started in a window, to its tail's end (or the
      run's end), summed in unit order;
    - work: the union of the (start, end) of the ended steps (busy_minutes);
    - window work: per window, the same union over the steps of the units started in it.
    """
    wstarts, wends = rt.window_starts, rt.window_ends
    began = list(map(start.__getitem__, rt.unit_heads))
    finished = list(map(end.__getitem__, rt.unit_tails))
    find = bisect.bisect_right
    where = [find(wstarts, b) - 1 if b >= 0 else -1 for b in began]
    overrun = 0.0
    for b, f, k in zip(began, finished, where):
        if k >= 0:
            # max(0.0, (f or last) - max(b, wends[k])) written out (max keeps its first argument on ties; adding
            # a 0.0 changes no sum that starts at 0.0 and only grows)
            w = wends[k]
            x = (f if f >= 0 else last) - (w if w > b else b)
            if x > 0.0:
                overrun += x
    done = tuple(map(_NOT_NEGATIVE, finished))
    if rt.disjoint:
        work, window_work = _busy_by_window(start, end, list(map((where + [-1]).__getitem__, rt.step_unit)),
                                            len(wstarts))
    else:  # a step in two units counts in both units' windows
        spans: list[list[tuple[float, float]]] = [[] for _ in wstarts]
        for (_, _, steps), k in zip(rt.unit_parts, where):
            if k >= 0:
                spans[k].extend((start[i], end[i]) for i in steps if end[i] >= 0)
        work = busy_minutes([(s, e) for s, e in zip(start, end) if e >= 0])
        window_work = tuple(map(busy_minutes, spans))
    return tuple(where), done, overrun, work, window_work


def _busy_by_window(start: list[float], end: list[float], window: list[int], count: int):
    """busy_minutes over the ended steps, and over each window's ones (`window`: each step's, -1: none), in one
    pass over the steps in (start, end) order: a window's steps come in the same order as sorting them alone,
    so every sum adds the same terms in the same order as busy_minutes does."""
    total, reach = 0.0, -math.inf  # -inf: the first interval always opens a new stretch, as busy_minutes' None
    totals = [0.0] * count
    reaches = [-math.inf] * count
    items = sorted(zip(start, end, window))
    # the steps that never ended (start and end -1) sort first when no start is below -1: skip them at once
    first = bisect.bisect_left(items, (-1.0, 0.0)) if items and items[0][0] >= -1.0 else 0
    # window k's running sum and reach are held in locals while its steps come one after another (the common
    # case: a window's units run together), and put back when another window's step comes: the same additions
    at, at_total, at_reach = -1, 0.0, -math.inf
    for b, e, k in itertools.islice(items, first, None):
        if e < 0:
            continue  # never ended
        if b > reach:
            total += e - b
            reach = e
        elif e > reach:
            total += e - reach
            reach = e
        if k >= 0:
            if k != at:
                if at >= 0:
                    totals[at], reaches[at] = at_total, at_reach
                at, at_total, at_reach = k, totals[k], reaches[k]
            if b > at_reach:
                at_total += e - b
                at_reach = e
            elif e > at_reach:
                at_total += e - at_reach
                at_reach = e
    if at >= 0:
        totals[at] = at_total
    return total, tuple(totals)


def _inside_windows(sp: SimPlan, start: list[float], end: list[float]) -> bool:
    """Whether every ended step started inside a window and ended by that window's end."""
    rt = runtime(sp)
    if min(end) < 0:  # some step never ended: only the ended ones count
        pairs = [(s, e) for s, e in zip(start, end) if e >= 0]
        start, end = [s for s, _ in pairs], [e for _, e in pairs]
    # the end of the window each step started in (-inf: before the first), all in C-level loops
    limit = list(map(rt.limits.__getitem__, map(rt.window_of, start)))
    return not any(map(operator.gt, end, limit)) and not any(map(operator.gt, start, limit))


def _critical_path(preds: tuple[tuple[int, ...], ...], end: list[float],
                   back: list[tuple[int, ...]] | None = None) -> tuple[int, ...]:
    """Back from the last step to end, through the predecessor that ended last (the earliest in plan order on ties).

    `back` (the runtime's `chains`) gives each step's run of single predecessors, taken in one extend.
    """
    i = end.index(max(end))
    path = [i]
    at = end.__getitem__
    while True:
        if back is not None:
            run = back[i]
            if run:
                path.extend(run)
                i = run[-1]
        before = preds[i]
        if not before:
            return tuple(path)
        i = before[0] if len(before) == 1 else max(before, key=at)
        path.append(i)


def _chains(preds: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]] | None:
    """Per step, the steps reached back through single predecessors, up to one with none or several
    (empty for a step without exactly one); None if single predecessors form a cycle."""
    n = len(preds)
    back: list = [None] * n
    for i in range(n):
        walk = []
        j = i
        while back[j] is None and len(preds[j]) == 1:
            walk.append(j)
            j = preds[j][0]
            if len(walk) > n:
                return None
        if back[j] is None:
            back[j] = ()
        for w in reversed(walk):
            p = preds[w][0]
            back[w] = (p,) + back[p]
    return back
