"""The real validator's verdict: reading Environment Checker results, and what they mean for a file.

Fixtures (tests/fixtures/validation/README.md): the 62 result objects quoted in Microsoft's
support repository, a cluster whose nodes carry their node names, and a synthetic
`Invoke-AzStackHciUpgradeValidation -PassThru` export for examples/four-node.hciplan.
"""

from __future__ import annotations

import codecs
import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hciplan import fmt
from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.diagnostics import Severity
from hciplan.compiler.pipeline import check_text
from hciplan.discovery import verdict as V
from hciplan.discovery.validation import (SEVERITY_NUMBERS, STATUS_NUMBERS, parse_timestamp, read_validation)

from helpers import EXAMPLES, ROOT, line_of, mutate

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "validation"
SAMPLE_HEADER = re.compile(r"^### (.*?)\s+\(parses_as_json=(True|False)\)\s*$", re.M)
FOUR_NODE = (EXAMPLES / "four-node.hciplan").read_text(encoding="utf-8")
SAMPLES_CLUSTER = (FIXTURES / "samples-cluster.hciplan").read_text(encoding="utf-8")
UPGRADE = json.loads((FIXTURES / "upgrade-validation.json").read_text(encoding="utf-8"))


def samples() -> list[tuple[str, bool, str]]:
    """(TSG path, parses as JSON, body) for each of the 62 quoted result objects."""
    text = (FIXTURES / "envchecker-results.txt").read_text(encoding="utf-8")
    parts = SAMPLE_HEADER.split(text)
    return [(parts[i], parts[i + 1] == "True", parts[i + 2]) for i in range(1, len(parts), 3)]


SAMPLES = samples()
PARSEABLE = [(path, body) for path, ok, body in SAMPLES if ok]


def read(document) -> tuple:
    data = document if isinstance(document, bytes) else json.dumps(document).encode("utf-8")
    result = read_validation(data)
    assert result.errors == (), [str(e) for e in result.errors]
    return result.results


def errors_of(document) -> list[str]:
    data = document if isinstance(document, bytes) else json.dumps(document).encode("utf-8")
    result = read_validation(data)
    assert result.results == ()
    return [str(e) for e in result.errors]


def overlay(text: str, results, name: str = "plan.hciplan"):
    check = check_text(text, name)
    assert check.model is not None, check.diagnostics
    compiled = compile_checked(check)
    judged = V.judge(check.model, compiled.diagnostics, results, "results.json")
    return judged, V.overlay(compiled.diagnostics, judged)


def ours(diagnostics) -> list:
    return [d for d in diagnostics if d.code.startswith("HCI11")]


# --- reading ----------------------------------------------------------------------------------------


def test_the_sample_file_holds_62_results_57_of_them_json():
    assert len(SAMPLES) == 62 and len(PARSEABLE) == 57


@pytest.mark.parametrize("path,body", PARSEABLE, ids=[f"{i}-{p.split('/')[-1]}" for i, (p, _) in enumerate(PARSEABLE)])
def test_every_parseable_sample_reads_as_one_result(path, body):
    (result,) = read(body.encode("utf-8"))
    assert result.name == json.loads(body)["Name"]
    assert result.status in ("SUCCESS", "FAILURE")


def test_the_samples_that_are_not_json_are_read_or_refused_with_a_position():
    others = [(path, body) for path, ok, body in SAMPLES if not ok]
    outcome = {path.split("/")[-1] + str(i): read_validation(body.encode()) for i, (path, body) in enumerate(others)}
    read_ok = [r for r in outcome.values() if r.errors == ()]
    refused = [r for r in outcome.values() if r.errors]
    # raw line breaks inside strings (hand-copied exports) are read; a trailing comma and stray quotes are not
    assert len(read_ok) == 3 and len(refused) == 2
    for r in refused:
        (error,) = r.errors
        assert error.path == "$" and re.search(r"not valid JSON: .* at line \d+, column \d+", error.message)


def test_integer_and_string_enums_mean_the_same():
    as_names = read(UPGRADE)
    numbers = {v: k for k, v in STATUS_NUMBERS.items()}
    severities = {v: k for k, v in SEVERITY_NUMBERS.items()}
    as_integers = copy.deepcopy(UPGRADE)
    for item in as_integers:
        item["Status"] = numbers[item["Status"].upper()]
        item["Severity"] = severities[item["Severity"].upper()]
    read_integers = read(as_integers)
    assert [(r.name, r.status, r.severity) for r in read_integers] == [(r.name, r.status, r.severity) for r in as_names]
    assert {r.status_written for r in read_integers} == {"0", "1"}


@pytest.mark.parametrize("written,status", [("FAILURE", "FAILURE"), ("failure", "FAILURE"), ("Failed", "FAILURE"),
                                            ("SUCCESS", "SUCCESS"), ("Succeeded", "SUCCESS"), (0, "SUCCESS"),
                                            (1, "FAILURE"), ("WARNING", "WARNING"), ("In Progress", "IN_PROGRESS")])
def test_status_forms(written, status):
    (result,) = read({"Name": "T", "Status": written})
    assert result.status == status and result.failed == (status == "FAILURE")


@pytest.mark.parametrize("written,severity", [("Critical", "CRITICAL"), ("CRITICAL", "CRITICAL"), (2, "CRITICAL"),
                                              (1, "WARNING"), ("Warning", "WARNING"), (0, "INFORMATIONAL"),
                                              ("Hidden", "HIDDEN"), (9, "unknown (9)"), ("Severe", "unknown (Severe)")])
def test_severity_forms(written, severity):
    (result,) = read({"Name": "T", "Status": "FAILURE", "Severity": written})
    assert result.severity == severity


