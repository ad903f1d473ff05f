"""torchvision's model definitions without torchvision's package imports, for the command line.

``import torchvision`` executes ``torchvision/__init__.py``: the compiled extension, the meta
registrations (which fail beside the CPU torch: ``operator torchvision::nms does not exist``),
datasets, io, transforms, and ``torchvision.ops``, whose ``roi_align`` imports ``torch._dynamo``.
Of the 3 s that takes here, ResNet-50's definition (``torchvision/models/resnet.py`` and what
it imports) needs 0.06 s. So ``tallynet summary torchvision.models:resnet50`` imports torchvision,
``torchvision.models`` and ``torchvision.ops`` as *lazy packages*: module objects with the real
package's ``__path__`` (so ``torchvision.models.resnet`` and ``torchvision.ops.misc`` import
from the installed files as usual) whose ``__init__.py`` is not run; a name the code asks of
one (``from torchvision.ops import StochasticDepth``, ``torchvision.models.resnet50``) is
looked up in what the real ``__init__.py`` imports (read, not executed) and only that
submodule imported. A name the ``__init__.py`` defines itself (``torchvision.set_image_backend``)
or one of the model registry (``torchvision.models.list_models``) runs the real ``__init__.py``
into the lazy module, so it becomes the package it stands for.

Only where torchvision is not yet imported: a process that imported it keeps it. The meta
registrations are never needed by a model definition; they are imported only if a real
``__init__.py`` runs, and left out where they fail.
"""

import ast
import importlib
import importlib.util
import os
import re
import sys
import types

LAZY = ("torchvision", "torchvision.models", "torchvision.ops")
# get_model, list_models...: the registry of torchvision.models._api holds the models whose
# modules are imported, so a name of it runs the real __init__.py (every model registered)
REGISTRIES = {"torchvision.models": "_api"}


def _imported_names(package, init_path):
    """``(names, star)`` of the relative imports of a package's ``__init__.py``: ``names`` maps
    each imported name to ``(submodule, attribute or None for the submodule itself)``, ``star``
    lists the submodules of its ``from .x import *``."""
    with open(init_path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), init_path)
    names, star = {}, []
    for node in ast.walk(tree):  # also the imports inside try: blocks (torchvision's __version__)
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            submodule = node.module
        elif node.level == 0 and node.module and (node.module + ".").startswith(package + "."):
            submodule = node.module[len(package) + 1:] or None  # `from torchvision import models`
        else:
            continue
        for alias in node.names:
            if alias.name == "*":
                star.append(submodule)
            elif submodule is None:
                names[alias.asname or alias.name] = (alias.name, None)
            else:
                names[alias.asname or alias.name] = (submodule, alias.name)
    return names, star


def _source(directory, submodule):
    """The file of ``submodule`` (a module or a package) of the package in ``directory``."""
    path = os.path.join(directory, *submodule.split("."))
    return path + ".py" if os.path.exists(path + ".py") else os.path.join(path, "__init__.py")


_ALL = re.compile(r"^__all__\s*=\s*(\[[^\]]*\])", re.MULTILINE)
_STAR = re.compile(r"^from \.(\w+) import \*", re.MULTILINE)


def _exports(path, name):
    """Whether the module file at ``path`` gives ``name`` to an ``import *``: its ``__all__`` lists
    it, or (an ``__all__`` that is not a list literal) a module it star-imports gives it, as
    ``torchvision/models/mobilenet.py`` gives MobileNetV2's and V3's. Read with regular
    expressions, not parsed: parsing the model files would take 0.13 s; a file they misread
    only costs the real ``__init__.py`` being run."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    listed = _ALL.search(text)
    if listed:
        try:
            return name in ast.literal_eval(listed.group(1))
        except (ValueError, SyntaxError):
            pass
    directory = os.path.dirname(path)
    return any(_exports(_source(directory, module), name) for module in _STAR.findall(text))


def _lazy_package(name, directory):
    module = types.ModuleType(name)
    init = os.path.join(directory, "__init__.py")
    module.__path__, module.__file__, module.__package__ = [directory], init, name
    module.__spec__ = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[directory])
    names, star = _imported_names(name, init)

    def resolve(attribute):
        if attribute.startswith("__"):  # probes of tools (__wrapped__, __all__...) load nothing
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        if attribute in names:
            submodule, inner = names[attribute]
            if REGISTRIES.get(name) == submodule:
                _run_init(module)
                return module.__dict__[attribute]
            value = importlib.import_module(f"{name}.{submodule}")
            value = value if inner is None else getattr(value, inner)
        else:
            source = next((s for s in star if _exports(_source(directory, s), attribute)), None)
            if source is not None:
                value = getattr(importlib.import_module(f"{name}.{source}"), attribute)
            elif os.path.exists(os.path.join(directory, attribute + ".py")) or os.path.isdir(
                    os.path.join(directory, attribute)):
                value = importlib.import_module(f"{name}.{attribute}")
            else:
                _run_init(module)
                if attribute not in module.__dict__:
                    raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
                return module.__dict__[attribute]
        setattr(module, attribute, value)
        return value

    module.__getattr__ = resolve
    return module


def _run_init(module):
    """Execute the real ``__init__.py`` into the lazy ``module`` (its parents first): from then on
    it is the package. The meta registrations are left out where they fail (see the docstring)."""
    del module.__dict__["__getattr__"]
    parent = module.__name__.rpartition(".")[0]
    if parent and "__getattr__" in sys.modules[parent].__dict__:
        _run_init(sys.modules[parent])
    try:
        module.__spec__.loader.exec_module(module)
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        module.__spec__.loader.exec_module(module)


def install():
    """Put the lazy torchvision packages in ``sys.modules``, unless torchvision is imported already
    or not installed (then nothing changes: importing it says so)."""
    if "torchvision" in sys.modules:
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    root = spec.submodule_search_locations[0]
    for name in LAZY:
        sys.modules[name] = _lazy_package(name, os.path.join(root, *name.split(".")[1:]))
    for name in LAZY[1:]:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, sys.modules[name])
