"""The vectorised sampler: a batch of runs without failures evaluated at once on NumPy arrays.

Fleets simulate a million runs (issue 12 item 3), too many for one simpy model per run.
A run with no injected failure, no risk and no journal has no interrupt, retry or watchdog:
each step starts when its last predecessor ends (a unit's head under windows, where the window
rule lets it) and holds for its drawn duration (fast.py's semantics, the simpy engine's hot
path). Then a whole batch is a longest-path computation over the plan's topological order on
arrays of shape (runs,): draw every step's durations for the batch at once, apply the run's
shared factors, and for each step in order take start = max of its predecessors' ends, the
window rule's wait (masks: the runs that wait for a later window, the runs that stop there),
the repair wait's duration from the node's down time, and end = start + duration. A step
whose predecessor never ended (its unit stopped at the window rule) never starts.

Draws are counter-based hashes (engine.py's keyed streams: splitmix64 of the run's key and
the step's key), so a run's numbers depend on its index only, never on the batch it is in:
- a plan prepared with keyed draws (`keyed_draws`) draws exactly the engine's keyed numbers,
  and every end time and exposure equals the engine's (and fast.py's) bit for bit: the same
  IEEE 754 operations in the same order, the transcendental functions (exp, log) taken from
  Python's math module element by element, as the engine calls them (NumPy's own exp and log
  round differently in a few percent of cases on AVX-512 machines);
- a plan with sequential draws (what `simulate` uses) cannot be reproduced without a Mersenne
  Twister per run, which is the cost this path removes: its runs draw the engine's keyed
  streams with each step keyed by its id (`twin(sp)`: the plan the engine runs with those
  draws), with the same distributions as the engine's sequential runs. tests/test_vector.py
  checks the two samples agree (two-sample KS, P50 and P90).

The simpy engine stays the reference and the path for everything else: `vector_plan` declines
(`run_vector` returns None) a plan with failures, risks or a journal (a `Given` with only its
`now`, the run's origin, is served: fleets start a cluster at its window), and a run in which
some step's duration passes its bound (the engine's failure path) or two units stop at the
window rule at the same time is flagged in `VectorRuns.ok` for the caller to run on the engine, as
fast.py returns None for it: `run_once(twin(sp), seed, index)`, the same run with the same draws
(not `run_once(sp, ...)`, another run for a sequential plan).
Batches are a first run and a count, or any array of run indices (`run_indices`). Not wired into
`simulate`: hciplan/fleet/runs.py calls it for `fleet simulate` (docs/simulation.md, "The vectorised sampler").
It needs NumPy, which hciplan does not require (it comes with matplotlib, the plot and test extras).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hciplan.compiler.durations import SPREAD, Empirical, Fixed, LogNormal, Scaled, Triangular, Uniform
from hciplan.simulator.engine import _GAMMA, _LANE, _MASK, _NIGHT, KEYED, key_of, run_seed, runtime
from hciplan.simulator.engine import _triangular_constants as engine_triangular_constants
from hciplan.simulator.fast import _ancestors, _topological  # the same plan order as the exact path
from hciplan.simulator.prepared import NO_STEP, SimPlan, keyed

_U64 = np.uint64
_M1, _M2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = _U64(30), _U64(27), _U64(31), _U64(11)  # numpy scalars: no promotion to float64
_EXTRA_STEP = _U64((_LANE * _GAMMA) & _MASK)  # the EXTRA lane's first count: seed + (1 * _LANE + 0) * _GAMMA
_SCALE = 1.0 / (1 << 53)


@dataclass(frozen=True)
class VectorRuns:
    """The runs of a batch (`first` .. `first + count - 1`, or any index array: `runs`), one entry per run
    (arrays of shape (count,)).

    `end` and `exposure` are RunResult's fields. `stop_step` is the step at which a run stopped at the
    window rule (RunResult.step of a `stopped_at_window` run), NO_STEP for a completed one. A run whose
    `ok` is False only the engine follows (`run_once(twin(sp), seed, index)`): a step passed its bound
    (a failure), or two units stopped at the window rule at the same time (which one the run names is
    simpy's event order); its figures here mean nothing. `starts` and `ends` (shape (steps, count), plan order; -1 where a step
    never started) are kept only when asked for.
    """

    first: int
    end: np.ndarray
    exposure: np.ndarray
    ok: np.ndarray
    stop_step: np.ndarray
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    runs: np.ndarray | None = None  # the run indices, int64, one per entry (`first` is runs[0])


@dataclass(frozen=True)
class _Draws:
    """How a batch draws each step's base duration (`draw_batch`), built once per plan.

    The steps whose main part is a triangular (or a physics figure times the triangular spread) and that
    are not pinned are drawn together, their constants in columns; the others, and every extra part,
    row by row through `_quantile`.
    """

    step_keys: np.ndarray  # (steps, 1) uint64: each step's draw key
    together: np.ndarray  # the rows drawn together (intp)
    constants: tuple[np.ndarray, ...]  # their (low, high, width, left, right, cut, minutes), each (rows, 1)
    alone: tuple[tuple[int, Callable, float | None], ...]  # (step, main quantile, pinned q or None)
    extras: tuple[tuple[int, Callable, float | None], ...]  # (step, extra quantile, pinned q or None)
    factor_keys: np.ndarray | None  # (1 + groups, 1) uint64, None without shared factors
    factor_mu: np.ndarray | None  # the groups' (log-mean, log-sd), each (groups, 1)
    factor_sigma: np.ndarray | None
    factor_group: np.ndarray | None  # per step, its group (intp)


@dataclass(frozen=True)
class _VectorPlan:
    """Per-plan facts of the vectorised path, computed once per plan key."""

    eligible: bool
    why: str  # why not eligible ("" when it is)
    order: tuple[int, ...] = ()
    # per step in `order`: (index, predecessors, repair: None or (reboot, setup, share, overhead, ratio), bound,
    # and for a unit's head under windows the minutes the window must still hold (its fit time), else None)
    steps: tuple[tuple, ...] = ()
    exposed: tuple[tuple[int, int, float, int], ...] = ()  # (reboot, setup, share, tail) per unit that goes down
    draws: _Draws | None = None


_PLANS: dict[str, _VectorPlan] = {}


def vector_plan(sp: SimPlan) -> _VectorPlan:
    """Whether the vectorised path can evaluate `sp`'s runs, and its per-plan structures."""
    vp = _PLANS.get(sp.key)
    if vp is not None:
        return vp
    why = ""
    order = _topological(sp.preds)
    if sp.injections or sp.risks:
        why = "the plan has failures or risks (the engine's interrupts)"
    elif sp.given is not None and (sp.given.done or sp.given.running):
        # a Given with only `now` (a fleet's cluster starting at its window: hciplan/fleet/runs.py) is just the origin
        why = "the run starts from a journal (running steps draw their remaining life)"
    elif order is None:
        why = "the steps form a cycle"
    rt = runtime(sp)
    for i, rep in enumerate(rt.repair):
        if why or rep is None:
            continue
        reboot, lead, _, _, _ = rep
        # the engine reads the reboot's (and its setup's) times when the repair starts: the same values here only
        # if both have ended by then, i.e. they are its ancestors
        up = _ancestors(sp.preds, i)
        if reboot is None or (reboot != NO_STEP and reboot not in up) or (lead != NO_STEP and lead not in up):
            why = f"the repair wait {sp.ids[i]} may start before its node's reboot ends"
    draws = _draws(sp)  # the draws need no eligibility: draw_batch serves any plan
    if why:
        vp = _VectorPlan(False, why, draws=draws)
    else:
        heads = {u.steps[0] for u in sp.units}
        steps = tuple((i, sp.preds[i], rt.repair[i], sp.bound[i],
                       sp.units[sp.unit_of[i]].need if sp.windows and i in heads else None) for i in order)
        exposed = tuple((reboot, lead, share, tail) for _, reboot, lead, share, tail in rt.exposed)
        vp = _VectorPlan(True, "", order, steps, exposed, draws)
    if len(_PLANS) > 8:
        _PLANS.clear()
    _PLANS[sp.key] = vp
    return vp