def test_a_status_of_0_with_a_failure_detail_is_a_failure_as_in_the_emitted_gate():
    body = next(body for path, body in PARSEABLE if "DriverConsistency" in path)
    assert json.loads(body)["Status"] == 0
    (result,) = read(body.encode())
    assert result.failed and "AdditionalData.Status FAILURE" in result.note


def test_encodings_and_containers():
    document = [{"Name": "A", "Status": "FAILURE"}, {"Name": "B", "Status": 0}]
    text = json.dumps(document)
    for data in (text.encode("utf-8"), codecs.BOM_UTF8 + text.encode("utf-8"),
                 codecs.BOM_UTF16_LE + text.encode("utf-16-le"), codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
                 json.dumps({"value": document, "Count": 2}).encode()):
        assert [r.name for r in read(data)] == ["A", "B"]
    (single,) = read(document[0])
    assert single.path == "$" and [r.path for r in read(document)] == ["$[0]", "$[1]"]


@pytest.mark.parametrize("written,expected", [
    ("/Date(1758977970006)/", "2025-09-27T12:59:30Z"),
    ("\\/Date(1758977970006)\\/", "2025-09-27T12:59:30Z"),  # the backslashes kept, as some copies have them
    ("/Date(1758977970006+0200)/", "2025-09-27T12:59:30Z"),  # the offset does not move the UTC instant
    ("2024-06-12T10:20:34.3343434Z", "2024-06-12T10:20:34Z"),
    ("2025-11-03T12:34:56+01:00", "2025-11-03T11:34:56Z"),
    ("09/27/2025 12:59:30", "2025-09-27T12:59:30"),  # zone unknown: no Z
    ("1/14/2025 5:55:09 AM", "2025-01-14T05:55:09"),
    ("<timestamp>", "time unknown"),
    ("\\/Date(timestamp)\\/", "time unknown"),
])
def test_timestamps(written, expected):
    (result,) = read({"Name": "T", "Status": "FAILURE", "Timestamp": written})
    assert result.when == expected and result.timestamp_text == written


def test_the_json_escaped_date_of_windows_powershell_and_its_object_form():
    (result,) = read(b'{"Name": "T", "Status": 1, "Timestamp": "\\/Date(1758977970006)\\/"}')
    assert result.when == "2025-09-27T12:59:30Z"
    (result,) = read({"Name": "T", "Status": 1, "Timestamp": {"value": "/Date(1758977970006)/", "DisplayHint": 2}})
    assert result.when == "2025-09-27T12:59:30Z"
    # no Timestamp: AdditionalData.TimeStamp is the next best
    (result,) = read({"Name": "T", "Status": 1, "AdditionalData": {"TimeStamp": "09/26/2025 16:04:29"}})
    assert result.when == "2025-09-26T16:04:29"
    assert parse_timestamp("/Date(999999999999999)/") is None  # beyond year 9999


def test_additional_data_flattened_by_convertto_json_depth_is_read_with_a_note():
    (result,) = read({"Name": "T", "Status": "FAILURE", "AdditionalData": "System.Collections.Hashtable"})
    assert result.detail is None and "-Depth 5" in result.note


@pytest.mark.parametrize("document,expected", [
    ("just text", '$: expected a result object (with `Name` and `Status`) or a list of them, got "just text"'),
    ([], "$: the list is empty: there is no result to read"),
    ({"schema": "hciplan.inventory/1", "nodes": []}, "$: expected Environment Checker results, got an hciplan "
                                                     "inventory"),
    ({"Results": [], "Version": 2}, "$: expected a result object (with `Name` and `Status`) or a list of them, got "
                                    "an object with Results, Version"),
    ([{"Name": "A", "Status": "FAILURE"}, 5], "$[1]: expected a result object (with `Name` and `Status`), got 5"),
    ({"Status": "FAILURE"}, "$.Name: missing: every result names its test"),
    ({"Name": "", "Status": "FAILURE"}, "$.Name: missing"),
    ({"Name": 5, "Status": "FAILURE"}, "$.Name: expected text, got 5"),
    ({"Name": "A"}, "$.Status: missing: expected a status"),
    ({"Name": "A", "Status": True}, "$.Status: expected a status: a name such as \"SUCCESS\" or its number, got true"),
    ({"Name": "A", "Status": 7}, "$.Status: 7 is not a status hciplan knows (0 (SUCCESS), 1 (FAILURE)"),
    ({"Name": "A", "Status": "BROKEN"}, '$.Status: "BROKEN" is not a status hciplan knows'),
    ({"Name": "A", "Status": 1, "Severity": [2]}, "$.Severity: expected a severity"),
    ({"Name": "A", "Status": 1, "AdditionalData": [1]}, "$.AdditionalData: expected an object (Detail, Status, ...), "
                                                        "got a list"),
    ({"Name": "A", "Status": 1, "AdditionalData": {"Detail": {"x": 1}}}, "$.AdditionalData.Detail: expected text, "
                                                                        "got an object"),
    ({"Name": "A", "Status": 1, "TargetResourceName": ["HCI01"]}, "$.TargetResourceName: expected text, got a list"),
    ({"Name": "A", "Status": 1, "Timestamp": 1758977970006}, "$.Timestamp: expected a date, got 1758977970006"),
])
def test_shapes_that_are_not_result_objects_are_refused_naming_the_field(document, expected):
    messages = errors_of(document)
    assert any(m.startswith(expected) for m in messages), messages


def test_every_problem_is_reported_and_nothing_is_returned():
    messages = errors_of([{"Name": "A", "Status": True}, {"Status": "FAILURE"}, {"Name": "C", "Status": 1}])
    assert [m.split(":")[0] for m in messages] == ["$[0].Status", "$[1].Name"]


