"""Hash-list file formats for bank import and export.

Each format is one small class with a stable `name`; import parses a whole file into
`ContentItem`s (or `LineError`s with the line number), export writes items back.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lykta.banks.items import ContentItem, ItemHash
from lykta.errors import InvalidInput
from lykta.hashing.registry import from_foreign, get_hasher, hashers

# Limits on what a bank and its content carry. Labels are returned with every match, so
# their size bounds every look-up's answer; descriptions are shown in listings.
MAX_EXTERNAL_ID = 512
MAX_LABEL = 256
MAX_LABELS = 64
MAX_TEXT = 4096  # a bank's description, source and licence
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
class LineError:
    line: int
    reason: str


def _split_labels(text: str, separator: str) -> tuple[str, ...]:
    return tuple(label.strip() for label in text.split(separator) if label.strip())


def labels_problem(labels: Sequence[str]) -> str | None:
    """Why `labels` cannot be stored (too many, too long, unstorable), or None when they can."""
    if len(labels) > MAX_LABELS:
        return f"too many labels ({len(labels)}; at most {MAX_LABELS})"
    for label in labels:
        if len(label) > MAX_LABEL:
            return f"label {label[:40]!r}... is longer than {MAX_LABEL} characters"
        problem = text_problem(label)
        if problem:
            return f"label {label[:40]!r} {problem}"
    return None


def frame_problem(quality: int | None, seconds: float | None) -> str | None:
    """Why a hash's quality or frame time cannot be stored, or None when both can."""
    if quality is not None and (
        isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100
    ):
        return f"quality must be an integer within 0..100, got {quality!r}"
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        return f"seconds must be a finite number of at least 0, got {seconds!r}"
    return None


class HashListFormat:
    """A file format for hash lists."""

    name: ClassVar[str]
    description: ClassVar[str]
    # The hash kinds the format can hold; None for every kind. Exports leave the others out,
    # and the doors say how many (`skipped_kinds`).
    kinds: ClassVar[frozenset[str] | None] = None

    def parse(
        self, lines: Iterable[str], default_kind: str, item_name: str | None = None
    ) -> Iterator[ContentItem | LineError]:
        """Items in file order. ``item_name`` names the item of a format that holds one
        (a vPDQ file is one video), as its external id."""
        raise NotImplementedError

    def render(self, items: Iterable[ContentItem]) -> Iterator[str]:
        """Yield the file's lines (each ending in a newline), streaming."""
        raise NotImplementedError


def _validated(kind: str, value: str, line: int) -> str | LineError:
    try:
        return get_hasher(kind).validate(value)
    except InvalidInput as error:
        return LineError(line, error.message)


def _content_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of every line that is neither blank nor a comment."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


class TextFormat(HashListFormat):
    """One hash a line, with the item's id (`id=...`, first) and labels after it; consecutive
    lines with one id are one item, as the export writes them."""

    name = "text"
    description = (
        "one hash per line, optionally followed by ,id=ID and ,label[,label...]; # comments"
    )
    ID_PREFIX = "id="

    def parse(
        self, lines: Iterable[str], default_kind: str, item_name: str | None = None
    ) -> Iterator[ContentItem | LineError]:
        pending: list[ContentItem] = []
        for row in self._rows(lines, default_kind):
            if isinstance(row, LineError) or (
                pending and (row.external_id is None or row.external_id != pending[-1].external_id)
            ):
                yield from _joined(pending)
                pending = []
            if isinstance(row, LineError):
                yield row
            else:
                pending.append(row)
        yield from _joined(pending)

    def _rows(self, lines: Iterable[str], default_kind: str) -> Iterator[ContentItem | LineError]:
        for number, line in _content_lines(lines):
            value, _, rest = line.partition(",")
            checked = _validated(default_kind, value.strip(), number)
            if isinstance(checked, LineError):
                yield checked
                continue
            external_id = None
            first, _, others = rest.partition(",")
            if first.strip().startswith(self.ID_PREFIX):
                external_id = first.strip()[len(self.ID_PREFIX) :] or None
                rest = others
            if external_id is not None and (problem := text_problem(external_id)):
                yield LineError(number, f"id {external_id[:40]!r} {problem}")
                continue
            labels = _split_labels(rest, ",")
            if problem := labels_problem(labels):
                yield LineError(number, problem)
                continue
            yield ContentItem((ItemHash(default_kind, checked),), external_id, labels)

    def render(self, items: Iterable[ContentItem]) -> Iterator[str]:
        for item in items:
            named = () if item.external_id is None else (self.ID_PREFIX + item.external_id,)
            for hashed in item.hashes:
                yield ",".join((hashed.value, *named, *item.labels)) + "\n"


