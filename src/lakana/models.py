"""Every table of the application, imported in one place for Alembic and tests."""

from lakana.awareness.campaigns import models as awareness_campaign_models  # noqa: F401
from lakana.awareness.phishing import models as awareness_phishing_models  # noqa: F401
from lakana.awareness.skills import models as awareness_skills_models  # noqa: F401
from lakana.awareness.training import models as awareness_training_models  # noqa: F401
from lakana.biometry import models as biometry_models  # noqa: F401
from lakana.compliance import models as compliance_models  # noqa: F401
from lakana.compliance.campaigns import models as compliance_campaign_models  # noqa: F401
from lakana.compliance.remediation import models as compliance_remediation_models  # noqa: F401
from lakana.compliance.risks import models as compliance_risk_models  # noqa: F401
from lakana.compliance.scoring import models as compliance_scoring_models  # noqa: F401
from lakana.core import ratelimit as core_ratelimit  # noqa: F401
from lakana.core.audit import models as audit_models  # noqa: F401
from lakana.core.auth import models as auth_models  # noqa: F401
from lakana.core.db import Base
from lakana.core.files import models as files_models  # noqa: F401
from lakana.core.jobs import models as jobs_models  # noqa: F401
from lakana.core.notifications import models as notifications_models  # noqa: F401
from lakana.csirt import advisory_models as csirt_advisory_models  # noqa: F401
from lakana.csirt import coordination_models as csirt_coordination_models  # noqa: F401
from lakana.csirt import exchange_models as csirt_exchange_models  # noqa: F401
from lakana.csirt import models as csirt_models  # noqa: F401
from lakana.csirt import sharing_models as csirt_sharing_models  # noqa: F401
from lakana.monitoring.detection import models as detection_models  # noqa: F401
from lakana.monitoring.exposure import models as exposure_models  # noqa: F401
from lakana.registry import models as registry_models  # noqa: F401
from lakana.strategy import gci_models as strategy_gci_models  # noqa: F401
from lakana.strategy import models as strategy_models  # noqa: F401

metadata = Base.metadata