def test_not_text_and_not_json():
    (error,) = read_validation(b"\xff\xfe\x00\xd8").errors  # a lone UTF-16 surrogate
    assert error.path == "$" and "not text" in error.message
    (error,) = read_validation(b'[{"Name": "A", "Status": 1},]').errors
    assert "not valid JSON" in error.message and "line 1" in error.message


# --- the samples against a file ----------------------------------------------------------------------

# What each known sample decides (the rest are tests hciplan does not know). A test fails when the mapping
# changes without this table.
SAMPLE_FACTS = {
    "AzStackHci_Hardware_Test_Secure_Boot": "secure_boot",
    "AzStackHci_Hardware_Test_Tpm_Version": "tpm_version",
    "AzStackHci_Software_IsNotPartofDomain": "domain",
    "AzStackHci_Network_Test_AKS_Subnet_POD_CIDR_IP_Range_Overlap": "ip_range",
    "AzStackHci_Network_Test_AKS_Subnet_Service_CIDR_IP_Range_Overlap": "ip_range",
    "AzStackHci_Network_Test_Network_Cluster_Intent_Status": "network_atc",
    "AzStackHci_Network_Test_Network_Cluster_MgmtIntent_Exists": "network_atc",
    "AzStackHci_Network_Test_Network_Cluster_StorageIntentExistence": "network_atc",
    "AzureLocal_Network_Test_IntentVirtualAdapterExistence": "network_atc",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_ExceptionFound": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_AzureArc": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_DNSClientServerAddress_Readiness": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_DNS_Server_Port_53": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_Hyper_V_Readiness": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_IPReadiness": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_VMSwitch_Readiness": "ip_range",
    "AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_vNIC_Readiness": "ip_range",
    "AzStackHci_Network_Test_IP_Pools_Subnet_No_Duplicates": "ip_range",
    "AzStackHci_Network_Test_Management_IP_Range_Subnet": "ip_range",
    "AzStackHci_Network_Test_Validity_MgmtIp_In_Infra_Subnet": "ip_range",
    "AzStackHci_Network_Test_Validity_MgmtIp_NotIn_Infra_Pool": "ip_range",
    "AzureLocal_Network_Test_NodeManagementIPConnection": "node_ip",
}


def test_the_known_samples_are_exactly_the_table():
    names = {json.loads(body)["Name"] for _, body in PARSEABLE}
    assert {n for n in names if V.known_test(read({"Name": n, "Status": 1})[0])} == set(SAMPLE_FACTS)
    assert {n: V.known_test(read({"Name": n, "Status": 1})[0]).fact for n in SAMPLE_FACTS} == SAMPLE_FACTS


@pytest.mark.parametrize("path,body", PARSEABLE, ids=[f"{i}-{p.split('/')[-1]}" for i, (p, _) in enumerate(PARSEABLE)])
def test_every_parseable_sample_maps_to_a_diagnostic_or_the_plan(path, body):
    (result,) = read(body.encode())
    judged, diagnostics = overlay(SAMPLES_CLUSTER, (result,), "samples-cluster.hciplan")
    (finding,) = judged.findings
    added = ours(diagnostics)
    known = V.known_test(result)
    if known is None:
        assert finding.state == V.UNKNOWN
        (diagnostic,) = added
        assert diagnostic.code == "HCI1103" and f"`{result.name}`" in diagnostic.message
        assert diagnostic.severity is Severity.WARNING
    elif finding.state == V.PLANNED:  # the file plans what the test asks for: no diagnostic, a summary line
        assert added == [] and any(result.label in line for line in V.summary_lines(judged))
    else:
        (diagnostic,) = added
        assert diagnostic.code in ("HCI1101", "HCI1102") and f"`{result.label}`" in diagnostic.message
        assert V.FACTS[known.fact].remediation in " ".join(diagnostic.hints)
    # every finding stands at a place in the file
    text_lines = SAMPLES_CLUSTER.split("\n")
    for diagnostic in added:
        assert diagnostic.span.file == "samples-cluster.hciplan"
        assert 1 <= diagnostic.span.line <= len(text_lines)


def _sample(name: str):
    body = next(body for _, body in PARSEABLE if json.loads(body)["Name"] == name)
    return read(body.encode())


def test_secure_boot_is_a_live_error_at_the_node():
    judged, diagnostics = overlay(SAMPLES_CLUSTER, _sample("AzStackHci_Hardware_Test_Secure_Boot"))
    (d,) = ours(diagnostics)
    assert (d.code, d.severity) == ("HCI1101", Severity.ERROR)
    assert d.span.line == line_of(SAMPLES_CLUSTER, 'node "AzL-Node-01"')
    assert "`Test Secure Boot` on AzL-Node-01 (Critical): SecureBoot is 'False' on AzL-Node-01" in d.message
    assert any("UEFI" in h for h in d.hints) and "the validator's remediation: https://aka.ms/hci-envch" in d.hints


def test_tpm_version_is_an_error_at_the_node_and_a_tpm_property_a_warning():
    _, diagnostics = overlay(SAMPLES_CLUSTER, _sample("AzStackHci_Hardware_Test_Tpm_Version"))
    (d,) = ours(diagnostics)
    assert (d.code, d.severity, d.span.line) == ("HCI1101", Severity.ERROR, line_of(SAMPLES_CLUSTER, 'node "AzL-Node-01"'))
    assert "Tpm version is 1.2. Expected 2.0" in d.message
    prop = read({"Name": "AzStackHci_Upgrade_Test_Tpm_TpmReady_Property", "Status": "FAILURE", "Severity": "WARNING",
                 "TargetResourceName": "Machine: NODE3, Class: Tpm"})
    _, diagnostics = overlay(SAMPLES_CLUSTER, prop)
    (d,) = ours(diagnostics)
    assert (d.code, d.severity, d.span.line) == ("HCI1101", Severity.WARNING, line_of(SAMPLES_CLUSTER, 'node "NODE3"'))
    assert "non-blocking" in d.hints[0] and "[A-val]" in d.hints[0]


