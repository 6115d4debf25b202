"""The tornado chart of a sensitivity analysis (`compare --sensitivity RUNS --tornado FILE`), plot extra.

One horizontal bar per duration model, from the P90 with the model at its P10 to the P90
with it at its P90, around the base P90; the largest swing on top. It uses the
simulator's plot plumbing (matplotlib imported only when asked for, atomic writes, SVG
without a date and with a fixed hash salt), so the same document gives the same bytes.
"""

from __future__ import annotations

from hciplan.simulator import plots

MAX_BARS = 15  # the rest are listed by the text report; a chart of forty bars is not read


def check_target(path: str) -> None:
    """Fail before simulating when the chart could not be written (its folder, its type, matplotlib)."""
    plots.check_target(path, "--tornado")


def write_tornado(path: str, sensitivity: dict) -> None:
    plt = plots._pyplot()
    models = [m for m in sensitivity["models"] if m["p90_low"] is not None and m["p90_high"] is not None][:MAX_BARS]
    base = sensitivity["p90"]
    height = 1.2 + 0.38 * max(1, len(models))
    fig, ax = plt.subplots(figsize=(8, height))
    try:
        if not models or base is None:
            ax.text(0.5, 0.5, "no completed runs to rank (try --window none)", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
        else:
            labels = [m["model"] for m in models][::-1]
            for y, m in enumerate(models[::-1]):
                low, high = (m["p90_low"] - base) / 60, (m["p90_high"] - base) / 60
                ax.barh(y, high - low, left=low, color="#4e79a7", height=0.6)
            ax.axvline(0, color="#333333", linewidth=0.8)
            ax.set_yticks(range(len(labels)), labels=labels)
            ax.set_xlabel(f"P90 change in hours (base P90 {base / 60:.1f} h): model at its P10 .. at its P90")
        ax.set_title(f"What drives the P90 of {sensitivity['variant']} ({sensitivity['runs']} runs per swing)",
                     fontsize=10)
        plots._save(fig, path)
    finally:
        plt.close(fig)
