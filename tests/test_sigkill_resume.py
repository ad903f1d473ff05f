"""scripts/sigkill_resume.py with 3 kills: every kill, wherever it falls (moments are event counts,
not times, so this does not depend on the machine's speed), resumes to the uninterrupted result."""

import importlib.util
import os

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "sigkill_resume.py")


def test_three_sigkills_lose_nothing(tmp_path):
    spec = importlib.util.spec_from_file_location("sigkill_resume", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    lines = []
    failures = script.run(kills=3, seed=1, epochs=4, workdir=str(tmp_path), log=lines.append)
    assert failures == [], "\n".join(lines + failures)
    assert sum("SIGKILL at event" in line for line in lines) == 3
