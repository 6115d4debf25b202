"""The `timing` and `scenario` blocks: every HCI10xx code with a broken and a corrected case, and their effects."""

from __future__ import annotations

import pytest

from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import REGISTRY
from hciplan.compiler.pipeline import check_text
from plan_models import Shape
from sim_helpers import plan_of, shape_text

BASE = shape_text(Shape(nodes=3))


def diagnostics(text: str) -> list[tuple[str, int]]:
    result = check_text(text, "t.hciplan")
    return [(d.code, d.span.line) for d in result.diagnostics]


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# (code, broken block, fragment on the reported line, corrected block)
CASES = [
    ("HCI1001", 'timing {\n  model "os.reboot" { distribution = lognormal  median = 20m  p90 = 30m  low = 5m }\n}',
     "low = 5m", 'timing {\n  model "os.reboot" { distribution = lognormal  median = 20m  p90 = 30m }\n}'),
    ("HCI1001", 'timing {\n  model "os.reboot" { distribution = triangular  low = 5m  high = 30m }\n}',
     'model "os.reboot"',
     'timing {\n  model "os.reboot" { distribution = triangular  low = 5m  mode = 9m  high = 30m }\n}'),
    ("HCI1002", 'timing {\n  model "os.install" { distribution = lognormal  median = 45m\n    p90 = 40m }\n}',
     "p90 = 40m", 'timing {\n  model "os.install" { distribution = lognormal  median = 45m\n    p90 = 80m }\n}'),
    ("HCI1002", 'timing {\n  model "cau.scan" { distribution = uniform  low = 30m  high = 3m }\n}',
     "low = 30m", 'timing {\n  model "cau.scan" { distribution = uniform  low = 3m  high = 30m }\n}'),
    ("HCI1002", 'timing {\n  model "cau.scan" { distribution = empirical  observed = [] }\n}',
     "observed", 'timing {\n  model "cau.scan" { distribution = empirical  observed = [4m, 6m] }\n}'),
    ("HCI1003", 'timing {\n  model "cau.instal" { distribution = fixed  value = 40m }\n}',
     "cau.instal", 'timing {\n  model "cau.install" { distribution = fixed  value = 40m }\n}'),
    ("HCI1003", 'scenario "s" {\n  risk "os.install" { probability = 0.1 }\n}',
     "risk", 'scenario "s" {\n  risk "cau.install" { probability = 0.1 }\n}'),
    ("HCI1004", 'timing {\n  model "os.reboot" { distribution = fixed  value = 9m }\n'
                '  model "os.reboot" { distribution = fixed  value = 8m }\n}',
     "value = 8m", 'timing {\n  model "os.reboot" { distribution = fixed  value = 9m }\n}'),
    ("HCI1004", 'scenario "s" { risk "cau.install" { probability = 0.1 } }\nscenario "s" { }',
     'scenario "s" { }', 'scenario "s" { risk "cau.install" { probability = 0.1 } }\nscenario "t" { }'),
    ("HCI1005", 'scenario "s" {\n  fail "N9" { step = "reboot" }\n}', 'fail "N9"',
     'scenario "s" {\n  fail "N03" { step = "reboot" }\n}'),
    ("HCI1006", 'scenario "s" {\n  risk "cau.install" { probability = 0.1  mode = drain_failure }\n}',
     "drain_failure", 'scenario "s" {\n  risk "cau.drain" { probability = 0.1  mode = drain_failure }\n}'),
    ("HCI1006", 'scenario "s" {\n  fail "N01" { step = "reboot"  mode = hang  factor = 3 }\n}',
     "factor = 3", 'scenario "s" {\n  fail "N01" { step = "reboot"  mode = slow  factor = 3 }\n}'),
]


