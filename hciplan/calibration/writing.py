"""The calibration written out: the `timing` block (through hciplan.fmt), its merge into a file, the report.

The block holds the spreads and their provenance (`run_spread`, `kind_spread`,
`calibrated_runs`, `calibrated_from`, `calibrated_to`) and one `model` per
fitted duration model, sorted by name, each with `observations = N` and
comments: how many observations from which runs and dates, from which files,
how it was fitted and its intervals. Numbers are printed by the formatter
(durations in whole seconds as `45m12s`, spreads to three decimals), so the
same sources give the same bytes.

`merge_into` replaces only the text of the file's `timing` block (from
`timing` to its `}`), or appends one: every other byte of the file stays as it
was, comments included. Inside the block the calibrated attributes and models
are replaced; other attributes, models and comments stay.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hciplan.calibration import Calibration
from hciplan.calibration.fitting import MAX_OBSERVED, ModelFit
from hciplan.compiler import syntax
from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import Collector, Diagnostic, Severity
from hciplan.compiler.pipeline import check_source, decode
from hciplan.compiler.quantities import duration_literal
from hciplan.fmt import Attr, Block, Comment, Document, document_from_source, render, timestamp_text
from hciplan.words import counted

CALIBRATED_ATTRS = ("run_spread", "kind_spread", "calibrated_runs", "calibrated_from", "calibrated_to")
DOWNLOAD = "os.download"
MAX_LISTED = 3  # source files named per model; the rest are counted


class MergeError(Exception):
    """The file cannot take the calibration; `diagnostics` says why when it is the file's syntax."""

    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...] = (), source=None):
        super().__init__(message)
        self.message, self.diagnostics, self.source = message, diagnostics, source


def _seconds(minutes: float) -> int:
    return max(1, round(minutes * 60))


def duration_text(minutes: float) -> str:
    return duration_literal(_seconds(minutes))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0)


def _when(moment: dt.datetime) -> str:
    return timestamp_text(_utc(moment))


def _files(sources: tuple[str, ...]) -> str:
    listed = ", ".join(sources[:MAX_LISTED])
    more = len(sources) - MAX_LISTED
    return f"{len(sources)} file{'s' * (len(sources) != 1)}: {listed}" + (f" (+{more} more)" if more > 0 else "")


def _interval(ci: tuple[float, float] | None) -> str:
    return f"{duration_text(ci[0])} .. {duration_text(ci[1])}" if ci else "n/a"


def _spread(value: float) -> float:
    return round(value, 3)


def model_block(model: ModelFit, confidence: float) -> Block:
    median = _seconds(model.median)
    p90 = max(_seconds(model.p90), median + 1)  # the checker wants p90 above the median (HCI1002)
    runs = f"{model.runs} run{'s' * (model.runs != 1)}"
    comments = [
        f"{model.n} observation{'s' * (model.n != 1)} in {runs}, {_when(model.first)} .. {_when(model.last)}"
        f" ({', '.join(model.kinds)})",
        f"from {_files(model.sources)}",
    ]
    how = "shared factors removed" + (", shrunk toward the default" if model.shrunk else "")
    if model.form == "empirical":
        count = f"{len(model.observed)} quantiles of the" if model.n > MAX_OBSERVED else "the"
        comments.append(f"empirical: {counted(count, 'observation')}, rescaled to the model's own spread ({how})")
        items = [Attr("distribution", "empirical"), Attr("observed", model.observed)]
    else:
        comments.append(f"lognormal by maximum likelihood ({how}; spread: {model.sigma_from})")
        items = [Attr("distribution", "lognormal"), Attr("median", median), Attr("p90", p90)]
    if model.median_ci:
        comments.append(f"{confidence:.0%} intervals: median {_interval(model.median_ci)}, "
                        f"p90 {_interval(model.p90_ci)}")
    items.append(Attr("observations", model.n))
    return Block("model", [model.name], items, leading=Comment.lines("\n".join(comments)))


def _download_block() -> Block:
    return Block("model", [DOWNLOAD], [Attr("distribution", "fixed"), Attr("value", 0)],
                 leading=Comment.lines("the measured install times include the download: os.download is nothing, "
                                       "so the simulator does not add it again"))


