"""For tests about conversation mechanics (escalate, regenerate, lessons, resume) that
need Auto to keep quick questions on the local model, as it did before Auto weighed
each model's competence: the embedded 135M model measured too weak for Auto to trust
at the default quality (tiers/calibration/profiles.json), so these tests stand for a
user whose local model `rung calibrate` measured as right on every kind. The profile
is a real stored calibration, in the place and format `rung calibrate` writes it, read
by the real routing code; only the numbers are the user's, not the 135M model's."""

from __future__ import annotations

from rung.engine.config import data_dir
from rung.tiers.competence import measured, model_key, save_profile
from rung.tiers.local import embedded_model_path
from rung.tiers.task_kind import KINDS


def trust_local_model() -> None:
    """Store a calibration saying the local (embedded) model gets every kind right."""
    path = embedded_model_path()
    assert path is not None
    results = {kind: (26, 26) for kind in KINDS}
    save_profile(data_dir(), model_key(path), measured(path.name, results, "test: trusted"))
