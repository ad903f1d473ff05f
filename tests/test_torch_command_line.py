"""``tallynet summary torchvision.models:NAME`` in a fresh process, as a user runs it.

The command line loads torchvision's model definitions through lazy packages
(``tallynet/importer/lazy_torchvision.py``): only the module defining the model, not torchvision's
package imports (``torchvision.ops``' ``torch._dynamo`` among them), and builds the model on the
meta device without drawing its initial values. Each check runs in its own process, where
torchvision has not been imported before. Timing is measured by ``benchmarks/import_time.py``,
not asserted here.
"""

import json
import os
import subprocess
import sys

import pytest

from torchvision_models import torchvision_models

pytest.importorskip("torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# built in the child process through the command line's loader; the parameter counts are
# compared with torchvision's published num_params (GoogLeNet and Inception are published
# without their auxiliary heads). The first are built on the meta device without importing
# torch._dynamo; the others' constructors run torch's Python decompositions on meta tensors
# (ConvNeXt's layer scale, Swin's and MaxViT's position indices), which import it, and RegNet
# builds on the CPU (it computes its widths with tolist()).
BUILT_WITHOUT_DYNAMO = ["resnet50", "efficientnet_b0", "mobilenet_v3_small", "vit_b_16", "densenet121",
                        "shufflenet_v2_x1_0", "vgg11_bn", "mnasnet0_5"]
BUILT = BUILT_WITHOUT_DYNAMO + ["convnext_tiny", "swin_t", "maxvit_t", "regnet_y_400mf"]

LOADER = """
import json, sys
from tallynet.importer.callables import build_module, load_callable

names, fast, rest = (json.loads(a) for a in sys.argv[1:])
loaded = {name: load_callable(f"torchvision.models:{name}").__module__ for name in names}
imported = {m: m in sys.modules for m in ("torch._dynamo", "torchvision.ops.roi_align", "torchvision.datasets",
                                            "torchvision.models.detection", "torchvision._meta_registrations")}
count = lambda name: sum(p.numel() for p in build_module(f"torchvision.models:{name}", {}).parameters())
params = {name: count(name) for name in fast}
imported["torch._dynamo after building"] = "torch._dynamo" in sys.modules
params.update({name: count(name) for name in rest})
import torchvision, torchvision.models as models
registry = models.list_models(module=models)  # the registry: runs torchvision.models' own __init__.py
print(json.dumps({"loaded": loaded, "params": params, "imported": imported, "registry": registry,
                  "image_backend": torchvision.get_image_backend()}))
"""


def _python(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_summary_command_prints_resnet50_s_table_in_a_fresh_process():
    torchvision_models()  # skips where torchvision is absent
    done = _python("-m", "tallynet.cli", "summary", "torchvision.models:resnet50", "--input", "3", "224", "224")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert any(line.strip("│ ").startswith("layer4.2.conv3") for line in lines)  # a row per layer
    assert any("TOTAL" in line and "(1, 3, 224, 224)" in line and "(1, 1000)" in line for line in lines)
    # torchvision's published ResNet-50: 25,557,032 parameters, 4.09 G multiply-accumulates
    assert "params 25,557,032" in done.stdout


def test_every_torchvision_classification_model_loads_without_torchvision_s_package_imports():
    models = torchvision_models()
    names = models.list_models(module=models)
    assert len(names) > 70 and set(BUILT) <= set(names)
    done = _python("-c", LOADER, json.dumps(names), json.dumps(BUILT_WITHOUT_DYNAMO),
                   json.dumps(BUILT[len(BUILT_WITHOUT_DYNAMO):]))
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout)
    # each builder loaded from the module that defines it in the real package
    assert child["loaded"] == {name: getattr(models, name).__module__ for name in names}
    assert child["params"] == {name: models.get_model_weights(name).DEFAULT.meta["num_params"] for name in BUILT}
    assert not any(child["imported"].values()), child["imported"]
    # and the lazy packages become the packages when asked for what only their __init__.py gives
    assert sorted(child["registry"]) == sorted(names) and child["image_backend"] == "PIL"


def test_a_missing_name_of_a_lazy_torchvision_package_is_one_clear_line():
    torchvision_models()
    done = _python("-m", "tallynet.cli", "summary", "torchvision.models:resnet_nope", "--input", "3", "32", "32")
    assert done.returncode == 2
    assert done.stderr.strip() == ("tallynet summary: error: torchvision.models:resnet_nope: the module "
                                   "'torchvision.models' has no attribute 'resnet_nope'")
