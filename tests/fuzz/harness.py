"""The fuzz harness: grammar-aware Hypothesis strategies for every input hciplan reads, and one driver that runs
any command in-process and says whether it crashed.

A crash is what a user must never see: exit code 70, "internal error", a Python traceback in the output, or an
exception escaping the command. Any other outcome (exit 0, 1, 2 with a message) is a pass, whatever the input.

    case = draw(CASES["simulate"])          # a Case: argv with {dir} placeholders and the files it names
    outcome = run_case(case)                 # runs `hciplan simulate ...` through click's CliRunner
    assert not outcome.crashed, outcome.reason

tests/test_fuzz.py replays tests/fuzz/corpus/ and a small derandomized budget per command in CI;
bench/bench_fuzz.py runs the same strategies at scale and saves every crashing input into the corpus.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner
from hypothesis import strategies as st

from hciplan.cli import EXIT_INTERNAL, cli
from hciplan.compiler import schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CORPUS = Path(__file__).resolve().parent / "corpus"
# Valid files the edits start from (small ones: the simulator runs on most cases).
BASES = {name: (EXAMPLES / f"{name}.hciplan").read_text(encoding="utf-8") for name in ("two-node", "four-node")}
NODES = {"two-node": ["EDGE-N1", "EDGE-N2"], "four-node": []}
BACKENDS = ("powershell", "runbook", "json", "dot", "mermaid", "summary", "html")

# --- values at every edge ------------------------------------------------------------------------------------
EDGE_NUMBERS = ["0", "-0", "1", "-1", "2", "0.5", "-0.5", "0.999", "1.0", "65", "63", "64", "100000", "100001",
                "1e309", "-1e309", "1e-309", str(2**63), str(2**64), str(-2**64), "9" * 300, "-" + "9" * 300,
                "0." + "0" * 300 + "1", "1" + "0" * 309, "00", "007", "1.", ".5", "--1", "1..2", "0x10", "NaN", "inf"]
SIZE_UNITS = ["B", "KB", "MB", "GB", "TB", "PB", "KiB", "GiB", "TiB", "PiB", "gb", "XB", "b"]
DURATION_UNITS = ["s", "m", "h", "d", "ms", "w", "M"]
TIMESTAMPS = ["0001-01-01T00:00Z", "0001-01-01T00:00+14:00", "9999-12-31T23:59Z", "9999-12-31T23:59-14:00",
              "2028-02-29T12:00Z", "2027-02-29T12:00Z", "2026-12-05T22:00+14:00", "2026-12-05T22:00-12:00",
              "2026-12-05T22:00+99:99", "2026-12-05T22:00+00:00", "2026-12-05T22:00:60Z", "2026-12-05T24:00Z",
              "2026-13-01T00:00Z", "0000-00-00T00:00Z", "2026-12-05", "2026-12-05T22:00", "2026-12-06T06:00Z",
              "2026-12-05T22:00Z", "1970-01-01T00:00Z", "2038-01-19T03:14:08Z", "9999-12-31", "0001-01-01"]
IPV4S = ["0.0.0.0", "255.255.255.255", "256.1.1.1", "10.0.0.1/33", "10.0.0.1/0", "10.0.0.1/32", "01.02.03.04",
         "99999999999999999999.1.1.1", "192.168.50.21/24", "192.168.50.40 .. 192.168.50.47",
         "192.168.50.47 .. 192.168.50.40", "0.0.0.0 .. 255.255.255.255", "10.0.0.0/8"]
# String contents: NUL and controls (raw and escaped), line breaks, BOM, lone surrogate escapes, quotes.
STRING_BODIES = ["", " ", "x", "EDGE-N1", "EDGE-N2", "23H2", "22H2", "24H2", "\x00", "\\u0000", "\x01", "\x7f",
                 "\r\n", "\\r\\n", "\ufeff", "\u202e", "\\ud800", "\\u", "\\", "\\\\", "\\\"", "'", "é", "\U0001f600",
                 "C:\\\\Media", "$(Stop-Computer)", "OU=a,DC=b", "a" * 300, "\t", "\u2028", "reboot", "night"]
HUGE_NAME = "n" * (1024 * 1024)  # a 1 MB name: under the 2 MiB file limit


def _attr_types() -> dict[str, list[schema.Attr]]:
    """Every attribute name of the language, with its declarations (a name can exist in several blocks)."""
    found: dict[str, list[schema.Attr]] = {}
    specs = [*schema.ALL_BLOCKS, schema.TIMING, schema.DURATION_MODEL, schema.SCENARIO, schema.FAILURE, schema.RISK]
    for spec in specs:
        for attr in spec.attrs:
            found.setdefault(attr.name, []).append(attr)
    return found


ATTRS = _attr_types()


def quoted(body: str) -> str:
    return '"' + body.replace('"', '\\"') + '"' if '"' in body and "\\\"" not in body else '"' + body + '"'


numbers = st.one_of(st.sampled_from(EDGE_NUMBERS), st.integers(-10**6, 10**6).map(str),
                    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).replace("e", "E")
                                                                        if "e" in repr(f) else repr(f)))
magnitudes = st.one_of(st.sampled_from(["0", "1", "2", "45", "0.5", "1.5", "768", "1e309", str(2**64), "9" * 300,
                                        "0." + "0" * 300 + "1", "1" + "0" * 309]),
                       st.integers(0, 10**7).map(str))
sizes = st.one_of(st.builds("{}{}".format, magnitudes, st.sampled_from(SIZE_UNITS)),
                  st.builds("{} {}".format, magnitudes, st.sampled_from(SIZE_UNITS)),
                  st.sampled_from(["1GB1MB", "1TB512GB", "-1GB", "1GBGB"]))
durations = st.one_of(st.builds("{}{}".format, magnitudes, st.sampled_from(DURATION_UNITS)),
                      st.sampled_from(["1h30m", "1d1d", "0s", "-5m", "45m", "360m", "361m", "59s", "1m1s", "2h"]))
strings = st.one_of(st.sampled_from(STRING_BODIES),
                    st.lists(st.sampled_from(STRING_BODIES), max_size=4).map("".join),
                    st.text(max_size=20)).map(quoted)
idents = st.one_of(st.sampled_from(sorted({c for a in schema.CLUSTER.attrs + schema.UPGRADE.attrs + schema.VOLUME.attrs
                                           + schema.DURATION_MODEL.attrs + schema.FAILURE.attrs for c in a.choices}
                                          | {"true", "false", "True", "null", "x"})),
                   st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,12}\Z"))
scalars = st.one_of(numbers, sizes, durations, strings, idents, st.sampled_from(TIMESTAMPS), st.sampled_from(IPV4S))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4).map(lambda vs: "[" + ", ".join(vs) + "]"),
                      max_leaves=6)


def typed_value(attr: schema.Attr) -> st.SearchStrategy[str]:
    """A value for an attribute: mostly of its type, at every edge of it; sometimes any value at all."""
    by_type = {
        "string": strings, "bool": st.sampled_from(["true", "false"]), "int": numbers, "number": numbers,
        "size": sizes, "duration": durations, "timestamp": st.sampled_from(TIMESTAMPS),
        "ipv4": st.sampled_from(IPV4S), "ipv4_network": st.sampled_from(IPV4S), "ipv4_range": st.sampled_from(IPV4S),
        "enum": st.sampled_from(attr.choices or ("x",)),
        "duration_list": st.lists(durations, max_size=5).map(lambda vs: "[" + ", ".join(vs) + "]"),
        "string_list": st.lists(strings, max_size=5).map(lambda vs: "[" + ", ".join(vs) + "]"),
    }
    typed = by_type.get(attr.type, values)
    return st.one_of(typed, typed, typed, values)


def value_for(name: str) -> st.SearchStrategy[str]:
    declared = ATTRS.get(name)
    return st.sampled_from(declared).flatmap(typed_value) if declared else values


@st.composite
def block_text(draw, spec: schema.BlockSpec, depth: int = 0) -> str:
    """A block built from the schema: some of its attributes (edge values), its children, sometimes a stray."""
    label = f" {draw(strings)}" if spec.label else ""
    lines = [f"{spec.name}{label} {{"]
    for attr in draw(st.lists(st.sampled_from(spec.attrs), max_size=len(spec.attrs), unique_by=lambda a: a.name)
                     if spec.attrs else st.just([])):
        lines.append(f"  {attr.name} = {draw(typed_value(attr))}")
    for child in spec.children:
        for _ in range(draw(st.integers(0, 3 if child.repeated else 1))):
            lines.append(draw(block_text(child.spec, depth + 1)))
    if draw(st.integers(0, 9)) == 0:  # an attribute or block the schema does not know
        lines.append(f"  {draw(idents)} = {draw(values)}")
    lines.append("}")
    return "\n".join(lines)


TOP_BLOCKS = (schema.CLUSTER, schema.UPGRADE, schema.TIMING, schema.SCENARIO)


@st.composite
def schema_document(draw) -> str:
    """A whole file from the grammar's constructs: cluster, upgrade, timing and scenario blocks, any order."""
    return "\n".join(draw(st.lists(st.sampled_from(TOP_BLOCKS).flatmap(block_text), max_size=5))) + "\n"


