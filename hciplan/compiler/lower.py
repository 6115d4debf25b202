"""Lowering: check a syntax tree against the schema and build the typed model.

Structural mistakes (unknown names, wrong types, missing or repeated
attributes) are reported here. If any is found, or the parser already reported
an error (an invalid escape leaves a string's value unknown), the model is not
built, so the semantic checks never run on a half-understood file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from typing import Any

from hciplan.compiler import schema, syntax
from hciplan.compiler.diagnostics import Collector, Related, closest, did_you_mean
from hciplan.compiler.model import IPv4Range, Model, Spans
from hciplan.compiler.schema import BlockSpec, TYPE_NAMES
from hciplan.compiler.source import Span

QUANTITY_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]+)")
TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)


class _Invalid(Exception):
    """A value could not be converted; the diagnostic has already been reported."""


def lower(document: syntax.Document, diagnostics: Collector) -> Model | None:
    """Build the model, or return None after reporting why it cannot be built."""
    found: dict[str, list[syntax.Block]] = {"cluster": [], "upgrade": []}
    for item in document.body:
        if isinstance(item, syntax.Attribute):
            diagnostics.report("HCI102", item.name_span, f"attribute `{item.name}` outside any block",
                               hints=["attributes belong inside a `cluster` or `upgrade` block"])
        elif item.type in found:
            found[item.type].append(item)
        else:
            diagnostics.report("HCI101", item.type_span, f"unknown block `{item.type}`",
                               hints=[did_you_mean(item.type, found), "the top level holds `cluster` and `upgrade` blocks"])
    for kind, blocks in found.items():
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
    if diagnostics.has_errors or cluster is None:
        return None
    return Model(cluster, upgrade)


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
        values[spec.label] = block.labels[0].value

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
        syntax.Timestamp: "a timestamp", syntax.Ipv4: "an IPv4 address", syntax.Ipv4Range: "an IPv4 range",
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
            return value.value
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
        if isinstance(value, syntax.Number) and math.isfinite(value.value):
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
    if kind == "string_list":
        if isinstance(value, syntax.ListValue):
            items = []
            for item in value.items:
                if not isinstance(item, syntax.Str):
                    hint = f'quote it: `"{item.name}"`' if isinstance(item, syntax.Ident) else ""
                    diagnostics.report("HCI103", item.span, f"`{attr.name}` holds quoted strings", hints=[hint])
                    raise _Invalid()
                items.append(item.value)
            return tuple(items)
        raise _type_error(value, attr, diagnostics)
    raise AssertionError(f"unknown schema type {kind}")


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
        return f"{number // 60}m" if number % 60 == 0 else f"{number}s"
    return str(number)


def _quantity(value: syntax.Quantity, attr: schema.Attr, diagnostics: Collector) -> int:
    units = schema.SIZE_UNITS if attr.type == "size" else schema.DURATION_UNITS
    other = schema.DURATION_UNITS if attr.type == "size" else schema.SIZE_UNITS
    parts = QUANTITY_PART.findall(value.text)
    total = 0.0
    seen_units: set[str] = set()
    for number, unit in parts:
        if unit not in units:
            if unit in other and len(parts) == 1:
                raise _type_error(value, attr, diagnostics)
            kind = "size" if attr.type == "size" else "duration"
            diagnostics.report("HCI004", value.span, f"unknown {kind} unit `{unit}` in `{value.text}`",
                               hints=[did_you_mean(unit, units), "units: " + ", ".join(units)])
            raise _Invalid()
        if unit in seen_units or (attr.type == "size" and len(parts) > 1):
            diagnostics.report("HCI103", value.span, f"`{value.text}` repeats a unit",
                               hints=["write each unit once, largest first: `1h30m`"])
            raise _Invalid()
        seen_units.add(unit)
        total += float(number) * units[unit]
    if not math.isfinite(total):
        diagnostics.report("HCI109", value.span, f"`{attr.name}` = {_clip(value.text)} is out of range",
                           hints=["no attribute takes a size or duration anywhere near this large"])
        raise _Invalid()
    return int(round(total))


def _clip(text: str, limit: int = 24) -> str:
    """A literal short enough to quote in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
    except ValueError:
        diagnostics.report("HCI109", value.span, f"`{value.text}` is not a valid date and time",
                           hints=["check the month (01-12), day, hour (00-23), minutes and zone offset"])
        raise _Invalid() from None
