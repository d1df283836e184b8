"""Hash-list file formats for bank import and export.

Each format is one small class with a stable `name`; import parses a whole file into
`ParsedHash` rows (or `LineError`s with the line number), export writes rows back.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from lykta.errors import InvalidInput
from lykta.hashing.registry import get_hasher

MAX_EXTERNAL_ID = 512
# NUL (PostgreSQL refuses it in text) and lone surrogates (no UTF-8 spelling: they can reach
# us from JSON's \ud800 escapes, then break every later response that shows them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return f"contains a lone surrogate {found.group()!r} (not valid Unicode)"


@dataclass(frozen=True)
class ParsedHash:
    kind: str
    value: str  # normalised hash string
    external_id: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


@dataclass(frozen=True)
class ExportRow:
    kind: str
    value: str
    external_id: str | None
    labels: tuple[str, ...]


def _split_labels(text: str, separator: str) -> tuple[str, ...]:
    return tuple(label.strip() for label in text.split(separator) if label.strip())


def labels_problem(labels: Iterable[str]) -> str | None:
    """Why one of `labels` cannot be stored, or None when all can."""
    for label in labels:
        problem = text_problem(label)
        if problem:
            return f"label {label[:40]!r} {problem}"
    return None


class HashListFormat:
    """A file format for hash lists."""

    name: ClassVar[str]
    description: ClassVar[str]

    def parse(self, lines: Iterable[str], default_kind: str) -> Iterator[ParsedHash | LineError]:
        raise NotImplementedError

    def render(self, rows: Iterable[ExportRow]) -> Iterator[str]:
        """Yield the file's lines (each ending in a newline), streaming."""
        raise NotImplementedError


def _validated(kind: str, value: str, line: int) -> str | LineError:
    try:
        return get_hasher(kind).validate(value)
    except InvalidInput as error:
        return LineError(line, error.message)


class TextFormat(HashListFormat):
    name = "text"
    description = "one hash per line, optionally followed by ,label[,label...]; # comments"

    def parse(self, lines: Iterable[str], default_kind: str) -> Iterator[ParsedHash | LineError]:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            value, _, rest = line.partition(",")
            checked = _validated(default_kind, value.strip(), number)
            if isinstance(checked, LineError):
                yield checked
                continue
            labels = _split_labels(rest, ",")
            if problem := labels_problem(labels):
                yield LineError(number, problem)
                continue
            yield ParsedHash(default_kind, checked, None, labels)

    def render(self, rows: Iterable[ExportRow]) -> Iterator[str]:
        for row in rows:
            yield ",".join((row.value, *row.labels)) + "\n"


class CsvFormat(HashListFormat):
    name = "csv"
    description = "CSV with a header: hash (or value/signal), and optional kind, id, labels (;)"

    HASH_COLUMNS = ("hash", "value", "signal", "pdq", "md5", "sha256")
    ID_COLUMNS = ("external_id", "id", "content_id")

    def parse(self, lines: Iterable[str], default_kind: str) -> Iterator[ParsedHash | LineError]:
        reader = csv.reader(lines)
        try:
            header = [column.strip().lower() for column in next(reader)]
        except StopIteration:
            return
        except csv.Error as error:
            yield LineError(1, f"malformed CSV header: {error}")
            return
        hash_column = next((c for c in self.HASH_COLUMNS if c in header), None)
        if hash_column is None:
            yield LineError(
                1, f"CSV header needs a column named one of: {', '.join(self.HASH_COLUMNS)}"
            )
            return
        hash_at = header.index(hash_column)
        kind_at = header.index("kind") if "kind" in header else None
        id_at = next((header.index(c) for c in self.ID_COLUMNS if c in header), None)
        labels_at = header.index("labels") if "labels" in header else None
        column_kind = hash_column if hash_column in ("pdq", "md5", "sha256") else default_kind
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:  # e.g. a field over the csv module's size limit
                yield LineError(reader.line_num, f"malformed CSV: {error}")
                return
            number = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield LineError(number, f"expected {len(header)} columns, found {len(cells)}")
                continue
            kind = cells[kind_at].strip().lower() if kind_at is not None else column_kind
            checked = _validated(kind, cells[hash_at].strip(), number)
            if isinstance(checked, LineError):
                yield checked
                continue
            external_id = cells[id_at].strip() or None if id_at is not None else None
            if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
                yield LineError(number, f"id is longer than {MAX_EXTERNAL_ID} characters")
                continue
            if external_id is not None and (problem := text_problem(external_id)):
                yield LineError(number, f"id {problem}")
                continue
            labels = _split_labels(cells[labels_at], ";") if labels_at is not None else ()
            if problem := labels_problem(labels):
                yield LineError(number, problem)
                continue
            yield ParsedHash(kind, checked, external_id, labels)

    def render(self, rows: Iterable[ExportRow]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["kind", "hash", "external_id", "labels"])
        for row in rows:
            writer.writerow([row.kind, row.value, row.external_id or "", ";".join(row.labels)])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()