ATTRIBUTE_LINE = re.compile(r"^(\s*)(\w+)(\s*=\s*)(.*?)(\s*(?://.*|/\*.*\*/)?)$", re.M)
EXTRA_BLOCKS = [
    '\ntiming {\n  run_spread = 0\n  model "os.install" { distribution = fixed  value = 30m }\n}\n',
    '\nscenario "night" {\n  fail "EDGE-N1" { step = "reboot"  mode = hang }\n  risk "cau.install" { probability = 1 }\n}\n',
    '\ntiming {\n  model "cau.install" { distribution = empirical  observed = [1s] }\n}\n',
    '\ntiming {\n  model "drain" { distribution = lognormal  median = 1s  p90 = 1000d }\n}\n',
]


@st.composite
def edited_example(draw) -> str:
    """A valid example with some attribute values replaced by edge values of their type, maybe a block added."""
    text = draw(st.sampled_from(sorted(BASES.values())))
    matches = list(ATTRIBUTE_LINE.finditer(text))
    chosen = draw(st.lists(st.integers(0, len(matches) - 1), max_size=3, unique=True))
    replacements = {i: draw(value_for(matches[i].group(2))) for i in chosen}
    parts, last = [], 0
    for i, m in enumerate(matches):
        if i in replacements:
            parts += [text[last:m.start(4)], replacements[i]]
            last = m.end(4)
    text = "".join(parts) + text[last:]
    for block in draw(st.lists(st.sampled_from(EXTRA_BLOCKS), max_size=2)):
        text += block
    return text