# --- draws ------------------------------------------------------------------------------------------------------

def _mix(x: np.ndarray) -> np.ndarray:
    """engine._mix on uint64 arrays (numpy's uint64 arithmetic wraps modulo 2**64, as `& _MASK` does).

    In place on a fresh array (`x` is left alone): two allocations instead of nine.
    """
    x = x + _GAMMA_U
    t = x >> _S30
    x ^= t
    x *= _M1
    np.right_shift(x, _S27, out=t)
    x ^= t
    x *= _M2
    np.right_shift(x, _S31, out=t)
    x ^= t
    return x


_GAMMA_U = _U64(_GAMMA)


def _unit(x: np.ndarray) -> np.ndarray:
    """engine._unit: the top 53 bits as a float strictly inside (0, 1) (x >> 11 < 2**53: its float is exact)."""
    u = (x >> _S11).astype(np.float64)
    u += 0.5
    u *= _SCALE
    return u


def run_indices(first, count: int | None = None) -> np.ndarray:
    """The run indices a batch names: `first` .. `first + count - 1`, or, with `count` None, `first` itself as an
    array of indices (any order, repeats allowed: fleets group a cluster's runs by their wave delay)."""
    if count is None:
        runs = np.asarray(first)
        if runs.ndim != 1 or (runs.size and runs.dtype.kind not in "iu"):
            raise ValueError("run indices must be a one-dimensional integer array")
        runs = runs.astype(np.int64, copy=False)
        if runs.size and runs.min() < 0:
            raise ValueError(f"run index {int(runs.min())}: run indices must be >= 0")
        return runs
    if first < 0 or count < 0:
        raise ValueError(f"runs {first} .. {first + count - 1}: the first run and the count must be >= 0")
    return np.arange(first, first + count, dtype=np.int64)


