"""The checking pipeline in one place: bytes -> source -> syntax tree -> model -> checks."""

from __future__ import annotations

from pathlib import Path

from hciplan.compiler import codes  # noqa: F401  (registers every diagnostic code)
from hciplan.compiler.checks import run_checks
from hciplan.compiler.diagnostics import Collector, Diagnostic
from hciplan.compiler.lower import lower
from hciplan.compiler.model import Model
from hciplan.compiler.source import Source, Span
from hciplan.compiler.syntax import parse
from hciplan.files import TooLarge, read_at_most
from hciplan.records import record

MAX_SOURCE_BYTES = 2 * 1024 * 1024


@record(slots=False)
class CheckResult:
    """The outcome of checking one file: the model when it could be built, and every diagnostic."""

    source: Source | None
    model: Model | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.model is not None and not any(d.severity.value == "error" for d in self.diagnostics)


def normalise_newlines(text: str) -> str:
    """CRLF (Windows) and lone CR (classic Mac) line endings become LF, the only one the grammar knows.

    Without this a CR-only file is one long line, and its first `#` comment swallows the rest of it.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _too_large(name: str, size: int | None, diagnostics: Collector) -> None:
    shown = f"{size:,} bytes" if size is not None else f"more than {MAX_SOURCE_BYTES:,} bytes"
    diagnostics.report("HCI010", Span(name, 1, 1, 1, 1),
                       f"the file is {shown}; hciplan reads files up to "
                       f"{MAX_SOURCE_BYTES:,} bytes ({MAX_SOURCE_BYTES // 1024**2} MiB)",
                       hints=["check that this is the right file"])


def decode(name: str, data: bytes, diagnostics: Collector) -> Source | None:
    """Turn raw bytes into a Source, or report why they are not an hciplan file."""
    if len(data) > MAX_SOURCE_BYTES:
        _too_large(name, len(data), diagnostics)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8", errors="replace")
        line = prefix.count("\n") + 1
        column = len(prefix) - (prefix.rfind("\n") + 1) + 1
        diagnostics.report("HCI009", Span(name, line, column, line, column + 1),
                           f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8",
                           hints=["save the file as UTF-8"])
        return None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        diagnostics.report("HCI009", Span(name, line, column, line, column + 1),
                           "the file contains NUL bytes: it is binary, not text",
                           hints=["check that this is the right file"])
        return None
    return Source(name, normalise_newlines(text))


def check_source(source: Source) -> CheckResult:
    diagnostics = Collector()
    document = parse(source, diagnostics)
    # A lexical error inside the tree (a bad escape, a runaway number) leaves a value that cannot be trusted.
    model = lower(document, diagnostics) if document is not None and not diagnostics.has_errors else None
    if model is not None:
        run_checks(model, diagnostics)
    return CheckResult(source, model, tuple(diagnostics.sorted()))


def check_text(text: str, name: str = "<input>") -> CheckResult:
    return check_source(Source(name, normalise_newlines(text)))


def check_bytes(name: str, data: bytes) -> CheckResult:
    diagnostics = Collector()
    source = decode(name, data, diagnostics)
    if source is None:
        return CheckResult(None, None, tuple(diagnostics.sorted()))
    return check_source(source)


def load_source(path: str | Path, name: str | None = None) -> CheckResult:
    """Read and check a file. OS errors (missing file, no permission) propagate to the caller.

    A file over the limit is refused (HCI010) from its size, or after a bounded
    read when it is not a regular file (`/dev/zero`, a pipe): never read whole.
    `name` is how diagnostics name the file (default: the path as given).
    """
    path = Path(path)
    name = str(path) if name is None else name
    try:
        data = read_at_most(path, MAX_SOURCE_BYTES)
    except TooLarge as error:
        diagnostics = Collector()
        _too_large(name, error.size, diagnostics)
        return CheckResult(None, None, tuple(diagnostics.sorted()))
    return check_bytes(name, data)