class CsvFormat(HashListFormat):
    """One row per hash. Consecutive rows with the same non-empty id are one item (a photo's
    PDQ and MD5, a video's frames), as the export writes them."""

    name = "csv"
    description = (
        "CSV with a header: hash (or value/signal), and optional kind, id, labels (;), "
        "quality, seconds; consecutive rows with one id are one item"
    )

    HASH_COLUMNS = ("hash", "value", "signal", "pdq", "md5", "sha256")
    ID_COLUMNS = ("external_id", "id", "content_id")

    def parse(
        self, lines: Iterable[str], default_kind: str, item_name: str | None = None
    ) -> Iterator[ContentItem | LineError]:
        pending: list[ContentItem] = []
        for row in self._rows(lines, default_kind):
            if isinstance(row, LineError):
                yield from _joined(pending)
                pending = []
                yield row
                continue
            if pending and (row.external_id is None or row.external_id != pending[-1].external_id):
                yield from _joined(pending)
                pending = []
            pending.append(row)
        yield from _joined(pending)

    def _rows(self, lines: Iterable[str], default_kind: str) -> Iterator[ContentItem | LineError]:
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
        at = {name: header.index(name) for name in ("kind", "labels", "quality", "seconds")
              if name in header}  # fmt: skip
        hash_at = header.index(hash_column)
        id_at = next((header.index(c) for c in self.ID_COLUMNS if c in header), None)
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
            kind = cells[at["kind"]].strip().lower() if "kind" in at else column_kind
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
            labels = _split_labels(cells[at["labels"]], ";") if "labels" in at else ()
            if problem := labels_problem(labels):
                yield LineError(number, problem)
                continue
            quality_text = _cell(cells, at.get("quality"))
            seconds_text = _cell(cells, at.get("seconds"))
            try:
                quality = None if quality_text is None else int(quality_text)
                seconds = None if seconds_text is None else float(seconds_text)
            except ValueError:
                yield LineError(number, "quality must be an integer and seconds a number")
                continue
            if problem := frame_problem(quality, seconds):
                yield LineError(number, problem)
                continue
            hashed = ItemHash(get_hasher(kind).name, checked, quality, seconds)
            yield ContentItem((hashed,), external_id, labels)

    def render(self, items: Iterable[ContentItem]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["kind", "hash", "external_id", "labels", "quality", "seconds"])
        for item in items:
            for hashed in item.hashes:
                writer.writerow([
                    hashed.kind, hashed.value, item.external_id or "", ";".join(item.labels),
                    "" if hashed.quality is None else hashed.quality,
                    "" if hashed.seconds is None else f"{hashed.seconds:g}",
                ])  # fmt: skip
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()


def _cell(cells: list[str], at: int | None) -> str | None:
    """An optional column's text, None when the column is absent or the cell empty."""
    if at is None or not cells[at].strip():
        return None
    return cells[at].strip()


def _joined(rows: list[ContentItem]) -> Iterator[ContentItem]:
    """Rows of one item as one item (the first row's labels)."""
    if not rows:
        return
    first = rows[0]
    hashes = tuple(h for row in rows for h in row.hashes)
    media = "video" if any(h.seconds is not None for h in hashes) else None
    yield ContentItem(hashes, first.external_id, first.labels, media)


