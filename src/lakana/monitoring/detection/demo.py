"""Demo detection data: a few dozen realistic log lines of two demo institutions, sent
through the real ingestion (parsers, rules, grouping) so that alerts appear.

The Ministry of Economy and Finance sees an SSH brute force from one address (invalid users,
then failed passwords), a password accepted for root, and requests for ``/.git`` and
``/.env`` on its web server; the tax directorate sees a Windows Security audit log cleared
and an account created and added to the administrators. Host names are fictitious and the
addresses come from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24). Two escalation rules come first: critical alerts, and a cleared Windows
audit log, open a CSIRT case by themselves (so the tax directorate's log clearing arrives
as a case). Loading twice changes nothing (skipped when demo events exist).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.monitoring.detection import flows, policies
from lakana.monitoring.detection.models import DetectionEvent, EscalationRule
from lakana.monitoring.detection.schemas import Level
from lakana.registry import service as registry_service

CHANNEL = "demo"
#: The two demo institutions: SSH and web logs, then Windows events.
LINUX_ACRONYM, WINDOWS_ACRONYM = "MEF", "DGI"
ATTACKER, SPRAYER, ADMIN_IP = "203.0.113.45", "198.51.100.23", "192.0.2.10"
USERS = ("admin", "oracle", "test", "ubuntu", "postgres", "git", "support", "deploy")


def _syslog(when: dt.datetime, host: str, app: str, pid: int, message: str) -> str:
    # RFC 3164 pads the day with a space, as sshd's lines in /var/log/auth.log have it.
    return f"{when:%b} {when.day:>2} {when:%H:%M:%S} {host} {app}[{pid}]: {message}"


def linux_lines(now: dt.datetime) -> list[str]:
    """An SSH brute force, a root log-in by password and web probes, minutes before ``now``."""
    host, web = "srv-compta-01", "portail-mef"
    start = now - dt.timedelta(minutes=40)
    lines: list[str] = []
    for i, user in enumerate(USERS):
        when = start + dt.timedelta(seconds=7 * i)
        pid = 24200 + i
        lines += [
            _syslog(when, host, "sshd", pid, f"Invalid user {user} from {ATTACKER} port "
                                             f"{51000 + i}"),
            _syslog(when, host, "sshd", pid, f"pam_unix(sshd:auth): authentication failure; "
                                             f"logname= uid=0 euid=0 tty=ssh ruser= "
                                             f"rhost={ATTACKER}"),
            _syslog(when, host, "sshd", pid, f"Failed password for invalid user {user} from "
                                             f"{ATTACKER} port {51000 + i} ssh2"),
        ]
    for i in range(4):
        when = start + dt.timedelta(minutes=5, seconds=11 * i)
        lines.append(_syslog(when, host, "sshd", 24300 + i,
                             f"Invalid user {USERS[i]} from {SPRAYER} port {40100 + i}"))
    when = start + dt.timedelta(minutes=12)
    lines += [
        _syslog(when, host, "sshd", 24410, f"Accepted publickey for exploit from {ADMIN_IP} "
                                           "port 50022 ssh2: ED25519 SHA256:demo"),
        _syslog(when + dt.timedelta(minutes=3), host, "sshd", 24420,
                f"Accepted password for root from {ATTACKER} port 51999 ssh2"),
        _syslog(when + dt.timedelta(minutes=3), host, "sshd", 24420,
                "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"),
        _syslog(when + dt.timedelta(minutes=9), host, "CRON", 24500,
                "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
    ]
    agent = "Mozilla/5.0 (compatible; scanner/1.0)"
    for i, path in enumerate(("/", "/.git/HEAD", "/.git/config", "/.env", "/wp-login.php",
                              "/index.html")):
        when = start + dt.timedelta(minutes=20, seconds=2 * i)
        status = 200 if path in ("/", "/index.html") else 404
        lines.append(f'{SPRAYER} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" '
                     f'{status} 512 "-" "{agent}"')
    lines.append(f"{web} kernel: a line no parser knows, kept raw and searchable")
    return lines


def _windows(when: dt.datetime, event_id: int, **data: Any) -> str:
    record = {"EventID": event_id, "Channel": "Security",
              "SourceName": "Microsoft-Windows-Security-Auditing", "Hostname": "DC-IMPOTS-01",
              "TimeCreated": f"{when:%Y-%m-%d %H:%M:%S}.000", **data}
    return json.dumps(record)


def windows_lines(now: dt.datetime) -> list[str]:
    """Failed log-ons, an account created and made administrator, then the audit log
    cleared: JSON lines as a Windows shipper sends them."""
    start = now - dt.timedelta(minutes=30)
    lines = [_windows(start + dt.timedelta(seconds=5 * i), 4625, TargetUserName=user,
                      IpAddress=ATTACKER, LogonType="3", Status="0xc000006d",
                      SubStatus="0xc000006a")
             for i, user in enumerate(("administrateur", "admin", "comptable"))]
    lines += [
        _windows(start + dt.timedelta(minutes=2), 4624, TargetUserName="svc_backup",
                 IpAddress=ATTACKER, LogonType="3"),
        _windows(start + dt.timedelta(minutes=4), 4720, TargetUserName="support_it",
                 SubjectUserName="svc_backup"),
        _windows(start + dt.timedelta(minutes=5), 4732, TargetUserName="Administrators",
                 MemberSid="S-1-5-21-1004336348-1177238915-682003330-1125",
                 SubjectUserName="svc_backup"),
        _windows(start + dt.timedelta(minutes=9), 1102, SubjectUserName="svc_backup"),
    ]
    return lines


#: Sigma id of Lakana's rule "Windows security audit log cleared".
AUDIT_LOG_CLEARED = "dc54fcfa-487e-50d4-a662-4765fdcc0402"
#: Escalation rules of the demo (stored data: in French).
ESCALATIONS = (
    ("", Level.CRITICAL, "Toute alerte critique est transmise au CSIRT sans attendre."),
    (AUDIT_LOG_CLEARED, Level.HIGH, "Effacer un journal de sécurité sert à masquer une "
                                    "intrusion : le CSIRT enquête à chaque fois."),
)


def _escalation_rules(session: Session, actor: Actor) -> None:
    if session.scalar(select(EscalationRule.id).limit(1)) is not None:
        return
    for rule_id, level, reason in ESCALATIONS:
        policies.create_escalation_rule(session=session, actor=actor, data=policies.
                                        EscalationRuleIn(rule_id=rule_id, min_level=level,
                                                         reason=reason))


def _first_system(session: Session, actor: Actor, institution_id: int) -> int | None:
    systems = [s for s in registry_service.all_systems(session=session, actor=actor)
               if s.institution_id == institution_id]
    return min((s.id for s in systems), default=None)


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Ingest the demo lines of both institutions (skipped when already loaded, or when the
    registry's demo institutions are absent)."""
    empty = {"events": 0, "alerts": 0}
    if session.scalar(select(DetectionEvent.id).where(DetectionEvent.channel == CHANNEL)
                      .limit(1)) is not None:
        return empty
    now = utcnow()
    batches = ((LINUX_ACRONYM, linux_lines(now)), (WINDOWS_ACRONYM, windows_lines(now)))
    counts = dict(empty)
    alert_ids: set[int] = set()
    for acronym, lines in batches:
        institution_id = registry_service.get_institution_id_by_acronym(session=session,
                                                                        acronym=acronym)
        if institution_id is None:
            continue
        _escalation_rules(session, actor)
        result = flows.ingest(session=session, actor=actor, lines=lines,
                              institution_id=institution_id, channel=CHANNEL,
                              system_id=_first_system(session, actor, institution_id))
        counts["events"] += result.stored
        alert_ids.update(result.alert_ids)
    counts["alerts"] = len(alert_ids)
    return counts
