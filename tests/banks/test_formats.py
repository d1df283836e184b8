"""Hash-list formats: every format parses what it writes, and bad lines carry their number."""

from __future__ import annotations

import importlib
import io
import sys
from dataclasses import dataclass, field
from types import ModuleType

import pytest

from lykta.banks.formats import FORMATS, HashListFormat, LineError, get_format
from lykta.banks.items import ContentItem, ItemHash
from lykta.errors import InvalidInput


@dataclass
class ParseResult:
    rows: list[ContentItem] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def parse_text(
    fmt: HashListFormat, data: str, default_kind: str, name: str | None = None
) -> ParseResult:
    result = ParseResult()
    for item in fmt.parse(io.StringIO(data), default_kind, name):
        if isinstance(item, LineError):
            result.errors.append(item)
        else:
            result.rows.append(item)
    return result


def one(kind: str, value: str, external_id: str | None = None, labels: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return ContentItem((ItemHash(kind, value),), external_id, labels)


PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ2 = "0" * 63 + "1"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def test_text_format_with_labels_comments_and_case() -> None:
    data = f"# a comment\n\n{PDQ.upper()},label1,label2\n{PDQ2}\n"
    result = parse_text(get_format("text"), data, "pdq")
    assert result.errors == []
    assert result.rows == [one("pdq", PDQ, None, ("label1", "label2")), one("pdq", PDQ2)]


def test_text_format_keeps_external_ids() -> None:
    fmt = get_format("text")
    photo = ContentItem((ItemHash("pdq", PDQ), ItemHash("pdq", PDQ2)), "photo-7", ("x", "y"))
    text = "".join(fmt.render([photo, one("pdq", PDQ2, None, ("z",))]))
    assert text == f"{PDQ},id=photo-7,x,y\n{PDQ2},id=photo-7,x,y\n{PDQ2},z\n"
    result = parse_text(fmt, text, "pdq")
    assert result.errors == []
    assert result.rows == [photo, one("pdq", PDQ2, None, ("z",))]
    bad = parse_text(fmt, f"{PDQ},id=bad\x00id\n", "pdq")
    assert [error.line for error in bad.errors] == [1]


def test_text_format_reports_bad_line_number() -> None:
    result = parse_text(get_format("text"), f"{PDQ}\nnot-a-hash\n{PDQ2[:-1]}\n", "pdq")
    assert [e.line for e in result.errors] == [2, 3]
    assert all("hex" in e.reason or "64" in e.reason for e in result.errors), result.errors


def test_csv_format_columns() -> None:
    data = f"kind,hash,id,labels\npdq,{PDQ},img-1,a;b\nmd5,{MD5},img-2,\n"
    result = parse_text(get_format("csv"), data, "pdq")
    assert result.errors == []
    assert result.rows == [one("pdq", PDQ, "img-1", ("a", "b")), one("md5", MD5, "img-2")]


def test_csv_consecutive_rows_with_one_id_are_one_item() -> None:
    data = (
        "kind,hash,id,labels,quality,seconds\n"
        f"pdq,{PDQ},vid,x,90,0\npdq,{PDQ2},vid,x,80,1.5\nmd5,{MD5},vid,x,,\n"
        f"pdq,{PDQ},other,,,\n"
    )
    result = parse_text(get_format("csv"), data, "pdq")
    assert result.errors == []
    video, other = result.rows
    assert video.external_id == "vid" and video.media_kind == "video"
    assert video.hashes == (
        ItemHash("pdq", PDQ, 90, 0.0), ItemHash("pdq", PDQ2, 80, 1.5), ItemHash("md5", MD5),
    )  # fmt: skip
    assert other.hashes == (ItemHash("pdq", PDQ),)
    bad = parse_text(get_format("csv"), f"hash,quality\n{PDQ},high\n", "pdq")
    assert bad.errors == [LineError(2, "quality must be an integer and seconds a number")]


def test_csv_quality_and_seconds_out_of_range_are_line_errors() -> None:
    # Beyond the database's integer, or meaningless as a quality or a frame time: each is
    # its line's error, never a failed insert.
    data = (
        f"hash,quality,seconds\n{PDQ},99999999999999999999,\n{PDQ},101,\n{PDQ},-1,\n"
        f"{PDQ},,inf\n{PDQ},,nan\n{PDQ},,-0.5\n{PDQ},100,0\n"
    )
    result = parse_text(get_format("csv"), data, "pdq")
    assert [e.line for e in result.errors] == [2, 3, 4, 5, 6, 7]
    assert [row.hashes for row in result.rows] == [(ItemHash("pdq", PDQ, 100, 0.0),)]


def test_vpdq_frame_times_must_be_finite_and_not_negative() -> None:
    data = f"0,100,{PDQ},inf\n1,100,{PDQ},nan\n2,100,{PDQ},-1\n3,100,{PDQ},0.5\n"
    result = parse_text(get_format("vpdq"), data, "pdq", "clip")
    assert [e.line for e in result.errors] == [1, 2, 3]
    [video] = result.rows
    assert video.duration == 0.5


def test_csv_needs_a_hash_column() -> None:
    result = parse_text(get_format("csv"), "name,other\nx,y\n", "pdq")
    assert result.rows == []
    assert result.errors[0].line == 1 and "hash" in result.errors[0].reason


def test_csv_wrong_column_count_and_bad_kind() -> None:
    data = f"kind,hash\npdq,{PDQ},extra\nsha1,{PDQ}\n"
    result = parse_text(get_format("csv"), data, "pdq")
    assert [e.line for e in result.errors] == [2, 3]
    assert "columns" in result.errors[0].reason
    assert "sha1" in result.errors[1].reason


def test_vpdq_format_reads_reference_output() -> None:
    data = f"0,100,{PDQ},0.000\n1,98,{PDQ2},0.033\n"
    result = parse_text(get_format("vpdq"), data, "pdq", "clip")
    assert result.errors == []
    [video] = result.rows  # one file is one video, every frame in it
    assert (video.external_id, video.media_kind, video.duration) == ("clip", "video", 0.033)
    assert video.hashes == (ItemHash("pdq", PDQ, 100, 0.0), ItemHash("pdq", PDQ2, 98, 0.033))
    bad = parse_text(get_format("vpdq"), f"0,100,{PDQ}\nx,1,{PDQ},0\n0,101,{PDQ},0\n", "pdq")
    assert [e.line for e in bad.errors] == [1, 2, 3]


def test_threatexchange_format() -> None:
    sha = "ab" * 32
    data = f"pdq {PDQ}\nvideo_md5 {MD5}\nfoo {PDQ}\nvideo_sha256 {sha}\n"
    result = parse_text(get_format("threatexchange"), data, "pdq")
    assert result.rows == [one("pdq", PDQ), one("md5", MD5), one("sha256", sha)]
    assert result.errors == [LineError(3, result.errors[0].reason)]
    assert "foo" in result.errors[0].reason
    # Written with python-threatexchange's own names, which it reads back.
    written = "".join(get_format("threatexchange").render(result.rows))
    assert written == f"pdq {PDQ}\nvideo_md5 {MD5}\nvideo_sha256 {sha}\n"


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_round_trips(name: str) -> None:
    fmt = get_format(name)
    rows = [one("pdq", PDQ, "a", ("x",)), one("pdq", PDQ2)]
    text = "".join(fmt.render(rows))
    parsed = list(fmt.parse(io.StringIO(text), "pdq"))
    assert all(isinstance(p, ContentItem) for p in parsed), parsed
    values = [h.value for p in parsed if isinstance(p, ContentItem) for h in p.hashes]
    assert values == [PDQ, PDQ2]


def test_unknown_format() -> None:
    with pytest.raises(InvalidInput, match="unknown format"):
        get_format("xml")


def test_csv_oversized_field_and_long_id_are_line_errors() -> None:
    huge = "x" * 200_000
    result = parse_text(get_format("csv"), f"hash,id\n{PDQ},{huge}\n", "pdq")
    assert result.rows == [] and result.errors[0].line >= 2
    assert "malformed CSV" in result.errors[0].reason
    result = parse_text(get_format("csv"), f"hash,id\n{PDQ},{'a' * 513}\n", "pdq")
    assert result.errors == [LineError(2, "id is longer than 512 characters")]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("text", f"{PDQ},{'x' * 257}"),
        ("csv", f"hash,labels\n{PDQ},{'x' * 257}"),
        ("threatexchange", f"pdq {PDQ} {'x' * 257}"),
    ],
)
def test_oversized_label_is_a_line_error(name: str, line: str) -> None:
    result = parse_text(get_format(name), line + "\n", "pdq")
    assert result.rows == []
    [error] = result.errors
    assert "longer than 256 characters" in error.reason


