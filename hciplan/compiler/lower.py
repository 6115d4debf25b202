"""Lowering: check a syntax tree against the schema and build the typed model.

Structural mistakes (unknown names, wrong types, missing or repeated
attributes) are reported here. If any is found, or the parser already reported
an error (an invalid escape leaves a string's value unknown), the model is not
built, so the semantic checks never run on a half-understood file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
import re
from typing import Any

from hciplan.compiler import characters, quantities, schema, syntax
from hciplan.compiler.diagnostics import Collector, Related, closest, did_you_mean
from hciplan.compiler.model import Cluster, IPv4Range, Model, Scenario, Spans, Timing
from hciplan.compiler.schema import BlockSpec, TYPE_NAMES
from hciplan.compiler.source import Span

TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)


MAX_P90_RATIO = 1000  # a lognormal beyond it has a mean of astronomical size


class _Invalid(Exception):
    """A value could not be converted; the diagnostic has already been reported."""


def lower(document: syntax.Document, diagnostics: Collector) -> Model | None:
    """Build the model, or return None after reporting why it cannot be built."""
    found: dict[str, list[syntax.Block]] = {"cluster": [], "upgrade": [], "timing": [], "scenario": []}
    for item in document.body:
        if isinstance(item, syntax.Attribute):
            diagnostics.report("HCI102", item.name_span, f"attribute `{item.name}` outside any block",
                               hints=["attributes belong inside a `cluster` or `upgrade` block"])
        elif item.type in found:
            found[item.type].append(item)
        else:
            fleet = ("this is a fleet file: `hciplan check` checks it, `hciplan fleet plan` plans its campaign "
                     "(docs/fleet.md)") if item.type == "fleet" else ""
            diagnostics.report("HCI101", item.type_span, f"unknown block `{item.type}`",
                               hints=[fleet or did_you_mean(item.type, found),
                                      "the top level holds `cluster`, `upgrade`, `timing` and `scenario` blocks"])
    for kind, blocks in found.items():
        if kind == "scenario":  # the one repeated top-level block
            continue
        for extra in blocks[1:]:
            diagnostics.report("HCI108", extra.header_span, f"a second `{kind}` block: one file describes one cluster",
                               related=[Related(blocks[0].header_span, "the first one is here")],
                               hints=["put each cluster and its upgrade in a file of its own"])

    cluster = _lower_block(found["cluster"][0], schema.CLUSTER, diagnostics) if found["cluster"] else None
    upgrade = _lower_block(found["upgrade"][0], schema.UPGRADE, diagnostics) if found["upgrade"] else None
    if not found["cluster"]:
        where = found["upgrade"][0].header_span if found["upgrade"] else Span(document.source.name, 1, 1, 1, 1)
        diagnostics.report("HCI110", where, "the file has no `cluster` block",
                           hints=['describe the cluster: `cluster "name" { ... }` (see docs/language.md)'])
    timing = _lower_block(found["timing"][0], schema.TIMING, diagnostics) if found["timing"] else None
    scenarios = [_lower_block(b, schema.SCENARIO, diagnostics) for b in found["scenario"]]
    if diagnostics.has_errors or cluster is None:
        return None
    _check_simulation_inputs(cluster, timing, tuple(scenarios), diagnostics)
    if diagnostics.has_errors:
        return None
    return Model(cluster, upgrade, timing, tuple(scenarios))


def _lower_block(block: syntax.Block, spec: BlockSpec, diagnostics: Collector) -> Any:
    values: dict[str, Any] = {}
    spans: list[tuple[str, Span]] = []
    ok = True

    wanted = 1 if spec.label else 0
    if len(block.labels) != wanted:
        ok = False
        if wanted:
            diagnostics.report("HCI107", block.header_span, f"`{spec.name}` needs one quoted name",
                               hints=[f'write `{spec.name} "name" {{ ... }}`'])
        else:
            diagnostics.report("HCI107", block.labels[0].span.to(block.labels[-1].span),
                               f"`{spec.name}` takes no name", hints=[f"write `{spec.name} {{ ... }}`"])
    elif spec.label:
        try:
            values[spec.label] = _text(block.labels[0], diagnostics, f"the `{spec.name}` name",
                                       spec.name in characters.POWERSHELL_LABELS)
        except _Invalid:
            ok = False

    seen: dict[str, syntax.Attribute] = {}
    misspelt: set[str] = set()  # attributes an unknown name was probably meant to be
    children: dict[str, list[syntax.Block]] = {c.spec.name: [] for c in spec.children}
    for item in block.body:
        if isinstance(item, syntax.Block):
            if item.type in children:
                children[item.type].append(item)
                continue
            ok = False
            if spec.attr(item.type):
                hint = f"`{item.type}` is an attribute: write `{item.type} = value`"
            else:
                hint = did_you_mean(item.type, children)
            allowed = ", ".join(f"`{c}`" for c in children) or "no blocks"
            diagnostics.report("HCI101", item.type_span, f"unknown block `{item.type}` in `{spec.name}`",
                               hints=[hint, f"`{spec.name}` may contain {allowed}"])
            continue
        attr = spec.attr(item.name)
        if attr is None:
            ok = False
            meant = closest(item.name, [a.name for a in spec.attrs])
            if meant is not None:
                misspelt.add(meant)
            hint = f"did you mean `{meant}`?" if meant else ""
            if not hint and spec.child(item.name):
                hint = f"`{item.name}` is a block: write `{item.name} {{ ... }}`"
            diagnostics.report("HCI102", item.name_span, f"unknown attribute `{item.name}` in `{spec.name}`",
                               hints=[hint or "allowed: " + ", ".join(a.name for a in spec.attrs)])
            continue
        if item.name in seen:
            ok = False
            diagnostics.report("HCI106", item.name_span, f"`{item.name}` is set twice",
                               related=[Related(seen[item.name].name_span, "first set here")],
                               hints=["keep one of them"])
            continue
        seen[item.name] = item
        try:
            values[item.name] = _convert(item.value, attr, diagnostics)
            spans.append((item.name, item.value.span))
        except _Invalid:
            ok = False

    for attr in spec.attrs:
        if attr.name not in seen:
            if attr.required and attr.name in misspelt:
                ok = False  # already reported as the misspelling ("did you mean ...?")
            elif attr.required:
                ok = False
                kind = ("one of " + ", ".join(attr.choices)) if attr.choices else TYPE_NAMES[attr.type]
                diagnostics.report("HCI105", block.header_span, f"`{spec.name}` needs `{attr.name}`",
                                   hints=[f"{attr.doc} Write `{attr.name} = ...` ({kind})."])
            else:
                values[attr.name] = attr.default

    for child in spec.children:
        blocks = children[child.spec.name]
        if child.required and not blocks:
            ok = False
            diagnostics.report("HCI111", block.header_span, f"`{spec.name}` needs at least one `{child.spec.name}` block",
                               hints=[f'{child.spec.doc} Write `{child.spec.name} "name" {{ ... }}` inside `{spec.name}`.'])
            continue
        if not child.repeated and len(blocks) > 1:
            ok = False
            for extra in blocks[1:]:
                diagnostics.report("HCI108", extra.header_span, f"a second `{child.spec.name}` block in `{spec.name}`",
                                   related=[Related(blocks[0].header_span, "the first one is here")])
            continue
        lowered = [_lower_block(b, child.spec, diagnostics) for b in blocks]
        if any(x is None for x in lowered):
            ok = False
            continue
        if child.repeated:
            values[child.field] = tuple(lowered)
        elif lowered:
            values[child.field] = lowered[0]

    if not ok:
        return None
    return spec.model(**values, spans=Spans(block.header_span, tuple(spans)))


def _type_error(value: syntax.Value, attr: schema.Attr, diagnostics: Collector, extra_hint: str = "") -> _Invalid:
    got = {
        syntax.Str: "a string", syntax.Number: "a number", syntax.Quantity: "a quantity with a unit",
        syntax.Timestamp: "a timestamp", syntax.Clock: "a time of day", syntax.Ipv4: "an IPv4 address", syntax.Ipv4Range: "an IPv4 range",
        syntax.Ident: "an identifier", syntax.ListValue: "a list",
    }[type(value)]
    if isinstance(value, syntax.Number) and isinstance(value.value, float):
        got = "a decimal number"  # "takes a whole number, not a number" would puzzle
    hints = [extra_hint]
    if attr.type == "enum":
        hints.append("allowed: " + ", ".join(attr.choices))
    diagnostics.report("HCI103", value.span, f"`{attr.name}` takes {TYPE_NAMES[attr.type]}, not {got}", hints=hints)
    return _Invalid()


def _convert(value: syntax.Value, attr: schema.Attr, diagnostics: Collector) -> Any:
    kind = attr.type
    if kind == "string":
        if isinstance(value, syntax.Str):
            return _text(value, diagnostics, f"`{attr.name}`", attr.name in characters.POWERSHELL_ATTRIBUTES)
        hint = f'quote it: `"{value.name}"`' if isinstance(value, syntax.Ident) else ""
        raise _type_error(value, attr, diagnostics, hint)
    if kind == "bool":
        if isinstance(value, syntax.Ident) and value.name in ("true", "false"):
            return value.name == "true"
        hint = ""
        if isinstance(value, syntax.Ident) and value.name in ("on", "off", "yes", "no"):
            hint = f"write `{'true' if value.name in ('on', 'yes') else 'false'}`"
        raise _type_error(value, attr, diagnostics, hint)
    if kind == "enum":
        if isinstance(value, syntax.Ident):
            if value.name in attr.choices:
                return value.name
            diagnostics.report("HCI104", value.span, f"`{value.name}` is not a valid `{attr.name}`",
                               hints=[did_you_mean(value.name, attr.choices), "allowed: " + ", ".join(attr.choices)])
            raise _Invalid()
        hint = ""
        if isinstance(value, syntax.Str) and value.value in attr.choices:
            hint = f"enum values are bare identifiers: write `{value.value}` without quotes"
        raise _type_error(value, attr, diagnostics, hint)
    if kind == "int":
        if isinstance(value, syntax.Number) and isinstance(value.value, int):
            return _in_range(value.value, value, attr, diagnostics)
        if isinstance(value, syntax.Number) and math.isinf(value.value):  # too many digits to hold
            diagnostics.report("HCI109", value.span, f"`{attr.name}` is far out of range",
                               hints=[f"allowed: {_show(attr.min, attr)} to {_show(attr.max, attr)}"])
            raise _Invalid()
        raise _type_error(value, attr, diagnostics)
    if kind in ("size", "duration"):
        if isinstance(value, syntax.Quantity):
            return _in_range(_quantity(value, attr, diagnostics), value, attr, diagnostics)
        hint = ""
        if isinstance(value, syntax.Number) and abs(value.value) < 1e15:  # no hint that repeats 300 digits
            hint = f"add a unit: `{value.value}GB`" if kind == "size" else f"add a unit: `{value.value}m`"
        raise _type_error(value, attr, diagnostics, hint)
    if kind in ("ipv4", "ipv4_network"):
        if isinstance(value, syntax.Ipv4):
            return _ipv4(value, attr, diagnostics)
        raise _type_error(value, attr, diagnostics)
    if kind == "ipv4_range":
        if isinstance(value, syntax.Ipv4Range):
            start, end = (_address(v, diagnostics) for v in (value.start, value.end))
            return IPv4Range(start, end)
        raise _type_error(value, attr, diagnostics, "write `first .. last`")
    if kind == "timestamp":
        if isinstance(value, syntax.Timestamp):
            return _timestamp(value, diagnostics)
        raise _type_error(value, attr, diagnostics)
    if kind == "clock":  # a time of day, minutes after midnight (the fleet file's weekly windows)
        if isinstance(value, syntax.Clock):
            hour, minute = int(value.text[:2]), int(value.text[3:])
            if hour > 23 or minute > 59:
                diagnostics.report("HCI109", value.span, f"`{value.text}` is not a time of day",
                                   hints=["write hours 00-23 and minutes 00-59, such as `22:00`"])
                raise _Invalid()
            return hour * 60 + minute
        raise _type_error(value, attr, diagnostics, "write a time of day such as `22:00`")
    if kind == "date":  # a calendar day (the fleet file's blackouts): a timestamp's date part alone
        if isinstance(value, syntax.Timestamp) and TIMESTAMP_RE.match(value.text) and "T" not in value.text:
            try:
                day = dt.date.fromisoformat(value.text)
            except ValueError:
                diagnostics.report("HCI109", value.span, f"`{value.text}` is not a valid date",
                                   hints=["check the month (01-12) and the day"])
                raise _Invalid() from None
            if not PLAN_YEARS[0] <= day.year <= PLAN_YEARS[1]:
                diagnostics.report("HCI109", value.span, f"`{value.text}` is outside the years a plan can be for "
                                   f"({PLAN_YEARS[0]} to {PLAN_YEARS[1]})")
                raise _Invalid()
            return day
        raise _type_error(value, attr, diagnostics, "write a date without a time, such as `2026-12-24`")
    if kind == "number":
        if isinstance(value, syntax.Number):
            try:
                number = float(value.value)
            except OverflowError:  # an integer literal of 309 digits or more has no float
                number = math.inf
            return _in_range(number, value, attr, diagnostics)
        hint = ""
        if isinstance(value, syntax.Quantity) and value.text.endswith("x"):
            hint = f"write the factor without a unit: `{value.text[:-1]}`"
        raise _type_error(value, attr, diagnostics, hint)
    if kind == "duration_list":
        if isinstance(value, syntax.ListValue):
            as_duration = dataclasses.replace(attr, type="duration", min=1, max=None)
            items = []
            for item in value.items:
                if not isinstance(item, syntax.Quantity):
                    hint = f"add a unit: `{item.value}m`" if isinstance(item, syntax.Number) else ""
                    diagnostics.report("HCI103", item.span, f"`{attr.name}` holds durations such as `45m`",
                                       hints=[hint])
                    raise _Invalid()
                items.append(_in_range(_quantity(item, as_duration, diagnostics), item, as_duration, diagnostics))
            return tuple(items)
        raise _type_error(value, attr, diagnostics, "write a list: `[40m, 52m, 1h5m]`")
    if kind == "string_list":
        if isinstance(value, syntax.ListValue):
            items = []
            for item in value.items:
                if not isinstance(item, syntax.Str):
                    hint = f'quote it: `"{item.name}"`' if isinstance(item, syntax.Ident) else ""
                    diagnostics.report("HCI103", item.span, f"`{attr.name}` holds quoted strings", hints=[hint])
                    raise _Invalid()
                items.append(_text(item, diagnostics, f"`{attr.name}`", attr.name in characters.POWERSHELL_ATTRIBUTES))
            return tuple(items)
        raise _type_error(value, attr, diagnostics)
    raise AssertionError(f"unknown schema type {kind}")


def _text(value: syntax.Str, diagnostics: Collector, what: str = "a name or text", powershell: bool = False) -> str:
    """A string's value, under the character rules of `characters.py`.

    Controls and line separators (HCI109) and invisible format characters such as bidirectional
    overrides (HCI113) are refused; typographic quotes and dashes in a value that reaches PowerShell warn
    (HCI114). `what` names the value in the message ("the `volume` name", "`media_path`").
    """
    bad = next((c for c in value.value if characters.is_control(c)), None)
    if bad is not None:
        diagnostics.report("HCI109", value.span, f"a name or text contains the control character U+{ord(bad):04X}",
                           hints=["names and paths are single lines of printable characters"])
        raise _Invalid()
    refused = [i for i, c in enumerate(value.value) if characters.is_invisible(c)]
    if refused:
        index = refused[0]
        start, end = value.column_of(index)
        more = f"; it holds {len(refused)} such characters in all" if len(refused) > 1 else ""
        diagnostics.report(
            "HCI113", Span(value.span.file, value.span.line, start, value.span.line, end),
            f"{what} contains {characters.describe_invisible(value.value[index])} "
            f"(character {index + 1} of the value)",
            hints=["delete it" + more + ": it is invisible, and a bidirectional control makes the text display "
                   "in an order that is not the order of its characters (Trojan Source, CVE-2021-42574)",
                   "`hciplan explain HCI113` lists the characters refused"])
        raise _Invalid()
    if powershell:
        typographic = [i for i, c in enumerate(value.value) if c in characters.TYPOGRAPHIC]
        if typographic:
            index = typographic[0]
            char = value.value[index]
            start, end = value.column_of(index)
            diagnostics.report(
                "HCI114", Span(value.span.file, value.span.line, start, value.span.line, end),
                f"{what} contains {characters.code_point(char)}, {characters.TYPOGRAPHIC[char]}, "
                f"which PowerShell reads as `{characters.PLAIN_EQUIVALENT[char]}`",
                hints=[f"if the name really is written this way, keep it (the script quotes it exactly); "
                       f"if it was pasted from a document, write `{characters.PLAIN_EQUIVALENT[char]}`"])
    return value.value


def _in_range(number: int, value: syntax.Value, attr: schema.Attr, diagnostics: Collector) -> int:
    low, high = attr.min, attr.max
    if (low is not None and number < low) or (high is not None and number > high):
        shown = _show(number, attr)
        diagnostics.report("HCI109", value.span, f"`{attr.name}` = {shown} is out of range",
                           hints=[f"allowed: {_show(low, attr)} to {_show(high, attr)}"])
        raise _Invalid()
    return number


def _show(number: int | None, attr: schema.Attr) -> str:
    if number is None:
        return "any"
    if attr.type == "duration":
        return quantities.duration_literal(number)
    if attr.type == "number":
        return f"{number:g}"
    return str(number)


def _quantity(value: syntax.Quantity, attr: schema.Attr, diagnostics: Collector) -> int:
    try:
        return quantities.parse_quantity(value.text, "size" if attr.type == "size" else "duration")
    except quantities.QuantityError as error:
        if error.wrong_kind:
            raise _type_error(value, attr, diagnostics) from None
        message = error.message
        if error.code == "HCI109":
            message = f"`{attr.name}` = {_clip(value.text)} is out of range"
        diagnostics.report(error.code, value.span, message, hints=list(error.hints))
        raise _Invalid() from None


_clip = quantities.clip


def _address(value: syntax.Ipv4, diagnostics: Collector) -> ipaddress.IPv4Address:
    text = value.text.split("/")[0]
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        diagnostics.report("HCI109", value.span, f"`{value.text}` is not a valid IPv4 address",
                           hints=["each of the four numbers is 0 to 255, without leading zeros"])
        raise _Invalid() from None


def _ipv4(value: syntax.Ipv4, attr: schema.Attr, diagnostics: Collector):
    address = _address(value, diagnostics)
    prefix = value.text.split("/")[1] if "/" in value.text else None
    if prefix is not None and (len(prefix) > 2 or int(prefix) > 32):  # len first: int() refuses huge digit strings
        diagnostics.report("HCI109", value.span, f"prefix length /{_clip(prefix)} is out of range", hints=["use /0 to /32"])
        raise _Invalid()
    if attr.type == "ipv4":
        return ipaddress.IPv4Interface(f"{address}/{prefix or 32}")
    if prefix is None:
        diagnostics.report("HCI103", value.span, f"`{attr.name}` needs a prefix length",
                           hints=[f"write `{address}/24` (or the real prefix)"])
        raise _Invalid()
    try:
        return ipaddress.IPv4Network(f"{address}/{prefix}")
    except ValueError:
        network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
        diagnostics.report("HCI109", value.span, f"`{value.text}` has host bits set", hints=[f"write `{network}`"])
        raise _Invalid() from None


PLAN_YEARS = (1970, 2500)  # the years a timestamp of a plan may fall in (HCI109 otherwise)


def _timestamp(value: syntax.Timestamp, diagnostics: Collector) -> dt.datetime:
    match = TIMESTAMP_RE.match(value.text)
    if not match or match.group(4) is None:
        diagnostics.report("HCI103", value.span, f"`{value.text}` is a date without a time",
                           hints=[f"write `{value.text.rstrip('Z')}T22:00Z` (time and zone)"])
        raise _Invalid()
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        tz = None
        if zone == "Z":
            tz = dt.timezone.utc
        elif zone:
            sign = 1 if zone[0] == "+" else -1
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError("zone offset")
            tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
    except ValueError:
        diagnostics.report("HCI109", value.span, f"`{value.text}` is not a valid date and time",
                           hints=["check the month (01-12), day, hour (00-23), minutes and zone offset"])
        raise _Invalid() from None
    if not PLAN_YEARS[0] <= moment.year <= PLAN_YEARS[1]:
        # Near year 1 or 9999 a window's times, shown in another zone or plus the work's hours, leave the
        # calendar (OverflowError); a plan is for an upgrade that will happen.
        diagnostics.report("HCI109", value.span, f"`{value.text}` is outside the years a plan can be for "
                           f"({PLAN_YEARS[0]} to {PLAN_YEARS[1]})",
                           hints=["write the date of the maintenance window, such as `2026-12-05T22:00Z`"])
        raise _Invalid()
    return moment


# --- the simulation inputs: timing block and scenarios --------------------------------------


def _check_simulation_inputs(cluster: Cluster, timing: Timing | None, scenarios: tuple[Scenario, ...],
                             diagnostics: Collector) -> None:
    """Names and parameters in `timing` and `scenario` blocks that the schema alone cannot check.

    Which step a `fail` block names depends on the plan; the simulator resolves it
    (and reports HCI1005/HCI1006 there) once the plan is built.
    """
    from hciplan.compiler.catalog import CATALOG  # the step kinds (imported here: lowering needs no plan)
    from hciplan.compiler.durations import MODEL_NAMES
    from hciplan.compiler.recovery import RECOVERY_NAMES

    if timing is not None:
        labels = sorted(set(CATALOG) | set(MODEL_NAMES) | set(RECOVERY_NAMES))
        seen: dict[str, Span] = {}
        for m in timing.models:
            if m.name in seen:
                diagnostics.report("HCI1004", m.spans.header, f"a second `model \"{m.name}\"` in `timing`",
                                   related=[Related(seen[m.name], "the first one is here")],
                                   hints=["keep one of them"])
            seen.setdefault(m.name, m.spans.header)
            if m.name not in labels:
                diagnostics.report("HCI1003", m.spans.header, f"`{m.name}` is neither a step kind nor a duration model",
                                   hints=[did_you_mean(m.name, labels),
                                          "see `docs/simulation.md` for the kinds and duration models"])
            _check_distribution(m, diagnostics)
    names: dict[str, Span] = {}
    nodes = [n.name for n in cluster.nodes]
    for scenario in scenarios:
        if scenario.name in names:
            diagnostics.report("HCI1004", scenario.spans.header, f"a second scenario named `{scenario.name}`",
                               related=[Related(names[scenario.name], "the first one is here")],
                               hints=["give each scenario its own name"])
        names.setdefault(scenario.name, scenario.spans.header)
        for failure in scenario.failures:
            known = cluster.node(failure.node) is not None or failure.node.lower() in ("cluster", cluster.name.lower())
            if not known:
                diagnostics.report("HCI1005", failure.spans.header, f"`{failure.node}` is not a node of the cluster",
                                   hints=[did_you_mean(failure.node, nodes + ["cluster"]),
                                          'name a node, or `"cluster"` for a cluster-wide step'])
            _check_failure_parameters(failure, diagnostics)
        for risk in scenario.risks:
            spec = CATALOG.get(risk.kind)
            if spec is None:
                diagnostics.report("HCI1003", risk.spans.header, f"`{risk.kind}` is not a step kind",
                                   hints=[did_you_mean(risk.kind, CATALOG), "a risk applies to a step kind such as "
                                          "`cau.install` (see `hciplan plan --format json`, field `kind`)"])
            elif risk.mode == "drain_failure" and spec.effect != "drain":
                diagnostics.report("HCI1006", risk.spans["mode"],
                                   f"`drain_failure` needs a drain step; `{risk.kind}` does not drain",
                                   hints=["drain kinds: " + ", ".join(
                                       k for k, s in CATALOG.items() if s.effect == "drain")])
            elif risk.mode == "resync_stall" and spec.effect != "repair_wait":
                diagnostics.report("HCI1006", risk.spans["mode"],
                                   f"`resync_stall` needs a storage repair wait; `{risk.kind}` is not one",
                                   hints=["repair-wait kinds: " + ", ".join(
                                       k for k, s in CATALOG.items() if s.effect == "repair_wait")])
            _check_failure_parameters(risk, diagnostics)


def _check_distribution(m, diagnostics: Collector) -> None:
    wanted = schema.DISTRIBUTION_PARAMETERS[m.distribution]
    for name in ("value", "low", "mode", "high", "median", "p90", "observed"):
        if name not in wanted and m.spans.written(name):
            diagnostics.report("HCI1001", m.spans[name], f"`{name}` is not a parameter of a {m.distribution} model",
                               hints=[f"a {m.distribution} model takes " + ", ".join(f"`{w}`" for w in wanted)])
    missing = [w for w in wanted if getattr(m, w) is None]
    if missing:
        diagnostics.report("HCI1001", m.spans.header, f"the {m.distribution} model `{m.name}` needs "
                           + " and ".join(f"`{w}`" for w in missing),
                           hints=[f"a {m.distribution} model takes " + ", ".join(f"`{w}`" for w in wanted)])
        return
    d = m.distribution
    if d in ("uniform", "triangular") and m.low > m.high:
        diagnostics.report("HCI1002", m.spans["low"], f"`low` is above `high` in the model `{m.name}`",
                           hints=["write the shortest duration as `low` and the longest as `high`"])
    elif d == "triangular" and not (m.low <= m.mode <= m.high):
        diagnostics.report("HCI1002", m.spans["mode"], f"`mode` is outside `low`..`high` in the model `{m.name}`",
                           hints=["the most likely duration lies between the shortest and the longest"])
    elif d == "lognormal" and m.p90 <= m.median:
        diagnostics.report("HCI1002", m.spans["p90"], f"`p90` must be above `median` in the model `{m.name}`",
                           hints=["nine runs in ten take less than `p90`, half of them less than `median`; "
                                  "for a duration that does not vary, use `distribution = fixed`"])
    elif d == "lognormal" and m.p90 > MAX_P90_RATIO * m.median:
        diagnostics.report("HCI1002", m.spans["p90"],
                           f"`p90` is more than {MAX_P90_RATIO} times `median` in the model `{m.name}`",
                           hints=["such a spread says nothing about the duration; use `empirical` with observed runs"])
    elif d == "empirical" and not m.observed:
        diagnostics.report("HCI1002", m.spans["observed"], f"`observed` is empty in the model `{m.name}`",
                           hints=["list at least one observed duration: `observed = [42m, 51m]`"])


def _check_failure_parameters(failure, diagnostics: Collector) -> None:
    if failure.mode != "slow" and failure.spans.written("factor"):
        diagnostics.report("HCI1006", failure.spans["factor"],
                           f"`factor` applies to `mode = slow`, not `{failure.mode}`",
                           hints=["remove `factor`, or write `mode = slow`"])
    if failure.mode != "error" and failure.spans.written("attempts"):
        diagnostics.report("HCI1006", failure.spans["attempts"],
                           f"`attempts` applies to `mode = error`, not `{failure.mode}`",
                           hints=["remove `attempts`, or write `mode = error`"])
