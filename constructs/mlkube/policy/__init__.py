"""Security and policy: mlkube's own rules (restricted Pod Security Standard and more), waivers with
reasons, and reports in text and SARIF. Runs at synth (a CHECKS step) and in ``mlkube validate --policy``."""

from ..core.waivers import Waiver, apply_waivers, waive
from . import rules as _rules  # noqa: F401  (registers every rule in RULES)
from .engine import Finding, PolicyReport, all_rules, check_policy
from .model import RULES, PolicySettings, Rule

__all__ = ["Finding", "PolicyReport", "PolicySettings", "RULES", "Rule", "Waiver", "all_rules", "apply_waivers",
           "check_policy", "waive"]