def test_domain_membership_is_a_warning_that_names_a_deployment_validation():
    _, diagnostics = overlay(SAMPLES_CLUSTER, _sample("AzStackHci_Software_IsNotPartofDomain"))
    (d,) = ours(diagnostics)
    assert (d.code, d.severity, d.span.line) == ("HCI1101", Severity.WARNING,
                                                  line_of(SAMPLES_CLUSTER, 'node "AzL-Node-01"'))
    assert any("deployment validation" in h for h in d.hints)


def test_network_atc_intents_planned_contradicted_or_live():
    exists = _sample("AzStackHci_Network_Test_Network_Cluster_MgmtIntent_Exists")
    health = _sample("AzStackHci_Network_Test_Network_Cluster_Intent_Status")
    judged, diagnostics = overlay(SAMPLES_CLUSTER, exists)
    assert judged.findings[0].state == V.PLANNED and ours(diagnostics) == []
    configured = mutate(SAMPLES_CLUSTER, ("network_atc = false", "network_atc = true"),
                        ("network_atc = configure", "network_atc = keep"))
    _, diagnostics = overlay(configured, exists)
    (d,) = ours(diagnostics)  # a missing management intent: the file's `network_atc = true` is wrong
    assert d.code == "HCI1102" and d.span.line == line_of(configured, "network_atc = true")
    assert d.hints[0].startswith("write `network_atc = false`")
    _, diagnostics = overlay(configured, health)
    (d,) = ours(diagnostics)  # intents exist but are unhealthy: a live failure of a configured fact
    assert (d.code, d.severity) == ("HCI1101", Severity.ERROR) and d.span.line == line_of(configured, "network_atc = true")
    assert "Get-NetIntentStatus" in d.hints[0] and "[S-atcnic]" in d.hints[0]


def test_infrastructure_pool_tests_stand_at_the_ip_range():
    results = _sample("AzStackHci_Network_Test_Validity_MgmtIp_NotIn_Infra_Pool") + \
        _sample("AzureLocal_NetworkInfraConnection_Test_Infra_IP_Connection_AzureArc")
    judged, diagnostics = overlay(SAMPLES_CLUSTER, results)
    (d,) = ours(diagnostics)  # one fact, one diagnostic
    assert d.code == "HCI1101" and d.span.line == line_of(SAMPLES_CLUSTER, "ip_range =")
    assert "[A-inst]" in d.hints[0] and len(judged.findings[0].results) == 2


def test_a_node_ip_failure_stands_at_the_nodes_ip():
    _, diagnostics = overlay(SAMPLES_CLUSTER, _sample("AzureLocal_Network_Test_NodeManagementIPConnection"))
    (d,) = ours(diagnostics)
    line = line_of(SAMPLES_CLUSTER, 'node "NODE1"')
    assert d.span.line == line and SAMPLES_CLUSTER.split("\n")[line - 1][d.span.column - 1:].startswith("10.0.1.12")


def test_an_unknown_test_naming_a_node_stands_at_the_node():
    _, diagnostics = overlay(SAMPLES_CLUSTER, _sample("AzStackHci_Hardware_Test_PhysicalDisk_Minimum_Count"))
    (d,) = ours(diagnostics)
    assert d.code == "HCI1103" and d.span.line == line_of(SAMPLES_CLUSTER, 'node "NODE1"')
    assert "Total number of PhysicalDisk '1'. Expected at least '3'" in d.message


def test_all_samples_together_and_the_summary():
    results = [r for _, body in PARSEABLE for r in read(body.encode())]
    judged, diagnostics = overlay(SAMPLES_CLUSTER, results)
    unknown = [d for d in diagnostics if d.code == "HCI1103"]
    assert len(unknown) == len({r.name for r in results if V.known_test(r) is None}) == 35
    summary = V.summary_lines(judged)
    assert summary[0] == "validation results.json: 57 results: 0 passed, 57 failed"
    assert summary[1] == "  resolved by the plan (1):" and "network_atc = configure" in summary[2]
    # deterministic: the same results give the same diagnostics
    assert overlay(SAMPLES_CLUSTER, results)[1] == diagnostics


# --- the upgrade validator against the four-node example ------------------------------------------------


def _upgrade(**changes):
    results = copy.deepcopy(UPGRADE)
    for item in results:
        for name, status in changes.items():
            if item["Name"] == name:
                item["Status"] = status
                if isinstance(item.get("AdditionalData"), dict):
                    item["AdditionalData"]["Status"] = status
    return read(results)


def test_the_four_node_plan_resolves_most_failures_and_reports_the_rest():
    judged, diagnostics = overlay(FOUR_NODE, read(UPGRADE), "four-node.hciplan")
    states = {f.fact.key if f.fact else f.results[0].name: f.state for f in judged.findings}
    assert states == {
        "os_version": "planned", "features": "planned", "network_atc": "planned", "bitlocker": "planned",
        "wdac": "planned", "functional_level": "planned", "lcm": "planned",
        "pool": "live", "node_up": "live", "tpm_property": "live", "AzStackHci_Upgrade_ClusterIPNotIpv6": "unknown"}
    found = sorted((d.code, d.severity.value, d.span.line) for d in ours(diagnostics))
    assert found == sorted([("HCI1101", "warning", line_of(FOUR_NODE, 'pool "S2D')),
                            ("HCI1101", "error", line_of(FOUR_NODE, 'node "HCI03"')),
                            ("HCI1101", "warning", line_of(FOUR_NODE, 'node "HCI02"')),
                            ("HCI1103", "warning", line_of(FOUR_NODE, 'cluster "hci-cluster1"'))])
    pool = next(d for d in diagnostics if d.span.line == line_of(FOUR_NODE, 'pool "S2D'))
    assert any("storage_pool = update" in h for h in pool.hints)
    assert "the validator's remediation: Storage pool 'S2D on hci-cluster1' is at version 24" in " ".join(pool.hints)
    assert (judged.count("SUCCESS"), judged.count("FAILURE")) == (31, 23)