def calibrated_items(calibration: Calibration) -> tuple[list[Attr], list[Block]]:
    fit = calibration.fit
    spreads = fit.spreads
    runs = calibration.runs
    header = [f"calibrated by `hciplan calibrate` from {runs} run{'s' * (runs != 1)} in "
              f"{len(calibration.sources)} file{'s' * (len(calibration.sources) != 1)}, "
              f"{_when(calibration.first)} .. {_when(calibration.last)}"]
    if spreads.estimated:
        header.append(f"run_spread, kind_spread: method-of-moments (ANOVA) estimate over {counted(spreads.runs, 'run')}, "
                      f"{fit.confidence:.0%} bootstrap intervals")
    else:
        header.append("run_spread, kind_spread: the defaults (assumptions); estimating them needs two runs or more "
                      "with several steps of one duration model in each")
    run = Attr("run_spread", _spread(spreads.run), leading=Comment.lines("\n".join(header)))
    kind = Attr("kind_spread", _spread(spreads.kind))
    if spreads.run_ci:
        run.trailing = [f"# {spreads.run_ci[0]:.3f} .. {spreads.run_ci[1]:.3f}"]
        kind.trailing = [f"# {spreads.kind_ci[0]:.3f} .. {spreads.kind_ci[1]:.3f}"]
    attrs = [run, kind, Attr("calibrated_runs", runs), Attr("calibrated_from", _utc(calibration.first)),
             Attr("calibrated_to", _utc(calibration.last))]
    blocks = [model_block(m, fit.confidence) for m in fit.models]
    if any(m.name == "os.install" for m in fit.models):
        blocks.append(_download_block())
    blocks.sort(key=lambda b: b.labels[0])
    return attrs, blocks


def timing_document(calibration: Calibration) -> Document:
    attrs, blocks = calibrated_items(calibration)
    header = Comment.lines("Timing learnt from past runs by `hciplan calibrate`. Merge it into a plan's file with\n"
                           "`hciplan calibrate SOURCES... --into FILE`, or paste the block there.")
    return Document([Block("timing", [], [*attrs, *blocks])], header=header)


def render_timing(calibration: Calibration) -> str:
    return render(timing_document(calibration))


# --- merging into a file ----------------------------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    """Offsets where each line starts, with CRLF, CR and LF as breaks (as pipeline.normalise_newlines reads them)."""
    starts = [0]
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\r":
            i += 2 if text[i + 1:i + 2] == "\n" else 1
            starts.append(i)
            continue
        i += 1
        if char == "\n":
            starts.append(i)
    return starts


def _newline(text: str) -> str:
    for i, char in enumerate(text):
        if char == "\n":
            return "\n"
        if char == "\r":
            return "\r\n" if text[i + 1:i + 2] == "\n" else "\r"
    return "\n"


def _merge_block(block: Block, calibration: Calibration) -> Block:
    attrs, blocks = calibrated_items(calibration)
    replaced = {b.labels[0] for b in blocks}
    kept = [item for item in block.items if not (
        (isinstance(item, Attr) and item.name in CALIBRATED_ATTRS)
        or (isinstance(item, Block) and item.type == "model" and item.labels and item.labels[0] in replaced))]
    models = [item for item in kept if isinstance(item, Block) and item.type == "model"] + blocks
    models.sort(key=lambda b: b.labels[0] if b.labels else "")
    others = [item for item in kept if not (isinstance(item, Block) and item.type == "model")]
    return Block(block.type, block.labels, others + attrs + models, leading=[], open_trailing=block.open_trailing,
                 trailing=[], dangling=block.dangling)


def merge_into(data: bytes, name: str, calibration: Calibration) -> tuple[str, list[str]]:
    """The file's text with the calibration merged into its timing block, and warnings about the result.

    MergeError for a file with syntax errors (nothing is merged into a file that cannot be read), with
    two timing blocks, or when the merged block would not check (a bug: nothing is written).
    """
    diagnostics = Collector()
    source = decode(name, data, diagnostics)
    document = document_from_source(source, diagnostics) if source is not None else None
    tree = syntax.parse(source, Collector()) if document is not None else None
    if document is None or tree is None:
        raise MergeError(f"{name} has syntax errors: fix them first (`hciplan check {name}`); nothing was written",
                         tuple(diagnostics.sorted()), source)
    text = data.decode("utf-8-sig")
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    positions = [i for i, item in enumerate(tree.body) if isinstance(item, syntax.Block) and item.type == "timing"]
    if len(positions) > 1:
        raise MergeError(f"{name} has {len(positions)} timing blocks: keep one (`hciplan check {name}`), then "
                         "calibrate into it")
    newline = _newline(text)
    if positions:
        index = positions[0]
        block = _merge_block(document.items[index], calibration)
        rendered = render(Document([block])).rstrip("\n").replace("\n", newline)
        span = tree.body[index].span
        starts = _line_starts(text)  # positions in the file as it is (CRLF kept), lines as the parser counts them
        begin = starts[span.line - 1] + span.column - 1
        end = starts[span.end_line - 1] + span.end_column - 1
        merged = text[:begin] + rendered + text[end:]
    else:
        attrs, blocks = calibrated_items(calibration)
        rendered = render(Document([Block("timing", [], [*attrs, *blocks])])).rstrip("\n").replace("\n", newline)
        before = [item for item in tree.body if isinstance(item, syntax.Block) and item.type in ("cluster", "upgrade")]
        if before:  # where the formatter puts it: after the upgrade block (and its trailing comment), before scenarios
            starts = _line_starts(text)
            last = before[-1].span.end_line
            end = starts[last] if last < len(starts) else len(text)
            while end > 0 and text[end - 1] in "\r\n" and end > starts[last - 1]:
                end -= 1
            merged = text[:end] + newline + newline + rendered + (text[end:] or newline)
        else:
            ending = "" if not text or text.endswith(("\n", "\r")) else newline
            merged = text + ending + (newline if text else "") + rendered + newline
    return bom + merged, _check_merge(name, source, merged, calibration)


