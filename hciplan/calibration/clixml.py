"""PowerShell CLIXML (`Export-Clixml`) read into plain Python values, safely and within bounds.

`Export-Clixml` writes objects in the PowerShell serialization format
(`<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04">`): an `Obj`
has type names (`TN`, or `TNRef` to an earlier one), its `ToString`, its
properties (`Props`, and note properties in `MS`, each element named by its `N`
attribute), and for collections `LST`/`IE`/`STK`/`QUE` items or `DCT` entries.
Primitives are typed elements (`S`, `I32`, `DT`, `TS`, `B`, `Nil`, ...); an
object met a second time is a `Ref` to its `RefId`.

`read_clixml` turns that into what `ConvertTo-Json` would give, so one reader
serves both exports: objects become dicts (keys as PowerShell spells them),
collections lists, enums their name (the `ToString`, where JSON would give a
number), `DT` a timezone-aware datetime and `TS` a timedelta. An object cut at
the serialization depth (`Export-Clixml -Depth`, default 2) has no properties,
only its `ToString`: it becomes that string, which the source readers refuse
with a message naming the depth.

The XML is parsed with defusedxml: a CLIXML file never needs a DTD, so entity
declarations (billion laughs, external entities) are refused, not expanded.
"""

from __future__ import annotations

import datetime as dt
import re

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

NS = "{http://schemas.microsoft.com/powershell/2004/04}"
MAX_ELEMENTS = 1_000_000  # a year of CAU reports is a few thousand elements per run
MAX_DEPTH = 64  # a CAU report nests about 10 deep at -Depth 5


class ClixmlError(ValueError):
    """A CLIXML document that cannot be read; the message says where and why."""


_INTEGERS = ("I16", "I32", "I64", "U8", "U16", "U32", "U64", "By", "SB")
_COLLECTIONS = ("LST", "IE", "STK", "QUE")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _unescape(text: str) -> str:
    """CLIXML escapes characters XML cannot carry as `_xHHHH_` (a newline is `_x000A_`)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def parse_xml_time(text: str) -> dt.datetime:
    """A `DT` value: ISO 8601 with up to seven decimals and `Z` or an offset (none: UTC, an assumption)."""
    value = text.strip()
    head, dot, rest = value.partition(".")
    if dot:  # Python reads six decimals at most: drop the seventh (100 ns)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}" if digits else head + rest[digits:]
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def parse_xml_duration(text: str) -> dt.timedelta:
    """A `TS` value, an xsd:duration such as `PT1H2M3.5S` or `P1DT2H`."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT", "-P"):
        raise ValueError(f"not a duration: {text[:40]!r}")
    sign, days, hours, minutes, seconds = match.groups()
    delta = dt.timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
                         seconds=float(seconds or 0))
    return -delta if sign else delta


class _Reader:
    def __init__(self) -> None:
        self.refs: dict[str, object] = {}
        self.types: dict[str, tuple[str, ...]] = {}
        self.count = 0

    def where(self, element) -> str:
        name = element.get("N")
        return f"<{element.tag.removeprefix(NS)}{f' N={name!r}' if name else ''}>"

    def value(self, element, depth: int):
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise ClixmlError(f"more than {MAX_ELEMENTS:,} elements: not an export of run reports")
        if depth > MAX_DEPTH:
            raise ClixmlError(f"objects nested deeper than {MAX_DEPTH} levels at {self.where(element)}")
        tag = element.tag.removeprefix(NS)
        text = element.text or ""
        try:
            if tag == "S" or tag == "URI" or tag == "Version" or tag == "XD" or tag == "SBK":
                return _unescape(text)
            if tag == "C":
                return chr(int(text))
            if tag == "B":
                return text.strip().lower() == "true"
            if tag in _INTEGERS:
                return int(text)
            if tag in ("Db", "Sg", "D"):
                return float(text)
            if tag == "DT":
                return parse_xml_time(text)
            if tag == "TS":
                return parse_xml_duration(text)
            if tag == "G":
                return text.strip()
            if tag == "Nil":
                return None
            if tag == "BA":
                return text  # base64 bytes: nothing a report reader needs
            if tag == "Ref":
                ref = element.get("RefId")
                if ref not in self.refs:
                    raise ClixmlError(f"{self.where(element)} refers to RefId {ref!r}, which no earlier object has")
                return self.refs[ref]
            if tag == "Obj":
                return self.obj(element, depth)
        except (ValueError, OverflowError) as error:
            if isinstance(error, ClixmlError):
                raise
            raise ClixmlError(f"{self.where(element)}: {text[:40]!r} is not a valid {tag} value") from None
        return _unescape(text)  # an element this reader does not know (a newer serializer): keep its text

    def obj(self, element, depth: int):
        ref = element.get("RefId")
        types: tuple[str, ...] = ()
        to_string = None
        props: dict[str, object] | None = None
        items: list | None = None
        base = None
        has_base = False
        for child in element:
            tag = child.tag.removeprefix(NS)
            if tag == "TN":
                types = tuple((t.text or "") for t in child if t.tag == NS + "T")
                if child.get("RefId") is not None:
                    self.types[child.get("RefId")] = types
            elif tag == "TNRef":
                types = self.types.get(child.get("RefId"), ())
            elif tag == "ToString":
                to_string = _unescape(child.text or "")
            elif tag in ("Props", "MS"):
                props = {} if props is None else props
                if ref is not None:
                    self.refs.setdefault(ref, props)  # a Ref inside its own properties sees the same dict
                for member in child:
                    name = member.get("N")
                    if name is not None:
                        props[name] = self.value(member, depth + 1)
            elif tag in _COLLECTIONS:
                items = [self.value(item, depth + 1) for item in child]
            elif tag == "DCT":
                items = None
                props = {} if props is None else props
                for entry in child:
                    key = value = None
                    for part in entry:
                        if part.get("N") == "Key":
                            key = self.value(part, depth + 1)
                        elif part.get("N") == "Value":
                            value = self.value(part, depth + 1)
                    props[str(key)] = value
            else:
                base, has_base = self.value(child, depth + 1), True
        if "System.Enum" in types:
            result: object = to_string if to_string is not None else base
        elif items is not None:
            result = items
        elif props is not None and not (has_base and not props):
            result = props
        elif has_base:
            result = base  # a primitive with type names (a DateTime, a number): its value
        else:
            result = to_string if to_string is not None else ""  # cut at the serialization depth
        if ref is not None:
            self.refs[ref] = result
        return result


def read_clixml(text: str) -> list:
    """The objects of a CLIXML document, in order; ClixmlError for anything that is not CLIXML."""
    try:
        root = ElementTree.fromstring(text, forbid_dtd=True)
    except DefusedXmlException as error:
        raise ClixmlError(f"refused: the XML declares a DTD or entities ({type(error).__name__}); "
                          "Export-Clixml never writes one") from None
    except ElementTree.ParseError as error:
        raise ClixmlError(f"not well-formed XML ({error})") from None
    if root.tag != NS + "Objs":
        raise ClixmlError(f"the root element is <{root.tag.split('}')[-1]}>, not the <Objs> of an "
                          "Export-Clixml file")
    reader = _Reader()
    return [reader.value(child, 1) for child in root]
