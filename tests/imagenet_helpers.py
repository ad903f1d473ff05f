"""Small ImageNet-validation-shaped folders for the tests of tallynet.imagenet (nothing can be
downloaded here): scripts/imagenet_fixture.py's colour fixture, and its XML and synset writers."""

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


@pytest.fixture
def colours(tmp_path):
    """The colour fixture's paths: six solid-colour JPEGs (RGB, L, CMYK), their XMLs, the synset
    list, colour-net.yaml and its weights colour-net.npz."""
    return fixture_script().write_fixture(str(tmp_path / "colours"))