def test_integer_utf16_export_gives_the_same_diagnostics():
    numbers = {v: k for k, v in STATUS_NUMBERS.items()}
    severities = {v: k for k, v in SEVERITY_NUMBERS.items()}
    as_integers = copy.deepcopy(UPGRADE)
    for item in as_integers:
        item["Status"] = numbers[item["Status"]]
        item["Severity"] = severities[item["Severity"].upper()]
        item["Timestamp"] = "/Date(1763631667123)/"
    data = codecs.BOM_UTF16_LE + json.dumps(as_integers, indent=4).encode("utf-16-le")
    _, from_names = overlay(FOUR_NODE, read(UPGRADE))
    _, from_integers = overlay(FOUR_NODE, read(data))
    assert [(d.code, d.severity, d.span, d.message) for d in from_names] == \
        [(d.code, d.severity, d.span, d.message) for d in from_integers]


def test_bitlocker_planned_confirmed_or_contradicted():
    results = [r for r in read(UPGRADE) if r.name == "AzStackHci_Upgrade_BitlockerSuspension"]
    judged, diagnostics = overlay(FOUR_NODE, results)
    assert judged.findings[0].state == V.PLANNED and ours(diagnostics) == []
    keep = mutate(FOUR_NODE, ("bitlocker            = suspend", "bitlocker = keep"))
    _, diagnostics = overlay(keep, results)
    (d,) = [d for d in diagnostics if d.code == "HCI301"]  # hciplan's own rule, with the validator's text
    assert ours(diagnostics) == [] and any(h.startswith("the validator confirms it: FAILURE for `Test Bitlocker "
                                                        "Suspension` on HCI01, HCI02, HCI03, HCI04 (Critical)") for h in d.hints)
    off = mutate(FOUR_NODE, ("bitlocker            = on\n", "bitlocker = off\n"))
    _, diagnostics = overlay(off, results)
    (d,) = ours(diagnostics)
    assert d.code == "HCI1102" and d.span.line == line_of(off, "bitlocker = off")
    assert d.hints[0].startswith("write `bitlocker = on`") and "HCI301" in d.hints[0]


def test_passing_tests_that_contradict_the_file():
    aks = mutate(FOUR_NODE, ("  arc_vms {\n", "  aks { installed = true }\n  arc_vms {\n"),
                 ("bitlocker            = suspend", "bitlocker = suspend   aks = remove"))
    judged, diagnostics = overlay(aks, read(UPGRADE))
    (d,) = [d for d in ours(diagnostics) if d.code == "HCI1102"]
    assert d.span.line == line_of(aks, "aks { installed = true }") and "`aks { installed = false }`" in d.hints[0]
    german = mutate(FOUR_NODE, ('language             = "en-US"', 'language = "de-DE"'))
    judged, diagnostics = overlay(german, read(UPGRADE))
    (d,) = [d for d in ours(diagnostics) if d.code == "HCI1102"]
    assert d.span.line == line_of(german, 'language = "de-DE"') and d.hints[0].startswith('write `language = "en-US"`')


def test_a_file_without_a_solution_block_takes_solution_failures_as_warnings():
    os_only = re.sub(r"  solution \{.*?\n  \}\n", "", FOUR_NODE, flags=re.S)
    os_only = mutate(os_only, ("wdac                 = disable\n  network_atc          = configure",
                                "wdac = keep   network_atc = keep"))
    assert "solution {" not in os_only
    _, diagnostics = overlay(os_only, _upgrade())
    by_line = {(d.span.line, d.code): d.severity for d in ours(diagnostics)}
    assert by_line[(line_of(os_only, "wdac                 = enforced"), "HCI1101")] is Severity.WARNING
    assert by_line[(line_of(os_only, 'node "HCI03"'), "HCI1101")] is Severity.ERROR  # a node down blocks any upgrade


def test_a_contradicted_fact_the_plan_does_not_need_yet_is_a_warning():
    os_only = re.sub(r"  solution \{.*?\n  \}\n", "", FOUR_NODE, flags=re.S)
    os_only = mutate(os_only, ("wdac                 = enforced", "wdac = off"), ("wdac                 = disable", "wdac = keep"))
    results = [r for r in read(UPGRADE) if r.name == "AzStackHci_Upgrade_WDACEnablement"]
    _, diagnostics = overlay(os_only, results)
    (d,) = ours(diagnostics)
    assert (d.code, d.severity, d.span.line) == ("HCI1102", Severity.WARNING, line_of(os_only, "wdac = off"))
    _, diagnostics = overlay(mutate(FOUR_NODE, ("wdac                 = enforced", "wdac = off"),
                                    ("wdac                 = disable", "wdac = keep")),
                             results)
    (d,) = ours(diagnostics)
    assert (d.code, d.severity) == ("HCI1102", Severity.ERROR)


def test_results_of_another_cluster_naming_nodes_bare():
    results = read([{"Name": "AzStackHci_Upgrade_ClusterNodeUp", "Status": "FAILURE", "TargetResourceName": "EDGE-N2"},
                    {"Name": "AzStackHci_Upgrade_BitlockerSuspension", "Status": "FAILURE",
                     "TargetResourceName": "Cluster"}])
    judged, diagnostics = overlay(FOUR_NODE, results)
    assert judged.foreign == ("EDGE-N2",) and [d.code for d in diagnostics if d.code == "HCI1104"] == ["HCI1104"]


