"""Benchmark: rendering many diagnostics of one large file (issue 18: linear, not quadratic).

    python bench/bench_render.py [--diagnostics 60000] [--lines 60000]

Builds a source of about 1.2 MB (60,000 lines of 20 characters) and one
diagnostic on each of `--diagnostics` lines, then times `render_text` as it is
now (the line starts of each source indexed once per rendering) and as it was
(every excerpt splitting and counting the whole text again for its line, as
`Source.line_text` and `_excerpt` did). The "before" column is measured on
the first 2,000 diagnostics and scaled, since its time grows with
diagnostics x file size. Figures go to docs/performance.md;
this is not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hciplan.compiler import codes  # noqa: E402,F401  (registers the codes)
from hciplan.compiler import render  # noqa: E402
from hciplan.compiler.diagnostics import Diagnostic, Severity  # noqa: E402
from hciplan.compiler.source import LineIndex, Source, Span  # noqa: E402

SAMPLE_BEFORE = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diagnostics", type=int, default=60_000)
    parser.add_argument("--lines", type=int, default=60_000)
    args = parser.parse_args()
    source = Source("big.hciplan", "".join(f"  name = \"n{k:07d}\"\n" for k in range(args.lines)))
    diagnostics = [Diagnostic("HCI101", Severity.ERROR, "unknown attribute", Span(source.name, 1 + k % args.lines, 3,
                                                                                      1 + k % args.lines, 7))
                   for k in range(args.diagnostics)]
    print(f"source: {len(source.text.encode()):,} bytes, {args.lines:,} lines; {len(diagnostics):,} diagnostics")

    start = time.perf_counter()
    text = render.render_text(diagnostics, {source.name: source})
    now = time.perf_counter() - start
    print(f"now (one line index per source):    {now:8.2f} s  ({len(text):,} characters)")

    sample = diagnostics[:SAMPLE_BEFORE]
    index = LineIndex(source)
    start = time.perf_counter()
    for d in sample:  # the former algorithm: each excerpt split (and counted) the whole text for its line
        s = d.span
        source.text.split("\n")
        source.text.count("\n")
        render._excerpt(index, s.line, s.column, s.end_line, s.end_column, render._plain, "red")
    before = (time.perf_counter() - start) * len(diagnostics) / len(sample)
    print(f"before (the text scanned per excerpt): {before:8.2f} s  (from {SAMPLE_BEFORE:,} diagnostics, scaled)")


if __name__ == "__main__":
    main()