def test_too_many_labels_is_a_line_error() -> None:
    result = parse_text(get_format("text"), PDQ + "," + ",".join(map(str, range(65))), "pdq")
    assert result.errors == [LineError(1, "too many labels (65; at most 64)")]


def test_threatexchange_format_speaks_the_librarys_signal_type_names() -> None:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.sha256 import VideoSHA256Signal

    signal_types = {s.get_name(): s for s in (PdqSignal, VideoMD5Signal, VideoSHA256Signal)}
    sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    rows = [one("pdq", PDQ), one("md5", MD5), one("sha256", sha256)]
    fmt = get_format("threatexchange")
    exported = "".join(fmt.render(rows))
    for line in exported.splitlines():
        name, value = line.split()
        assert name in signal_types, f"python-threatexchange has no signal type {name!r}"
        assert signal_types[name].validate_signal_str(value) == value
    parsed = parse_text(fmt, exported, "pdq")
    assert parsed.errors == []
    assert parsed.rows == rows


PDQ3 = "a" * 64
VIDEO = ContentItem(
    (
        ItemHash("pdq", PDQ, 100, 0.0),
        ItemHash("pdq", PDQ3, 90, 0.0),  # the same frame without its bars
        ItemHash("pdq", PDQ2, 98, 1.2),
        ItemHash("md5", MD5),
    ),
    "clip-1",
    ("a", "b"),
    "video",
    2.5,
)
OTHER = ContentItem((ItemHash("pdq", PDQ2, 70, 0.4),), "clip, 2", (), "video", 0.4)