def _huge(kind: str) -> bytes:
    base = BASES["two-node"]
    if kind == "1 MB name":
        return base.replace('"EDGE-N1"', quoted(HUGE_NAME), 1).encode()
    if kind == "100,000 lines":
        return (base + "// x\n" * 100_000).encode()
    if kind == "100,000 nodes":  # over the source limit long before the compiler sees it
        return base.replace("  node ", "  node \"x\" { memory = 1GB ip = 10.0.0.1 }\n" * 60_000 + "  node ", 1).encode()
    return (base + "\n" * 100_000 + "x").encode()


HUGE = ("1 MB name", "100,000 lines", "100,000 nodes", "trailing junk after 100,000 blank lines")


@st.composite
def encoded(draw, text: str) -> bytes:
    """The bytes of a file: UTF-8, maybe with a BOM, CRLF or CR line ends, NUL or invalid UTF-8, cut short, UTF-16."""
    how = draw(st.sampled_from(["plain", "plain", "plain", "bom", "crlf", "cr", "nul", "invalid", "cut", "utf16"]))
    if how == "crlf":
        text = text.replace("\n", "\r\n")
    elif how == "cr":
        text = text.replace("\n", "\r")
    if how == "utf16":
        return text.encode("utf-16")
    data = text.encode("utf-8", "surrogatepass")
    if how in ("nul", "invalid", "cut") and data:
        at = draw(st.integers(0, len(data)))
        junk = {"nul": b"\x00", "invalid": draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80",
                                                                 b"\xf4\x90\x80\x80", b"\xe2\x82"])), "cut": b""}[how]
        data = data[:at] + junk + (data[at:] if how != "cut" else b"")
    return (b"\xef\xbb\xbf" + data) if how == "bom" else data


hciplan_files = st.one_of(
    edited_example().flatmap(encoded), edited_example().flatmap(encoded), edited_example().map(str.encode),
    schema_document().flatmap(encoded),
    st.integers(0, 199).flatmap(lambda n: st.sampled_from(HUGE).map(_huge) if n == 0 else st.just(
        BASES["two-node"].encode())),
)

# --- the other inputs: inventories, journals, run records, plan documents --------------------------------------
INVENTORY = json.loads((ROOT / "tests/fixtures/inventory/two-node.json").read_text(encoding="utf-8"))
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=10),
                        st.sampled_from(["", "\ud800", "\x00", "2026-11-20T09:41:07Z", "9999-99-99", "Up", "Down"]))
json_values = st.recursive(json_leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=10)


def _paths(value, prefix=()):
    """The JSON paths of a document (the first items of each array, a bounded depth), so an edit can reach any key."""
    yield prefix
    if len(prefix) > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from _paths(item, prefix + (index,))


def _edit(document, path, how, value):
    import copy
    document = copy.deepcopy(document)
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if how == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif how == "huge" :
        parent[path[-1]] = [parent[path[-1]]] * 50_000
    elif how == "deep":  # spliced in as text by _dump: the nesting is deeper than json.dumps would write
        parent[path[-1]] = DEEP_MARK
    else:
        parent[path[-1]] = value
    return document


DEEP_MARK = "\x00deep\x00"


def _dump(document, encoding: str) -> bytes:
    text = json.dumps(document, ensure_ascii=False, allow_nan=True)  # NaN and Infinity, as a careless writer emits
    text = text.replace(json.dumps(DEEP_MARK), "[" * 100_000 + "]" * 100_000)
    if encoding == "utf-16":
        return text.encode("utf-16", "surrogatepass")  # with a BOM, as Windows PowerShell 5.1's Out-File writes
    data = text.encode("utf-8", "surrogatepass")
    return b"\xef\xbb\xbf" + data if encoding == "utf-8-sig" else data


