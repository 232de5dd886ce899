"""Sigma detection engine: pySigma parses rules, :func:`compile_rule` turns each into Python
closures once, and :class:`RulePack` runs the relevant ones on each event by ``event.dataset``."""

from lakana.monitoring.detection.sigma.compiler import (
    CompiledRule,
    UnsupportedRuleError,
    compile_rule,
)
from lakana.monitoring.detection.sigma.fields import FieldMapping, mapping_for_logsource
from lakana.monitoring.detection.sigma.rulepack import RulePack, UnsupportedRule, load_rules

__all__ = [
    "CompiledRule",
    "FieldMapping",
    "RulePack",
    "UnsupportedRule",
    "UnsupportedRuleError",
    "compile_rule",
    "load_rules",
    "mapping_for_logsource",
]
