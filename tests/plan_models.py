"""Build .hciplan texts for compiler tests: a valid cluster of any size and intent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    nodes: int = 4
    method: str = "cau"
    source: str = "windows_update"
    aks: bool = False
    bitlocker: bool = False
    wdac: bool = False
    atc_configured: bool = True
    solution: bool = False
    functional_level: str = "after_validation"
    witness: str = "cloud"
    node_memory_gb: int = 768
    ha_memory_gb: int = 512
    pool_free_gb: int = 10240
    vm_version: str = "skip"


def hciplan_text(shape: Shape) -> str:
    n = shape.nodes
    resiliency = "mirror_2way" if n < 3 else "mirror_3way"
    nodes = "\n".join(f'  node "N{i:02d}" {{ memory = {shape.node_memory_gb}GB  ip = 10.0.10.{10 + i}/24 }}'
                      for i in range(1, n + 1))
    solution = """
  solution {
    key_vault = "kv-test-01"  deployment_user = "hcilcm"
    ip_range = 10.0.10.200 .. 10.0.10.210
  }""" if shape.solution else ""
    media = '  media_path = "C:\\\\Media\\\\23H2"\n' if shape.source == "media" else ""
    orchestrator = '  orchestrator = "MGMT01"\n' if shape.method == "cau" else ""
    return f"""
cluster "clu-test" {{
  version = "22H2"  registered = true  witness = {shape.witness}
  bitlocker = {"on" if shape.bitlocker else "off"}
  wdac = {"enforced" if shape.wdac else "off"}
  network_atc = {"true" if shape.atc_configured else "false"}
{nodes}
  pool "S2D" {{ size = {shape.pool_free_gb + 2048}GB  allocated = 2048GB }}
  volume "Data" {{ size = 1TB  resiliency = {resiliency} }}
  vm_group "apps" {{ count = 10  memory = {shape.ha_memory_gb}GB }}
  aks {{ installed = {"true" if shape.aks else "false"} }}
}}

upgrade "clu-test" {{
  to = "23H2"
  method = {shape.method}
  source = {shape.source}
{media}{orchestrator}  aks = {"remove" if shape.aks else "keep"}
  bitlocker = {"suspend" if shape.bitlocker else "keep"}
  wdac = {"disable" if shape.wdac else "keep"}
  network_atc = {"keep" if shape.atc_configured else "configure"}
  functional_level = {shape.functional_level}
  vm_version = {shape.vm_version}
  window "w1" {{ start = 2026-12-05T22:00Z  end = 2026-12-06T06:00Z }}{solution}
}}
"""
