"""Helpers shared by the test modules: where the examples are, and text mutations."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from hciplan.compiler.pipeline import CheckResult, check_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = sorted(EXAMPLES.glob("*.hciplan"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.hciplan"))
ALL_EXAMPLES = VALID_EXAMPLES + INVALID_EXAMPLES

# `# expect: HCI123` or `# expect: HCI123, HCI456` at the end of a line.
EXPECT_RE = re.compile(r"#\s*expect:\s*(HCI\d{3}(?:\s*,\s*HCI\d{3})*)\s*$")


def expected_diagnostics(text: str) -> Counter:
    """The (code, line) pairs an example announces in its `# expect:` comments."""
    expected: Counter = Counter()
    for number, line in enumerate(text.splitlines(), start=1):
        match = EXPECT_RE.search(line)
        if match:
            for code in match.group(1).split(","):
                expected[(code.strip(), number)] += 1
    return expected


def replace_once(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, so a mutation can never silently miss."""
    count = text.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the text to mutate"
    return text.replace(old, new)


def mutate(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        text = replace_once(text, old, new)
    return text


def line_of(text: str, fragment: str) -> int:
    """The 1-based line on which `fragment` (which must occur once) is written."""
    assert text.count(fragment) == 1, f"{fragment!r} must occur exactly once"
    return text[: text.index(fragment)].count("\n") + 1


def codes(result: CheckResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def check(text: str) -> CheckResult:
    return check_text(text, "test.hciplan")


# A small, complete file that checks clean; tests mutate it one fact at a time.
BASE = """\
cluster "hci-base" {
  version = "22H2"
  registered = true
  witness = cloud
  language = "en-US"
  bitlocker = on
  wdac = enforced
  network_atc = false
  managed_by = none
  stretched = false
  supplemental_package = false

  node "HCI01" { memory = 512GB  ip = 10.0.10.11/24 }
  node "HCI02" { memory = 512GB  ip = 10.0.10.12/24 }
  node "HCI03" { memory = 512GB  ip = 10.0.10.13/24 }
  node "HCI04" { memory = 768GB  ip = 10.0.10.14/24 }
  pool "S2D" { size = 40TB  allocated = 28TB }
  volume "Data01" { size = 2TB  resiliency = mirror_3way  provisioning = fixed }
  volume "Data02" { size = 1TB  resiliency = mirror_3way  provisioning = fixed  used = 256GB }
  volume "Thin01" { size = 4TB  resiliency = mirror_3way  provisioning = thin }
  vm_group "sql" { count = 4   memory = 512GB }
  vm_group "web" { count = 20  memory = 640GB  ha = true  dynamic_memory = true }
  vm_group "lab" { count = 3   memory = 96GB   ha = false }
  aks { installed = false }
  arc_vms { preview = false }
}

upgrade "hci-base" {
  to = "23H2"
  method = cau
  source = windows_update
  orchestrator = "MGMT01"
  max_failed_nodes = 0
  max_retries_per_node = 3
  reboot_timeout = 45m
  node_order = ["HCI04", "HCI03", "HCI02", "HCI01"]
  aks = keep
  bitlocker = suspend
  wdac = disable
  network_atc = configure
  functional_level = after_validation
  storage_pool = update
  vm_version = skip
  window "first" { start = 2026-12-05T22:00Z  end = 2026-12-06T06:00Z }
  window "second" { start = 2026-12-12T22:00+01:00  end = 2026-12-13T06:00+01:00 }
  window "third" { start = 2026-12-19T22:00Z  end = 2026-12-20T06:00Z }
  window "fourth" { start = 2026-12-26T22:00Z  end = 2026-12-27T06:00Z }
  solution {
    key_vault = "kv-hci-base"
    deployment_user = "hcilcm"
    ip_range = 10.0.10.50 .. 10.0.10.59
    custom_location = "hci-base-cl"
    subnet = 10.0.10.0/24
    adou_path = "OU=hci-base,DC=contoso,DC=com"
  }
}
"""


# --- golden files ----------------------------------------------------------------------------------

GOLDEN = ROOT / "tests" / "golden"
REGEN = "HCIPLAN_REGEN"  # HCIPLAN_REGEN=1 python -m pytest rewrites the goldens; review the diff before committing


def assert_golden(golden: Path, actual: str) -> None:
    """`actual` must equal the reviewed file `golden` byte for byte (UTF-8); with HCIPLAN_REGEN set, rewrite it."""
    if os.environ.get(REGEN):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual.encode("utf-8"))
    assert golden.exists(), f"no golden file {golden.relative_to(ROOT)}: run with {REGEN}=1 and review it"
    assert actual == golden.read_bytes().decode("utf-8"), f"{golden.relative_to(ROOT)} differs ({REGEN}=1 rewrites it)"