@st.composite
def edited_json(draw, document) -> bytes:
    """A real document with edits at any path: wrong types, missing keys, huge arrays, deep nesting, NaN, other tops."""
    paths = list(_paths(document))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["set", "set", "delete", "huge", "deep"]))
        value = draw(st.one_of(json_values, st.sampled_from([float("nan"), float("inf"), 1e308, -0.0, 2**64])))
        document = _edit(document, path, how, value)
        if how in ("huge", "deep") or not isinstance(document, (dict, list)):
            break  # the last edit: copying a huge document again would cost more than the command
        paths = list(_paths(document))
    data = _dump(document, draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"])))
    if draw(st.integers(0, 9)) == 0:  # not JSON at all: cut short, or junk
        data = data[: draw(st.integers(0, len(data)))] + draw(st.sampled_from([b"", b"\xff", b"}", b"\x00"]))
    return data


inventories = st.one_of(edited_json(INVENTORY), json_values.map(lambda v: _dump(v, "utf-8")),
                        st.just(b"[" * 100_000), st.just(b""))


@dataclass(frozen=True)
class PlanFacts:
    """What journals and plan documents of the two-node example refer to: its step ids and fingerprint."""
    document: dict
    steps: tuple[str, ...]
    fingerprint: str


def _plan_facts() -> PlanFacts:
    result = CliRunner().invoke(cli, ["plan", str(EXAMPLES / "two-node.hciplan"), "--format", "json"])
    document = json.loads(result.stdout)
    return PlanFacts(document, tuple(s["id"] for s in document["steps"]), document["fingerprint"])


PLAN = _plan_facts()
STATUSES = ["unit", "start", "done", "failed", "skipped", "stop", "resume", "", "DONE", "bogus"]
JOURNAL_TIMES = ["2026-11-29T06:00:00.0000000+01:00", "2026-11-29T06:05:00.1234567+01:00", "0001-01-01T00:00:00Z",
                 "9999-12-31T23:59:59.9999999+14:00", "2028-02-29T00:00:00Z", "2027-02-29T00:00:00Z", "", "x",
                 "2026-11-29T05:00:00Z", "2026-11-29T06:00:00"]


@st.composite
def journals(draw) -> bytes:
    """A script journal (JSON lines) for the two-node plan: real step ids in any order, times at every edge."""
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        record = {"step": draw(st.one_of(st.sampled_from(PLAN.steps), st.text(max_size=6))),
                  "status": draw(st.sampled_from(STATUSES)), "start": draw(st.sampled_from(JOURNAL_TIMES)),
                  "end": draw(st.sampled_from(JOURNAL_TIMES)), "message": draw(st.text(max_size=10)),
                  "fingerprint": draw(st.sampled_from([PLAN.fingerprint, PLAN.fingerprint, "sha256:0", ""]))}
        if draw(st.integers(0, 5)) == 0:
            record = _edit(record, (draw(st.sampled_from(sorted(record))),), draw(st.sampled_from(["set", "delete"])),
                           draw(json_values))
        lines.append(json.dumps(record, allow_nan=True, ensure_ascii=False))
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    return draw(st.sampled_from([data, data + b"\n", data + b"\n{\"step\"", b"\xef\xbb\xbf" + data,
                                 data.replace(b"\n", b"\r\n"), data + b"\n\xff\n"]))


RECORDS = {name: json.loads((ROOT / "tests/fixtures/calibration" / name).read_text(encoding="utf-8-sig"))
           for name in ("cau-report-ps7.json", "lcm-updaterun-ps7.json")}
records = st.one_of(journals(), st.sampled_from(sorted(RECORDS)).flatmap(lambda n: edited_json(RECORDS[n])),
                    st.just((ROOT / "tests/fixtures/calibration/cau-report.clixml").read_bytes()).flatmap(
                        lambda data: st.integers(0, len(data)).map(lambda at: data[:at])))
plan_documents = st.one_of(edited_json(PLAN.document), hciplan_files)

# The validator's results (`import --validation`, `check --validation`): the synthetic upgrade export of the
# four-node example (tests/fixtures/validation/README.md says where its names come from), edited.
VALIDATION = json.loads((ROOT / "tests/fixtures/validation/upgrade-validation.json").read_text(encoding="utf-8"))
validation_results = st.one_of(edited_json(VALIDATION), json_values.map(lambda v: _dump(v, "utf-8")),
                               st.just(b"[" * 100_000), st.just(b""))
four_node_files = st.one_of(st.just(BASES["four-node"].encode()), hciplan_files)


def _saved_simulation() -> dict:
    """A `simulate --format json` result of the two-node example, made once: what `emit --simulation` reads."""
    result = CliRunner().invoke(cli, ["simulate", str(EXAMPLES / "two-node.hciplan"), "--runs", "20", "--jobs", "1",
                                      "--format", "json"])
    return json.loads(result.stdout)


_SIMULATION: list[dict] = []


@st.composite
def saved_simulations(draw) -> bytes:
    """The saved simulation, edited (made on first use, so importing the harness stays cheap)."""
    if not _SIMULATION:
        _SIMULATION.append(_saved_simulation())
    return draw(edited_json(_SIMULATION[0]))


# Where `discover -o` is asked to write: a new file, a folder, below a file, a missing folder, odd names.
DISCOVER_TARGETS = ["{dir}/Get-HciPlanInventory.ps1", "{dir}", "{dir}/", "{dir}/plain.txt/x.ps1", "{dir}/missing/x.ps1",
                    "{dir}/existing.ps1", "{dir}/" + "n" * 300 + ".ps1", "{dir}/a b$(x).ps1",
                    "{dir}/\u00e9.ps1", "-"]

# --- simulator arguments ---------------------------------------------------------------------------------------
WINDOW_ARGS = ["8h", "none", "0m", "1s", "1m", "-5m", "100000d", "1e309m", "9" * 300 + "m", "1h30m", "x", "", "nan",
               "inf", "0", "1d1d"]
FAIL_ARGS = ["EDGE-N1:reboot", "EDGE-N2:reboot:hang", "EDGE-N1:drain:slow=3", "EDGE-N1:drain:slow=1e309",
             "EDGE-N1:reboot:error=65", "EDGE-N1:reboot:error=66", "EDGE-N1:reboot:error=0", "EDGE-N1:registry.reboot",
             "N09:reboot", "x", ":", "EDGE-N1:", "EDGE-N1:reboot:bogus", "EDGE-N1:cau.install:resync_stall",
             "EDGE-N1:p1.EDGE-N1.reboot", "EDGE-N1:reboot:slow=0", "EDGE-N1:reboot:slow=" + "9" * 300, "\x00:reboot"]
SCENARIO_ARGS = ["night", "missing", "", "\x00", "NIGHT"]


@st.composite
def simulator_options(draw) -> list[str]:
    args = []
    if draw(st.booleans()):
        args += ["--window", draw(st.sampled_from(WINDOW_ARGS))]
    for fail in draw(st.lists(st.sampled_from(FAIL_ARGS), max_size=2)):
        args += ["--fail", fail]
    if draw(st.booleans()):
        args += ["--scenario", draw(st.sampled_from(SCENARIO_ARGS))]
    return args


# --- cases and the driver --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One command line: argv with `{dir}` for the case's folder, and the files to write there first."""
    command: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Outcome:
    exit_code: int
    output: str
    crashed: bool
    reason: str = ""
    extra: dict = field(default_factory=dict)


# --- fleet files (docs/fleet.md): the fleet grammar with hostile values, beside two small cluster files ---------
# Each list starts with its valid values (how many: the number beside it), then the hostile ones.
FLEET_ZONES = (5, ["UTC", "Europe/Paris", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns", "utc", "", " ",
                   "Nowhere/City", "../../etc/passwd", "/etc/localtime", "Europe/../Europe/Paris", "\\u0000", "\x00",
                   "a" * 300, "Europe/Paris\\n"])
# Globs and paths that reach outside the folder stay bounded: a recursive glob from the root would walk the whole disk.
FLEET_PATHS = (7, ["c1.hciplan", "c2.hciplan", "*.hciplan", "*", "**/*", "**/*.hciplan", "c?.hciplan", "[", "[!",
                   "../../etc", "../../etc/passwd", "/etc/passwd", "/dev/zero", "/dev/null", "", ".", "..", "./",
                   "fleet.hciplan", "missing.hciplan", "sub/", "c1.hciplan/", "\\u0000", "~", "C:\\\\x.hciplan"])
FLEET_DATES = (6, ["2026-12-19", "2027-01-03", "2028-02-29", "1970-01-01", "2500-12-31", "2026-12-06", "0001-01-01",
                   "9999-12-31", "2501-01-01", "2027-02-29", "2026-13-01", "0000-00-00", "2026-12-05T22:00Z"])
FLEET_STARTS = (3, ["2026-12-05T22:00Z", "2028-02-29T12:00Z", "2026-12-05T22:00+14:00", *TIMESTAMPS])
FLEET_CLOCKS = (4, ["00:00", "23:59", "22:00", "01:30", "24:00", "99:99", "0:0", "-1:00", "12", "12:00Z"])
FLEET_RINGS = (1, ["0", "1", "2", "99", "100", "-1", str(2**63), "9" * 300, "0.5", '"0"'])
FLEET_DAYS = (3, ["saturday", "sunday", "monday", "Saturday", "funday", '"sunday"', "0"])
FLEET_DURATIONS = (4, ["9h", "1m", "7d", "1h30m", "0s", "59s", "8d", "90d", "91d", "1e309m", "9" * 300 + "s", "-1h"])
FLEET_INTS = (4, ["1", "2", "10", "52", "0", "520", "521", "10000", "10001", "100000", "100001", "-1", str(2**64),
                  "1e309"])


@st.composite
def fleet_files(draw) -> bytes:
    """A fleet file: `fleet` attributes, sites, shifts, blackouts and entries, each value drawn from its edges.

    A file is sane (valid values only, so it reaches the schedule), has one hostile value, or is wild (any value).
    """
    mode = draw(st.sampled_from(["sane", "sane", "one", "one", "wild"]))
    hostile_at = draw(st.integers(0, 20))
    count = [0]

    def pick(table) -> str:
        valid, values = table
        count[0] += 1
        if mode == "wild" or (mode == "one" and count[0] == hostile_at):
            return draw(st.sampled_from(values))
        return draw(st.sampled_from(values[:valid]))

    def window(name: str) -> str:
        return (f'window "{name}" {{ day = {pick(FLEET_DAYS)}  start = {pick(FLEET_CLOCKS)}  '
                f'length = {pick(FLEET_DURATIONS)} }}')

    lines = [f'fleet "{draw(st.sampled_from(STRING_BODIES[:12]))}" {{',
             f"  start = {pick(FLEET_STARTS)}  weeks = {pick(FLEET_INTS)}",
             f"  max_in_flight = {pick(FLEET_INTS)}  wave_size = {pick(FLEET_INTS)}",
             f"  gate_percent = {pick((3, ['0', '50', '100', '101', '-1']))}  soak = {pick(FLEET_DURATIONS)}"]
    sites = draw(st.integers(0 if mode == "wild" else 1, 3))  # sane entries take a site's windows
    for k in range(sites):
        windows = " ".join(window(f"w{j}") for j in range(draw(st.integers(0 if mode == "wild" else 1, 2))))
        lines.append(f'  site "s{k}" {{ zone = "{pick(FLEET_ZONES)}"  {windows} }}')
    for k in range(draw(st.integers(0, 2))):
        lines.append(f'  shift "op{k}" {{ day = {pick(FLEET_DAYS)}  start = {pick(FLEET_CLOCKS)}  '
                     f'length = {pick(FLEET_DURATIONS)}  operators = {pick(FLEET_INTS)}  '
                     f'zone = "{pick(FLEET_ZONES)}" }}')
    for k in range(draw(st.integers(0, 2))):
        first, last = pick(FLEET_DATES), pick(FLEET_DATES)
        if mode != "wild":  # valid dates in order (wild files also try a blackout that ends before it starts)
            first, last = sorted((first, last))
        lines.append(f'  blackout "b{k}" {{ start = {first}  end = {last} }}')
    paths = draw(st.permutations(FLEET_PATHS[1][:FLEET_PATHS[0]]))  # sane files name a file once
    for n in range(draw(st.integers(0 if mode == "wild" else 1, 4))):
        site = draw(st.sampled_from([f"s{k}" for k in range(sites)] + (["nowhere", None] if mode == "wild" else [])))
        extra = draw(st.sampled_from(["", f'zone = "{pick(FLEET_ZONES)}"', window("own")]))
        path = pick(FLEET_PATHS) if mode == "wild" or count[0] == hostile_at else paths[n]
        lines.append(f'  cluster "{path}" {{ ring = {pick(FLEET_RINGS)}'
                     f'{f"  site = {chr(34)}{site}{chr(34)}" if site else ""}  {extra} }}')
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if mode == "wild" and draw(st.booleans()):  # a stray block, a second fleet, or the text cut short
        text = draw(st.sampled_from([text + 'cluster "x" { version = "22H2" }\n', text + text,
                                     text[: draw(st.integers(0, len(text)))]]))
    return draw(encoded(text)) if mode == "wild" else text.encode()


def _fleet_cluster(name: str) -> bytes:
    """A small edge cluster file in the examples' two-node shape, without windows of its own."""
    from fleetgen import cluster_text  # tests/ is on the path, as for this module

    return cluster_text(name, 2, 7, window=False).encode()


FLEET_CLUSTERS = {"c1.hciplan": _fleet_cluster("edge-c1"), "c2.hciplan": _fleet_cluster("edge-c2")}


def _fleet_case(command: str, argv, fleet: bytes, second: bytes | None) -> Case:
    files = dict(FLEET_CLUSTERS, **{"fleet.hciplan": fleet})
    if second is not None:  # a hostile cluster file in place of the second one
        files["c2.hciplan"] = second
    return Case(command, tuple(argv), tuple(sorted(files.items())))


def _case(command: str, argv, **files: bytes) -> Case:
    """A case; a file keyword without a dot is a plan file (`a=...` is `a.hciplan`)."""
    return Case(command, tuple(argv), tuple(sorted((n if "." in n or n == "records" else f"{n}.hciplan", data)
                                                  for n, data in files.items())))


RUNS = ["--runs", "2", "--jobs", "1"]
CASES: dict[str, st.SearchStrategy[Case]] = {
    "check": st.tuples(hciplan_files, st.booleans()).map(
        lambda t: _case("check", ["check", "{dir}/a.hciplan", *(["--format", "json"] if t[1] else [])], a=t[0])),
    "plan": st.tuples(hciplan_files, st.sampled_from(["text", "json"])).map(
        lambda t: _case("plan", ["plan", "{dir}/a.hciplan", "--format", t[1]], a=t[0])),
    "graph": st.tuples(hciplan_files, st.sampled_from(["dot", "mermaid"]), st.booleans()).map(
        lambda t: _case("graph", ["graph", "{dir}/a.hciplan", "--format", t[1], *(["--detail"] if t[2] else [])],
                        a=t[0])),
    "simulate": st.tuples(hciplan_files, simulator_options(), st.sampled_from(["text", "json"])).map(
        lambda t: _case("simulate", ["simulate", "{dir}/a.hciplan", *RUNS, "--format", t[2], *t[1]], a=t[0])),
    "emit": st.tuples(hciplan_files, st.sampled_from(BACKENDS)).map(
        lambda t: _case("emit", ["emit", "{dir}/a.hciplan", "--backend", t[1], "-o", "{dir}/out", "--force"], a=t[0])),
    "fmt": st.tuples(hciplan_files, st.booleans()).map(
        lambda t: _case("fmt", ["fmt", *(["--check"] if t[1] else []), "{dir}/a.hciplan"], a=t[0])),
    "import": inventories.map(lambda data: _case("import", ["import", "{dir}/inventory.json"], **{"inventory.json": data})),
    "report": hciplan_files.map(
        lambda data: _case("report", ["report", "{dir}/a.hciplan", "-o", "{dir}/r.html", "--force", *RUNS], a=data)),
    "diff": st.tuples(plan_documents, plan_documents, st.sampled_from(["text", "json"])).map(
        lambda t: _case("diff", ["diff", "{dir}/old.json", "{dir}/new.json", "--format", t[2]],
                        **{"old.json": t[0], "new.json": t[1]})),
    "compare": st.tuples(hciplan_files, hciplan_files, simulator_options()).map(
        lambda t: _case("compare", ["compare", "{dir}/a.hciplan", "{dir}/b.hciplan", *RUNS, *t[2]], a=t[0], b=t[1])),
    "progress": st.tuples(journals(), st.sampled_from(["", *JOURNAL_TIMES[:6]])).map(
        lambda t: _case("progress", ["progress", "{dir}/a.hciplan", "{dir}/journal.jsonl", *RUNS,
                                     *(["--now", t[1]] if t[1] else [])],
                        a=BASES["two-node"].encode(), **{"journal.jsonl": t[0]})),
    "calibrate": st.tuples(records, st.sampled_from(["auto", "journal", "cau", "lcm"])).map(
        lambda t: _case("calibrate", ["calibrate", "--source-type", t[1], "{dir}/records"], records=t[0])),
    "validation": st.tuples(validation_results, four_node_files, st.sampled_from(["import", "into", "check"])).map(
        lambda t: _case("validation", {"import": ["import", "--validation", "{dir}/results.json"],
                                       "into": ["import", "--validation", "{dir}/results.json", "--into",
                                                "{dir}/a.hciplan"],
                                       "check": ["check", "{dir}/a.hciplan", "--validation", "{dir}/results.json"]}[t[2]],
                        a=t[1], **{"results.json": t[0]})),
    "emit-simulation": st.tuples(saved_simulations(), st.booleans(), st.sampled_from(["runbook", "powershell"])).map(
        lambda t: _case("emit-simulation", ["emit", "{dir}/a.hciplan", "--backend", t[2], "--simulation",
                                            "{dir}/sim.json", "-o", "{dir}/out", "--force",
                                            *(["--what-if"] if t[1] else [])],
                        a=BASES["two-node"].encode(), **{"sim.json": t[0]})),
    "fleet-check": st.tuples(fleet_files(), st.one_of(st.none(), st.none(), hciplan_files), st.booleans()).map(
        lambda t: _fleet_case("fleet-check", ["check", "{dir}/fleet.hciplan", *(["--format", "json"] if t[2] else [])],
                              t[0], t[1])),
    "fleet-plan": st.tuples(fleet_files(), st.one_of(st.none(), st.none(), hciplan_files), st.booleans()).map(
        lambda t: _fleet_case("fleet-plan", ["fleet", "plan", *(["--json"] if t[2] else []), "{dir}/fleet.hciplan"],
                              t[0], t[1])),
    "fleet-simulate": st.tuples(fleet_files(), st.one_of(st.none(), st.none(), hciplan_files), st.booleans(),
                                st.sampled_from(["0", "1", "-1", "9223372036854775807", "9223372036854775808", "1e3"])).map(
        lambda t: _fleet_case("fleet-simulate", ["fleet", "simulate", *RUNS, "--seed", t[3],
                                                 *(["--json"] if t[2] else []), "{dir}/fleet.hciplan"], t[0], t[1])),
    "fleet-emit": st.tuples(fleet_files(), st.one_of(st.none(), st.none(), hciplan_files)).map(
        lambda t: _fleet_case("fleet-emit", ["fleet", "emit", "{dir}/fleet.hciplan", "{dir}/out", "--force"],
                              t[0], t[1])),
    "discover": st.tuples(st.sampled_from(DISCOVER_TARGETS), st.booleans()).map(
        lambda t: _case("discover", ["discover", "-o", t[0], *(["--force"] if t[1] else [])],
                        **{"plain.txt": b"a regular file, not a folder\n", "existing.ps1": b"# an older script\n"})),
}
COMMANDS = tuple(CASES)


def crash_reason(result) -> str:
    """Why a CliRunner result is a crash, or "" when it is an ordinary outcome."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"exception escaped: {type(result.exception).__name__}: {result.exception}"[:2000]
    if result.exit_code == EXIT_INTERNAL:
        return "exit code 70"
    output = result.output
    if "internal error" in output:
        return "internal error in the output"
    if "Traceback (most recent call last)" in output:
        return "a traceback in the output"
    return ""


def run_command(argv: list[str] | tuple[str, ...], files: dict[str, bytes] | None = None, stdin: bytes | None = None,
                directory: Path | None = None) -> Outcome:
    """Run `hciplan ARGV` in-process with FILES written into a fresh folder (`{dir}` in ARGV names it)."""
    owned = directory is None
    folder = Path(tempfile.mkdtemp(prefix="hciplan-fuzz-")) if owned else directory
    try:
        for name, data in (files or {}).items():
            (folder / name).write_bytes(data)
        args = [a.replace("{dir}", str(folder)) for a in argv]
        result = CliRunner().invoke(cli, args, input=stdin, catch_exceptions=True)
        reason = crash_reason(result)
        return Outcome(result.exit_code, result.output, bool(reason), reason)
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)


def run_case(case: Case) -> Outcome:
    return run_command(case.argv, dict(case.files))


# --- the corpus: one folder per case, argv.json plus the files -------------------------------------------------
def save_case(case: Case, name: str, corpus: Path = CORPUS) -> Path:
    folder = corpus / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "argv.json").write_text(json.dumps({"command": case.command, "argv": list(case.argv)}, indent=1) + "\n",
                                      encoding="utf-8")
    for file_name, data in case.files:
        (folder / file_name).write_bytes(data)
    return folder


def load_case(folder: Path) -> Case:
    """A corpus case. `argv.json` may also hold "expand": {file: [[piece, times], ...]}, so a 1 MB input is a line."""
    meta = json.loads((folder / "argv.json").read_text(encoding="utf-8"))
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in ("argv.json", "README.md")}
    for name, pieces in meta.get("expand", {}).items():
        files[name] = files.get(name, b"") + b"".join(piece.encode("utf-8") * times for piece, times in pieces)
    return Case(meta["command"], tuple(meta["argv"]), tuple(sorted(files.items())))


PLAN_FILE_COMMANDS = (  # one command line per command that reads a plan file (the random budget varies the options)
    ["check", "--format", "json", "{dir}/a.hciplan"], ["plan", "{dir}/a.hciplan", "--format", "json"],
    ["graph", "{dir}/a.hciplan", "--format", "mermaid", "--detail"],
    ["simulate", "{dir}/a.hciplan", *RUNS, "--window", "8h", "--fail", "EDGE-N1:reboot:hang", "--format", "json"],
    ["emit", "{dir}/a.hciplan", "--backend", "powershell", "-o", "{dir}/out", "--force"],
    ["emit", "{dir}/a.hciplan", "--backend", "runbook", "-o", "{dir}/out", "--force"],
    ["fmt", "{dir}/a.hciplan"], ["report", "{dir}/a.hciplan", "-o", "{dir}/r.html", "--force", *RUNS],
    ["diff", "{dir}/a.hciplan", "{dir}/a.hciplan"], ["compare", "{dir}/a.hciplan", "{dir}/a.hciplan", *RUNS],
)


def applicable(case: Case) -> list[tuple[str, ...]]:
    """The command lines a corpus case is replayed with: a lone plan file goes through every command that reads one."""
    if [name for name, _ in case.files] == ["a.hciplan"]:
        return [case.argv] + [tuple(argv) for argv in PLAN_FILE_COMMANDS if tuple(argv) != case.argv]
    return [case.argv]


def corpus_cases(corpus: Path = CORPUS) -> list[Path]:
    return sorted(p for p in corpus.iterdir() if (p / "argv.json").is_file()) if corpus.is_dir() else []
