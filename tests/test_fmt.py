"""The formatter: canonical layout, comments kept, idempotence and model round-trips.

Properties (hypothesis, derandomized): formatting is idempotent and keeps the
model, for every example, for examples with comments inserted anywhere, and
for generated models printed by `format_model`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from hciplan import fmt
from hciplan.cli import cli
from hciplan.compiler import model as m
from hciplan.compiler import schema
from hciplan.compiler.catalog import CATALOG
from hciplan.compiler.durations import MODEL_NAMES
from hciplan.compiler.pipeline import check_text
from hciplan.compiler.quantities import duration_literal
from hciplan.compiler.syntax import decode_string
from hciplan.grammar import get_parser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.hciplan")) + sorted((ROOT / "examples" / "invalid").glob("*.hciplan"))
PROPERTY = settings(derandomize=True, max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def formatted(text: str) -> str:
    result = fmt.format_text(text)
    assert result.ok, result.diagnostics
    return result.text


def comments_of(text: str) -> Counter:
    return Counter(str(t) for t in get_parser().lex(text, dont_ignore=True)
                   if t.type in ("COMMENT", "BLOCK_COMMENT"))


def codes(text: str) -> list[str]:
    return sorted(d.code for d in check_text(text).diagnostics)


# --- values ------------------------------------------------------------------------


@pytest.mark.parametrize("size, text", [
    (768 * 1024**3, "768GB"), (1536 * 1024**3, "1536GB"), (1024**4, "1TB"), (61 * 1024**4, "61TB"),
    (1024**5 * 3, "3PB"), (1536 * 1024**2, "1536MB"), (100, "100B"), (0, "0B"), (2048, "2KB"),
])
def test_sizes_use_the_largest_exact_binary_unit(size, text):
    assert fmt.size_text(size) == text


@pytest.mark.parametrize("seconds, text", [
    (5400, "1h30m"), (2700, "45m"), (90, "1m30s"), (0, "0s"), (86400 + 61, "1d1m1s"), (21600, "6h"),
])
def test_durations(seconds, text):
    assert duration_literal(seconds) == text


@pytest.mark.parametrize("written, canonical", [
    ("0.75TB", "768GB"), ("1.5TB", "1536GB"), ("768GiB", "768GB"), ("1024MB", "1GB"),
])
def test_size_literals_are_canonicalised(written, canonical):
    text = f'cluster "c1" {{ pool "p" {{ size = {written} allocated = 1GB }} }}'
    assert f"size      = {canonical}" in formatted(text)


def test_quantities_that_check_rejects_are_kept_as_written():
    text = 'upgrade "c1" { reboot_timeout = 768GB  to = 5GX }'
    out = formatted(text)
    assert "reboot_timeout = 768GB" in out and "to             = 5GX" in out
    assert codes(out) == codes(text)


@given(st.text(max_size=40))
@PROPERTY
def test_quote_reads_back_as_the_same_string(value):
    assert decode_string(fmt.quote(value)) == (value, None)


@given(st.floats(allow_nan=False, allow_infinity=False))
@PROPERTY
def test_numbers_read_back_as_the_same_float(value):
    text = fmt.number_text(value)
    assert "e" not in text and "." in text and float(text) == value


# --- layout ------------------------------------------------------------------------

MESSY = '''\
# A cluster, written carelessly.

upgrade "hci1" {
  window "w" { end = 2026-12-06T06:00Z start = 2026-12-05T22:00Z }
  to = "23H2"     method = cau   # the usual
  node_order = [ # upgrade HCI02 first
     "HCI02",
     "HCI01",
  ]
}
cluster "hci1" {  // today
  bitlocker = on  version = "22H2"
  registered = true witness = cloud
  volume "v1" { size = 2048GB resiliency = mirror_2way }
  node "HCI02" { ip = 10.0.10.12  memory = 0.5TB }

  # the first node
  node "HCI01" { memory = 512GB ip = 10.0.10.11/24 }  /* trailing */
  aks {}
  /* leftover
     notes */
}
'''

EXPECTED = '''\
# A cluster, written carelessly.

cluster "hci1" {  // today
  version    = "22H2"
  registered = true
  witness    = cloud
  bitlocker  = on

  node "HCI02" {
    memory = 512GB
    ip     = 10.0.10.12
  }

  # the first node
  node "HCI01" {
    memory = 512GB
    ip     = 10.0.10.11/24
  }  /* trailing */

  volume "v1" {
    size       = 2TB
    resiliency = mirror_2way
  }

  aks {}
  /* leftover
     notes */
}

upgrade "hci1" {
  to         = "23H2"
  method     = cau  # the usual
  # upgrade HCI02 first
  node_order = ["HCI02", "HCI01"]

  window "w" {
    start = 2026-12-05T22:00Z
    end   = 2026-12-06T06:00Z
  }
}
'''


def test_canonical_layout():
    assert formatted(MESSY) == EXPECTED


SIMULATION_MESSY = '''\
scenario "bad-night" {
  risk "cau.install" { probability = 0.05 }   # five in a hundred
  fail "HCI03" { mode = hang  step = "reboot" }
}
timing {
  model "os.reboot"   { observed = [840s, 17m, 1320s] distribution = empirical }
  window_confidence = 0.95
  live_migration_per_s = 2048MB
  model "cau.install" { p90 = 4800s  median = 45m  distribution = lognormal }
  drain_timeout = 1200s
}
cluster "c1" { version = "22H2" registered = true  witness = cloud  node "HCI03" { memory = 64GB ip = 10.0.0.3 } }
'''

SIMULATION_EXPECTED = '''\
cluster "c1" {
  version    = "22H2"
  registered = true
  witness    = cloud

  node "HCI03" {
    memory = 64GB
    ip     = 10.0.0.3
  }
}

timing {
  live_migration_per_s = 2GB
  drain_timeout        = 20m
  window_confidence    = 0.95

  model "os.reboot" {
    distribution = empirical
    observed     = [14m, 17m, 22m]
  }

  model "cau.install" {
    distribution = lognormal
    median       = 45m
    p90          = 1h20m
  }
}

scenario "bad-night" {
  fail "HCI03" {
    step = "reboot"
    mode = hang
  }

  risk "cau.install" {
    probability = 0.05
  }  # five in a hundred
}
'''


def test_timing_and_scenario_blocks_are_laid_out_like_the_others():
    # Schema order for their attributes, durations and sizes canonical (in lists too), after cluster and upgrade.
    assert formatted(SIMULATION_MESSY) == SIMULATION_EXPECTED
    model = check_text(SIMULATION_EXPECTED).model
    assert model == check_text(SIMULATION_MESSY).model and model.timing is not None and model.scenarios
    assert comments_of(SIMULATION_MESSY) == comments_of(SIMULATION_EXPECTED)
    assert fmt.format_model(model) == SIMULATION_EXPECTED.replace("  }  # five in a hundred\n", "  }\n")


def test_canonical_layout_keeps_meaning_and_comments():
    assert check_text(MESSY).model == check_text(EXPECTED).model is not None
    assert comments_of(MESSY) == comments_of(EXPECTED)


def test_nodes_are_never_reordered():
    text = 'cluster "c1" { ' + " ".join(
        f'node "{name}" {{ memory = 1GB ip = 10.0.0.{i} }}' for i, name in enumerate(["Z9", "A1", "M5"], 1)) + " }"
    out = formatted(text)
    assert out.index('"Z9"') < out.index('"A1"') < out.index('"M5"')


def test_unknown_names_follow_known_ones_in_their_order():
    text = 'cluster "c1" { zeta = 1  version = "22H2"  alpha = 2  thing { x = 1 }  node "n" { memory = 1GB ip = 1.2.3.4 } }'
    out = formatted(text)
    assert out.index("version") < out.index("zeta") < out.index("alpha") < out.index('node "n"') < out.index("thing {")
    assert codes(out) == codes(text)


def test_alignment_runs_break_at_blank_lines_next_to_comments():
    text = 'cluster "c1" {\n  version = "22H2"\n\n  # quorum\n  witness = cloud\n  language = "en-US"\n}\n'
    assert formatted(text) == ('cluster "c1" {\n  version = "22H2"\n\n  # quorum\n'
                               '  witness  = cloud\n  language = "en-US"\n}\n')


def test_comment_markers_inside_strings_and_after_prefixes():
    text = 'cluster "c#1" {\n  language = "en-US // not a comment /* nor this */"\n  node "n" { ip = 10.0.0.1/24// yes\n memory = 1GB }\n}\n'
    out = formatted(text)
    assert 'language = "en-US // not a comment /* nor this */"' in out
    assert "    ip     = 10.0.0.1/24  // yes" in out
    assert comments_of(out) == Counter({"// yes": 1})


def test_header_and_value_comments_lead_their_item():
    text = 'cluster /* a */ "c1" # b\n {\n  version = # c\n "22H2"\n}\n'
    assert formatted(text) == 'cluster "c1" {\n  # c\n  version = "22H2"\n}\n'.replace(
        'cluster "c1" {', '/* a */\n# b\ncluster "c1" {')


def test_strings_are_reescaped():
    text = 'upgrade "c1" { media_path = "C:\\\\Media\\u0041" }'
    assert 'media_path = "C:\\\\MediaA"' in formatted(text)


def test_empty_and_comment_only_files():
    assert formatted("") == ""
    assert formatted("\n\n  \n") == ""
    assert formatted("# only\n\n\n// comments\n") == "# only\n\n// comments\n"


@pytest.mark.parametrize("text, code", [
    ('cluster "c1" {', "HCI003"),
    ('cluster "c1" { version "22H2" }', "HCI002"),
    ('cluster "c1" { language = "\\q" }', "HCI008"),
    ("cluster \"c1\" { a = 1 } }", "HCI007"),
])
def test_syntax_errors_are_refused(text, code):
    result = fmt.format_text(text)
    assert not result.ok and result.text is None
    assert [d.code for d in result.diagnostics] == [code]


# --- properties over the examples --------------------------------------------------

PARSEABLE = [p for p in EXAMPLES if fmt.format_text(p.read_text(encoding="utf-8")).ok]


def test_there_are_examples_to_format():
    assert any(p.parent.name == "examples" for p in PARSEABLE)


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.name)
def test_examples_format_idempotently_to_the_same_model(path):
    text = path.read_text(encoding="utf-8")
    once = formatted(text)
    assert formatted(once) == once
    assert check_text(once).model == check_text(text).model
    assert comments_of(once) == comments_of(text)
    assert codes(once) == codes(text)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_are_formatted(path):
    """The README recommends `hciplan fmt --check` for CI: the examples, valid and invalid, pass it themselves."""
    result = CliRunner().invoke(cli, ["fmt", "--check", str(path)])
    assert result.exit_code == 0, result.stdout


@st.composite
def commented_example(draw):
    """An example with comments inserted between tokens at random places."""
    path = draw(st.sampled_from(PARSEABLE))
    text = path.read_text(encoding="utf-8")
    gaps = sorted({t.end_pos for t in get_parser().lex(text, dont_ignore=True)} | {0})
    inserts = draw(st.lists(st.tuples(st.sampled_from(gaps), st.sampled_from(["#", "//", "/*"]),
                                      st.text("abc xyz=*#{}", max_size=8), st.booleans()), max_size=6))
    for position, marker, body, blank in sorted(inserts, reverse=True):
        body = body.replace("*/", "")
        comment = f"/* {body} */" if marker == "/*" else f"{marker} {body}\n"
        text = text[:position] + ("\n\n" if blank else " ") + comment + " " + text[position:]
    return text


@given(commented_example())
@PROPERTY
def test_comments_anywhere_survive_formatting(text):
    once = formatted(text)
    assert formatted(once) == once
    assert comments_of(once) == comments_of(text)
    assert check_text(once).model == check_text(text).model


# --- generated models ----------------------------------------------------------------

# Names and paths are printable single lines (control characters are HCI109).
# (format characters, Cf, are refused by the checker: HCI113)
names = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), min_size=1, max_size=12)
sizes = st.integers(min_value=0, max_value=2**50)
addresses = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
interfaces = st.builds(lambda a, p: ipaddress.IPv4Interface(f"{a}/{p}"), addresses, st.integers(0, 32))
networks = interfaces.map(lambda i: i.network)
zones = st.none() | st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda n: dt.timezone(dt.timedelta(minutes=n)))
timestamps = st.builds(lambda d, z: d.replace(microsecond=0, tzinfo=z),
                       st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2499, 12, 31)), zones)


def enum(block: schema.BlockSpec, name: str):
    return st.sampled_from(block.attr(name).choices)


clusters = st.builds(
    m.Cluster, name=names, version=names, registered=st.booleans(), witness=enum(schema.CLUSTER, "witness"),
    language=names, bitlocker=enum(schema.CLUSTER, "bitlocker"), wdac=enum(schema.CLUSTER, "wdac"),
    network_atc=st.booleans(), managed_by=enum(schema.CLUSTER, "managed_by"), stretched=st.booleans(),
    supplemental_package=st.booleans(),
    nodes=st.lists(st.builds(m.Node, name=names, memory=sizes, ip=interfaces), min_size=1, max_size=4).map(tuple),
    pool=st.none() | st.builds(m.Pool, name=names, size=sizes, allocated=sizes),
    volumes=st.lists(st.builds(m.Volume, name=names, size=sizes, resiliency=enum(schema.VOLUME, "resiliency"),
                               provisioning=enum(schema.VOLUME, "provisioning"), used=st.none() | sizes),
                     max_size=3).map(tuple),
    vm_groups=st.lists(st.builds(m.VmGroup, name=names, count=st.integers(1, 100000), memory=sizes,
                                 ha=st.booleans(), dynamic_memory=st.booleans()), max_size=3).map(tuple),
    aks=st.builds(m.Aks, installed=st.booleans(), preview=st.booleans()),
    arc_vms=st.builds(m.ArcVms, preview=st.booleans()),
)
upgrades = st.builds(
    m.Upgrade, name=names, to=names, method=enum(schema.UPGRADE, "method"), source=enum(schema.UPGRADE, "source"),
    media_path=st.none() | names, orchestrator=st.none() | names, max_failed_nodes=st.integers(0, 63),
    max_retries_per_node=st.integers(0, 64), reboot_timeout=st.integers(60, 360 * 60),
    node_order=st.none() | st.lists(names, max_size=4).map(tuple),
    aks=enum(schema.UPGRADE, "aks"), bitlocker=enum(schema.UPGRADE, "bitlocker"), wdac=enum(schema.UPGRADE, "wdac"),
    network_atc=enum(schema.UPGRADE, "network_atc"), functional_level=enum(schema.UPGRADE, "functional_level"),
    storage_pool=enum(schema.UPGRADE, "storage_pool"), vm_version=enum(schema.UPGRADE, "vm_version"),
    windows=st.lists(st.builds(m.Window, name=names, start=timestamps, end=timestamps), max_size=2).map(tuple),
    solution=st.none() | st.builds(
        m.Solution, key_vault=names, deployment_user=names,
        ip_range=st.builds(m.IPv4Range, addresses, addresses), custom_location=st.none() | names,
        subnet=st.none() | networks, adou_path=st.none() | names),
)


def in_range(block: schema.BlockSpec, name: str, ceiling: int = 10**7):
    """Whole numbers the attribute accepts (its schema minimum up to a ceiling)."""
    return st.integers(int(block.attr(name).min or 0), ceiling)


def numbers(block: schema.BlockSpec, name: str):
    attr = block.attr(name)
    return st.floats(attr.min, attr.max if attr.max is not None else 1000.0)


durations = st.integers(0, 10**7)


# Each distribution with exactly its parameters (schema.DISTRIBUTION_PARAMETERS), in the order lower checks.
distributions = st.one_of(
    st.builds(lambda v: {"distribution": "fixed", "value": v}, durations),
    st.builds(lambda lh: {"distribution": "uniform", "low": lh[0], "high": lh[1]},
              st.lists(durations, min_size=2, max_size=2).map(sorted)),
    st.builds(lambda lmh: {"distribution": "triangular", "low": lmh[0], "mode": lmh[1], "high": lmh[2]},
              st.lists(durations, min_size=3, max_size=3).map(sorted)),
    st.integers(1, 10**5).flatmap(lambda median: st.builds(  # p90 above the median, at most 1000 times it
        lambda p90: {"distribution": "lognormal", "median": median, "p90": p90},
        st.integers(median + 1, 1000 * median))),
    st.builds(lambda observed: {"distribution": "empirical", "observed": tuple(observed)},
              st.lists(st.integers(1, 10**7), min_size=1, max_size=4)),
)


@st.composite
def timings(draw):
    labels = sorted(set(CATALOG) | set(MODEL_NAMES))
    model_names = draw(st.lists(st.sampled_from(labels), unique=True, max_size=3))
    return m.Timing(
        live_migration_per_s=draw(st.integers(1, 2**40)),
        per_vm_migration=draw(st.integers(0, 10**6)), write_per_s=draw(st.integers(0, 2**40)),
        resync_per_s=draw(st.integers(1, 2**40)), repair_overhead=draw(st.integers(0, 10**6)),
        media_size=draw(st.integers(0, 2**40)), download_per_s=draw(st.integers(1, 2**40)),
        drain_timeout=draw(st.integers(60, 10**6)), repair_timeout=draw(st.integers(60, 10**6)),
        window_confidence=draw(st.floats(0.5, 0.999)),
        models=tuple(m.DurationModel(name=name, **draw(distributions)) for name in model_names))


def mode_fields(draw, mode: str, attempts: bool = True) -> dict:
    """`attempts` only for errors and `factor` only for slow steps (HCI1006 otherwise)."""
    fields = {"mode": mode}
    if mode == "error" and attempts:
        fields["attempts"] = draw(st.integers(1, 65))
    if mode == "slow":
        fields["factor"] = draw(st.floats(0.01, 1000))
    return fields


@st.composite
def scenario_lists(draw, cluster: m.Cluster):
    targets = [n.name for n in cluster.nodes] + ["cluster"]
    scenario_names = draw(st.lists(names, unique=True, max_size=2))
    out = []
    for name in scenario_names:
        failures = tuple(m.Failure(node=draw(st.sampled_from(targets)), step=draw(names),
                                   **mode_fields(draw, draw(enum(schema.FAILURE, "mode"))))
                         for _ in range(draw(st.integers(0, 2))))
        risks = []
        for _ in range(draw(st.integers(0, 2))):
            kind = draw(st.sampled_from(sorted(CATALOG)))
            modes = [mode for mode in schema.FAILURE_MODES
                     if (mode != "drain_failure" or CATALOG[kind].effect == "drain")
                     and (mode != "resync_stall" or CATALOG[kind].effect == "repair_wait")]
            risks.append(m.Risk(kind=kind, probability=draw(st.floats(0, 1)),
                                **mode_fields(draw, draw(st.sampled_from(modes)), attempts=False)))
        out.append(m.Scenario(name=name, failures=failures, risks=tuple(risks)))
    return tuple(out)


@st.composite
def models(draw):
    cluster = draw(clusters)
    return m.Model(cluster=cluster, upgrade=draw(st.none() | upgrades), timing=draw(st.none() | timings()),
                   scenarios=draw(scenario_lists(cluster)))


@given(models(), st.booleans())
@PROPERTY
def test_generated_models_round_trip(model, explicit):
    text = fmt.format_model(model, explicit=explicit)
    assert check_text(text).model == model
    assert formatted(text) == text


def test_generated_models_include_the_simulation_blocks():
    # The round trip above covers timing and scenarios only if the strategy draws them.
    example = find(models(), lambda model: model.timing is not None and model.timing.models and model.scenarios
                   and model.scenarios[0].failures and model.scenarios[0].risks,
                   settings=settings(derandomize=True, database=None, max_examples=500))
    text = fmt.format_model(example)
    assert "\ntiming {" in text and "\nscenario " in text and "  model " in text
    assert check_text(text).model == example


# --- the command ----------------------------------------------------------------------


def test_fmt_prints_check_lists_and_write_rewrites(tmp_path):
    messy, clean = tmp_path / "messy.hciplan", tmp_path / "clean.hciplan"
    messy.write_text(MESSY, encoding="utf-8")
    clean.write_text(EXPECTED, encoding="utf-8")
    runner = CliRunner()

    printed = runner.invoke(cli, ["fmt", str(messy)])
    assert printed.exit_code == 0 and printed.stdout == EXPECTED
    assert messy.read_text(encoding="utf-8") == MESSY

    checked = runner.invoke(cli, ["fmt", "--check", str(messy), str(clean)])
    assert checked.exit_code == 1
    assert str(messy) in checked.stdout and str(clean) not in checked.stdout
    assert runner.invoke(cli, ["fmt", "--check", str(clean)]).exit_code == 0

    messy.chmod(0o640)
    written = runner.invoke(cli, ["fmt", "--write", str(messy)])
    assert written.exit_code == 0
    assert messy.read_text(encoding="utf-8") == EXPECTED
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["clean.hciplan", "messy.hciplan"]  # no temporary file left


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_fmt_write_through_a_symlink_rewrites_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "cluster.hciplan"
    real.write_text(MESSY, encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.hciplan"
    link.symlink_to(Path("real") / "cluster.hciplan")
    result = CliRunner().invoke(cli, ["fmt", "--write", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "cluster.hciplan")
    assert real.read_text(encoding="utf-8") == EXPECTED and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path / "real")) == ["cluster.hciplan"]  # the temporary file sat next to the target
    assert sorted(os.listdir(tmp_path)) == ["link.hciplan", "real"]


def test_fmt_writes_nothing_when_any_file_has_a_syntax_error(tmp_path):
    messy, broken = tmp_path / "messy.hciplan", tmp_path / "broken.hciplan"
    messy.write_text(MESSY, encoding="utf-8")
    broken.write_text('cluster "c1" {\n  version = \n}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["fmt", "--write", str(messy), str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:3:1: error[HCI001]" in result.stderr
    assert messy.read_text(encoding="utf-8") == MESSY


def test_fmt_check_prints_a_unified_diff_of_what_write_would_change(tmp_path):
    messy, clean = tmp_path / "messy.hciplan", tmp_path / "clean.hciplan"
    messy.write_text(MESSY, encoding="utf-8")
    clean.write_text(EXPECTED, encoding="utf-8")
    result = CliRunner().invoke(cli, ["fmt", "--check", str(clean), str(messy)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines(keepends=True)
    assert lines[0] == f"--- {messy}\t(as written)\n" and lines[1] == f"+++ {messy}\t(formatted)\n"
    assert str(clean) not in result.stdout
    # the diff is exact: applied to the file, it gives the formatted text
    assert apply_unified_diff(MESSY, result.stdout) == EXPECTED
    assert f"not formatted: {messy}" in result.stderr and f"not formatted: {clean}" not in result.stderr
    assert messy.read_text(encoding="utf-8") == MESSY  # --check changes nothing
    assert CliRunner().invoke(cli, ["fmt", "--check", str(clean)]).stdout == ""


def test_fmt_check_diff_shows_invisible_changes(tmp_path):
    path = tmp_path / "a.hciplan"
    path.write_bytes(b"\xef\xbb\xbf" + 'cluster "c" {}\r\n'.encode())
    result = CliRunner().invoke(cli, ["fmt", "--check", str(path)])
    assert result.exit_code == 1
    assert '-\\ufeffcluster "c" {}\\r\n+cluster "c" {}\n' in result.stdout
    path.write_bytes(b'cluster "c" {}')
    assert "\\ No newline at end of file" in CliRunner().invoke(cli, ["fmt", "--check", str(path)]).stdout


def apply_unified_diff(text: str, diff: str) -> str:
    """A small patch(1): apply the hunks of a one-file unified diff to `text`."""
    import re

    old = text.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    body = diff.splitlines(keepends=True)[2:]
    for line in body:
        hunk = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if hunk:
            start = int(hunk.group(1)) - (0 if hunk.group(2) == "0" else 1)
            out.extend(old[position:start])
            position = start
        elif line.startswith("-"):
            assert old[position] == line[1:]
            position += 1
        elif line.startswith("+"):
            out.append(line[1:])
        elif line.startswith(" "):
            assert old[position] == line[1:]
            out.append(line[1:])
            position += 1
    out.extend(old[position:])
    return "".join(out)


def test_fmt_usage_errors(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["fmt", "--write", "--check", str(tmp_path / "x")]).exit_code == 2
    missing = runner.invoke(cli, ["fmt", str(tmp_path / "missing.hciplan")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_crlf_and_bom_count_as_unformatted(tmp_path):
    path = tmp_path / "a.hciplan"
    path.write_bytes(b"\xef\xbb\xbf" + EXPECTED.replace("\n", "\r\n").encode())
    runner = CliRunner()
    assert runner.invoke(cli, ["fmt", "--check", str(path)]).exit_code == 1
    assert runner.invoke(cli, ["fmt", "-w", str(path)]).exit_code == 0
    assert path.read_bytes() == EXPECTED.encode()


# --- no input breaks the formatter ----------------------------------------------------------

HCIPLAN_ALPHABET = st.sampled_from(list('cluster node "HCI01" {}[]=,.#/*\n 0123456789GBTmhsZT:-+_\\u') +
                                   ["..", "768GB", "10.0.10.1", "2026-12-05T22:00Z", "/*", "*/", "//"])


@given(st.lists(HCIPLAN_ALPHABET, max_size=60).map("".join) | st.text(max_size=80))
@PROPERTY
def test_any_text_is_formatted_or_refused_never_crashes(text):
    result = fmt.format_text(text)
    if result.ok:
        assert formatted(result.text) == result.text
        assert comments_of(result.text) == comments_of(text)
    else:
        assert result.diagnostics


def test_the_docs_fmt_check_sample_is_the_real_output(tmp_path, monkeypatch):
    doc = (ROOT / "docs" / "discovery.md").read_text(encoding="utf-8")
    block = doc.split("$ hciplan fmt --check cluster.hciplan\n", 1)[1].split("```", 1)[0]
    (tmp_path / "cluster.hciplan").write_text(
        'cluster "hci-cluster1" {\n  version = "22H2"\n  registered = true\n'
        '  node "HCI01" { memory = 768GB  ip = 10.0.10.11 }\n}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["fmt", "--check", "cluster.hciplan"])
    assert result.exit_code == 1 and result.stdout == block
