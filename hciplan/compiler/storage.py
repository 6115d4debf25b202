"""Storage facts shared by the checker and the compiler: resiliency, pool footprint and resync write rate."""

from __future__ import annotations

from hciplan.compiler.model import GiB
from hciplan.records import record

# The solution upgrade creates a 250 GB infrastructure volume [A-val]; PowerShell's GB (2^30).
INFRASTRUCTURE_VOLUME = "Infrastructure_1"
INFRASTRUCTURE_VOLUME_SIZE = 250 * GiB

# Inference (not in domain.md): the solution upgrade gives Infrastructure_1 the default
# mirror of the node count, a 2-way mirror on one or two nodes (a single node mirrors
# across its drives) and a 3-way mirror on three or more. Its pool footprint is then
# 2x or 3x its 250 GB; the readiness article's own Get-VirtualDisk table shows a
# 2-way mirror's footprint at about twice its size [A-val].
# Assumption for the repair reserve: Storage Spaces Direct guidance keeps the
# equivalent of one capacity drive per server, up to four drives, unallocated so that
# a repair can start in place after a drive failure (S2D volume planning guidance, not
# in domain.md). The model has no drive sizes; S2D requires at least four capacity
# drives per server, so with equal drives one drive is at most the pool size / (4 x
# nodes), and that upper bound is the default. A `reserve` attribute on the pool
# replaces the assumption with the real figure.
ASSUMED_CAPACITY_DRIVES_PER_NODE = 4
RESERVE_DRIVES_MAX = 4


@record(slots=False)
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


def infrastructure_resiliency(node_count: int) -> str:
    """The resiliency the solution upgrade gives Infrastructure_1 (inference, see above)."""
    return "mirror_2way" if node_count <= 2 else "mirror_3way"


def infrastructure_footprint(node_count: int) -> int:
    """Pool bytes Infrastructure_1 takes: its size times its resiliency's copies."""
    return int(INFRASTRUCTURE_VOLUME_SIZE * footprint_factor(infrastructure_resiliency(node_count), node_count))


def repair_reserve(pool, node_count: int) -> int:
    """Pool bytes to keep unallocated for in-place repair: the pool's `reserve`, else the assumption above."""
    if pool.reserve is not None:
        return pool.reserve
    nodes = max(node_count, 1)
    drive = pool.size / (ASSUMED_CAPACITY_DRIVES_PER_NODE * nodes)
    return int(min(nodes, RESERVE_DRIVES_MAX) * drive)


# Assumption (no figure is published; domain.md section 5 says only that resync "grows with pause
# length and data written" [H-maint, W-resync]): a VM writes 512 KB/s on average, when its group
# gives no `write_per_s`.
ASSUMED_WRITE_PER_VM = 512 * 1024  # bytes per second


def cluster_write_rate(cluster) -> int:
    """Bytes per second the cluster's VMs write: each group's `write_per_s`, else its count x the assumption."""
    return sum(g.write_per_s if g.write_per_s is not None else g.count * ASSUMED_WRITE_PER_VM
               for g in cluster.vm_groups)


def down_node_write_rate(cluster) -> float:
    """Bytes per second that land on one down node's copies, with the VMs spread evenly over the nodes.

    A mirror of c copies over n nodes keeps a copy of about c/n of the data on each node, so
    c/n of the cluster's writes miss the down node and must resync. c is the default mirror
    of the node count (the inference above: 2 copies on one or two nodes, 3 on more); parity
    volumes are not counted apart (an assumption).
    """
    nodes = max(len(cluster.nodes), 1)
    copies = 2 if infrastructure_resiliency(nodes) == "mirror_2way" else 3
    return cluster_write_rate(cluster) * min(copies, nodes) / nodes


@record(slots=False)
class InfrastructureSpace:
    """Whether Infrastructure_1 fits: free space (after planned conversions) against footprint + reserve."""

    resiliency: str
    footprint: int
    reserve: int
    reserve_assumed: bool
    free: int  # pool free space plus what the counted thin conversions free

    @property
    def needed(self) -> int:
        return self.footprint + self.reserve

    @property
    def shortfall(self) -> int:
        return max(self.needed - self.free, 0)

    @property
    def fits(self) -> bool:
        return self.free >= self.needed

    def figures(self) -> str:
        """'footprint 750GB (250GB x 3-way mirror) + reserve 10TB (assumed: ...) = 10.73TB'."""
        copies = self.resiliency.replace("mirror_", "").replace("way", "-way mirror")
        reserve = ("assumed: one capacity drive per node up to four, a drive taken as "
                   f"pool size / ({ASSUMED_CAPACITY_DRIVES_PER_NODE} x nodes)" if self.reserve_assumed
                   else "the pool's `reserve`")
        return (f"footprint {format_size(self.footprint)} ({format_size(INFRASTRUCTURE_VOLUME_SIZE)} as a "
                f"{copies}) + repair reserve {format_size(self.reserve)} ({reserve}) = {format_size(self.needed)}")


def infrastructure_space(pool, node_count: int, freed: int = 0) -> InfrastructureSpace:
    return InfrastructureSpace(infrastructure_resiliency(node_count), infrastructure_footprint(node_count),
                               repair_reserve(pool, node_count), pool.reserve is None, pool.free + freed)


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
