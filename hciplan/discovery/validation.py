"""Reading the real validator's verdict: Environment Checker result objects exported as JSON.

`Invoke-AzStackHciUpgradeValidation -PassThru` (and the checker's other
validators) return result objects with `Name`, `Title`, `DisplayName`,
`Severity`, `Status`, `TargetResourceName`, `AdditionalData.Detail`,
`Remediation`, `Timestamp`... An administrator exports them with
`ConvertTo-Json`; docs/validation.md documents every shape read here.

Reading never raises for bad input. A value of the wrong type, a missing
`Name` or a `Status` hciplan cannot read is a `ValidationError` naming its
JSON path (`$[3].Status: ...`), and the whole file is refused: hciplan never
acts on half a verdict. Fields that only explain a result (a timestamp written
as a placeholder, an `AdditionalData` that `ConvertTo-Json -Depth 2` flattened
into a string) are kept as they are, with a note.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hciplan.discovery.inventory import InventoryError, _shown, _unwrap_array, decode_json

ValidationError = InventoryError  # the same record (path, message), printed the same way

# Status names (case-insensitive) and what they mean. SUCCESS, FAILURE and WARNING are what the checker's
# PowerShell writes (AzStackHci.EnvironmentChecker, AzStackHci.Upgrade.Helpers.psm1 and its result helpers);
# Succeeded, Failed and In Progress are the HealthModel class's own description of the field.
STATUS_NAMES = {
    "success": "SUCCESS", "succeeded": "SUCCESS",
    "failure": "FAILURE", "failed": "FAILURE",
    "warning": "WARNING",
    "in progress": "IN_PROGRESS", "inprogress": "IN_PROGRESS", "in_progress": "IN_PROGRESS",
}
# Integer enums: exports of results built by the checker's .NET library write the enum's value. Not documented
# anywhere hciplan found; inferred from the samples (../shared/samples/envchecker-results.txt): every result whose
# AdditionalData.Status says FAILURE has Status 1 (but one, see `Result.note`), so 0 is SUCCESS.
STATUS_NUMBERS = {0: "SUCCESS", 1: "FAILURE"}
# Severity names: the HealthModel class documents Critical, Warning, Informational and Hidden; the checker
# writes them upper case (CRITICAL) or capitalised (Critical).
SEVERITY_NAMES = {"critical": "CRITICAL", "warning": "WARNING", "informational": "INFORMATIONAL", "hidden": "HIDDEN"}
# Inferred from the samples, not documented: the tests whose string exports say Critical (hardware, storage
# adapter, SLB) are written 2 in the integer exports; 0 and 1 are taken as the lower levels in the order the
# checker aggregates them (CRITICAL, WARNING, INFORMATIONAL). Another number is kept as `unknown (N)`.
SEVERITY_NUMBERS = {0: "INFORMATIONAL", 1: "WARNING", 2: "CRITICAL"}

MAX_ERRORS = 20

# Windows PowerShell 5.1 writes [datetime] as "\/Date(1758977970006)\/" (JSON's "\/" is "/"); some copies keep
# the backslashes, and .NET may append an offset ("+0200") that does not change the UTC instant.
_MS_DATE = re.compile(r"^\\?/Date\((-?\d{1,15})([+-]\d{4})?\)\\?/$")
# DateTime.ToString() on an en-US machine, as AdditionalData.TimeStamp and some Timestamps are written.
_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S")


@dataclass(frozen=True)
class Result:
    """One result object, its text fields as written (None when absent or null)."""

    path: str  # "$" for a single object, "$[3]" in a list
    name: str
    status: str  # SUCCESS, FAILURE, WARNING or IN_PROGRESS (see STATUS_NAMES)
    status_written: str  # as in the file: "FAILURE", "1"
    severity: str | None  # CRITICAL, WARNING, INFORMATIONAL, HIDDEN or "unknown (N)"
    title: str | None
    display_name: str | None
    description: str | None
    remediation: str | None
    target_name: str | None
    target_id: str | None
    target_type: str | None
    detail: str | None
    resource: str | None
    source: str | None
    timestamp: dt.datetime | None  # aware (UTC) for /Date()/ and ISO forms with a zone; naive when the zone is unknown
    timestamp_text: str | None
    health_check_source: str | None
    aggregated: bool  # one result for all nodes (Tags.IsAggregated, or the target AllNodes)
    note: str | None = None  # how hciplan read something unusual

    @property
    def failed(self) -> bool:
        return self.status == "FAILURE"

    @property
    def passed(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def label(self) -> str:
        """The test's human name: its Title, else its DisplayName, else its Name."""
        return self.title or self.display_name or self.name

    @property
    def target(self) -> str:
        """What the result is about, as the validator names it."""
        return self.target_name or self.target_id or self.source or "(no target)"

    @property
    def when(self) -> str:
        """The timestamp as hciplan writes it: ISO 8601, `Z` when the zone is known; "time unknown" otherwise."""
        if self.timestamp is None:
            return "time unknown"
        stamp = self.timestamp.replace(microsecond=0)
        if stamp.tzinfo is None:
            return stamp.isoformat()
        return stamp.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