@pytest.mark.parametrize("code, broken, fragment, fixed", CASES, ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_code_is_reported_where_expected_and_the_fix_clears_it(code, broken, fragment, fixed):
    text = BASE + "\n" + broken + "\n"
    found = diagnostics(text)
    assert (code, line_of(text, fragment)) in found, found
    assert check_text(text, "t.hciplan").model is None
    fixed_text = BASE + "\n" + fixed + "\n"
    assert diagnostics(fixed_text) == []


def test_every_simulation_code_has_a_case_and_an_explanation():
    codes = {c for c in REGISTRY if c.startswith("HCI10") and len(c) == 7}
    assert codes == {c[0] for c in CASES}
    assert all(REGISTRY[c].explanation for c in codes)


@pytest.mark.parametrize("attribute, value, code", [
    ("window_confidence", "2", "HCI109"), ("window_confidence", "90%", "HCI006"),
    ("write_per_s", "20", "HCI103"), ("drain_timeout", "10s", "HCI109"), ("live_migration_per_s", "1h", "HCI103"),
])
def test_timing_attributes_are_typed_and_bounded(attribute, value, code):
    text = BASE + f"\ntiming {{ {attribute} = {value} }}\n"
    assert code in [c for c, _ in diagnostics(text)]


def test_a_second_timing_block_is_a_duplicate():
    text = BASE + "\ntiming { }\ntiming { }\n"
    assert ("HCI108", line_of(text, "timing { }") + 1) in diagnostics(text)


def test_timing_changes_the_plans_expected_duration_but_not_its_fingerprint():
    plain = plan_of(BASE)
    slower = plan_of(BASE + '\ntiming {\n  download_per_s = 1MB\n'
                            '  model "cau.install" { distribution = fixed  value = 2h }\n}\n'
                            'scenario "x" { fail "N01" { step = "reboot" mode = hang } }\n')
    assert slower.fingerprint == plain.fingerprint
    installs = [s for s in slower.steps if s.kind == "cau.install"]
    download = 3 * 1024 / 1 / 60  # 3 GiB at 1 MiB/s, in minutes
    assert all(s.mean_minutes == pytest.approx(120 + download, abs=1e-3) for s in installs)
    assert slower.critical_path()[0] > plain.critical_path()[0]


def test_a_kind_model_beats_the_shared_duration_model():
    plan = plan_of(BASE + '\ntiming {\n  model "os.reboot" { distribution = fixed  value = 30m }\n'
                          '  model "cau.reboot" { distribution = fixed  value = 7m }\n}\n')
    means = {s.kind: s.mean_minutes for s in plan.steps}
    assert means["cau.reboot"] == 7 and means["cau.install"] > 0


def test_media_source_has_no_download():
    media = plan_of(shape_text(Shape(nodes=3, source="media")))
    wu = plan_of(BASE)
    install = {p: next(s.mean_minutes for s in p.steps if s.kind == "cau.install") for p in (media, wu)}
    assert install[wu] - install[media] == pytest.approx(3 * 1024 / 10 / 60, abs=1e-3)


def test_timing_and_scenarios_compile_into_the_model():
    text = BASE + ('\ntiming { write_per_s = 50MB  window_confidence = 0.8\n'
                   '  model "os.install" { distribution = empirical  observed = [40m, 1h, 1h20m] } }\n'
                   'scenario "bad-night" {\n  fail "N02" { step = "install"  mode = error  attempts = 2 }\n'
                   '  risk "cau.reboot" { probability = 0.02  mode = hang }\n}\n')
    model = compile_checked(check_text(text, "t.hciplan")).plan.model
    assert model.timing.write_per_s == 50 * 1024**2 and model.timing.window_confidence == 0.8
    assert model.timing.model("os.install").observed == (2400, 3600, 4800)
    scenario = model.scenario("bad-night")
    assert scenario.failures[0].attempts == 2 and scenario.risks[0].mode == "hang"


def test_docs_list_every_default_model_with_its_figures_and_every_timing_attribute():
    from pathlib import Path

    from hciplan.compiler.durations import DEFAULT_MODELS
    from hciplan.compiler.schema import TIMING

    doc = (Path(__file__).resolve().parent.parent / "docs" / "simulation.md").read_text(encoding="utf-8")
    for name, m in DEFAULT_MODELS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        cells = [c.strip() for c in row.split("|")]
        assert cells[3:6] == [f"{m.low:g}", f"{m.mode:g}", f"{m.high:g}"], name
        assert ("**assumption**" in row) == m.assumption, name
    for attr in TIMING.attrs:
        assert f"| `{attr.name}` |" in doc, attr.name


def test_physics_parameters_drive_drain_and_repair_means():
    def means(timing: str) -> dict[str, float]:
        plan = plan_of(BASE + timing)
        return {s.kind: s.mean_minutes for s in plan.steps if s.node == "N01" and s.group == "cau_run"}

    def down(timing: str) -> float:  # the reboot and the offline part of the setup before it
        steps = {s.kind: s for s in plan_of(BASE + timing).steps if s.node == "N01" and s.group == "cau_run"}
        return steps["cau.reboot"].mean_minutes + steps["cau.install"].offline_share * steps["cau.install"].mean_minutes

    base = means("")
    faster = means("\ntiming { live_migration_per_s = 2GB  per_vm_migration = 0s }\n")
    busier = means("\ntiming { write_per_s = 40MB  repair_overhead = 0s }\n")
    # 512GB of HA memory over 3 nodes at 1 GiB/s, 10 VMs at 5 s each over 3 nodes, plus 1 min
    assert base["cau.drain"] == pytest.approx(1 + (512 / 3 + 10 / 3 * 5) / 60, abs=1e-3)
    assert faster["cau.drain"] == pytest.approx(1 + (512 / 3 / 2) / 60, abs=1e-3)
    # resync: overhead + write rate x down time (the reboot's mean and the setup's offline part) / resync rate; the
    # write rate lands from the workload: 10 VMs x 512KB/s, a 3-way mirror over 3 nodes puts a copy of everything
    # on each node
    assert base["cau.storage_wait"] == pytest.approx(3 + 5 * down("") / 200, abs=1e-3)
    assert busier["cau.storage_wait"] == pytest.approx(40 * down("") / 200, abs=1e-3)


def test_resync_grows_with_the_workload():
    """The same reboot resyncs longer on a busier cluster: more VMs, or a group's own `write_per_s`."""
    def wait(text: str) -> float:
        plan = plan_of(text)
        return next(s.mean_minutes for s in plan.steps if s.node == "N01" and s.kind == "cau.storage_wait")

    few = wait(BASE)
    many = wait(BASE.replace("count = 10 ", "count = 200 ", 1))
    written = wait(BASE.replace("count = 10 ", "count = 10  write_per_s = 100MB ", 1))
    steps = {s.kind: s for s in plan_of(BASE).steps if s.node == "N01" and s.group == "cau_run"}
    reboot = steps["cau.reboot"].mean_minutes + steps["cau.install"].offline_share * steps["cau.install"].mean_minutes
    assert many == pytest.approx(3 + 200 * 0.5 * reboot / 200, abs=1e-3)  # 200 VMs x 512KB/s over 200MB/s
    assert written == pytest.approx(3 + 100 * reboot / 200, abs=1e-3)
    assert few < many and few < written


@pytest.mark.parametrize("value, code", [("-1MB", "HCI006"), ("20", "HCI103"), ("fast", "HCI103")])
def test_vm_group_write_rate_is_a_size(value, code):
    text = BASE.replace("count = 10 ", f"count = 10  write_per_s = {value} ", 1)
    assert (code, line_of(text, "write_per_s")) in diagnostics(text)


def test_solution_deployment_grows_with_the_node_count():
    def deploy(nodes: int) -> float:
        plan = plan_of(shape_text(Shape(nodes=nodes, solution=True)))
        return next(s.mean_minutes for s in plan.steps if s.kind == "solution.deploy")

    assert deploy(3) == deploy(4) == pytest.approx(165, abs=1e-3)  # [A-arm] 2.5-3 h, up to four nodes
    assert deploy(16) == pytest.approx(165 + 12 * 10, abs=1e-3)  # plus 10 min per node above four (assumption)