class VpdqFormat(HashListFormat):
    """The vPDQ reference's per-frame output: `frame,quality,pdq,seconds` per line."""

    name = "vpdq"
    description = "vPDQ frame hashes: frame,quality,pdq,seconds (each frame becomes a PDQ hash)"

    def parse(self, lines: Iterable[str], default_kind: str) -> Iterator[ParsedHash | LineError]:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            cells = [cell.strip() for cell in line.split(",")]
            if len(cells) != 4:
                yield LineError(number, "expected frame,quality,pdq,seconds")
                continue
            frame, quality, value, seconds = cells
            try:
                int(frame), int(quality), float(seconds)
            except ValueError:
                yield LineError(number, "frame and quality must be integers, seconds a number")
                continue
            checked = _validated("pdq", value, number)
            if isinstance(checked, LineError):
                yield checked
                continue
            yield ParsedHash("pdq", checked, None, (f"frame={frame}", f"seconds={seconds}"))

    def render(self, rows: Iterable[ExportRow]) -> Iterator[str]:
        for number, row in enumerate(r for r in rows if r.kind == "pdq"):
            frame, seconds = number, 0.0
            for label in row.labels:
                key, _, value = label.partition("=")
                if key == "frame" and value.isdigit():
                    frame = int(value)
                elif key == "seconds":
                    with contextlib.suppress(ValueError):
                        seconds = float(value)
            yield f"{frame},100,{row.value},{seconds:.3f}\n"


class ThreatExchangeFormat(HashListFormat):
    """python-threatexchange's signal lines: `<signal type> <hash> [extra words...]`."""

    name = "threatexchange"
    description = "python-threatexchange signal lines: '<type> <hash>' (pdq, md5, ...)"

    TYPE_NAMES: ClassVar[dict[str, str]] = {
        "pdq": "pdq",
        "md5": "md5",
        "video_md5": "md5",
        "photo_md5": "md5",
        "sha256": "sha256",
    }

    def parse(self, lines: Iterable[str], default_kind: str) -> Iterator[ParsedHash | LineError]:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            if len(words) == 1:
                kind, value, extra = default_kind, words[0], []
            else:
                type_name, value, *extra = words
                kind = self.TYPE_NAMES.get(type_name.lower(), "")
                if not kind:
                    known = ", ".join(sorted(self.TYPE_NAMES))
                    yield LineError(number, f"unknown signal type {type_name!r} (known: {known})")
                    continue
            checked = _validated(kind, value, number)
            if isinstance(checked, LineError):
                yield checked
                continue
            if problem := labels_problem(extra):
                yield LineError(number, problem)
                continue
            yield ParsedHash(kind, checked, None, tuple(extra))

    def render(self, rows: Iterable[ExportRow]) -> Iterator[str]:
        for row in rows:
            yield " ".join((row.kind, row.value, *row.labels)) + "\n"


FORMATS: dict[str, HashListFormat] = {
    f.name: f for f in (TextFormat(), CsvFormat(), VpdqFormat(), ThreatExchangeFormat())
}


def get_format(name: str) -> HashListFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(f"unknown format {name!r}; use one of: {', '.join(FORMATS)}") from None


def guess_format(filename: str) -> str:
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return "csv"
    return "text"
