"""scripts/imagenet_fixture.py for the tests of tallynet.imagenet (nothing can be downloaded here):
its colour fixture (conftest's ``colours``), its XML and synset-list writers."""

import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "imagenet_fixture.py")


def fixture_script():
    """scripts/imagenet_fixture.py as a module (or skip where Pillow is not installed)."""
    pytest.importorskip("PIL")
    spec = importlib.util.spec_from_file_location("imagenet_fixture", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script

