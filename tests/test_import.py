"""`hciplan import`: realistic inventories become formatted files that `check` judges as expected.

Fixtures (tests/fixtures/inventory/) are shaped like the discovery script's output,
with the cmdlets' property names and values. Each imports into a file whose
`hciplan check` diagnostics are exactly the expected ones: a TODO the human must
resolve shows up as the diagnostic that enforces it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hciplan import fmt
from hciplan.cli import cli
from hciplan.compiler.model import GiB, TiB
from hciplan.compiler.pipeline import check_text
from hciplan.discovery.importer import import_inventory

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inventory"
ORCHESTRATOR_TODO = "  # TODO: set `orchestrator`: a Windows Server 2022 machine outside the cluster that drives CAU, " \
                    'such as `orchestrator = "MGMT01"` [A-ps]\n'

EXPECTED = {
    "two-node": ["HCI603"],  # only the orchestrator is left to decide
    "four-node-aks-bitlocker": ["HCI603"],  # AKS, BitLocker, WDAC and Network ATC are all planned
    "sixteen-node": ["HCI205", "HCI603"],  # managed by SCVMM 2022
    "stretched": ["HCI603", "HCI604"],  # needs the 2509 media path
    "unreachable-node": ["HCI105"],  # the unreachable node's memory is missing
}


def imported(name: str) -> str:
    result = import_inventory((FIXTURES / f"{name}.json").read_bytes())
    assert result.errors == () and result.text is not None
    return result.text


def test_every_fixture_has_an_expectation():
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_imports_with_exactly_the_expected_diagnostics(name):
    text = imported(name)
    result = check_text(text, f"{name}.hciplan")
    assert sorted(d.code for d in result.diagnostics) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_imported_files_are_formatted_and_deterministic(name):
    text = imported(name)
    assert fmt.format_text(text).text == text
    assert imported(name) == text


@pytest.mark.parametrize("name", ["two-node", "four-node-aks-bitlocker"])
def test_resolving_the_orchestrator_todo_gives_a_clean_file(name):
    text = imported(name)
    assert ORCHESTRATOR_TODO in text
    resolved = text.replace(ORCHESTRATOR_TODO, '  orchestrator = "MGMT01"\n')
    result = check_text(resolved)
    assert result.ok and result.diagnostics == ()


def test_two_node_facts():
    model = check_text(imported("two-node")).model
    cluster, upgrade = model.cluster, model.upgrade
    assert [n.name for n in cluster.nodes] == ["EDGE-N1", "EDGE-N2"]
    assert [n.memory for n in cluster.nodes] == [384 * GiB, 384 * GiB]
    assert [str(n.ip) for n in cluster.nodes] == ["192.168.20.21/24", "192.168.20.22/24"]
    assert (cluster.witness, cluster.registered, cluster.network_atc, cluster.bitlocker) == ("cloud", True, True, "off")
    groups = {g.name: (g.count, g.memory, g.ha, g.dynamic_memory) for g in cluster.vm_groups}
    # Running VMs count with their assigned memory: dc01 8 + fs01 16 + sql01 64; app01 is dynamic.
    assert groups == {"ha": (3, 88 * GiB, True, False), "ha_dynamic": (1, 32 * GiB, True, True),
                      "local": (1, 16 * GiB, False, False)}
    volumes = {v.name: (v.size, v.resiliency, v.provisioning, v.used) for v in cluster.volumes}
    assert volumes["Volume02"] == (TiB, "mirror_2way", "thin", 300 * GiB)
    assert (upgrade.method, upgrade.max_failed_nodes, upgrade.network_atc, upgrade.bitlocker) == \
        ("cau", 0, "keep", "keep")
    assert upgrade.node_order == ("EDGE-N1", "EDGE-N2")


def test_four_node_plans_every_remediation():
    text = imported("four-node-aks-bitlocker")
    model = check_text(text).model
    cluster, upgrade = model.cluster, model.upgrade
    assert (cluster.bitlocker, cluster.wdac, cluster.network_atc, cluster.aks.installed) == ("on", "enforced", False, True)
    assert (upgrade.aks, upgrade.bitlocker, upgrade.wdac, upgrade.network_atc, upgrade.functional_level) == \
        ("remove", "suspend", "disable", "configure", "after_validation")
    resiliency = {v.name: v.resiliency for v in cluster.volumes}
    assert resiliency == {"ClusterPerformanceHistory": "mirror_3way", "UserStorage_1": "mirror_3way",
                          "UserStorage_2": "mirror_3way", "Archive": "mirror_accelerated_parity"}
    assert "# TODO: discovery cannot tell whether a preview AKS or MOC was used" in text
    assert "# TODO: to ask for the solution upgrade" in text and "\n  # solution {\n" in text
    assert "# TODO: add the maintenance window(s)" in text


def test_sixteen_nodes_keep_their_order_and_scvmm_is_recognised():
    model = check_text(imported("sixteen-node")).model
    names = [n.name for n in model.cluster.nodes]
    assert names == [f"HCI-R{r}N{n}" for r in (1, 2) for n in range(1, 9)]
    assert model.upgrade.node_order == tuple(names)
    assert model.cluster.managed_by == "scvmm_2022" and model.cluster.wdac == "audit"
    assert model.cluster.witness == "file_share"
    assert str(model.cluster.nodes[0].ip) == "10.20.0.101/22"
    assert {v.resiliency for v in model.cluster.volumes if v.name.startswith("Parity")} == {"dual_parity"}


def test_stretched_cluster_takes_the_os_upgrade_from_media_without_a_solution_block():
    text = imported("stretched")
    model = check_text(text).model
    assert model.cluster.stretched and model.upgrade.source == "media" and model.upgrade.solution is None
    assert "# TODO: set `media_path` to the folder of the extracted 2509 ISO" in text
    assert "# solution {" not in text


def test_what_could_not_be_read_becomes_a_todo_never_a_default():
    text = imported("unreachable-node")
    node = text[text.index('node "HCI13" {'):]
    node = node[:node.index("\n  }\n")]
    assert "# TODO: HCI13 could not be read ($.nodes[2]: Connecting to remote server HCI13 failed" in node
    assert "# TODO: HCI13 was Down when the inventory ran" in node
    assert "# TODO: set `memory`" in node and "memory =" not in node
    assert "ip = 172.16.5.13/24" in node  # the cluster itself knows its network interfaces
    cluster = text[:text.index("\nupgrade ")]
    for attribute in ("bitlocker", "wdac", "network_atc", "managed_by"):
        assert f"# TODO: set `{attribute}`" in cluster and f"  {attribute} " not in cluster
    assert "# TODO: add the VMs that could not be read: HCI13" in cluster
    assert "bitlocker            = suspend  # BitLocker was not read on every node" in text
    diagnostics = check_text(text).diagnostics
    assert [(d.code, d.message) for d in diagnostics] == [("HCI105", "`node` needs `memory`")]


# --- malformed and partial inventories ---------------------------------------------------


def fixture_json(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def errors_of(document) -> list[str]:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    result = import_inventory(data)
    assert result.text is None
    return [str(e) for e in result.errors]


def test_a_bad_value_is_reported_by_json_path():
    document = fixture_json("four-node-aks-bitlocker")
    document["nodes"][2]["memory"] = "abc"
    document["virtual_disks"][1]["Size"] = -5
    assert errors_of(document) == ['$.virtual_disks[1].Size: expected a number of bytes, got -5',
                                   '$.nodes[2].memory: expected a number of bytes, got "abc"']


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema="hciplan.inventory/2"),
     '$.schema: expected "hciplan.inventory/1", got "hciplan.inventory/2"'),
    (lambda d: d.pop("unreadable"), "$.unreadable: missing: every inventory lists what it could not read"),
    (lambda d: d.update(nodes={"Name": 3}), "$.nodes[0].Name: expected a string, got 3"),
    (lambda d: d.update(nodes="HCI01"), '$.nodes: expected a list, got "HCI01"'),
    (lambda d: d.update(nodes=[]), "$.nodes: the inventory lists no nodes"),
    (lambda d: d["quorum"].update(WitnessType=7), "$.quorum.WitnessType: expected a string, got 7"),
    (lambda d: d["nodes"][0]["vms"][0].update(IsClustered="yes"),
     '$.nodes[0].vms[0].IsClustered: expected true or false, got "yes"'),
    (lambda d: (d.update(cluster=None), d["unreadable"].append({"path": "$.cluster", "reason": "access denied"})),
     "$.cluster.Name: the cluster's name is not in the inventory ($.cluster: access denied)"),
])
def test_malformed_inventories_are_refused_with_the_path(change, message):
    document = fixture_json("two-node")
    change(document)
    assert any(e.startswith(message) for e in errors_of(document)), errors_of(document)


@pytest.mark.parametrize("data, message", [
    (b"", "$: not valid JSON"),
    (b"{ nodes: 1 }", "$: not valid JSON"),
    (b"[1, 2]", "$: expected an inventory object, got a list"),
    (b"\xff\xd8\xff\xe0 binary", "$: not text"),
    (b"[" * 100000, "$: not"),
])
def test_not_an_inventory(data, message):
    assert errors_of(data)[0].startswith(message)


def test_windows_powershell_encodings_and_array_quirks_are_accepted():
    document = fixture_json("two-node")
    expected = imported("two-node")
    utf16 = json.dumps(document).encode("utf-16")  # Out-File's default encoding in Windows PowerShell 5.1
    assert import_inventory(utf16).text == expected
    bom = b"\xef\xbb\xbf" + json.dumps(document).encode()
    assert import_inventory(bom).text == expected
    document["virtual_disks"] = {"value": document["virtual_disks"], "Count": len(document["virtual_disks"])}
    document["sites"] = {"Name": "Default", "Type": "Site"}  # a one-item list unrolled to an object
    assert import_inventory(json.dumps(document).encode()).text == expected


# --- the command --------------------------------------------------------------------------


def test_import_writes_refuses_to_clobber_and_prints(tmp_path):
    runner = CliRunner()
    source = str(FIXTURES / "two-node.json")
    target = tmp_path / "cluster.hciplan"
    written = runner.invoke(cli, ["import", source, "-o", str(target)])
    assert written.exit_code == 0 and "4 TODOs to review" in written.stderr
    assert target.read_text(encoding="utf-8") == imported("two-node")

    target.write_text("mine", encoding="utf-8")
    refused = runner.invoke(cli, ["import", source, "-o", str(target)])
    assert refused.exit_code == 2 and target.read_text(encoding="utf-8") == "mine"
    assert runner.invoke(cli, ["import", source, "-o", str(target), "--force"]).exit_code == 0
    assert target.read_text(encoding="utf-8") == imported("two-node")

    printed = runner.invoke(cli, ["import", source])
    assert printed.exit_code == 0 and printed.stdout == imported("two-node")


def test_import_of_a_malformed_inventory_writes_nothing(tmp_path):
    bad = tmp_path / "inventory.json"
    document = fixture_json("two-node")
    document["nodes"][1]["memory"] = "abc"
    bad.write_text(json.dumps(document), encoding="utf-8")
    target = tmp_path / "cluster.hciplan"
    result = CliRunner().invoke(cli, ["import", str(bad), "-o", str(target)])
    assert result.exit_code == 1
    assert f'{bad}: $.nodes[1].memory: expected a number of bytes, got "abc"' in result.stderr
    assert not target.exists()
    missing = CliRunner().invoke(cli, ["import", str(tmp_path / "missing.json")])
    assert missing.exit_code == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12)


@st.composite
def damaged_inventories(draw):
    """A real inventory with one value somewhere replaced by arbitrary JSON."""
    document = fixture_json(draw(st.sampled_from(sorted(EXPECTED))))
    node = document
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) or not isinstance(node[key], (dict, list)) or not node[key]:
            node[key] = draw(json_values)
            break
        node = node[key]
    return json.dumps(document).encode()


@given(damaged_inventories())
@settings(derandomize=True, max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_inventories_give_errors_or_a_checkable_file_never_a_crash(data):
    result = import_inventory(data)
    if result.text is None:
        assert result.errors and all(str(e).startswith("$") for e in result.errors)
    else:
        assert fmt.format_text(result.text).text == result.text
        check_text(result.text)  # whatever it says, it must say it without an exception


# --- hostile strings: an inventory string never becomes code ---------------------------------


def test_a_newline_in_a_commented_value_stays_in_its_comment():
    document = fixture_json("four-node-aks-bitlocker")
    document["registration"]["RegistrationStatus"] = "NotYet\n  bitlocker = off #"
    result = import_inventory(json.dumps(document).encode())
    assert result.text is not None
    assert "# Get-AzureStackHCI: RegistrationStatus NotYet\\n  bitlocker = off #, ConnectionStatus" in result.text
    assert not any(line.lstrip().startswith("bitlocker = off") for line in result.text.splitlines())
    checked = check_text(result.text)
    assert checked.model.cluster.bitlocker == "on" and checked.model.cluster.registered is False


@pytest.mark.parametrize("field, path", [
    (lambda d: d["nodes"][1], "$.nodes[1].Name"),
    (lambda d: d["cluster"], "$.cluster.Name"),
    (lambda d: d["virtual_disks"][0], "$.virtual_disks[0].FriendlyName"),
    (lambda d: d["storage_pool"], "$.storage_pool.FriendlyName"),
])
def test_a_name_with_a_control_character_is_refused(field, path):
    document = fixture_json("four-node-aks-bitlocker")
    key = path.rsplit(".", 1)[1]
    field(document)[key] = "HCI02\n  bitlocker = off #"
    errors = errors_of(document)
    assert any(e.startswith(f"{path}: contains the control character \\n") for e in errors), errors


def string_fields(document, path=()) -> list[tuple]:
    """The path (keys and indices) of every string value in a JSON document."""
    if isinstance(document, str):
        return [path]
    if isinstance(document, dict):
        items = document.items()
    else:
        items = enumerate(document) if isinstance(document, list) else []
    return [found for key, value in items for found in string_fields(value, path + (key,))]


def with_value(document, path: tuple, value):
    document = json.loads(json.dumps(document))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


HOSTILE_FIXTURES = ("four-node-aks-bitlocker", "unreachable-node")
HOSTILE_FIELDS = [(name, path) for name in HOSTILE_FIXTURES for path in string_fields(fixture_json(name))]
# The hostile text sits between two markers with no case and no meaning in the language, so the
# test can see whether any of it escaped the comment or string it was printed in.
START, END = "\u59cb", "\u7d42"


def assert_contained(text: str) -> None:
    """Every inventory string lies whole inside one comment or string token of a file that parses."""
    from hciplan.grammar import get_parser

    formatted = fmt.format_text(text)
    assert formatted.ok and formatted.text == text, formatted.diagnostics
    for token in get_parser().lex(text, dont_ignore=True):
        if START in token or END in token:
            assert token.type in ("COMMENT", "STRING"), (token.type, str(token))
            assert str(token).count(START) == str(token).count(END), str(token)
            assert "\n" not in str(token)
    check_text(text)  # whatever it says, it says without an exception


def test_hostile_strings_in_every_field_stay_inside_their_comment_or_string():
    hostile = START + '\n  bitlocker = off # "}\u2028\r\x85\u202e{' + END
    refused = 0
    for name, path in HOSTILE_FIELDS:
        result = import_inventory(json.dumps(with_value(fixture_json(name), path, hostile)).encode())
        if result.text is None:
            refused += 1
            assert result.errors and all(str(e).startswith("$") for e in result.errors), (path, result.errors)
            assert not any("the generated file" in str(e) for e in result.errors), (path, result.errors)
        else:
            assert_contained(result.text)
    assert refused < len(HOSTILE_FIELDS) // 2  # most fields are accepted and shown, escaped


@given(st.sampled_from(HOSTILE_FIELDS),
       st.text(alphabet=st.sampled_from(list('\n\r\t\x0b\x0c\x85\u2028\u2029\u202e\ufeff#"{}\\=/* ab')), max_size=12))
@settings(derandomize=True, max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_strings_give_a_clear_error_or_a_file_that_says_only_what_the_inventory_does(field, payload):
    name, path = field
    result = import_inventory(json.dumps(with_value(fixture_json(name), path, START + payload + END)).encode())
    if result.text is None:
        assert result.errors and all(str(e).startswith("$") for e in result.errors)
    else:
        assert_contained(result.text)


def test_a_language_with_a_control_character_is_refused_and_a_quote_is_kept():
    # The language becomes a string value: `check` refuses control characters there (HCI109), so import does.
    document = fixture_json("two-node")
    document["nodes"][1]["os"]["InstallLanguage"] = 'en-US\n  bitlocker = on #'
    assert errors_of(document)[0].startswith("$.nodes[1].os.InstallLanguage: contains the control character \\n")
    for node in document["nodes"]:
        node["os"]["InstallLanguage"] = 'en-US # "} bitlocker = on'
    model = check_text(imported_from(document)).model
    assert model.cluster.language == 'en-US # "} bitlocker = on' and model.cluster.bitlocker == "off"


def imported_from(document) -> str:
    result = import_inventory(json.dumps(document).encode())
    assert result.errors == () and result.text is not None
    return result.text


def test_the_import_refuses_a_file_that_does_not_read_back(monkeypatch, tmp_path):
    # The backstop, with the escaping switched off: the broken file is refused, nothing is written.
    from hciplan.discovery import importer

    monkeypatch.setattr(importer, "escape_control", lambda text: text)
    document = fixture_json("four-node-aks-bitlocker")
    document["registration"]["RegistrationStatus"] = "NotYet\n  bitlocker = off #"
    assert "the generated file does not say what the importer meant" in errors_of(document)[0]
    document["registration"]["RegistrationStatus"] = "NotYet\n  }}}"
    assert "the generated file does not parse" in errors_of(document)[0]
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(document), encoding="utf-8")
    target = tmp_path / "cluster.hciplan"
    result = CliRunner().invoke(cli, ["import", str(inventory), "-o", str(target)])
    assert result.exit_code == 1 and not target.exists()
