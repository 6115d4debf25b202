"""The discovery script: it parses as Windows PowerShell 5.1, only reads, and writes what import expects.

The command inventory is walked on the tree-sitter parse tree (tests/ps_parse.py):
every command the script runs, and every .NET method it calls, must be on the allow-lists
below, each with a reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.cli import cli
from hciplan.discovery import script_text
from hciplan.discovery.inventory import CLUSTER_READER_FIELDS, NODE_FIELDS, NODE_READER_FIELDS, TOP_FIELDS

import ps_parse

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = script_text()

# Commands the script may run, with the parameters it may pass. Every one reads, or only
# shapes data in memory; the exceptions are justified.
READERS = {
    # FailoverClusters: cluster, nodes, quorum, sites, networks, CSVs.
    "Get-Cluster": set(), "Get-ClusterNode": set(), "Get-ClusterQuorum": set(),
    "Get-ClusterFaultDomain": {"Type"}, "Get-ClusterNetwork": set(), "Get-ClusterNetworkInterface": set(),
    "Get-ClusterSharedVolume": set(),
    # Storage.
    "Get-StoragePool": {"IsPrimordial"}, "Get-VirtualDisk": set(), "Get-StorageTier": set(),
    # Hyper-V, BitLocker, Network ATC, Azure Stack HCI registration and the 23H2 solution.
    "Get-VM": set(), "Get-BitLockerVolume": {"MountPoint"}, "Get-NetIntent": set(),
    "Get-AzureStackHCI": set(), "Get-StampInformation": set(),
    # The OS: CIM (OS, memory, Device Guard / WDAC, services), registry, features, modules, services, locale.
    "Get-CimInstance": {"ClassName", "Namespace", "Filter"}, "Get-ItemProperty": {"Path"},
    "Get-Item": {"LiteralPath"}, "Get-WindowsFeature": {"Name"}, "Get-Module": {"ListAvailable", "Name"},
    "Get-Service": {"Name", "ErrorAction"}, "Get-WinSystemLocale": set(), "Get-Culture": set(),
    "Get-Command": {"Name", "ErrorAction"}, "Get-Date": set(),
    # In-memory data shaping.
    "ForEach-Object": set(), "Select-Object": {"First", "ExpandProperty"}, "Measure-Object": {"Property", "Sum"},
    "ConvertTo-Json": {"InputObject", "Depth", "Compress"}, "ConvertFrom-Json": {"InputObject"},
    # Checks the output file before anything is read, so an existing inventory is not replaced by accident.
    "Test-Path": {"LiteralPath"},
    # Messages to the user.
    "Write-Verbose": {"Message"}, "Write-Host": set(), "Write-Error": {"Message", "ErrorAction"},
    # Exception: New-Object only builds the in-memory List that collects results and problems.
    "New-Object": {"TypeName"},
    # Exception: Invoke-Command runs the script's own read-only script blocks on the nodes
    # (their commands are checked here too, since the walk includes nested blocks).
    "Invoke-Command": {"ComputerName", "ScriptBlock", "ErrorAction"},
    # Exception: the one write, to the output file only (checked below).
    "Out-File": {"LiteralPath", "InputObject", "Encoding", "Force"},
}
SCRIPT_BLOCK_VARIABLES = {"$Reader", "$ClusterReader"}  # invoked with `&`: script blocks the script defines

# .NET methods the script may call: `commands` cannot see these, so they get their own allow-list.
# Instance methods: name -> the receivers allowed (None: any receiver). Every one only reads or
# builds a value in memory.
INSTANCE_METHODS = {
    # List<object>.Add on the lists the script itself creates with New-Object (problems, results):
    # appends in memory, touches nothing on the cluster.
    "Add": {"$problems", "$unreadable", "$nodes"},
    # String.Trim: returns a new string (a service's binary path without its quotes).
    "Trim": None,
    # DateTime.ToUniversalTime: returns a new value (the collection time in UTC).
    "ToUniversalTime": None,
    # ToString: formats a value as text (the collection time).
    "ToString": None,
}
# Static methods: (type, method). CultureInfo.GetCultureInfo looks up a culture by its LCID (the
# OS language number from Win32_OperatingSystem) in .NET's own tables.
STATIC_METHODS = {("system.globalization.cultureinfo", "getcultureinfo")}


def _type_key(name: str) -> str:
    """A type name as PowerShell resolves it: case-insensitive, `System.` optional."""
    name = name.lower()
    return name if name.startswith("system.") else "system." + name


def method_offenders(text: str) -> list[str]:
    """The method calls in `text` that are not on the allow-lists above."""
    offenders = []
    for call in ps_parse.method_calls(text):
        if call.dynamic:
            offenders.append(f"line {call.line}: {call.receiver}.{call.name}() calls a computed method name")
        elif call.static:
            if (_type_key(call.receiver), call.name.lower()) not in STATIC_METHODS:
                offenders.append(f"line {call.line}: [{call.receiver}]::{call.name}() is not an allowed reader")
        else:
            allowed = next((receivers for name, receivers in INSTANCE_METHODS.items()
                            if name.lower() == call.name.lower()), False)
            if allowed is False or (allowed is not None and call.receiver not in allowed):
                offenders.append(f"line {call.line}: {call.receiver}.{call.name}() is not an allowed reader")
    return offenders


def test_the_script_parses_without_errors():
    assert ps_parse.syntax_problems(SCRIPT) == []


def test_the_script_is_ascii_so_windows_powershell_reads_it_without_a_bom():
    assert SCRIPT.isascii()
    assert "#Requires -Version 5.1" in SCRIPT


def test_every_command_is_a_reader():
    functions = ps_parse.defined_functions(SCRIPT)
    assert functions == {"Read-HciPlanValue", "Test-HciPlanCommand"}
    offenders = []
    for command in ps_parse.commands(SCRIPT):
        if command.dynamic:
            if command.name not in SCRIPT_BLOCK_VARIABLES:
                offenders.append(f"line {command.line}: & {command.name}")
            continue
        if command.name in functions:
            continue
        allowed = READERS.get(command.name)
        if allowed is None:
            offenders.append(f"line {command.line}: {command.name} is not an allowed reader")
            continue
        unexpected = set(command.parameters) - allowed
        if unexpected:
            offenders.append(f"line {command.line}: {command.name} -{' -'.join(sorted(unexpected))}")
    assert offenders == []


def test_every_method_call_is_a_reader():
    calls = ps_parse.method_calls(SCRIPT)
    assert {call.name for call in calls} == {"Add", "Trim", "ToUniversalTime", "ToString", "GetCultureInfo"}
    assert method_offenders(SCRIPT) == []


@pytest.mark.parametrize("snippet, offender", [
    ("(Get-VM).Stop()", "(Get-VM).Stop()"),
    ("[System.IO.File]::Delete($OutFile)", "[System.IO.File]::Delete()"),
    ("$null = [IO.File]::Delete('C:\\x')", "[IO.File]::Delete()"),
    ("Write-Host $vm.Stop()", "$vm.Stop()"),  # in a command's arguments: still a call
    ('Write-Host "state: $($vm.Stop())"', "$vm.Stop()"),
    ("$vm.Stop.Invoke()", "$vm.Stop.Invoke()"),
    ("$vm.'Stop'()", "$vm.Stop()"),
    ("$vm.$verb()", "computed method name"),
    ("$disk.Add(1)", "$disk.Add()"),  # Add only on the script's own lists
])
def test_the_method_check_catches_state_changing_calls(snippet, offender):
    assert ps_parse.syntax_problems(snippet) == []
    offenders = method_offenders(snippet)
    assert len(offenders) == 1 and offender in offenders[0], offenders


def test_the_method_check_accepts_the_allowed_calls():
    snippet = "$problems.Add(1)\n$x = ([string]$p).Trim('\"')\n[Globalization.CultureInfo]::GetCultureInfo(1033)\n"
    assert len(ps_parse.method_calls(snippet)) == 3 and method_offenders(snippet) == []


def test_the_only_write_is_the_output_file():
    writes = [c for c in ps_parse.commands(SCRIPT) if c.name in ("Out-File", "Set-Content", "Add-Content")]
    assert len(writes) == 1
    assert writes[0].argument("LiteralPath") == "$OutFile"
    remote = [c for c in ps_parse.commands(SCRIPT) if c.name == "Invoke-Command"]
    assert {c.argument("ScriptBlock") for c in remote} == {"$ClusterReader", "$NodeReader"}


@pytest.mark.parametrize("snippet, offender", [
    ("Get-VM | Stop-VM -Force", "Stop-VM"),
    ("Invoke-Command -ComputerName $n -ScriptBlock { Suspend-ClusterNode -Drain }", "Suspend-ClusterNode"),
    ("$x = @(Get-Item -LiteralPath C:\\x | Remove-Item)", "Remove-Item"),
    ("& $evil", "& $evil"),
])
def test_the_inventory_catches_state_changing_commands(snippet, offender):
    names = [("& " + c.name) if c.dynamic else c.name for c in ps_parse.commands(snippet)]
    assert offender in names and not set(names) - {offender} - set(READERS)


def test_remote_reads_are_wrapped():
    # Every read inside the readers goes through Read-HciPlanValue, which records failures.
    assert SCRIPT.count("Read-HciPlanValue '") >= 20
    assert "-ErrorAction Stop" in SCRIPT and "catch {" in SCRIPT
    assert re.search(r"\$unreadable\.Add\(\[ordered\]@\{ path = \$path; reason = \$_\.Exception\.Message \}\)", SCRIPT)


def _assigned(block: str) -> list[str]:
    return re.findall(r"^\s*\$result\.(\w+) =", block, re.M)


def test_the_script_writes_the_fields_import_reads():
    cluster_reader = SCRIPT[SCRIPT.index("$ClusterReader = {"):SCRIPT.index("$NodeReader = {")]
    node_reader = SCRIPT[SCRIPT.index("$NodeReader = {"):SCRIPT.index("# --- the run")]
    assert _assigned(cluster_reader) == list(CLUSTER_READER_FIELDS)
    assert _assigned(node_reader) == list(NODE_READER_FIELDS)
    top = SCRIPT[SCRIPT.index("$inventory = [ordered]@{"):]
    top = top[:top.index("\n}\n")]
    assert re.findall(r"^    (\w+) =", top, re.M) == list(TOP_FIELDS)
    copied = re.search(r"foreach \(\$name in @\(('os'.*?)\)\)", SCRIPT, re.S).group(1)
    assert re.findall(r"'(\w+)'", copied) == list(NODE_FIELDS[3:])


def test_docs_describe_every_field():
    docs = (ROOT / "docs" / "discovery.md").read_text(encoding="utf-8")
    for name in set(TOP_FIELDS) | set(NODE_FIELDS) | set(NODE_READER_FIELDS[:-1]):
        assert f"`{name}`" in docs, name


def test_discover_prints_and_writes_without_clobbering(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(cli, ["discover"])
    assert printed.exit_code == 0 and printed.stdout == SCRIPT

    target = tmp_path / "Get-HciPlanInventory.ps1"
    assert runner.invoke(cli, ["discover", "-o", str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8") == SCRIPT

    target.write_text("keep me", encoding="utf-8")
    refused = runner.invoke(cli, ["discover", "-o", str(target)])
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "keep me"
    assert runner.invoke(cli, ["discover", "-o", str(target), "--force"]).exit_code == 0
    assert target.read_text(encoding="utf-8") == SCRIPT
