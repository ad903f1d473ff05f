"""The teaching notebooks of examples/notebooks run from start to end, and are stored as built.

Each runs in a fresh Jupyter kernel (nbclient; no network) that imports tallynet from this
checkout. They are stored without outputs, exactly as examples/notebooks/build.py writes them.
"""

import importlib.util
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB_DIR = os.path.join(ROOT, "examples", "notebooks")
NOTEBOOKS = sorted(f for f in os.listdir(NB_DIR) if f.endswith(".ipynb"))


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", os.path.join(NB_DIR, "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_four_notebooks_are_stored_without_outputs_as_built():
    builder = _builder()
    assert NOTEBOOKS == sorted(builder.NOTEBOOKS) and len(NOTEBOOKS) == 4
    for name in NOTEBOOKS:
        stored = nbformat.read(os.path.join(NB_DIR, name), as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in stored.cells if c.cell_type == "code"), name
        assert stored == builder.notebook(builder.NOTEBOOKS[name]), f"{name}: run examples/notebooks/build.py"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(os.path.join(NB_DIR, name), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": NB_DIR}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "Traceback" not in text
    if name.startswith("02-"):  # the curves (a Figure of tallynet's) and the digits (pyplot's) are drawn
        images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert len(images) == 2
