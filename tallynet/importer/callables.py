"""PyTorch models named on the command line: ``package.module:callable`` with ``--arg key=value``.

``torchvision.models:resnet50`` or ``my_models:Net`` (a module on the Python path) names a
callable returning an ``nn.Module``; the command line calls it with the ``--arg`` values
(Python literals, else strings) and imports the module's architecture as a graph spec
(:func:`tallynet.importer.torch_spec`) for the sample shape ``--input C H W``. The module is
built on PyTorch's meta device where it can be (no memory, no weight initialisation: a
ResNet-50 in 0.05 s instead of 0.8 s), since a spec carries no weights. A torchvision model is
loaded from its own module alone (:mod:`.lazy_torchvision`): ``tallynet summary
torchvision.models:resnet50`` imports no more than torch and ``resnet.py`` needs.
"""

import ast
import importlib
import os
import re
import sys

_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_reference(spec):
    """Whether a command line's SPEC names a Python callable (and is not an existing file)."""
    return isinstance(spec, str) and bool(_REFERENCE.match(spec)) and not os.path.exists(spec)


def parse_arguments(pairs):
    """``["num_classes=10", "weights=None", "name=x"]`` -> ``{"num_classes": 10, "weights": None,
    "name": "x"}``: each value a Python literal if it is one, else the string itself."""
    arguments = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--arg {pair!r}: expected KEY=VALUE with KEY a Python name, e.g. --arg num_classes=10")
        try:
            arguments[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            arguments[key] = text
    return arguments


def load_callable(reference):
    """The object ``package.module:callable`` names; a clear error if it cannot be found."""
    module_name, _, attribute = reference.partition(":")
    if "" not in sys.path and os.getcwd() not in sys.path:
        # the tallynet script, unlike python -m, does not put the working directory on the path:
        # my_models:Net names my_models.py here, as uvicorn's and gunicorn's app references do
        sys.path.insert(0, os.getcwd())
    if module_name.split(".")[0] == "torchvision":
        from . import lazy_torchvision

        lazy_torchvision.install()  # only the model's definition, not torchvision's 3 s of imports
    try:
        obj = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"{reference}: cannot import the module {module_name!r} ({err}); expected "
                         "package.module:callable with the module on the Python path") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{reference}: the module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{reference}: {attribute!r} is a {type(obj).__name__}, not a callable returning an nn.Module")
    return obj


def _values_not_drawn_on_meta():
    """A torch function mode in which ``Tensor.normal_`` of a meta tensor returns the tensor.

    On the meta device ``normal_`` (``nn.init.normal_``, ``kaiming_normal_``: every torchvision
    CNN's initialisation) runs torch's Python decomposition, whose first call imports
    ``torch._dynamo``: 2.5 s of a 3 s summary here. A meta tensor holds no values, so there is
    nothing to draw: its shape and dtype, all a spec needs, stay as they are. The other
    initialisations (uniform, constant, orthogonal) run compiled meta kernels and are left alone.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    # nn.init's own functions dispatch to the mode themselves (then it sees no Tensor.normal_ inside)
    normal = {torch.Tensor.normal_, torch.nn.init.normal_, torch.nn.init.kaiming_normal_,
              torch.nn.init.xavier_normal_}

    class ValuesNotDrawnOnMeta(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            tensor = args[0] if args else (kwargs or {}).get("tensor")
            if func in normal and getattr(tensor, "is_meta", False):
                return tensor
            return func(*args, **(kwargs or {}))

    return ValuesNotDrawnOnMeta()


def build_module(reference, arguments):
    """Call the callable with ``arguments``: on the meta device, or normally where the callable
    needs real tensors (torchvision's RegNet computes its widths with ``tolist()``)."""
    import torch

    make = load_callable(reference)
    try:
        with torch.device("meta"), _values_not_drawn_on_meta():
            module = make(**arguments)
    except (NotImplementedError, RuntimeError):
        module = make(**arguments)
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"{reference}(...) returned a {type(module).__name__}, expected a torch.nn.Module")
    return module


def spec_from_reference(reference, input_shape, arguments):
    """The graph spec of the model ``reference`` builds with ``arguments``, for samples of ``input_shape``."""
    from . import torch_spec

    if not input_shape:
        raise ValueError(f"{reference} is a PyTorch model: give the shape of one sample with --input, "
                         "e.g. --input 3 224 224")
    try:
        module = build_module(reference, arguments)
    except TypeError as err:
        raise ValueError(f"{reference}: {err} (the --arg values: {arguments})") from None
    return torch_spec(module, input_shape, name=reference.partition(":")[2])
