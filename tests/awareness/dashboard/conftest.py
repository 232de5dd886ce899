"""Dashboard fixtures: the training and skills register factories."""

from tests.awareness.phishing.conftest import make_exercise  # noqa: F401
from tests.awareness.skills.conftest import make_holder  # noqa: F401
from tests.awareness.training.conftest import make_session, make_trainee  # noqa: F401
