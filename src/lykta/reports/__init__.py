"""Reports of confirmed cases: NCMEC's CyberTipline (the report and file-details XML in
the schema's order, the client, the resumable send) and exports for police and hotlines."""

from lykta.reports.client import CyberTiplineClient, CyberTiplineError
from lykta.reports.service import ReportInfo, ReportService

__all__ = ["CyberTiplineClient", "CyberTiplineError", "ReportInfo", "ReportService"]
