"""Objects of a given institution for tests/core/test_route_permissions.py's OBJECT_MAKERS."""

from __future__ import annotations

from lakana.awareness.phishing import service
from lakana.awareness.phishing.schemas import ExerciseCreate, TemplateCreate
from lakana.core.auth.rbac import system_actor
from tests.conftest import Factory

BODY = "Bonjour,\n\nMerci de confirmer votre compte : {{lien}}\n\nLe service informatique"


def make_exercise(factory: Factory, institution_id: int) -> int:
    """A draft exercise of the institution, with two targets."""
    actor = system_actor("tests")
    with factory.session_factory.begin() as session:
        template = service.create_template(session=session, actor=actor, data=TemplateCreate(
            name="Compte bloqué", subject="Votre compte sera bloqué", body=BODY))
        found = service.create_exercise(session=session, actor=actor, data=ExerciseCreate(
            institution_id=institution_id, template_id=template.id, name="Exercice test"))
        service.import_targets(session=session, actor=actor, exercise_id=found.id,
                               data=b"email,nom,service\na@example.ml,Awa,Budget\n"
                                    b"b@example.ml,Moussa,Budget\n")
        return found.id


def forged_token(factory: Factory, institution_id: int) -> str:
    """Tracking routes take no account: any token but a signed one is unknown (404)."""
    return "1.AAAAAAAAAAAAAAAAAAAAAAAA"
