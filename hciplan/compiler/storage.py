"""Storage facts shared by the checker and the compiler: resiliency and pool footprint."""

from __future__ import annotations

from dataclasses import dataclass

from hciplan.compiler.model import GiB

# The solution upgrade creates a 250 GB infrastructure volume [A-val]; PowerShell's GB (2^30).
INFRASTRUCTURE_VOLUME = "Infrastructure_1"
INFRASTRUCTURE_VOLUME_SIZE = 250 * GiB


@dataclass(frozen=True)
class Resiliency:
    min_nodes: int
    failures_tolerated: int  # fault domains (nodes) that may be down at once


# Minimum node counts and fault tolerance of S2D resiliency types (Storage Spaces Direct
# fault-tolerance documentation; not in domain.md, so treat as reference knowledge).
RESILIENCY = {
    "mirror_2way": Resiliency(2, 1),
    "mirror_3way": Resiliency(3, 2),
    "nested_mirror_2way": Resiliency(2, 1),  # two nodes; tolerates one node plus a drive
    "dual_parity": Resiliency(4, 2),
    "mirror_accelerated_parity": Resiliency(4, 2),
}


def footprint_factor(resiliency: str, node_count: int) -> float:
    """Pool bytes used per byte of volume data.

    Mirrors store whole copies. Parity efficiency grows with the node count
    (50% at 4-6 nodes, 66.7% at 7-11, 75% at 12-15, 80% at 16, per S2D's
    published efficiency table); mirror-accelerated parity is counted as
    dual parity, which under-estimates its mirror tier (an assumption).
    """
    if resiliency == "mirror_2way":
        return 2.0
    if resiliency == "mirror_3way":
        return 3.0
    if resiliency == "nested_mirror_2way":
        return 4.0
    if node_count >= 16:
        return 1.25
    if node_count >= 12:
        return 4 / 3
    if node_count >= 7:
        return 1.5
    return 2.0


def thin_conversion_frees(volume, node_count: int) -> int | None:
    """Pool bytes freed by converting a fixed volume to thin; None when `used` is unknown."""
    if volume.used is None:
        return None
    return int((volume.size - volume.used) * footprint_factor(volume.resiliency, node_count))


def format_size(size: int) -> str:
    """A size the way PowerShell users read it: binary units, at most two decimals.

    The largest unit in which the size is exact to two decimals wins (2.75TB, but
    1664GB rather than a rounded 1.63TB), so the figures of one message add up;
    a size exact in no unit gets two decimals in the largest unit.
    """
    if size < 0:
        return "-" + format_size(-size)
    fallback = ""
    for unit, scale in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size < scale:
            continue
        if size * 100 % scale == 0:
            hundredths = size * 100 // scale
            return f"{hundredths // 100}.{hundredths % 100:02d}".rstrip("0").rstrip(".") + unit
        fallback = fallback or f"{size / scale:.2f}".rstrip("0").rstrip(".") + unit
    return fallback or f"{size}B"
