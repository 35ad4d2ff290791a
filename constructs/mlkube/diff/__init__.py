"""``mlkube diff``: a semantic diff of two sides of a config repo, for pull-request review.

sources (read a folder or git revision) -> compare (match by identity, fields, risks) ->
markdown / json_report (with a mermaid diagram).
"""

from .compare import compare_sides, diff_specs
from .json_report import render_json, report_dict
from .markdown import render_markdown
from .model import DiffReport, FieldChange, Level, ObjectChange, Risk
from .risks import DEFAULT_PRODUCTION
from .sources import Located, Side, read_side

__all__ = ["DEFAULT_PRODUCTION", "DiffReport", "FieldChange", "Level", "Located", "ObjectChange", "Risk", "Side",
           "compare_sides", "diff_specs", "read_side", "render_json", "render_markdown", "report_dict"]