class VpdqFormat(HashListFormat):
    """The vPDQ reference's per-frame output: `frame,quality,pdq,seconds` per line. A file is
    one video: it becomes one item holding every frame.

    An export of a bank writes each video item after a header comment,
    `# video {"id": ..., "labels": [...], "duration": ...}`, and numbers every item's frames
    from 0; a header, or a frame number going back to 0, starts a new item, so an export
    reads back as the items it came from. (Reference tools read one video without comments:
    give them one item's lines.)"""

    name = "vpdq"
    description = "vPDQ frame hashes of one video: frame,quality,pdq,seconds"
    kinds = frozenset({"pdq"})
    HEADER = "# video "

    def parse(
        self, lines: Iterable[str], default_kind: str, item_name: str | None = None
    ) -> Iterator[ContentItem | LineError]:
        video = _VideoBuilder(item_name)
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if line.startswith(self.HEADER):
                yield from video.finish()
                header = _video_header(line[len(self.HEADER) :])
                if isinstance(header, str):
                    yield LineError(number, header)
                    video = _VideoBuilder(None)
                else:
                    video = _VideoBuilder(*header)
                continue
            if not line or line.startswith("#"):
                continue
            cells = [cell.strip() for cell in line.split(",")]
            if len(cells) != 4:
                yield LineError(number, "expected frame,quality,pdq,seconds")
                continue
            frame, quality, value, seconds = cells
            try:
                frame_number = int(frame)
                # An empty quality is one Lykta's export did not know (never made up).
                parsed_quality = int(quality) if quality else None
                parsed_seconds = float(seconds)
            except ValueError:
                yield LineError(number, "frame and quality must be integers, seconds a number")
                continue
            if problem := frame_problem(parsed_quality, parsed_seconds):
                yield LineError(number, problem)
                continue
            checked = _validated("pdq", value, number)
            if isinstance(checked, LineError):
                yield checked
                continue
            if frame_number == 0 and video.frames:  # the next video of a several-item export
                yield from video.finish()
                video = _VideoBuilder(None)
            video.frames.append(ItemHash("pdq", checked, parsed_quality, parsed_seconds))
        yield from video.finish()

    def render(self, items: Iterable[ContentItem]) -> Iterator[str]:
        """Every item's PDQ hashes after its header, frames numbered within each item; other
        kinds have no place in this format and are left out (the doors say so:
        `skipped_kinds`)."""
        for item in items:
            frames = [h for h in item.hashes if h.kind in self.kinds]
            if not frames:
                continue
            if item.media_kind == "video":
                header: dict[str, Any] = {"id": item.external_id, "labels": list(item.labels)}
                if item.duration is not None:
                    header["duration"] = item.duration
                yield self.HEADER + json.dumps(header, ensure_ascii=False) + "\n"
            for number, frame in enumerate(frames):
                quality = "" if frame.quality is None else frame.quality
                seconds = 0.0 if frame.seconds is None else frame.seconds
                yield f"{number},{quality},{frame.value},{seconds:.3f}\n"


@dataclass
class _VideoBuilder:
    """The frames of one video being read, and what its header said of it."""

    external_id: str | None
    labels: tuple[str, ...] = ()
    duration: float | None = None
    frames: list[ItemHash] = field(default_factory=list)

    def finish(self) -> Iterator[ContentItem]:
        if self.frames:
            last = max(frame.seconds or 0.0 for frame in self.frames)
            duration = last if self.duration is None else self.duration
            yield ContentItem(tuple(self.frames), self.external_id, self.labels, "video", duration)


