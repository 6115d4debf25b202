"""Reading an inventory JSON document ("hciplan.inventory/1") into typed records.

The inventory comes from `Get-HciPlanInventory.ps1` (docs/discovery.md lists
every field). Reading never raises for bad input: a value of the wrong type is
an `InventoryError` naming its JSON path (`$.nodes[2].memory: expected a
number of bytes, got "abc"`), and a value the script could not read (null,
absent, or listed under `unreadable`) becomes `Unknown` with the reason, which
the importer turns into a TODO comment.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, Union

from hciplan.compiler import characters
from hciplan.files import MAX_JSON_BYTES, SURROGATE_MESSAGE, lone_surrogate_path, windows_encoding

SCHEMA = "hciplan.inventory/1"
MAX_INVENTORY_BYTES = MAX_JSON_BYTES

T = TypeVar("T")

# The fields each part of the inventory holds, as the script writes them (a test keeps the
# script, this table and docs/discovery.md in step).
TOP_FIELDS = ("schema", "collected_at", "collected_on", "cluster", "quorum", "sites", "networks",
              "network_interfaces", "net_intents", "storage_pool", "virtual_disks", "cluster_shared_volumes",
              "registration", "stamp", "nodes", "unreadable")
CLUSTER_READER_FIELDS = ("cluster", "cluster_nodes", "quorum", "sites", "networks", "network_interfaces",
                         "net_intents", "storage_pool", "virtual_disks", "cluster_shared_volumes", "registration",
                         "stamp", "unreadable")
NODE_READER_FIELDS = ("os", "system_locale", "culture", "memory", "bitlocker", "device_guard", "features",
                      "modules", "services", "scvmm_agent_version", "vms", "unreadable")
NODE_FIELDS = ("Name", "State", "reachable") + NODE_READER_FIELDS[:-1]


@dataclass(frozen=True)
class InventoryError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Unknown:
    """A fact the inventory does not have, and why."""

    path: str
    reason: str

    def __bool__(self) -> bool:  # so `if fact:` reads "if known and truthy"
        return False


Fact = Union[T, Unknown]


def known(value: Any) -> bool:
    return not isinstance(value, Unknown)


_ABSENT = object()

# Control (Cc), format (Cf: bidirectional overrides, zero-width) and line/paragraph separators:
# characters that can end a comment line or hide text.
CONTROL_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(text: str) -> str:
    """`text` with each control or separator character written as a visible escape (`\\n`, `\\u2028`)."""
    out = []
    for char in text:
        if unicodedata.category(char) not in CONTROL_CATEGORIES:
            out.append(char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
    return "".join(out)


class _Value:
    """A JSON value and its path; typed getters record errors instead of raising."""

    def __init__(self, value: Any, path: str, reader: "_Reader"):
        self.value, self.path, self.reader = value, path, reader

    def __getitem__(self, key: str) -> "_Value":
        if isinstance(self.value, dict):
            return _Value(self.value.get(key, _ABSENT), f"{self.path}.{key}", self.reader)
        return _Value(_ABSENT, f"{self.path}.{key}", self.reader)

    def _unknown(self) -> Unknown | None:
        """Why the value is missing, or None when it is there (a value present was read, whatever else failed)."""
        if self.value is not _ABSENT and self.value is not None:
            return None
        reason = self.reader.unreadable_reason(self.path)
        if reason is not None:
            return Unknown(self.path, reason)
        if self.value is _ABSENT:
            return Unknown(self.path, "not in the inventory")
        if self.value is None:
            return Unknown(self.path, "the inventory has no value for it")
        return None

    def _typed(self, check: Callable[[Any], bool], expected: str, convert: Callable[[Any], Any] = lambda v: v):
        unknown = self._unknown()
        if unknown is not None:
            return unknown
        if not check(self.value):
            self.reader.error(self.path, f"expected {expected}, got {_shown(self.value)}")
            return Unknown(self.path, "malformed")
        return convert(self.value)

    def text(self) -> Fact[str]:
        return self._typed(lambda v: isinstance(v, str), "a string")

    def single_line(self) -> Fact[str]:
        """Text that becomes a label or a string value, under `hciplan check`'s character rules.

        Controls and line separators (HCI109) and invisible format characters such as bidirectional
        overrides (HCI113) are refused here, by JSON path, with the character's code point.
        """
        text = self.text()
        if known(text):
            bad = next((c for c in text if characters.is_control(c)), None)
            if bad is not None:
                self.reader.error(self.path, f"contains the control character {escape_control(bad)}; "
                                             "names and text are one line of printable characters "
                                             "(is the inventory damaged?)")
                return Unknown(self.path, "malformed")
            refused = characters.first_refused(text)
            if refused is not None:
                index, what = refused
                self.reader.error(self.path, f"contains {what} at character {index + 1}: names and text hold "
                                             "no invisible characters (HCI113; `hciplan explain HCI113`)")
                return Unknown(self.path, "malformed")
        return text

    def count(self, what: str = "a whole number") -> Fact[int]:
        return self._typed(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, what)

    def bytes(self) -> Fact[int]:
        return self.count("a number of bytes")

    def flag(self) -> Fact[bool]:
        return self._typed(lambda v: isinstance(v, bool), "true or false")

    def code_or_name(self) -> Fact[str]:
        """An enum as the script writes it: a name ("Fixed") or, from CIM, its number (2)."""
        return self._typed(lambda v: isinstance(v, (str, int)) and not isinstance(v, bool), "a name or a number",
                           lambda v: str(v))

    def items(self) -> Fact[list["_Value"]]:
        value = _unwrap_array(self.value)
        unknown = self._unknown()
        if unknown is not None:
            return unknown
        if isinstance(value, dict):  # one object where a list was expected: PowerShell unrolled a 1-item list
            value = [value]
        if not isinstance(value, list):
            self.reader.error(self.path, f"expected a list, got {_shown(value)}")
            return Unknown(self.path, "malformed")
        return [_Value(item, f"{self.path}[{i}]", self.reader) for i, item in enumerate(value)]

    def object(self) -> Fact["_Value"]:
        unknown = self._unknown()
        if unknown is not None:
            return unknown
        if not isinstance(self.value, dict):
            self.reader.error(self.path, f"expected an object, got {_shown(self.value)}")
            return Unknown(self.path, "malformed")
        return self


def _unwrap_array(value: Any) -> Any:
    """Windows PowerShell 5.1 sometimes writes an array as {"value": [...], "Count": n}."""
    if isinstance(value, dict) and set(value) == {"value", "Count"} and isinstance(value["value"], list):
        return value["value"]
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (int, float)):
        return repr(value)
    return "a list" if isinstance(value, list) else "an object"


class _Reader:
    def __init__(self) -> None:
        self.errors: list[InventoryError] = []
        self.unreadable: list[tuple[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(InventoryError(path, message))

    def unreadable_reason(self, path: str) -> str | None:
        """The reason recorded for `path` or for a part that contains it (`$.nodes[2]` covers `$.nodes[2].os`)."""
        for recorded, reason in self.unreadable:
            if path == recorded or path.startswith(recorded + ".") or path.startswith(recorded + "["):
                return reason
        return None


# --- the typed inventory --------------------------------------------------------------------


@dataclass(frozen=True)
class Vm:
    name: str
    state: Fact[str]
    memory_assigned: Fact[int]
    memory_startup: Fact[int]
    dynamic_memory: Fact[bool]
    clustered: Fact[bool]


@dataclass(frozen=True)
class NodeInventory:
    path: str
    name: str
    state: Fact[str]
    reachable: bool
    unreachable_reason: str | None
    build: Fact[str]
    display_version: Fact[str]
    install_language: Fact[str]
    system_locale: Fact[str]
    memory: Fact[int]
    bitlocker_available: Fact[bool]
    bitlocker_protection: Fact[str]
    code_integrity: Fact[int]  # the stricter of kernel and user-mode code integrity: 0 off, 1 audit, 2 enforced
    features: Fact[dict[str, str]]  # feature name -> InstallState
    modules: Fact[dict[str, str]]  # module name -> version
    services: Fact[dict[str, str]]  # service name -> status
    scvmm_agent_version: Fact[str | None]
    vms: Fact[list[Vm]]


@dataclass(frozen=True)
class VirtualDisk:
    path: str
    name: str
    size: Fact[int]
    resiliency_setting: Fact[str]
    data_copies: Fact[int]
    physical_disk_redundancy: Fact[int]
    provisioning: Fact[str]
    tiers: Fact[list[tuple[str, int, int]]]  # (resiliency setting, data copies, physical disk redundancy)


@dataclass(frozen=True)
class Network:
    name: str
    role: str
    address: str
    mask: str


@dataclass(frozen=True)
class Inventory:
    collected_at: Fact[str]
    collected_on: Fact[str]
    cluster_name: str
    witness_type: Fact[str | None]
    sites: Fact[list[str]]
    networks: Fact[list[Network]]
    interfaces: Fact[list[tuple[str, str, str]]]  # (node, network, address)
    net_intents: Fact[list[str]]
    pool: Fact[tuple[str, int, int] | None]  # (name, size, allocated)
    virtual_disks: Fact[list[VirtualDisk]]
    csv_used: Fact[dict[str, int]]  # volume name -> used bytes
    registration: Fact[tuple[str, str]]  # (RegistrationStatus, ConnectionStatus)
    solution_installed: Fact[bool]
    nodes: list[NodeInventory]
    unreadable: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ReadResult:
    inventory: Inventory | None
    errors: tuple[InventoryError, ...]


def decode_json(data: bytes, what: str = "an inventory", *, strict: bool = True) -> tuple[Any, InventoryError | None]:
    """JSON from the bytes Windows PowerShell writes: UTF-8 (with or without BOM) or UTF-16 with a BOM.

    `what` names the expected document in messages; `strict=False` also accepts control characters (a raw
    line break) inside strings.
    """
    if len(data) > MAX_INVENTORY_BYTES:
        return None, InventoryError("$", f"the file is {len(data) // (1024 * 1024)} MiB; {what} is far smaller "
                                         "(is this the right file?)")
    encoding = windows_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        return None, InventoryError("$", f"not text: byte {error.start} is not valid {encoding.upper()}")
    try:
        document = json.loads(text, strict=strict)
    except json.JSONDecodeError as error:
        return None, InventoryError("$", f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
    except RecursionError:
        return None, InventoryError("$", f"not {what}: the JSON is nested too deeply")
    where = lone_surrogate_path(document)
    if where is not None:
        return None, InventoryError(where, SURROGATE_MESSAGE)
    return document, None


def read_inventory(data: bytes) -> ReadResult:
    document, problem = decode_json(data)
    if problem is not None:
        return ReadResult(None, (problem,))
    reader = _Reader()
    root = _Value(document, "$", reader)
    if not isinstance(document, dict):
        return ReadResult(None, (InventoryError("$", f"expected an inventory object, got {_shown(document)}"),))
    schema = document.get("schema", _ABSENT)
    if schema != SCHEMA:
        got = "nothing" if schema is _ABSENT else _shown(schema)
        return ReadResult(None, (InventoryError("$.schema", f'expected "{SCHEMA}", got {got} '
                                                "(write the inventory with `hciplan discover`'s script)"),))

    unreadable = root["unreadable"].items()
    if known(unreadable):
        for item in unreadable:
            path, reason = item["path"].text(), item["reason"].text()
            if known(path):
                reader.unreadable.append((path, reason if known(reason) else "no reason given"))
    else:
        reader.error("$.unreadable", "missing: every inventory lists what it could not read (an empty list if nothing)")

    cluster = root["cluster"].object()
    name = cluster["Name"].single_line() if known(cluster) else cluster
    if not known(name):
        if name.reason != "malformed":
            reader.error("$.cluster.Name", f"the cluster's name is not in the inventory ({name.path}: {name.reason}); "
                                           "run the script again on a cluster node or with -ClusterName")
        return ReadResult(None, tuple(reader.errors))

    inventory = Inventory(
        collected_at=root["collected_at"].text(),
        collected_on=root["collected_on"].text(),
        cluster_name=name,
        witness_type=_witness(root["quorum"]),
        sites=_list(root["sites"], lambda v: v["Name"].text()),
        networks=_list(root["networks"], _network),
        interfaces=_list(root["network_interfaces"], lambda v: _all(v["Node"].text(), v["Network"].text(),
                                                                    v["Address"].text())),
        net_intents=_list(root["net_intents"], lambda v: v["IntentName"].text()),
        pool=_pool(root["storage_pool"]),
        virtual_disks=_list(root["virtual_disks"], _virtual_disk),
        csv_used=_csv_used(root["cluster_shared_volumes"]),
        registration=_registration(root["registration"]),
        solution_installed=_stamp(root["stamp"]),
        nodes=_nodes(root["nodes"], reader),
        unreadable=list(reader.unreadable),
    )
    if reader.errors:
        return ReadResult(None, tuple(reader.errors))
    return ReadResult(inventory, ())


# --- parts -------------------------------------------------------------------------------------


def _all(*facts):
    """A tuple of facts, or the first Unknown among them."""
    for fact in facts:
        if not known(fact):
            return fact
    return tuple(facts)


def _list(value: _Value, item: Callable[[_Value], Any]) -> Fact[list]:
    items = value.items()
    if not known(items):
        return items
    out = []
    for entry in items:
        got = item(entry)
        if not known(got):
            return got
        out.append(got)
    return out


def _witness(quorum: _Value) -> Fact[str | None]:
    quorum = quorum.object()
    if not known(quorum):
        return quorum
    if quorum["WitnessType"].value in (None, ""):
        return None  # no witness resource
    return quorum["WitnessType"].text()


def _network(value: _Value) -> Fact[Network]:
    parts = _all(value["Name"].text(), value["Role"].code_or_name(), value["Address"].text(),
                 value["AddressMask"].text())
    return Network(*parts) if known(parts) else parts


def _pool(value: _Value) -> Fact[tuple[str, int, int] | None]:
    if value.value is None and value.reader.unreadable_reason(value.path) is None:
        return None  # read, and there is no S2D pool
    pool = value.object()
    if not known(pool):
        return pool
    return _all(pool["FriendlyName"].single_line(), pool["Size"].bytes(), pool["AllocatedSize"].bytes())


def _virtual_disk(value: _Value) -> Fact[VirtualDisk]:
    name = value["FriendlyName"].single_line()
    if not known(name):
        return name
    tiers = _list(value["Tiers"], lambda t: _all(t["ResiliencySettingName"].text(), t["NumberOfDataCopies"].count(),
                                                 t["PhysicalDiskRedundancy"].count()))
    return VirtualDisk(value.path, name, value["Size"].bytes(), value["ResiliencySettingName"].text(),
                       value["NumberOfDataCopies"].count(), value["PhysicalDiskRedundancy"].count(),
                       value["ProvisioningType"].code_or_name(), tiers)


def _csv_used(value: _Value) -> Fact[dict[str, int]]:
    entries = _list(value, lambda v: _all(v["Name"].text(), v["UsedSpace"].bytes()))
    if not known(entries):
        return entries
    used = {}
    for name, space in entries:
        # A CSV is named after its virtual disk: "Cluster Virtual Disk (UserStorage_1)".
        if name.startswith("Cluster Virtual Disk (") and name.endswith(")"):
            name = name[len("Cluster Virtual Disk ("):-1]
        used[name] = space
    return used


def _registration(value: _Value) -> Fact[tuple[str, str]]:
    registration = value.object()
    if not known(registration):
        return registration
    return _all(registration["RegistrationStatus"].code_or_name(), registration["ConnectionStatus"].code_or_name())


def _stamp(value: _Value) -> Fact[bool]:
    stamp = value.object()
    if not known(stamp):
        return stamp
    return stamp["installed"].flag()


def _nodes(value: _Value, reader: _Reader) -> list[NodeInventory]:
    items = value.items()
    if not known(items):
        if items.reason != "malformed":
            reader.error(value.path, f"the inventory lists no nodes ({items.reason})")
        return []
    if not items:
        reader.error(value.path, "the inventory lists no nodes")
    return [node for node in (_node(item, reader) for item in items) if node is not None]


def _node(value: _Value, reader: _Reader) -> NodeInventory | None:
    if not known(value.object()):
        if value.value is None:
            reader.error(value.path, "expected a node object, got null")
        return None
    name = value["Name"].single_line()
    if not known(name):
        if name.reason != "malformed":
            reader.error(f"{value.path}.Name", "every node needs its name")
        return None
    reachable = value["reachable"].flag()
    unreachable_reason = reader.unreadable_reason(value.path)
    if not known(reachable):
        reachable = False
    os_ = value["os"]
    bitlocker = value["bitlocker"]
    guard = value["device_guard"]
    kernel, user = guard["CodeIntegrityPolicyEnforcementStatus"].count(), \
        guard["UsermodeCodeIntegrityPolicyEnforcementStatus"].count()
    code_integrity = _all(kernel, user)
    if known(code_integrity):
        code_integrity = max(code_integrity)
    scvmm = value["scvmm_agent_version"]
    scvmm_version = None if scvmm.value is None and reader.unreadable_reason(scvmm.path) is None else scvmm.text()
    return NodeInventory(
        path=value.path,
        name=name,
        state=value["State"].code_or_name(),
        reachable=bool(reachable) and unreachable_reason is None,
        unreachable_reason=unreachable_reason,
        build=os_["BuildNumber"].text(),
        display_version=os_["DisplayVersion"].text(),
        install_language=os_["InstallLanguage"].single_line(),
        system_locale=value["system_locale"].text(),
        memory=value["memory"].bytes(),
        bitlocker_available=bitlocker["available"].flag(),
        bitlocker_protection=bitlocker["ProtectionStatus"].code_or_name(),
        code_integrity=code_integrity,
        features=_mapping(value["features"], "Name", lambda v: v["InstallState"].code_or_name()),
        modules=_mapping(value["modules"], "Name", lambda v: v["Version"].text()),
        services=_mapping(value["services"], "Name", lambda v: v["Status"].code_or_name()),
        scvmm_agent_version=scvmm_version,
        vms=_list(value["vms"], _vm),
    )


def _mapping(value: _Value, key: str, item: Callable[[_Value], Any]) -> Fact[dict[str, Any]]:
    entries = _list(value, lambda v: _all(v[key].text(), item(v)))
    return dict(entries) if known(entries) else entries


def _vm(value: _Value) -> Fact[Vm]:
    name = value["Name"].text()
    if not known(name):
        return name
    return Vm(name, value["State"].code_or_name(), value["MemoryAssigned"].bytes(), value["MemoryStartup"].bytes(),
              value["DynamicMemoryEnabled"].flag(), value["IsClustered"].flag())
