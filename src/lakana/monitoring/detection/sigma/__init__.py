"""Sigma detection engine: pySigma parses rules, :func:`compile_rule` turns each into Python
closures once, and :class:`RulePack` runs the relevant ones on each event by ``event.dataset``;
Sigma correlation rules (:class:`CompiledCorrelation`) count their matches over time windows
(:class:`Window`, shared by the database path and :class:`InMemoryCorrelator`)."""

from lakana.monitoring.detection.sigma.compiler import (
    CompiledRule,
    UnsupportedRuleError,
    compile_rule,
)
from lakana.monitoring.detection.sigma.correlation import (
    CompiledCorrelation,
    CorrelationMatch,
    InMemoryCorrelator,
    Window,
    compile_correlation,
    group_hash,
)
from lakana.monitoring.detection.sigma.fields import FieldMapping, mapping_for_logsource
from lakana.monitoring.detection.sigma.rulepack import RulePack, UnsupportedRule, load_rules

__all__ = [
    "CompiledCorrelation",
    "CompiledRule",
    "CorrelationMatch",
    "FieldMapping",
    "InMemoryCorrelator",
    "RulePack",
    "UnsupportedRule",
    "UnsupportedRuleError",
    "Window",
    "compile_correlation",
    "compile_rule",
    "group_hash",
    "load_rules",
    "mapping_for_logsource",
]