def _video_header(text: str) -> tuple[str | None, tuple[str, ...], float | None] | str:
    """A vPDQ export's item header as (id, labels, duration), or why it cannot be read."""
    try:
        header = json.loads(text)
    except json.JSONDecodeError:
        return 'a video header must be # video {"id": ..., "labels": [...], "duration": ...}'
    if not isinstance(header, dict):
        return "a video header must be a JSON object"
    external_id, labels, duration = (
        header.get("id"),
        header.get("labels", []),
        header.get("duration"),
    )
    if external_id is not None and (
        not isinstance(external_id, str)
        or len(external_id) > MAX_EXTERNAL_ID
        or text_problem(external_id)
    ):
        return f"the header's id must be text of at most {MAX_EXTERNAL_ID} characters"
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return "the header's labels must be a list of text"
    if problem := labels_problem(labels):
        return problem
    if duration is not None and frame_problem(None, duration):
        return "the header's duration must be a finite number of at least 0"
    return external_id, tuple(labels), duration


class ThreatExchangeFormat(HashListFormat):
    """python-threatexchange's signal lines: `<signal type> <hash> [extra words...]`, with
    that library's names for each kind (`video_md5`, not `md5`).

    A video's frames are one `vpdq` line, as that library's `VPDQSignal` writes it: a JSON
    list of `"<pdq>,<quality>,<timestamp>"` strings (timestamps as its
    `VpdqCompactFeature` prints them: `{seconds:.3}`, three significant digits)."""

    name = "threatexchange"
    description = (
        "python-threatexchange signal lines: '<type> <hash>' (pdq, video_md5, ...; "
        "vpdq for a video's frames)"
    )
    VPDQ = "vpdq"

    def parse(
        self, lines: Iterable[str], default_kind: str, item_name: str | None = None
    ) -> Iterator[ContentItem | LineError]:
        for number, line in _content_lines(lines):
            type_name, _, rest = line.partition(" ")
            if type_name.lower() == self.VPDQ:
                yield _vpdq_signal(rest.strip(), number)
                continue
            words = line.split()
            if len(words) == 1:
                kind, value, extra = default_kind, words[0], []
            else:
                type_name, value, *extra = words
                try:
                    kind = from_foreign("threatexchange", type_name).name
                except InvalidInput as error:
                    yield LineError(number, error.message)
                    continue
            checked = _validated(kind, value, number)
            if isinstance(checked, LineError):
                yield checked
                continue
            if problem := labels_problem(extra):
                yield LineError(number, problem)
                continue
            yield ContentItem((ItemHash(kind, checked),), None, tuple(extra))

    def render(self, items: Iterable[ContentItem]) -> Iterator[str]:
        names = {hasher.name: hasher.foreign_name("threatexchange") for hasher in hashers()}
        for item in items:
            frames = [h for h in item.hashes if h.kind == "pdq" and h.seconds is not None]
            if frames:
                yield " ".join((self.VPDQ, vpdq_signal(frames), *item.labels)) + "\n"
            for hashed in item.hashes:
                if hashed.kind == "pdq" and hashed.seconds is not None:
                    continue
                yield " ".join((names[hashed.kind], hashed.value, *item.labels)) + "\n"


def vpdq_signal(frames: Iterable[ItemHash]) -> str:
    """Video frames (PDQ with quality and seconds) as python-threatexchange's `vpdq` signal:
    a JSON list of `"<pdq>,<quality>,<timestamp>"`, timestamps as its `VpdqCompactFeature`
    prints them (`{seconds:.3}`)."""
    return json.dumps([
        f"{h.value},{100 if h.quality is None else h.quality},{h.seconds or 0.0:.3}"
        for h in frames
    ])  # fmt: skip


def parse_vpdq_signal(text: str) -> ContentItem:
    """A `vpdq` signal alone (nothing after it) as one video item of its frames; an
    InvalidInput saying what is wrong if it is not one."""
    found = _vpdq_signal(text.strip(), 1)
    if isinstance(found, LineError):
        raise InvalidInput(f"invalid vpdq signal: {found.reason}")
    if found.labels:
        raise InvalidInput(
            'invalid vpdq signal: expected only a JSON list of "pdq,quality,timestamp"'
        )
    return found