@dataclass(frozen=True)
class ValidationRead:
    results: tuple[Result, ...]
    errors: tuple[ValidationError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_timestamp(text: str) -> dt.datetime | None:
    """A checker timestamp, or None when it is not one (placeholders such as `<timestamp>` stay unread)."""
    text = text.strip()
    match = _MS_DATE.match(text)
    if match:
        try:
            return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=int(match.group(1)))
        except OverflowError:
            return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    for form in _US_FORMATS:
        try:
            return dt.datetime.strptime(text, form)
        except ValueError:
            continue
    return None


class _Fields:
    """Typed access to one result object; problems are recorded with their JSON path."""

    def __init__(self, value: dict, path: str, errors: list[ValidationError]):
        self.value, self.path, self.errors = value, path, errors

    def error(self, key: str, message: str) -> None:
        self.errors.append(ValidationError(f"{self.path}.{key}", message))

    def text(self, key: str) -> str | None:
        value = self.value.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(key, f"expected text, got {_shown(value)}")
            return None
        return value

    def scalar(self, key: str) -> str | None:
        """Text, or a number or truth value written as text (AdditionalData.Resource holds measured values)."""
        value = self.value.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, (str, int, float)):
            return str(value)
        self.error(key, f"expected a value, got {_shown(value)}")
        return None


def _enum(fields: _Fields, key: str, names: dict[str, str], numbers: dict[int, str], what: str,
          strict: bool) -> tuple[str | None, str]:
    """An enum written as a name or as its number: (its name, as written). Unknown values are errors if `strict`."""
    value = fields.value.get(key)
    known_names = ", ".join(sorted(set(names.values())))
    known_numbers = ", ".join(f"{n} ({name})" for n, name in sorted(numbers.items()))
    if isinstance(value, str):
        name = names.get(value.strip().lower())
        if name is None and strict:
            fields.error(key, f"{_shown(value)} is not a {what} hciplan knows ({known_names}, or {known_numbers})")
        return name or (None if strict else f"unknown ({value})"), value
    if isinstance(value, int) and not isinstance(value, bool):
        name = numbers.get(value)
        if name is None and strict:
            fields.error(key, f"{value} is not a {what} hciplan knows ({known_numbers}, or the names {known_names})")
        return name or (None if strict else f"unknown ({value})"), str(value)
    if value is None and not strict:
        return None, ""
    expected = f"a {what}: a name such as {_shown(next(iter(names.values())))} or its number"
    fields.error(key, ("missing: " if value is None else "") + f"expected {expected}"
                 + ("" if value is None else f", got {_shown(value)}"))
    return None, ""


def _timestamp(fields: _Fields, key: str) -> tuple[dt.datetime | None, str | None]:
    value = fields.value.get(key)
    if isinstance(value, dict):  # Windows PowerShell 5.1 may write a [datetime] as {"value": ..., "DateTime": ...}
        value = value.get("value", value.get("DateTime"))
    if value is None:
        return None, None
    if not isinstance(value, str):
        fields.error(key, f"expected a date, got {_shown(value)}")
        return None, None
    return parse_timestamp(value), value


