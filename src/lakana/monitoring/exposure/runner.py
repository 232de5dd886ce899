"""The scan runner: asyncio, bounded concurrency, per-host limits and per-target deadlines.

* Targets run concurrently, at most ``settings.exposure_concurrency`` at a time.
* On one target, the checks that apply to its kind run **concurrently** (TLS, HTTP, paths,
  ports... wait on different sockets; running them one after the other would make a host's
  time the sum of its checks' instead of the longest one), but at most
  :data:`PER_HOST_CHECKS` at a time per host name: a URL and a domain of the same host share
  that budget, which is the scan's rate limit towards one machine.
* Each check has a deadline (``exposure_timeout × TARGET_DEADLINE_FACTOR``) counted from the
  moment it holds one of its host's slots (waiting behind a busy host's other checks does not
  count): a check still running then is cancelled and reported as an error; a check that
  raises is an error too. Neither ever stops the scan.
* Results are written as targets finish, by one writer coroutine, each in its own short
  transaction (in a worker thread, so the event loop keeps serving sockets), so a page can
  show ``targets_done`` moving. Then scores, automatic CSIRT cases and compliance evidence.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lakana.core import audit
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import transaction, utcnow
from lakana.core.errors import LakanaError
from lakana.monitoring.exposure import findings, flows
from lakana.monitoring.exposure.checks.base import (
    Check,
    CheckContext,
    CheckReport,
    OutOfScope,
    Target,
    VulnerabilityIndex,
)
from lakana.monitoring.exposure.findings import available_checks, issue_catalogue
from lakana.monitoring.exposure.models import ExposureScan, ScanResult
from lakana.monitoring.exposure.scope import AllowList
from lakana.monitoring.exposure.targets import targets_for

__all__ = ["available_checks", "issue_catalogue", "run_scan", "scan_target"]

log = logging.getLogger("lakana.exposure")

#: Checks run at once against one host name.
PER_HOST_CHECKS = 4
#: A target's deadline, in multiples of the per-operation timeout.
TARGET_DEADLINE_FACTOR = 6
DEADLINE_ERROR = "deadline exceeded"
#: ``progress(done, total)`` is called as targets finish.
Progress = Callable[[int, int], None]
RUNNABLE = frozenset({"queued", "running"})


def parse_nameservers(text: str) -> tuple[tuple[str, int], ...]:
    """``"IP[:PORT],..."`` (``[v6]:port`` for IPv6 with a port) as ``((ip, port), ...)``."""
    servers: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, port = item, 53
        if item.startswith("[") and "]" in item:
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 53
        elif item.count(":") == 1:
            host, _, number = item.partition(":")
            port = int(number)
        servers.append((host, port))
    return tuple(servers)


@dataclass(frozen=True)
class TargetOutcome:
    """The reports of every check run on one target."""

    target: Target
    reports: tuple[CheckReport, ...]
    duration_ms: int

    @property
    def status(self) -> str:
        """ok, partial (some checks failed), unreachable (all failed), refused (scope)."""
        errors = [r.error for r in self.reports if r.error is not None]
        if not errors:
            return "ok"
        if len(errors) < len(self.reports):
            return "partial"
        if all(e.startswith("out of scope") for e in errors):
            return "refused"
        return "unreachable"


@dataclass
class _Totals:
    """What the writer gathered for the end of the scan."""

    institutions: set[int] = field(default_factory=set)
    opened: list[int] = field(default_factory=list)


async def _run_check(check: Check, target: Target, context: CheckContext,
                     host_limit: asyncio.Semaphore, deadline: float) -> CheckReport:
    # The deadline starts once the host's slot is held: time spent waiting behind the other
    # checks of a busy host (many URLs on one ministry's server) is not the check's fault.
    async with host_limit:
        try:
            async with asyncio.timeout(deadline):
                report = await check.run(target, context)
        except TimeoutError:
            return CheckReport(check.id, error=DEADLINE_ERROR)
        except OutOfScope as exc:
            return CheckReport(check.id, error=f"out of scope: {exc}")
        except Exception as exc:  # a plugin bug must not end the scan
            log.exception("exposure check %s failed on %s", check.id, target.label)
            return CheckReport(check.id, error=f"check failed: {type(exc).__name__}")
    if not isinstance(report, CheckReport):
        return CheckReport(check.id, error="check returned no report")
    return report


async def scan_target(target: Target, checks: list[Check], context: CheckContext, *,
                      deadline: float, host_limit: asyncio.Semaphore) -> TargetOutcome:
    """Run the applicable ``checks`` on ``target``, each within ``deadline`` seconds of
    getting one of the host's slots."""
    started = time.monotonic()
    applicable = [c for c in checks if target.kind in c.applies_to]
    reports = await asyncio.gather(*(_run_check(c, target, context, host_limit, deadline)
                                     for c in applicable))
    return TargetOutcome(target, tuple(reports), int((time.monotonic() - started) * 1000))