def _vpdq_signal(text: str, line: int) -> ContentItem | LineError:
    """A `vpdq` signal (a JSON list of "pdq,quality,timestamp") and any words after it, as
    one video item; checked as python-threatexchange's `VpdqCompactFeature` checks it."""
    try:
        features, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return LineError(line, 'a vpdq signal is a JSON list of "pdq,quality,timestamp"')
    if not isinstance(features, list) or not features:
        return LineError(line, 'a vpdq signal is a non-empty JSON list of "pdq,quality,timestamp"')
    frames = []
    for number, feature in enumerate(features):
        parts = feature.split(",") if isinstance(feature, str) else []
        try:
            value, quality, seconds = parts
            parsed_quality, parsed_seconds = int(quality), float(seconds)
        except ValueError:
            return LineError(line, f"vpdq frame {number}: expected pdq,quality,timestamp")
        if problem := frame_problem(parsed_quality, parsed_seconds):
            return LineError(line, f"vpdq frame {number}: {problem}")
        checked = _validated("pdq", value, line)
        if isinstance(checked, LineError):
            return LineError(line, f"vpdq frame {number}: {checked.reason}")
        frames.append(ItemHash("pdq", checked, parsed_quality, parsed_seconds))
    labels = tuple(text[end:].split())
    if problem := labels_problem(labels):
        return LineError(line, problem)
    duration = max(frame.seconds or 0.0 for frame in frames)
    return ContentItem(tuple(frames), None, labels, "video", duration)


def skipped_kinds(fmt: HashListFormat, counts: Mapping[str, int]) -> dict[str, int]:
    """Of a bank's hash counts per kind, those `fmt` cannot hold (an export leaves them out)."""
    if fmt.kinds is None:
        return {}
    return {kind: count for kind, count in sorted(counts.items()) if kind not in fmt.kinds}


def describe_skipped(fmt: HashListFormat, skipped: Mapping[str, int]) -> str:
    """One line telling what an export in `fmt` left out, and what to use instead."""
    counts = ", ".join(f"{count} {kind}" for kind, count in skipped.items())
    return (
        f"{fmt.name} holds only {', '.join(sorted(fmt.kinds or ()))} hashes: left out "
        f"{counts}; export as csv to keep every kind"
    )


FORMATS: dict[str, HashListFormat] = {
    f.name: f for f in (TextFormat(), CsvFormat(), VpdqFormat(), ThreatExchangeFormat())
}


def get_format(name: str) -> HashListFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput(f"unknown format {name!r}; use one of: {', '.join(FORMATS)}") from None


def export_filename(bank: str, format: str) -> str:
    """The file name an export is offered under, from which `guess_format` reads its format
    back: `ncmec.csv`, `ncmec.txt`, `ncmec.vpdq.txt`, `ncmec.threatexchange.txt`."""
    if format == "csv":
        return f"{bank}.csv"
    return f"{bank}.txt" if format == "text" else f"{bank}.{format}.txt"


def file_stem(filename: str) -> str | None:
    """A file's name without its folder and suffix, a format's too (`clip.vpdq.txt`:
    `clip`): the external id of the one item of a format that holds one (vPDQ)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = name.lower()
    for suffix in (*(f".{fmt}.txt" for fmt in FORMATS), *(f".{fmt}" for fmt in FORMATS)):
        if lowered.endswith(suffix):
            return name[: -len(suffix)] or None
    return name.rsplit(".", 1)[0] or None


def guess_format(filename: str) -> str:
    """The format a file name says (`.csv`; `.vpdq` or `.vpdq.txt`, and so on); else text."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return "csv"
    for name in FORMATS:
        if lowered.endswith((f".{name}", f".{name}.txt")):
            return name
    return "text"