def test_a_vpdq_export_of_videos_reads_back_as_those_videos() -> None:
    fmt = get_format("vpdq")
    text = "".join(fmt.render([VIDEO, OTHER, one("pdq", PDQ)]))
    assert text.splitlines()[:2] == [
        '# video {"id": "clip-1", "labels": ["a", "b"], "duration": 2.5}',
        f"0,100,{PDQ},0.000",
    ]
    result = parse_text(fmt, text, "pdq", "export")
    assert result.errors == []
    video, other, bare = result.rows
    assert video == ContentItem(VIDEO.hashes[:3], "clip-1", ("a", "b"), "video", 2.5)
    assert other == OTHER
    # A bare hash has no header: it reads back as a frame (its frame number restarts at 0),
    # its unknown quality left empty rather than made up.
    assert text.splitlines()[-1] == f"0,,{PDQ},0.000"
    assert bare.hashes == (ItemHash("pdq", PDQ, None, 0.0),) and bare.external_id is None


def test_vpdq_headers_are_checked() -> None:
    data = f'# video {{nope\n0,100,{PDQ},0\n# video {{"id": 5}}\n# video {{"duration": -1}}\n'
    result = parse_text(get_format("vpdq"), data, "pdq", "clip")
    assert [e.line for e in result.errors] == [1, 3, 4]
    [frame] = result.rows
    assert frame.external_id is None  # after a bad header, the item is not named by it


def test_threatexchange_vpdq_signal_is_read_and_written_as_that_library_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # python-threatexchange's own serialisation, importable without its native vpdq module
    # (only its hashing needs it; the name is read when the module is imported).
    native = ModuleType("vpdq")
    native.VpdqFeature = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vpdq", native)
    vpdq_util = importlib.import_module("threatexchange.extensions.vpdq.vpdq_util")
    reference = vpdq_util.vpdq_to_json([
        vpdq_util.VpdqCompactFeature(PDQ, 100, 0.0),
        vpdq_util.VpdqCompactFeature(PDQ2, 98, 0.033),
        vpdq_util.VpdqCompactFeature(PDQ3, 50, 123.456),
    ])  # fmt: skip
    fmt = get_format("threatexchange")
    [video] = parse_text(fmt, f"vpdq {reference} label\n", "pdq").rows
    assert video.media_kind == "video" and video.labels == ("label",)
    # The library keeps three significant digits of a timestamp: 123.456 is 123.
    assert [(h.value, h.quality, h.seconds) for h in video.hashes] == [
        (PDQ, 100, 0.0), (PDQ2, 98, 0.033), (PDQ3, 50, 123.0),
    ]  # fmt: skip
    written = "".join(fmt.render([video]))
    assert written == f"vpdq {reference} label\n"
    signal = "".join(fmt.render([VIDEO])).splitlines()
    assert signal[1] == f"video_md5 {MD5} a b"
    features = vpdq_util.json_to_vpdq(signal[0].removeprefix("vpdq ").removesuffix(" a b"))
    assert [(f.pdq_hex, f.quality, f.timestamp) for f in features] == [
        (PDQ, 100, 0.0), (PDQ3, 90, 0.0), (PDQ2, 98, 1.2),
    ]  # fmt: skip
    bad = parse_text(fmt, 'vpdq []\nvpdq ["x,1,0"]\nvpdq ["' + PDQ + ',101,0"]\nvpdq {\n', "pdq")
    assert [e.line for e in bad.errors] == [1, 2, 3, 4]
