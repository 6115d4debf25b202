"""Cluster files for fleet tests, in the examples' shapes: 2-node (two-node.hciplan) and 3-node (aks.hciplan).

`cluster_text` writes one edge cluster; `operator` adds the steps that need a
person at a console (WDAC re-applied by an operator, Network ATC configured
node by node from the BMC console).
"""

from __future__ import annotations


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
