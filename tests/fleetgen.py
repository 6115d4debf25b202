"""Cluster files for fleet tests, in the examples' shapes: 2-node (two-node.hciplan) and 3-node (aks.hciplan).

`cluster_text` writes one edge cluster; `operator` adds the steps that need a
person at a console (WDAC re-applied by an operator, Network ATC configured
node by node from the BMC console). `make_fleet` writes a fleet file (HEAD and
a body) beside its cluster files; `gated_fleet` the one-week campaign whose
first wave overruns, so the health gate holds the next ring.
"""

from __future__ import annotations

from pathlib import Path

HEAD = """fleet "f" {
  start = 2026-12-14T00:00Z
  weeks = 8
  site "p" { zone = "Europe/Paris"  window "w" { day = saturday  start = 22:00  length = 9h } }
"""


def make_fleet(tmp_path: Path, body: str, clusters: dict[str, str]) -> Path:
    """The cluster files (name -> text, relative to tmp_path), then tmp_path/fleet.hciplan: HEAD + body."""
    for name, text in clusters.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    fleet = tmp_path / "fleet.hciplan"
    fleet.write_text(HEAD + body + "}\n", encoding="utf-8")
    return fleet


def gated_fleet(tmp_path: Path) -> Path:
    """A one-week horizon: a 3-node cluster with operator steps (about 11h of work) cannot finish in its one
    7-hour window, so its wave overran; ring 1 (edge-next) is held with gate_percent = 0."""
    files = {"a/big.hciplan": cluster_text("edge-big", 3, 1, operator=True, window=False),
             "a/small.hciplan": cluster_text("edge-small", 2, 2, window=False),
             "b/next.hciplan": cluster_text("edge-next", 2, 3, window=False)}
    body = ('  site "short" { zone = "UTC"  window "w" { day = saturday  start = 20:00  length = 7h } }\n'
            '  site "later" { zone = "UTC"  window "w" { day = sunday  start = 10:00  length = 8h } }\n'
            '  wave_size = 2\n'
            '  cluster "a/" { ring = 0  site = "short" }\n  cluster "b/" { ring = 1  site = "later" }\n')
    fleet = make_fleet(tmp_path, body, files)
    fleet.write_text(fleet.read_text().replace("weeks = 8", "weeks = 1"))
    return fleet


def cluster_text(name: str, nodes: int, subnet: int, operator: bool = False, window: bool = True) -> str:
    assert nodes in (2, 3)
    node_blocks = "\n".join(
        f'  node "{name.upper()[:10]}-N{k}" {{ memory = 384GB  ip = 10.{subnet // 250}.{subnet % 250}.{10 + k}/24 }}'
        for k in range(1, nodes + 1))
    resiliency = "mirror_2way" if nodes == 2 else "mirror_3way"
    atc = "false" if operator else "true"
    extra = "  wdac = disable  network_atc = configure\n" if operator else ""
    own_window = ('  window "own" { start = 2027-01-09T22:00Z  end = 2027-01-10T06:00Z }\n' if window else "")
    return f"""# A {nodes}-node edge cluster of the example fleet{' (operator steps: WDAC, Network ATC)' if operator else ''}.
cluster "{name}" {{
  version = "22H2"  registered = true  witness = cloud  wdac = {'enforced' if operator else 'off'}
  network_atc = {atc}
{node_blocks}
  pool "S2D on {name}" {{ size = 28TB  allocated = 12TB }}
  volume "Volume01" {{ size = 3TB  resiliency = {resiliency} }}
  vm_group "branch-apps" {{ count = 8  memory = 160GB }}
}}

upgrade "{name}" {{
  to = "23H2"  method = cau  orchestrator = "MGMT-{name.upper()[:8]}"
{extra}{own_window}}}
"""