def run_keys(seed: int, first, count: int | None = None) -> np.ndarray:
    """Each run's 64-bit key: the engine's keyed run key, `run_seed(seed, index, "/keyed")`, for runs
    `first` .. `first + count - 1`, or for the index array `first` when `count` is None (`run_indices`)."""
    runs = run_indices(first, count)
    if runs.size < 8:
        return np.fromiter((run_seed(seed, index, "/keyed") for index in runs.tolist()), dtype=np.uint64,
                           count=runs.size)
    # run_seed's SHA-256 of the same bytes, its common prefix hashed once: a hash per run is most of a small
    # plan's cost (a million runs in a fleet); the first 8 bytes of each digest, big-endian, are its key
    prefix = hashlib.sha256(f"hciplan.sim/1/keyed:{seed}:".encode("ascii"))
    heads = []
    for index in runs.tolist():
        h = prefix.copy()
        h.update(b"%d" % index)
        heads.append(h.digest()[:8])
    return np.frombuffer(b"".join(heads), dtype=">u8").astype(np.uint64)


_TWINS: dict[str, SimPlan] = {}


def twin(sp: SimPlan) -> SimPlan:
    """The plan whose engine runs have the vector runs' draws: `sp` itself when it draws keyed; else `sp` drawing
    keyed streams keyed by step id (the vector path's draws for a sequential plan).

    `run_once(twin(sp), seed, index)` is run `index` of the vector path followed on the engine: the same
    result where the vector path gives one, and the exact continuation (failure path and all) of a run it
    flags. Rerunning a flagged run on `sp`'s own sequential draws would not do: that is another run, and
    replacing the flagged runs by fresh ones would bias the sample towards runs that stay within their bounds.
    """
    if sp.draws == KEYED:
        return sp
    found = _TWINS.get(sp.key)
    if found is None:
        found = keyed(dataclasses.replace(sp, draws=KEYED, draw_keys=tuple("/vector/" + i for i in sp.ids),
                                          pinned=(), key=""))
        if len(_TWINS) > 8:
            _TWINS.clear()
        _TWINS[sp.key] = found
    return found


