"""Everything written for a person or a program about one input.

``document`` (the :class:`Report`: JSON form and the files written beside it), ``schema``
(the JSON schema of report.json), ``html`` (the self-contained HTML report), ``stability``
(its stability section) and ``table`` (the terminal summary). It reads evidence and verdicts
and never runs a detector.
"""

from veriscope.report.document import SCHEMA_ID, Report

__all__ = ["SCHEMA_ID", "Report"]
