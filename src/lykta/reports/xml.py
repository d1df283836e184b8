"""The CyberTipline report and file-details documents, their children always in the order
of NCMEC's schema (its sequences reject anything else, with response code 4100).

Only what a Lykta case knows goes in: the incident (child pornography; escalated when a
live stream shows abuse happening now), the reporter, the reported user (the case's subject
with the screen names, emails and IP capture events platforms attached), and per file the
hashes, whether anyone at the service viewed it whole, and its annotations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

INCIDENT_TYPE = "Child Pornography (possession, manufacture, and distribution)"
# NCMEC's names of IP capture events; anything else a platform sent is "Other".
IP_EVENTS = {"login": "Login", "registration": "Registration", "purchase": "Purchase",
             "upload": "Upload", "unknown": "Unknown"}  # fmt: skip
INDUSTRY_CLASSES = re.compile(r"^[AB][12]$")

# The schema's sequences Lykta writes, parent → children in order (a subset of NCMEC's).
SEQUENCES: dict[str, tuple[str, ...]] = {
    "report": (
        "incidentSummary", "internetDetails", "lawEnforcement", "reporter",
        "personOrUserReported", "intendedRecipient", "victim", "additionalInfo",
    ),
    "incidentSummary": (
        "incidentType", "platform", "escalateToHighPriority", "reportAnnotations",
        "incidentDateTime", "incidentDateTimeDescription",
    ),
    "reporter": ("reportingPerson", "contactPerson", "companyTemplate", "termsOfService",
                 "legalURL"),
    "reportingPerson": ("firstName", "middleName", "lastName", "phone", "email", "address"),
    "personOrUserReported": (
        "personOrUserReportedPerson", "vehicleDescription", "espIdentifier", "espService",
        "compromisedAccount", "screenName", "displayName", "profileUrl", "profileBio",
        "ipCaptureEvent", "deviceId", "thirdPartyUserReported", "priorCTReports",
        "groupIdentifier", "estimatedLocation", "allEmailsReported", "associatedAccount",
        "additionalInfo",
    ),
    "personOrUserReportedPerson": ("firstName", "middleName", "lastName", "phone", "email",
                                   "address", "age", "dateOfBirth"),
    "ipCaptureEvent": ("ipAddress", "eventName", "dateTime", "possibleProxy", "port"),
    "fileDetails": (
        "reportId", "fileId", "originalFileName", "uploadedToEspTimestamp", "locationOfFile",
        "fileViewedByEsp", "exifViewedByEsp", "publiclyAvailable", "fileRelevance",
        "fileAnnotations", "industryClassification", "originalFileHash", "ipCaptureEvent",
        "deviceId", "details", "additionalInfo",
    ),
    "fileAnnotations": (
        "animeDrawingVirtualHentai", "potentialMeme", "viral", "possibleSelfProduction",
        "physicalHarm", "violenceGore", "bestiality", "liveStreaming", "infant", "generativeAi",
    ),
}  # fmt: skip


def out_of_order(element: ET.Element) -> str | None:
    """The first child (anywhere below ``element``) out of its schema sequence, or None."""
    order = SEQUENCES.get(element.tag)
    last = -1
    for child in element:
        if order is not None:
            if child.tag not in order:
                return f"{child.tag} is not allowed in {element.tag}"
            place = order.index(child.tag)
            if place < last:
                return f"{child.tag} out of order in {element.tag}"
            last = place
        problem = out_of_order(child)
        if problem:
            return problem
    return None


def iso(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class IpCapture:
    address: str
    event: str | None
    at: datetime | None


@dataclass(frozen=True)
class ReportFacts:
    """What the report says, gathered from the case."""

    case_id: int
    incident_at: datetime
    subject: str | None
    reporter_first: str
    reporter_last: str
    reporter_email: str
    live_streams: Sequence[str] = ()
    screen_names: Sequence[str] = ()
    emails: Sequence[str] = ()
    ip_captures: Sequence[IpCapture] = ()
    matched: Sequence[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileFacts:
    name: str
    sha256: str
    md5: str
    uploaded_at: datetime | None
    live_streaming: bool = False
    industry_classification: str | None = None
    # Whether someone at the service was shown the whole file (fileViewedByEsp), and how
    # many storyboard frames of a video they saw, which is not the whole file.
    viewed_by_esp: bool = False
    frames_viewed: int = 0


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _ip_captures(parent: ET.Element, captures: Iterable[IpCapture]) -> None:
    for capture in captures:
        event = _add(parent, "ipCaptureEvent")
        _add(event, "ipAddress", capture.address)
        name = IP_EVENTS.get(
            (capture.event or "").strip().lower(), "Other" if capture.event else None
        )
        if name:
            _add(event, "eventName", name)
        if capture.at is not None:
            _add(event, "dateTime", iso(capture.at))


def report_xml(facts: ReportFacts) -> bytes:
    """The ``<report>`` document that opens a submission."""
    report = ET.Element("report")
    summary = _add(report, "incidentSummary")
    _add(summary, "incidentType", INCIDENT_TYPE)
    if facts.live_streams:
        _add(
            summary, "escalateToHighPriority",
            "Abuse may be happening now: matched in live stream(s) "
            + ", ".join(facts.live_streams)[:2900],
        )  # fmt: skip
    _add(summary, "incidentDateTime", iso(facts.incident_at))
    reporter = _add(report, "reporter")
    person = _add(reporter, "reportingPerson")
    _add(person, "firstName", facts.reporter_first)
    _add(person, "lastName", facts.reporter_last)
    _add(person, "email", facts.reporter_email)
    reported = _add(report, "personOrUserReported")
    if facts.emails:
        who = _add(reported, "personOrUserReportedPerson")
        for email in facts.emails:
            _add(who, "email", email)
    if facts.subject:
        _add(reported, "espIdentifier", facts.subject)
    if facts.screen_names:
        _add(reported, "screenName", facts.screen_names[0])
        for other in facts.screen_names[1:]:
            _add(reported, "displayName", other)
    _ip_captures(reported, facts.ip_captures)
    _add(
        report, "additionalInfo",
        f"Lykta case {facts.case_id}. Hash matches: " + "; ".join(facts.matched),
    )  # fmt: skip
    return bytes(ET.tostring(report, encoding="utf-8", xml_declaration=True))


def file_details_xml(report_id: str, file_id: str, file: FileFacts) -> bytes:
    """The ``<fileDetails>`` document of one uploaded file; it was not publicly available.
    ``fileViewedByEsp`` is NCMEC's "viewed the entire contents": true once anyone was shown
    the photo or the video file; frames of a video's storyboard alone are said in
    ``additionalInfo`` instead."""
    details = ET.Element("fileDetails")
    _add(details, "reportId", report_id)
    _add(details, "fileId", file_id)
    _add(details, "originalFileName", file.name)
    if file.uploaded_at is not None:
        _add(details, "uploadedToEspTimestamp", iso(file.uploaded_at))
    _add(details, "fileViewedByEsp", "true" if file.viewed_by_esp else "false")
    _add(details, "publiclyAvailable", "false")
    if file.live_streaming:
        annotations = _add(details, "fileAnnotations")
        _add(annotations, "liveStreaming")
    if file.industry_classification and INDUSTRY_CLASSES.match(file.industry_classification):
        _add(details, "industryClassification", file.industry_classification)
    for kind, value in (("SHA256", file.sha256), ("MD5", file.md5)):
        if not value:
            continue
        digest = _add(details, "originalFileHash", value)
        digest.set("hashType", kind)
    if file.frames_viewed and not file.viewed_by_esp:
        _add(
            details, "additionalInfo",
            f"The service viewed {file.frames_viewed} key frame(s) of this video, "
            "not the whole file.",
        )  # fmt: skip
    return bytes(ET.tostring(details, encoding="utf-8", xml_declaration=True))