def _exact(function, x: np.ndarray) -> np.ndarray:
    """`function` (a math-module one) element by element: its floats, not numpy's differently rounded ones."""
    return np.fromiter(map(function, x.ravel().tolist()), dtype=np.float64, count=x.size).reshape(x.shape)


# statistics._normal_dist_inv_cdf's coefficients (Wichura's AS241), highest degree first
_CENTRAL_NUM = (2.5090809287301226727e+3, 3.3430575583588128105e+4, 6.7265770927008700853e+4,
                4.5921953931549871457e+4, 1.3731693765509461125e+4, 1.9715909503065514427e+3,
                1.3314166789178437745e+2, 3.3871328727963666080e+0)
_CENTRAL_DEN = (5.2264952788528545610e+3, 2.8729085735721942674e+4, 3.9307895800092710610e+4,
                2.1213794301586595867e+4, 5.3941960214247511077e+3, 6.8718700749205790830e+2,
                4.2313330701600911252e+1, 1.0)
_NEAR_NUM = (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
             1.27045825245236838258e+0, 3.64784832476320460504e+0, 5.76949722146069140550e+0,
             4.63033784615654529590e+0, 1.42343711074968357734e+0)
_NEAR_DEN = (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
             1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e+0,
             2.05319162663775882187e+0, 1.0)
_FAR_NUM = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
            2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e+0,
            5.46378491116411436990e+0, 6.65790464350110377720e+0)
_FAR_DEN = (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
            7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
            5.99832206555887937690e-1, 1.0)


def _horner(coefficients, r: np.ndarray) -> np.ndarray:
    """((c0 * r + c1) * r + c2) ... as AS241 writes it: the same operations in the same order."""
    out = coefficients[0] * r + coefficients[1]
    for c in coefficients[2:]:
        out = out * r + c
    return out


def ndtri(p: np.ndarray) -> np.ndarray:
    """NormalDist().inv_cdf on an array of p in (0, 1): CPython's AS241 (statistics._normal_dist_inv_cdf),
    operation by operation, the tails' log and sqrt from the math module, so the same floats."""
    q = p - 0.5
    r = 0.180625 - q * q
    # the central formula on every element (cheaper than gathering the 85% central ones and scattering them
    # back); the tails' values, meaningless there, are overwritten below
    with np.errstate(all="ignore"):
        out = (_horner(_CENTRAL_NUM, r) * q) / _horner(_CENTRAL_DEN, r)
    tail = np.abs(q) > 0.425
    if tail.any():
        qt, pt = q[tail], p[tail]
        r = np.where(qt <= 0.0, pt, 1.0 - pt)
        r = np.sqrt(-_exact(math.log, r))  # sqrt is correctly rounded in both
        x = np.empty_like(r)
        near = r <= 5.0
        rn = r[near] - 1.6
        x[near] = _horner(_NEAR_NUM, rn) / _horner(_NEAR_DEN, rn)
        rf = r[~near] - 5.0
        x[~near] = _horner(_FAR_NUM, rf) / _horner(_FAR_DEN, rf)
        out[tail] = np.where(qt < 0.0, -x, x)
    return out


