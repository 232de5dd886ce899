"""How detection plugs into the core."""

from __future__ import annotations

from pathlib import Path

from lakana.core.plugins import DashboardCard, DemoStep, DomainPlugin, MenuEntry
from lakana.monitoring.detection import (
    api,
    api_policies,
    api_syslog,
    cli,
    cli_hunt,
    demo,
    pages,
    pages_policies,
    pages_syslog,
    permissions,
    service,
)
from lakana.monitoring.detection import tasks as _tasks  # noqa: F401  (daily retention job)
from lakana.monitoring.detection.permissions import DetectionPermission

_HERE = Path(__file__).parent

PLUGIN = DomainPlugin(
    name="detection",
    register_permissions=permissions.register,
    api_routers=(api.router, api_syslog.router, api_policies.router),
    pages_routers=(pages.router, pages_syslog.router, pages_policies.router),
    templates_dir=_HERE / "templates",
    catalog_dir=_HERE / "locale",
    menu=(
        MenuEntry("Detection alerts", "/detection", DetectionPermission.READ, order=65,
                  group="Detection"),
        MenuEntry("Log events", "/detection/events", DetectionPermission.READ, order=66,
                  group="Detection"),
        MenuEntry("Detection rules", "/detection/rules", DetectionPermission.RULES_READ,
                  order=67, group="Detection"),
        MenuEntry("Send logs", "/detection/send-logs", DetectionPermission.INGEST, order=68,
                  group="Detection"),
        MenuEntry("Syslog senders", "/detection/syslog-sources", DetectionPermission.READ,
                  order=69, group="Detection"),
        MenuEntry("Detection policies", "/detection/policies", DetectionPermission.READ,
                  order=70, group="Detection"),
    ),
    dashboard=(DashboardCard("Open detection alerts", "/detection?status=open",
                             DetectionPermission.READ, service.count_open_alerts),),
    cli=cli.app,
    commands=(("detect", cli_hunt.detect_app),),
    demo=(DemoStep("detection", demo.load_demo, order=65),),
)