class ScanRun:
    """One execution of a scan (see the module's notes)."""

    def __init__(self, *, settings: Settings, session_factory: sessionmaker[Session],
                 scan_id: int, checks: Mapping[str, type[Check]], progress: Progress | None,
                 vulnerabilities: VulnerabilityIndex | None) -> None:
        self.settings, self.session_factory, self.scan_id = settings, session_factory, scan_id
        self.check_classes = checks
        self.issues = findings.issue_catalogue(checks)
        self.progress = progress
        self.vulnerabilities = vulnerabilities
        self.totals = _Totals()
        self.done = 0

    def context(self, targets: list[Target]) -> CheckContext:
        """The checks' context: the scan's allow-list, limits, resolvers and feeds."""
        guard = AllowList.for_targets(targets, allow_private=self.settings.exposure_allow_private)
        return CheckContext(guard=guard, timeout=self.settings.exposure_timeout,
                            nameservers=parse_nameservers(self.settings.exposure_nameservers),
                            vulnerabilities=self.vulnerabilities)

    async def run(self, targets: list[Target], checks: list[Check]) -> None:
        """Scan every target, writing each outcome as it comes."""
        context = self.context(targets)
        deadline = self.settings.exposure_timeout * TARGET_DEADLINE_FACTOR
        limit = asyncio.Semaphore(self.settings.exposure_concurrency)
        hosts: dict[str, asyncio.Semaphore] = {}
        queue: asyncio.Queue[TargetOutcome | None] = asyncio.Queue()

        async def one(target: Target) -> None:
            host_limit = hosts.setdefault(target.host.lower(),
                                          asyncio.Semaphore(PER_HOST_CHECKS))
            async with limit:
                await queue.put(await scan_target(target, checks, context, deadline=deadline,
                                                  host_limit=host_limit))

        writer = asyncio.create_task(self._writer(queue, len(targets)))
        try:
            await asyncio.gather(*(one(t) for t in targets))
        finally:
            await queue.put(None)
            await writer

    async def _writer(self, queue: asyncio.Queue[TargetOutcome | None], total: int) -> None:
        while (outcome := await queue.get()) is not None:
            await asyncio.to_thread(self.store, outcome)
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, total)

    def store(self, outcome: TargetOutcome) -> None:
        """Write one target's result and merge its findings (one short transaction)."""
        target = outcome.target
        with transaction(self.session_factory) as session:
            scan = session.get(ExposureScan, self.scan_id)
            if scan is None:
                return
            session.add(ScanResult(
                scan_id=scan.id, endpoint_id=target.endpoint_id, system_id=target.system_id,
                institution_id=target.institution_id, target=target.label[:520],
                status=outcome.status, duration_ms=outcome.duration_ms,
                errors={r.check_id: r.error[:500] for r in outcome.reports if r.error},
                facts={r.check_id: findings.cap_evidence(r.facts)
                       for r in outcome.reports if r.facts},
                **_observatory(outcome.reports)))
            if target.institution_id is not None:
                merged = findings.merge_target(session, scan=scan, target=target,
                                               reports=outcome.reports, issues=self.issues)
                scan.findings_new += merged.new
                scan.findings_fixed += merged.fixed
                scan.findings_reopened += merged.reopened
                self.totals.institutions.add(target.institution_id)
                self.totals.opened.extend(f.id for f in merged.opened)
            scan.targets_done += 1


def _observatory(reports: tuple[CheckReport, ...]) -> dict[str, Any]:
    facts = next((r.facts for r in reports if r.check_id == "http" and r.facts), {})
    score, grade = facts.get("score"), facts.get("grade")
    return {"observatory_score": score if isinstance(score, int) else None,
            "observatory_grade": str(grade)[:3] if grade else None}