def _quantile(dist):
    """engine._quantile_of on arrays: a function u -> durations with the same floats, element by element."""
    if isinstance(dist, Triangular):
        low, mode, high = dist.low, dist.mode, dist.high
        if high == low:
            return lambda u: np.full(u.shape, float(low))
        width, left, right = high - low, mode - low, high - mode
        cut = left / width

        return lambda u: np.where(u < cut, low + np.sqrt(u * width * left), high - np.sqrt((1 - u) * width * right))
    if isinstance(dist, Uniform):
        low, width = dist.low, dist.high - dist.low
        return lambda u: low + u * width
    if isinstance(dist, LogNormal):
        mu, sigma = dist.mu, dist.sigma
        return lambda u: _exact(math.exp, mu + sigma * ndtri(u))
    if isinstance(dist, Empirical):
        observed, count = np.array(dist.observed, dtype=np.float64), len(dist.observed)
        return lambda u: observed[(u * count).astype(np.int64)]  # int(u * count): u * count > 0 truncates alike
    if isinstance(dist, Fixed):
        value = float(dist.value)
        return lambda u: np.full(u.shape, value)
    if isinstance(dist, Scaled):
        spread, minutes = _quantile(dist.spread), dist.minutes
        return lambda u: minutes * spread(u)
    return lambda u: np.fromiter(map(dist.quantile, u.tolist()), dtype=np.float64, count=u.size)


def _triangular_constants(dist) -> tuple[float, ...] | None:
    """engine._triangular_constants, with minutes 1.0 for a plain triangular (1.0 x v == v: drawn together with
    the scaled ones, it keeps its floats)."""
    constants = engine_triangular_constants(dist)
    if constants is None or constants[-1] is not None:
        return constants
    return constants[:-1] + (1.0,)


def _draws(sp: SimPlan) -> _Draws:
    """`sp`'s draw program: its twin's step keys (its own when keyed), the rows drawn together, the others."""
    keyed_sp = twin(sp)
    keys, pinned = keyed_sp.draw_keys, dict(keyed_sp.pinned)
    together, constants, alone, extras = [], [], [], []
    for i, d in enumerate(sp.durations):
        main = SPREAD if d.repair else d.main  # a repair's main part is the spread's (engine._keyed_draw)
        c = _triangular_constants(main)
        if c is not None and i not in pinned:
            together.append(i)
            constants.append(c)
        else:
            alone.append((i, _quantile(main), pinned.get(i)))
        if not d.repair and d.extra is not None:
            extras.append((i, _quantile(d.extra), pinned.get(i)))
    columns = tuple(np.array([c[k] for c in constants], dtype=np.float64)[:, None] for k in range(7))
    rt = runtime(sp)
    factor_keys = mu = sigma = group = None
    if rt.shared:  # the night's speed and one factor per duration model, keyed by their names (engine.py)
        factor_keys = np.array((_NIGHT,) + tuple(key_of("/factor/" + name) for name in sp.group_names),
                               dtype=np.uint64)[:, None]
        mu = np.array([m for m, _ in rt.factor_params[1:]], dtype=np.float64)[:, None]
        sigma = np.array([s for _, s in rt.factor_params[1:]], dtype=np.float64)[:, None]
        group = np.asarray(sp.factor_group, dtype=np.intp)
    return _Draws(np.array([key_of(k) for k in keys], dtype=np.uint64)[:, None], np.array(together, dtype=np.intp),
                  columns, tuple(alone), tuple(extras), factor_keys, mu, sigma, group)


CHUNK = 128  # runs drawn at a time: a chunk's (steps, runs) temporaries stay in the core's cache (a speed choice)
CHUNK_CELLS = 1 << 16  # ... or more for a small plan, up to this many (step, run) cells: fewer NumPy calls per run