def _result(value: Any, path: str, errors: list[ValidationError]) -> Result | None:
    if not isinstance(value, dict):
        errors.append(ValidationError(path, f"expected a result object (with `Name` and `Status`), got {_shown(value)}"))
        return None
    before = len(errors)
    fields = _Fields(value, path, errors)
    name = fields.text("Name")
    if "Name" not in value or (name is not None and not name.strip()):
        fields.error("Name", "missing: every result names its test (such as AzStackHci_Upgrade_BitlockerSuspension)")
    status, written = _enum(fields, "Status", STATUS_NAMES, STATUS_NUMBERS, "status", strict=True)
    severity, _ = _enum(fields, "Severity", SEVERITY_NAMES, SEVERITY_NUMBERS, "severity", strict=False)

    data = value.get("AdditionalData")
    detail = resource = source = data_status = None
    data_stamp: tuple[dt.datetime | None, str | None] = (None, None)
    note = None
    if isinstance(data, dict):
        inner = _Fields(data, f"{path}.AdditionalData", errors)
        detail, resource, source = inner.text("Detail"), inner.scalar("Resource"), inner.scalar("Source")
        raw = data.get("Status")
        data_status = STATUS_NAMES.get(raw.strip().lower()) if isinstance(raw, str) else (
            STATUS_NUMBERS.get(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None)
        data_stamp = _timestamp(inner, "TimeStamp")
    elif isinstance(data, str):
        note = ("AdditionalData was flattened into text (ConvertTo-Json's default -Depth 2): export with "
                "`ConvertTo-Json -Depth 5` to keep the validator's Detail")
    elif data is not None:
        fields.error("AdditionalData", f"expected an object (Detail, Status, ...), got {_shown(data)}")

    stamp, stamp_text = _timestamp(fields, "Timestamp")
    if stamp is None and data_stamp[0] is not None:
        stamp, stamp_text = data_stamp
    elif stamp_text is None:
        stamp_text = data_stamp[1]

    tags = value.get("Tags")
    target_name = fields.text("TargetResourceName")
    aggregated = (isinstance(tags, dict) and tags.get("IsAggregated") is True) or (target_name or "") == "AllNodes"
    texts = {key: fields.text(key) for key in ("Title", "DisplayName", "Description", "Remediation",
                                               "TargetResourceID", "TargetResourceType", "HealthCheckSource")}
    if len(errors) > before or name is None or status is None:
        return None
    if status == "SUCCESS" and data_status == "FAILURE":
        # The emitted readiness gate counts such a result as failed too (lib/azure.ps1, Test-ReadinessFailed).
        note = f"Status {written} but AdditionalData.Status FAILURE: read as FAILURE"
        status = "FAILURE"
    return Result(
        path=path, name=name.strip(), status=status, status_written=written, severity=severity,
        title=texts["Title"], display_name=texts["DisplayName"], description=texts["Description"],
        remediation=texts["Remediation"], target_name=target_name, target_id=texts["TargetResourceID"],
        target_type=texts["TargetResourceType"], detail=detail, resource=resource, source=source,
        timestamp=stamp, timestamp_text=stamp_text, health_check_source=texts["HealthCheckSource"],
        aggregated=aggregated, note=note)


def _not_results(document: Any) -> str:
    if isinstance(document, dict):
        if document.get("schema") == "hciplan.inventory/1":
            return ("expected Environment Checker results, got an hciplan inventory: import it with "
                    "`hciplan import FILE` (without --validation)")
        keys = ", ".join(sorted(document)[:6]) + (", ..." if len(document) > 6 else "")
        return (f"expected a result object (with `Name` and `Status`) or a list of them, got an object with "
                f"{keys or 'no fields'}")
    return f"expected a result object (with `Name` and `Status`) or a list of them, got {_shown(document)}"


def read_validation(data: bytes) -> ValidationRead:
    """Every result of an exported validation, or the errors (each with its JSON path) that prevent reading it.

    Accepts UTF-8 with or without a BOM and UTF-16 with a BOM; one result object, a list of them, or the
    `{"value": [...], "Count": n}` wrapper of Windows PowerShell 5.1. Line breaks written raw inside strings
    (copies edited by hand, such as the support articles' samples) are accepted.
    """
    document, problem = decode_json(data, "a validation export", strict=False)
    if problem is not None:
        return ValidationRead((), (problem,))
    document = _unwrap_array(document)
    if isinstance(document, dict) and ("Name" in document or "Status" in document):
        items, paths = [document], ["$"]
    elif isinstance(document, list):
        if not document:
            return ValidationRead((), (ValidationError("$", "the list is empty: there is no result to read"),))
        items, paths = document, [f"$[{i}]" for i in range(len(document))]
    else:
        return ValidationRead((), (ValidationError("$", _not_results(document)),))
    errors: list[ValidationError] = []
    results = [_result(item, path, errors) for item, path in zip(items, paths)]
    if errors:
        return ValidationRead((), tuple(errors))
    return ValidationRead(tuple(r for r in results if r is not None), ())
