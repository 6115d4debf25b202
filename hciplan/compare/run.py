"""`hciplan compare` and `simulate --vary` as a library call: variants in, the `hciplan.compare/1` document out.

The first file is the base. Every other file is a variant, and so is every `--vary`
(one or more overrides of the base, comma-separated: `upgrade.method=manual,window=10h`).
Every variant is prepared with the same failures (`--scenario`, `--fail`) and window
options, with keyed draws, and simulated with the same seed: common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hciplan.compare import paired, variants
from hciplan.compare.paired import Variant
from hciplan.compare.sensitivity import sensitivity
from hciplan.compiler.compile import CompileResult, compile_checked
from hciplan.compiler.pipeline import load_source
from hciplan.simulator.prepared import keyed_draws
from hciplan.simulator.stats import CONFIDENCE


class CompareError(Exception):
    """A variant that cannot be simulated: its message, and the diagnostics of a file or variant with errors.

    `usage`: the command line is wrong (a bad --fail, an unknown scenario, nothing to compare), an exit
    code 2 as for `simulate`; otherwise a file has errors, exit code 1.
    """

    def __init__(self, message: str, result: CompileResult | None = None, usage: bool = False):
        super().__init__(message)
        self.message = message
        self.result = result
        self.usage = usage


@dataclass(frozen=True)
class Options:
    """What every variant is simulated with (as `hciplan simulate`'s options)."""

    runs: int = 1000
    seed: int = 0
    jobs: int | None = None
    scheduler: str | None = None
    scenario: str | None = None
    fails: tuple[str, ...] = ()
    window: float | None = None
    ignore_windows: bool = False
    confidence: float | None = None
    sensitivity_runs: int | None = None  # None: no sensitivity


def split_overrides(text: str) -> list[str]:
    """`a=1,b=[x, y]` -> ["a=1", "b=[x, y]"]: commas inside brackets or quotes do not split."""
    parts, depth, quoted, current = [], 0, False, []
    for c in text:
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "[":
            depth += 1
        elif not quoted and c == "]":
            depth -= 1
        if c == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _compiled(path: str) -> CompileResult:
    try:
        check = load_source(Path(path))
    except OSError as error:
        raise CompareError(f"cannot read {path}: {error.strerror or error}") from None
    result = compile_checked(check, need_plan=True)
    if not result.ok:
        raise CompareError(f"{path} has errors: no plan to simulate", result)
    return result


def _prepare(name: str, file: str, plan, options: Options, window: float | None, ignore: bool,
             overrides: tuple[str, ...] = ()) -> Variant:
    from hciplan import simulator  # noqa: PLC0415

    try:
        sp = simulator.prepare_simulation(plan, options.scenario, options.fails, window, ignore, options.confidence)
    except KeyError as error:
        raise CompareError(f"{name}: {error.args[0]}", usage=True) from None
    except simulator.FailureSpecError as error:
        raise CompareError(f"{name}: " + "; ".join((error.message,) + error.hints), usage=True) from None
    except simulator.ScenarioError as error:
        raise CompareError(f"{name}: the scenario `{options.scenario}` names no step of this plan: "
                           + "; ".join(d.message for d in error.diagnostics)) from None
    return Variant(name, file, plan, keyed_draws(sp, plan), overrides)


def build_variants(files: tuple[str, ...], varies: tuple[str, ...], options: Options) -> list[Variant]:
    """The base (the first file), the other files, then one variant per --vary, all prepared with keyed draws."""
    results = [_compiled(path) for path in files]
    names: set[str] = set()

    def unique(name: str) -> str:
        candidate, k = name, 1
        while candidate in names:
            k += 1
            candidate = f"{name} #{k}"
        names.add(candidate)
        return candidate

    out = [_prepare(unique(path), path, r.plan, options, options.window, options.ignore_windows)
           for path, r in zip(files, results)]
    for text in varies:
        overrides = [variants.parse_override(part) for part in split_overrides(text)]
        if not overrides:
            raise variants.VaryError(f"`--vary {text}`: write ATTR=VALUE, e.g. `--vary upgrade.method=manual`")
        result = variants.vary(results[0].check, overrides)
        window, ignore = options.window, options.ignore_windows
        for o in overrides:
            if o.block is None:  # window=...
                window, ignore = o.value, o.value is None
        shown = ",".join(o.text for o in overrides)
        out.append(_prepare(unique(shown), files[0], result.plan, options, window, ignore,
                            tuple(o.text for o in overrides)))
    return out


def compare(files: tuple[str, ...], varies: tuple[str, ...], options: Options, progress=None) -> dict:
    """Simulate every variant with common random numbers; the `hciplan.compare/1` document."""
    chosen = build_variants(files, varies, options)
    if len(chosen) < 2 and options.sensitivity_runs is None:
        raise CompareError("nothing to compare: give two or more FILES, or --vary ATTR=VALUE, or --sensitivity",
                           usage=True)
    samples = [paired.run_variant(v, options.runs, options.seed, options.jobs, options.scheduler, progress)
               for v in chosen]
    document = {
        "schema": paired.SCHEMA,
        "runs": options.runs,
        "seed": options.seed,
        "draws": "keyed",
        "confidence": CONFIDENCE,
        "bootstrap": paired.BOOTSTRAP,
        "scenario": options.scenario,
        "variants": [paired.variant_record(s) for s in samples],
        "differences": paired.differences(samples[0], samples[1:], options.seed),
        "sensitivity": None,
    }
    if options.sensitivity_runs is not None:
        centre, swings = sensitivity(chosen[0], options.sensitivity_runs, options.seed, options.jobs, progress)
        base_stats = centre.summary.duration_stats()
        document["sensitivity"] = {
            "variant": chosen[0].name,
            "runs": options.sensitivity_runs,
            "low": 0.1,
            "high": 0.9,
            "p90": base_stats["p90"] if base_stats else None,
            "p_within_window": centre.summary.p_within_window,
            "models": [s.record() for s in swings],
        }
    return document