def test_results_of_another_cluster():
    results = read([{"Name": "AzStackHci_Hardware_Test_Secure_Boot", "Status": "FAILURE",
                     "TargetResourceName": "Machine: OTHER-N1, SecureBoot"},
                    {"Name": "AzStackHci_Hardware_Test_Tpm_Version", "Status": "FAILURE",
                     "TargetResourceName": "Machine: OTHER-N2, Class: Tpm"}])
    judged, diagnostics = overlay(FOUR_NODE, results)
    assert judged.foreign == ("OTHER-N1", "OTHER-N2")
    (foreign,) = [d for d in diagnostics if d.code == "HCI1104"]
    assert foreign.span.line == line_of(FOUR_NODE, 'cluster "hci-cluster1"') and "OTHER-N1, OTHER-N2" in foreign.message
    secure = next(d for d in diagnostics if "Secure_Boot" in d.message)
    assert secure.span.line == foreign.span.line and secure.hints[0] == "Machine: OTHER-N1, SecureBoot names no node " \
                                                                         "of this file"


def test_an_aggregated_result_is_located_by_the_nodes_its_detail_names():
    results = read({"Name": "AzStackHci_Upgrade_RequiredWindowsFeature", "Status": "FAILURE", "Severity": "CRITICAL",
                    "TargetResourceName": "AllNodes", "Tags": {"IsAggregated": True},
                    "AdditionalData": {"Detail": "- HCI02\n  - features missing\n- HCI04\n  - features missing",
                                       "Status": "FAILURE"}})
    no_solution = re.sub(r"  solution \{.*?\n  \}\n", "", FOUR_NODE, flags=re.S)
    _, diagnostics = overlay(no_solution, results)
    assert sorted(d.span.line for d in ours(diagnostics)) == [line_of(no_solution, 'node "HCI02"'),
                                                                line_of(no_solution, 'node "HCI04"')]


def test_node_names_match_whole_names_only():
    model = check_text(SAMPLES_CLUSTER).model
    (result,) = read({"Name": "T", "Status": 1, "TargetResourceName": "Machine: NODE13, Class: Disk"})
    assert V.mentioned_nodes(result, model) == ()
    (result,) = read({"Name": "T", "Status": 1, "TargetResourceName": "node3.contoso.com"})
    assert V.mentioned_nodes(result, model) == ("NODE3",)


def test_known_tests_have_facts_and_unique_names():
    names = [t.name.lower() for t in V.KNOWN_TESTS]
    assert len(names) == len(set(names)) and all(t.fact in V.FACTS for t in V.KNOWN_TESTS)
    assert all(code.startswith("HCI") for fact in V.FACTS.values() for code in fact.codes)


# --- the rewrite ----------------------------------------------------------------------------------------


def test_rewrite_writes_the_decided_facts_with_their_provenance():
    results = read([
        {"Name": "AzStackHci_Upgrade_BitlockerSuspension", "Status": 1, "TargetResourceName": "HCI01",
         "Timestamp": "/Date(1758977970006)/"},
        {"Name": "AzStackHci_Upgrade_StretchedCluster", "Status": "FAILURE", "TargetResourceName": "HCI01"},
        {"Name": "AzStackHci_Upgrade_AksHci", "Status": "FAILURE", "TargetResourceName": "HCI02",
         "Timestamp": "2026-11-20T09:41:07Z"},
    ])
    text = mutate(FOUR_NODE, ("bitlocker            = on\n", "bitlocker = off\n"))
    outcome = V.import_into(check_text(text, "f.hciplan"), results, "r.json")
    assert outcome.problem is None and [f.change.attr for f in outcome.written] == ["bitlocker", "stretched", "installed"]
    new = outcome.text
    assert "  bitlocker            = on  # from validation: AzStackHci_Upgrade_BitlockerSuspension FAILURE " \
           "2025-09-27T12:59:30Z\n" in new
    assert "stretched            = true  # from validation: AzStackHci_Upgrade_StretchedCluster FAILURE time unknown" in new
    assert "  aks {\n    installed = true  # from validation: AzStackHci_Upgrade_AksHci FAILURE 2026-11-20T09:41:07Z\n" in new
    model = check_text(new).model
    assert (model.cluster.bitlocker, model.cluster.stretched, model.cluster.aks.installed) == ("on", True, True)
    # a second import of the same results changes nothing
    again = V.import_into(check_text(new, "f.hciplan"), results, "r.json")
    assert again.text is None and again.written == ()


def test_rewrite_replaces_an_earlier_validation_comment_and_keeps_others():
    text = mutate(FOUR_NODE, ("network_atc          = false", "network_atc = true  # checked by hand"))
    results = read({"Name": "AzStackHci_Upgrade_Test_NetworkATCFeature_Installed", "Status": "FAILURE"})
    first = V.import_into(check_text(text), results, "r.json").text
    assert "network_atc          = false  # checked by hand # from validation: " \
           "AzStackHci_Upgrade_Test_NetworkATCFeature_Installed FAILURE time unknown\n" in first
    flipped = first.replace("network_atc          = false", "network_atc          = true")
    second = V.import_into(check_text(flipped), results, "r.json").text
    assert second.count("# from validation:") == 1 and "# checked by hand" in second