def draw_batch(sp: SimPlan, seed: int, first, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The base durations of runs `first` .. `first + count - 1` (or of the index array `first` when `count` is
    None), times the shared factors, shape (steps, runs), and the run keys. In a keyed plan, the engine's
    `run_draws(...)[0]` of every run, bit for bit.

    Every value depends on its run's key alone, so drawing in chunks of runs changes no bit.
    """
    keys = run_keys(seed, first, count)
    count = keys.size
    base = np.empty((sp.size, count))
    dr = vector_plan(sp).draws
    chunk = max(CHUNK, CHUNK_CELLS // max(1, sp.size))
    for a in range(0, count, chunk):
        base[:, a:a + chunk] = _draw_chunk(sp, dr, keys[a:a + chunk])
    return base, keys


def _draw_chunk(sp: SimPlan, dr: _Draws, keys: np.ndarray) -> np.ndarray:
    count = keys.size
    seeds = _mix(keys[None, :] ^ dr.step_keys)  # (steps, runs): each step's lane seed, _mix(run_key ^ key)
    u = _unit(_mix(seeds))  # the MAIN lane's first draw
    base = np.empty_like(u)
    if dr.together.size:  # _quantile_of's triangular, in its order: u * width * left is (u * width) * left
        low, high, width, left, right, cut, minutes = dr.constants
        every = dr.together.size == sp.size  # every step, in order (a small plan's usual case): no gather
        t = u if every else u[dr.together]
        a = t * width
        a *= left
        np.sqrt(a, out=a)
        a += low
        b = 1 - t
        b *= width
        b *= right
        np.sqrt(b, out=b)
        np.subtract(high, b, out=b)
        np.copyto(b, a, where=t < cut)  # np.where(t < cut, a, b), in place
        if every:
            np.multiply(minutes, b, out=base)
        else:
            base[dr.together] = minutes * b
    for i, main, q in dr.alone:
        base[i] = main(u[i] if q is None else np.full(count, q))
    for i, extra, q in dr.extras:
        base[i] += extra(_unit(_mix(seeds[i] + _EXTRA_STEP)) if q is None else np.full(count, q))
    if dr.factor_keys is not None:
        z = ndtri(_unit(_mix(keys[None, :] ^ dr.factor_keys)))  # (1 + groups, runs)
        mu, sigma = runtime(sp).factor_params[0]
        night = _exact(math.exp, mu + sigma * z[0])
        groups = night * _exact(math.exp, dr.factor_mu + dr.factor_sigma * z[1:])
        base *= groups[dr.factor_group]  # b * f, step by step
    return base


# --- the runs ---------------------------------------------------------------------------------------------------

def _since(start: np.ndarray, end: np.ndarray, reboot: int, lead: int, share: float) -> np.ndarray:
    """engine.down_start on arrays: when the node went down, from its reboot's start and its setup's offline part."""
    began = start[reboot]
    if lead == NO_STEP:
        return began
    return np.where(end[lead] < 0, began, began - share * (end[lead] - start[lead]))


def _gate(now: np.ndarray, alive: np.ndarray, need: float, wstarts: np.ndarray,
          wends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The engine's window rule for a unit's head, on arrays: wait for the next window that still holds `need`
    minutes, or stop. Returns the start times (the same `now + (start - now)` additions as simpy's waits) and
    whether each run stops there (only among `alive`)."""
    count = len(wends)
    now = now.copy()
    stops = np.zeros(now.shape, dtype=bool)
    pending = alive.copy()
    while pending.any():  # each round every pending run passes, stops or moves on to a later time
        k = np.searchsorted(wends, now, side="right")  # the first window that has not ended (bisect_right)
        ended = pending & (k == count)  # the last window has ended
        stops |= ended
        pending &= ~ended
        k = np.minimum(k, count - 1)
        wait = pending & (now < wstarts[k])  # before the window: wait for its start, then look again
        now[wait] += wstarts[k][wait] - now[wait]
        rest = pending & ~wait
        fits = rest & (now + need <= wends[k])
        pending &= ~fits
        rest &= ~fits
        last = rest & (k + 1 == count)  # does not fit in the last window
        stops |= last
        pending &= ~last
        move = rest & ~last  # does not fit in this one: the next window's start
        now[move] += wstarts[np.minimum(k + 1, count - 1)][move] - now[move]
    return now, stops


def run_vector(sp: SimPlan, seed: int, first, count: int | None = None, steps: bool = False) -> VectorRuns | None:
    """Runs `first` .. `first + count - 1` of `sp` with master seed `seed` (or the runs of the index array
    `first` when `count` is None, in its order), all at once; None if the plan is one only the engine runs
    (`vector_plan(sp).why` says why). `steps`: keep every step's start and end."""
    runs = run_indices(first, count)
    vp = vector_plan(sp)
    if not vp.eligible:
        return None
    count = runs.size
    first = int(runs[0]) if count else (first if isinstance(first, int) else 0)
    base, _ = draw_batch(sp, seed, runs, None)
    n = sp.size
    start = np.empty((n, count))
    end = np.empty((n, count))
    ok = np.ones(count, dtype=bool)
    rt = runtime(sp)
    origin = rt.now
    windowed = bool(sp.windows)
    if windowed:  # a run stops where a unit's head cannot start: the earliest such step (fast.py's stop_step)
        wstarts, wends = np.array(rt.window_starts), np.array(rt.window_ends)
        stop_step = np.full(count, NO_STEP)
        stop_time = np.full(count, np.inf)
        tied = np.zeros(count, dtype=bool)
    for i, before, rep, bound, need in vp.steps:
        alive = None  # None: every run starts this step; else the runs in which every predecessor ended
        if not before:
            now = np.full(count, origin)
        elif len(before) == 1:
            now = end[before[0]]  # when the engine resumes it: its predecessor's end
            if windowed:
                alive = now >= 0
        else:
            now = functools.reduce(np.maximum, (end[p] for p in before))  # its last predecessor's end
            if windowed:
                alive = functools.reduce(np.logical_and, (end[p] >= 0 for p in before))
        if need is not None:
            alive = np.ones(count, dtype=bool) if alive is None else alive
            now, stops = _gate(now, alive, need, wstarts, wends)
            earlier = stops & (now < stop_time)
            tied |= stops & (now == stop_time)  # two units stop at once: which one the run names is simpy's order
            tied &= ~earlier
            stop_step[earlier], stop_time[earlier] = i, now[earlier]
            alive &= ~stops
        if rep is None:
            d = base[i]
        else:  # (overhead + ratio x down time) x drawn, down from engine.down_start
            reboot, lead, share, overhead, ratio = rep
            if need is not None:  # a head under windows: the engine's slow-path duration
                d = overhead * base[i]
                if reboot != NO_STEP:
                    down = end[reboot] - _since(start, end, reboot, lead, share)
                    d = np.where(end[reboot] < 0, d, (overhead + ratio * down) * base[i])
            elif reboot == NO_STEP:  # the engine's hot path
                d = 0.0 * base[i]
            else:
                d = (overhead + ratio * (end[reboot] - _since(start, end, reboot, lead, share))) * base[i]
        if alive is None:
            ok &= d <= bound  # past its bound: a failure, the engine's to model
            start[i] = now
            np.add(now, d, out=end[i])
        else:
            ok &= ~alive | (d <= bound)
            start[i] = np.where(alive, now, -1.0)  # -1: never started, as the engine's arrays
            end[i] = np.where(alive, now + d, -1.0)
    last = end.max(axis=0)
    exposure = np.zeros(count)
    if windowed:
        ok &= ~tied
        last = np.where(last < 0, origin, last)  # no step ended: the run's own start (_result)
        for reboot, lead, share, tail in vp.exposed:  # _result's sum, unit by unit in the same order
            since = _since(start, end, reboot, lead, share)
            down = (start[reboot] >= 0) & (since >= 0)  # a node that never finished its pass: exposed to the end
            exposure += np.where(down, np.where(end[tail] >= 0, end[tail], last) - since, 0.0)
    else:
        stop_step = np.full(count, NO_STEP)
        for reboot, lead, share, tail in vp.exposed:
            exposure += end[tail] - _since(start, end, reboot, lead, share)
    return VectorRuns(first, last, exposure, ok, stop_step, start if steps else None, end if steps else None, runs)