def _errors(result) -> Counter:
    return Counter((d.code, d.message) for d in result.diagnostics if d.severity is Severity.ERROR)


def _check_merge(name: str, before_source, merged: str, calibration: Calibration) -> list[str]:
    """Refuse a merge that adds errors; return the new warnings and calibrated models that a kind's model shadows."""
    from hciplan.compiler.pipeline import check_text

    before = compile_checked(check_source(before_source))
    after = compile_checked(check_text(merged, name))
    added = _errors(after) - _errors(before)
    if added:
        listed = "; ".join(f"{code}: {message}" for code, message in sorted(added))
        raise MergeError(f"the merged timing block does not check ({listed}): this is a bug in hciplan "
                         "calibrate; nothing was written")
    warnings = []
    old = Counter((d.code, d.message) for d in before.diagnostics if d.severity is Severity.WARNING)
    for d in after.diagnostics:
        if d.severity is Severity.WARNING and old[(d.code, d.message)] == 0:
            warnings.append(f"{name}:{d.span.line}: warning[{d.code}]: {d.message}")
    timing = after.check.model.timing if after.check.model is not None else None
    if timing is not None:
        for model in calibration.fit.models:
            for kind, spec in sorted(CATALOG.items()):
                if spec.duration_model == model.name and kind != model.name and timing.model(kind) is not None:
                    warnings.append(f"{name}: model \"{kind}\" wins over the calibrated \"{model.name}\" for "
                                    f"{kind} steps: remove it to use the calibration")
    return warnings


# --- the report -------------------------------------------------------------------------------------


def _table(rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def report_text(calibration: Calibration) -> str:
    """What was learnt (models, spreads) and what each source gave and left out, with the reasons."""
    fit = calibration.fit
    spreads = fit.spreads
    lines = [f"Calibrated {len(fit.models)} duration model{'s' * (len(fit.models) != 1)} from {calibration.runs} "
             f"run{'s' * (calibration.runs != 1)} ({len(calibration.observations)} observations), "
             f"{_when(calibration.first)} .. {_when(calibration.last)}"]
    if spreads.estimated:
        lines.append(f"  run_spread {spreads.run:.3f} ({spreads.run_ci[0]:.3f} .. {spreads.run_ci[1]:.3f}), "
                     f"kind_spread {spreads.kind:.3f} ({spreads.kind_ci[0]:.3f} .. {spreads.kind_ci[1]:.3f}), "
                     f"{fit.confidence:.0%} intervals over {counted(spreads.runs, 'run')}")
    else:
        lines.append(f"  run_spread {spreads.run:.3f}, kind_spread {spreads.kind:.3f}: the defaults (assumptions); "
                     "estimating them needs two runs or more with several steps of one duration model in each")
    rows = [["model", "obs", "runs", "median", "p90", "form", "kinds"]]
    for m in fit.models:
        rows.append([m.name, str(m.n), str(m.runs), duration_text(m.median), duration_text(m.p90), m.form,
                     ", ".join(m.kinds)])
    lines += [""] + _table(rows, right={1, 2, 3, 4})
    for model, why in fit.skipped:
        lines.append(f"  not written: {model}: {why}")
    lines += ["", "Per source: records used, and what was left out and why"]
    return "\n".join(lines) + "\n" + ledger_text(calibration.ledger, calibration.kinds)


def ledger_text(ledger, kinds: dict[str, str]) -> str:
    """The per-source table alone (when nothing could be calibrated)."""
    rows = [["source", "type", "used", "left out", "reason"]]
    for source in ledger.sources():
        left = sorted(ledger.left.get(source, Counter()).items(), key=lambda item: (-item[1], item[0]))
        for position, (reason, count) in enumerate(left or [("", 0)]):
            rows.append([source if position == 0 else "", kinds.get(source, "") if position == 0 else "",
                         str(ledger.used[source]) if position == 0 else "", str(count) if reason else "", reason])
    return "\n".join(_table(rows, right={2, 3})) + "\n"


__all__ = ["MergeError", "ledger_text", "merge_into", "render_timing", "report_text", "timing_document"]