def test_the_docs_list_every_known_test_and_the_integer_tables():
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    for test in V.KNOWN_TESTS:
        assert f"`{test.name}`" in doc, test.name
    for fact in V.FACTS.values():
        assert f"| {fact.what} |" in doc, fact.what
    for number, name in STATUS_NUMBERS.items():
        assert f"| `{number}` | {name} |" in doc
    for number, name in SEVERITY_NUMBERS.items():
        assert f"| `{number}` | {name} |" in doc
    assert "inferred from the samples" in doc


def test_timestamps_in_comments_are_utc():
    stamp = dt.datetime(2025, 9, 27, 12, 59, 30, tzinfo=dt.timezone.utc)
    assert parse_timestamp("/Date(1758977970006)/").replace(microsecond=0) == stamp


def test_the_docs_sample_is_the_real_output():
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    command = "hciplan check examples/four-node.hciplan --validation tests/fixtures/validation/upgrade-validation.json"
    block = doc.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(cli, command.split()[1:], catch_exceptions=False)
    assert result.exit_code == 1 and result.output == block


# --- the command line -------------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def files(tmp_path):
    def write(name: str, content) -> str:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(json.dumps(content), encoding="utf-8")
        return str(path)
    return write


def test_check_with_validation_exit_codes_and_summary(files):
    plan = files("plan.hciplan", FOUR_NODE)
    clean = files("clean.json", [{"Name": "AzStackHci_Upgrade_BitlockerSuspension", "Status": "FAILURE",
                                  "TargetResourceName": "HCI01"}, {"Name": "X", "Status": "SUCCESS"}])
    result = invoke("check", plan, "--validation", clean)
    assert result.exit_code == 0, result.output
    assert result.output == (f"validation {clean}: 2 results: 1 passed, 1 failed\n"
                             "  resolved by the plan (1):\n"
                             "    FAILURE for `AzStackHci_Upgrade_BitlockerSuspension` on HCI01: P1 suspends BitLocker "
                             "on every node before the first reboot (`bitlocker = suspend`)\n"
                             "1 file checked: 0 errors, 0 warnings\n")
    down = files("down.json", [{"Name": "AzStackHci_Upgrade_ClusterNodeUp", "Status": 1, "Severity": 2,
                                "TargetResourceName": "HCI02"}])
    result = invoke("check", plan, "--validation", down)
    assert result.exit_code == 1 and "error[HCI1101]" in result.output
    assert result.output.endswith("1 file checked: 1 error, 0 warnings\n")


def test_check_with_validation_json(files):
    plan = files("plan.hciplan", FOUR_NODE)
    results = files("r.json", UPGRADE)
    result = invoke("check", plan, "--format", "json", "--validation", results)
    document = json.loads(result.stdout)
    assert result.exit_code == 1 and set(document) == {"schema", "diagnostics", "validation"}
    validation = document["validation"]
    assert (validation["results"], validation["passed"], validation["failed"]) == (54, 31, 23)
    states = {t["name"]: t["state"] for t in validation["tests"]}
    assert states["AzStackHci_Upgrade_BitlockerSuspension"] == "planned"
    assert states["AzStackHci_Upgrade_ClusterIPNotIpv6"] == "unknown"
    assert states["AzStackHci_Upgrade_FreeMemory"] == "passed"
    assert {d["code"] for d in document["diagnostics"]} == {"HCI1101", "HCI1103"}


def test_check_with_validation_refuses_bad_results_and_several_files(files):
    plan = files("plan.hciplan", FOUR_NODE)
    bad = files("bad.json", [{"Name": "A", "Status": "MAYBE"}])
    result = invoke("check", plan, "--validation", bad)
    assert result.exit_code == 1 and result.stdout == ""
    assert f'{bad}: $[0].Status: "MAYBE" is not a status hciplan knows' in result.stderr
    assert "nothing was done" in result.stderr and "Traceback" not in result.stderr
    result = invoke("check", plan, plan, "--validation", files("ok.json", {"Name": "A", "Status": 0}))
    assert result.exit_code == 2 and "--validation applies to one FILE" in result.stderr


def test_check_with_validation_on_a_file_with_structural_errors(files):
    plan = files("plan.hciplan", mutate(FOUR_NODE, ("witness              = cloud", "witnes = cloud")))
    result = invoke("check", plan, "--validation", files("ok.json", {"Name": "A", "Status": 1}))
    assert result.exit_code == 1 and "error[HCI102]" in result.stdout
    assert "not applied, fix the errors above first" in result.stdout


def test_import_validation_lists_known_unknown_and_passes_without_a_file(files):
    results = files("r.json", UPGRADE)
    result = invoke("import", "--validation", results)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"{results}: 54 results: 31 passed, 23 failed"
    assert any(re.match(r"  AzStackHci_Upgrade_BitlockerSuspension +FAILURE +HCI01 +BitLocker suspension \(HCI301\)$",
                        line) for line in lines)
    assert "Failed tests hciplan does not know (1), listed as the validator wrote them:" in lines
    assert any(re.match(r"  AzStackHci_Upgrade_ClusterIPNotIpv6 +FAILURE +Cluster$", line) for line in lines)
    assert "Passed: 31 (27 of tests hciplan knows)" in lines