def _load_vulnerabilities(session: Session) -> VulnerabilityIndex | None:
    from lakana.monitoring.exposure import feeds  # the feeds module is optional at start-up

    return feeds.load_index(session)


def _start(run_: ScanRun, actor_name: str) -> tuple[list[Target], list[Check]] | None:
    """Mark the scan running and gather its targets and checks; None when not runnable."""
    with transaction(run_.session_factory) as session:
        scan = session.get(ExposureScan, run_.scan_id)
        if scan is None or scan.status not in RUNNABLE:
            return None
        targets = targets_for(session=session, actor=system_actor(actor_name, "system"),
                              institution_id=scan.institution_id, system_id=scan.system_id)
        wanted = scan.checks or list(run_.check_classes)
        checks = [run_.check_classes[c]() for c in wanted if c in run_.check_classes]
        if run_.vulnerabilities is None:
            run_.vulnerabilities = _load_vulnerabilities(session)
        scan.status, scan.started_at, scan.error = "running", utcnow(), None
        scan.targets_total, scan.targets_done = len(targets), 0
        scan.findings_new = scan.findings_fixed = scan.findings_reopened = 0
    return targets, checks


def _finish(run_: ScanRun, *, error: str | None, actor_name: str) -> None:
    with transaction(run_.session_factory) as session:
        scan = session.get(ExposureScan, run_.scan_id)
        if scan is None:
            return
        if error is None:
            findings.record_scores(session, scan=scan, institution_ids=run_.totals.institutions)
        scan.status, scan.error, scan.finished_at = ("failed" if error else "done"), error, \
            utcnow()
        audit.record(session=session, actor=system_actor(actor_name, "system"),
                     action="exposure.scan.finish", object_type="exposure.scan",
                     object_id=scan.id, object_repr=f"scan #{scan.id}",
                     institution_id=scan.institution_id,
                     details={"status": scan.status, "targets": scan.targets_done,
                              "new": scan.findings_new, "fixed": scan.findings_fixed,
                              "reopened": scan.findings_reopened})


def _follow_up(run_: ScanRun) -> None:
    """Automatic CSIRT cases and compliance evidence; a failure here is logged, the scan
    itself stays done."""
    try:
        if run_.settings.exposure_auto_case and run_.totals.opened:
            with transaction(run_.session_factory) as session:
                flows.auto_cases(session=session, finding_ids=run_.totals.opened)
    except Exception:
        log.exception("automatic CSIRT cases failed after scan %s", run_.scan_id)
    try:
        with transaction(run_.session_factory) as session:
            flows.record_compliance_evidence(session=session, settings=run_.settings,
                                             institution_ids=run_.totals.institutions)
    except Exception:
        log.exception("compliance evidence failed after scan %s", run_.scan_id)


def run_scan(*, settings: Settings, session_factory: sessionmaker[Session], scan_id: int,
             progress: Progress | None = None, checks: Mapping[str, type[Check]] | None = None,
             vulnerabilities: VulnerabilityIndex | None = None) -> None:
    """Run scan ``scan_id`` to its end (done or failed); a scan already finished is left as
    it is. ``checks`` and ``vulnerabilities`` replace the built-ins and the imported feeds
    (tests, benchmarks)."""
    actor_name = "exposure scanner"
    run_ = ScanRun(settings=settings, session_factory=session_factory, scan_id=scan_id,
                   checks=checks if checks is not None else findings.available_checks(),
                   progress=progress, vulnerabilities=vulnerabilities)
    try:
        started = _start(run_, actor_name)
    except LakanaError as exc:  # the system or institution is gone since the request
        _finish(run_, error=str(exc)[:500], actor_name=actor_name)
        return
    if started is None:
        return
    targets, instances = started
    try:
        _run_async(run_.run(targets, instances))
    except Exception as exc:
        log.exception("exposure scan %s failed", scan_id)
        _finish(run_, error=f"{type(exc).__name__}: {exc}"[:500], actor_name=actor_name)
        return
    _finish(run_, error=None, actor_name=actor_name)
    _follow_up(run_)


def _run_async(coro: Any) -> None:
    """Run ``coro`` to its end, in a fresh thread when this one already runs an event loop
    (a caller inside an async web handler)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()