def test_import_validation_into_rewrites_then_check_reports_hciplans_rule(files):
    plan = files("plan.hciplan", mutate(FOUR_NODE, ("bitlocker            = suspend", "bitlocker = keep"),
                                        ('language             = "en-US"', 'language = "en-US"')))
    results = files("r.json", [
        {"Name": "AzStackHci_Upgrade_Language", "Status": 1, "Severity": 2, "TargetResourceName": "HCI02",
         "Timestamp": "/Date(1758977970006)/",
         "AdditionalData": {"Resource": "Language: fr-FR", "Detail": "HCI02: fr-FR for hcilcm", "Status": "FAILURE"}},
        {"Name": "AzStackHci_Upgrade_SomethingNew", "Status": "FAILURE", "TargetResourceName": "HCI01"}])
    result = invoke("import", "--validation", results, "--into", plan)
    assert result.exit_code == 0, result.stderr
    assert f"updated {plan}: 1 fact written (language = \"fr-FR\")" in result.stdout
    text = Path(plan).read_text(encoding="utf-8")
    assert 'language             = "fr-FR"  # from validation: AzStackHci_Upgrade_Language FAILURE ' \
           '2025-09-27T12:59:30Z\n' in text
    assert fmt_clean(text)
    checked = invoke("check", plan, "--validation", results)
    assert checked.exit_code == 1
    head = checked.stdout.split("\n")[0]
    assert head.startswith(f"{plan}:") and "error[HCI304]: install language `fr-FR` is not English" in head
    assert "hint: the validator confirms it: FAILURE for `AzStackHci_Upgrade_Language` on HCI02 (Critical) at " \
           "2025-09-27T12:59:30Z: HCI02: fr-FR for hcilcm" in checked.stdout
    assert "warning[HCI1103]" in checked.stdout and "HCI301" in checked.stdout  # bitlocker = keep, on: hciplan's own
    again = invoke("import", "--validation", results, "--into", plan)
    assert again.exit_code == 0 and f"{plan} unchanged" in again.stdout
    assert Path(plan).read_text(encoding="utf-8") == text


def fmt_clean(text: str) -> bool:
    return fmt.format_text(text).text == text


def test_import_validation_writes_nothing_for_bad_results_or_a_broken_file(files):
    plan = files("plan.hciplan", FOUR_NODE)
    before = Path(plan).read_bytes()
    result = invoke("import", "--validation", files("bad.json", "[{\"Name\": 3, \"Status\": 1}]"), "--into", plan)
    assert result.exit_code == 1 and "$[0].Name: expected text, got 3" in result.stderr
    assert Path(plan).read_bytes() == before
    broken = files("broken.hciplan", "cluster \"x\" {")
    result = invoke("import", "--validation", files("ok.json", {"Name": "AzStackHci_Upgrade_BitlockerSuspension",
                                                                 "Status": 1}), "--into", broken)
    assert result.exit_code == 1 and "nothing was written" in result.stderr
    assert Path(broken).read_text() == "cluster \"x\" {"


def test_import_usage_errors(files):
    results = files("r.json", {"Name": "A", "Status": 1})
    assert invoke("import").exit_code == 2
    result = invoke("import", files("inv.json", {}), "--validation", results)
    assert result.exit_code == 2 and "--validation imports into an existing file" in result.stderr
    result = invoke("import", files("inv2.json", {}), "--into", "x.hciplan")
    assert result.exit_code == 2 and "--into goes with --validation" in result.stderr


@pytest.mark.parametrize("code", ["HCI1101", "HCI1102", "HCI1103", "HCI1104"])
def test_explain_the_validation_codes(code):
    result = invoke("explain", code)
    assert result.exit_code == 0 and result.stdout.startswith(f"{code} (")


# --- robustness ---------------------------------------------------------------------------------------------


FIELDS = ["Name", "Status", "Severity", "Title", "DisplayName", "TargetResourceName", "TargetResourceID",
          "Remediation", "Timestamp", "AdditionalData", "Detail", "Resource", "Source", "TimeStamp", "Tags",
          "IsAggregated", "value", "Count"]
SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(
    ["FAILURE", "SUCCESS", "Critical", "HCI01", "Machine: HCI02, Class: Tpm", "AllNodes", "/Date(1758977970006)/",
     "AzStackHci_Upgrade_BitlockerSuspension", "AzStackHci_Upgrade_Language", "Language: de-DE", "x\n\u2028y"]) | \
    st.text(max_size=8)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) |
                      st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), inner, max_size=6),
                      max_leaves=25)


@settings(max_examples=300)
@given(VALUES)
def test_reading_any_json_never_raises_and_what_is_read_can_be_judged(document):
    read_result = read_validation(json.dumps(document).encode("utf-8"))
    assert bool(read_result.results) != bool(read_result.errors)
    if read_result.results:
        check = check_text(FOUR_NODE)
        judged = V.judge(check.model, check.diagnostics, read_result.results, "r.json")
        V.overlay(check.diagnostics, judged)
        V.summary_lines(judged), V.table_lines(judged, judged=True), V.to_json(judged)
        outcome = V.import_into(check, read_result.results, "r.json")
        assert outcome.problem is None


def test_validator_text_with_control_characters_is_shown_escaped():
    results = read([{"Name": "AzStackHci_Upgrade_Test_Tpm_X\n_Property", "Status": "FAILURE",
                     "TargetResourceName": "HCI01\u2028", "AdditionalData": {"Detail": "bad\u202eevil"}}])
    assert V.known_test(results[0]) is None  # a whole name only: a line break is not part of a TPM test's name
    _, diagnostics = overlay(FOUR_NODE, results)
    (d,) = ours(diagnostics)
    assert "\\n" in d.message and "\\u202e" in d.message
    assert not any(c in d.message for c in "\n\u2028\u202e")


def test_names_match_case_insensitively_as_the_support_article_writes_them():
    (result,) = read({"Name": "AzStackHci_Upgrade_WdacEnablement", "Status": "SUCCESS"})  # [S-wdac]'s spelling
    assert V.known_test(result).fact == "wdac"


def test_a_file_without_an_upgrade_block_gets_warnings_only():
    cluster_only = FOUR_NODE[: FOUR_NODE.index('upgrade "hci-cluster1"')]
    _, diagnostics = overlay(cluster_only, read(UPGRADE))
    assert ours(diagnostics) and all(d.severity is Severity.WARNING for d in ours(diagnostics))
