"""The model ``tallynet evaluate`` names, with its weights: a preset, a spec or ``package.module:callable``,
and a PyTorch ``state_dict`` or a tallynet ``.npz`` checkpoint to load into it.

The zoo's presets name their nodes as torchvision names its modules (``layer1.0.conv1``), so a
torchvision ``state_dict`` maps onto a preset by name: ``<node>.weight`` / ``<node>.bias`` are a
convolution's or affine layer's ``W`` / ``b`` and a batchnorm's ``gamma`` / ``beta``, its
``running_mean`` / ``running_var`` the layer's running statistics (``num_batches_tracked`` is
not used in eval mode and is ignored). tallynet's affine ``W`` is (in, out), PyTorch's
``Linear.weight`` (out, in): it is transposed.
"""

import os
import sys

import numpy as np

TORCH_NAMES = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}
RUNNING_STATISTICS = ("running_mean", "running_var")
IGNORED_TORCH_KEYS = ("num_batches_tracked",)


def _torch_targets(model):
    """``{state_dict key: (where in the model, tallynet key, transposed)}`` for every parameter and
    running statistic of ``model``; where is ``"params"`` or ``"state"``."""
    targets = {}
    for name, layer, keys in zip(model.node_names, model.layers, model.param_keys):
        for local, key in keys.items():
            targets[f"{name}.{TORCH_NAMES[local]}"] = ("params", key, layer.kind == "affine" and local == "W")
    for key in model.get_state():
        if key.endswith(RUNNING_STATISTICS):
            targets[key] = ("state", key, False)
    return targets


def _some(keys, shown=5):
    keys = sorted(keys)
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def _check_keys(path, expected, found, what):
    """Refuse a file whose keys are not the model's, naming the first missing and unexpected ones."""
    missing, unexpected = set(expected) - set(found), set(found) - set(expected)
    problems = ([f"lacks {_some(missing)}"] if missing else []) + (
        [f"has keys the model lacks: {_some(unexpected)}"] if unexpected else [])
    if problems:
        raise ValueError(f"{what} {path!r} does not fit the model: it " + "; it ".join(problems))


def load_torch_state_dict(model, state_dict, path="state_dict"):
    """Copy a PyTorch ``state_dict`` (name -> tensor or array) into ``model`` by name, checking every
    key and shape first (nothing is changed when one does not fit)."""
    state_dict = {k: v for k, v in state_dict.items() if not k.endswith(IGNORED_TORCH_KEYS)}
    targets = _torch_targets(model)
    _check_keys(path, targets, state_dict, "state_dict")
    state, arrays = model.get_state(), {}
    for torch_key, (where, key, transposed) in targets.items():
        current = model.params[key] if where == "params" else state[key]
        value = state_dict[torch_key]
        value = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        expected = current.T.shape if transposed else current.shape
        if value.shape != expected:
            raise ValueError(f"state_dict {path!r}: {torch_key} has shape {tuple(value.shape)} but the model's "
                             f"{key} needs {tuple(expected)}")
        arrays[(where, key)] = (value.T if transposed else value).astype(current.dtype)
    for (where, key), value in arrays.items():
        if where == "params":
            model.params[key][...] = value
    model.set_state({key: value for (where, key), value in arrays.items() if where == "state"})
    return model


def load_npz_checkpoint(model, path):
    """Copy the parameters and state of a tallynet checkpoint (``best.npz``, ``checkpoint_last.npz``:
    its ``params`` and ``model_state``) into ``model``, checking every key and shape first."""
    from ..checkpoint import CheckpointError, load_checkpoint

    payload = load_checkpoint(path)
    params = payload.get("params") if isinstance(payload, dict) else None
    if not isinstance(params, dict):
        raise CheckpointError(f"checkpoint {path!r} holds no 'params'; expected one written by tallynet train")
    _check_keys(path, model.params, params, "checkpoint")
    for key, value in params.items():
        if value.shape != model.params[key].shape:
            raise ValueError(f"checkpoint {path!r}: {key} has shape {value.shape} but the model's needs "
                             f"{model.params[key].shape}")
    for key, value in params.items():
        model.params[key][...] = value
    model.set_state(payload.get("model_state") or {})
    return model


def _read_torch_file(path):
    import torch

    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle's, zipfile's and its own errors for a bad file
        raise ValueError(f"cannot read {path!r} as a PyTorch state_dict: {err}") from None
    if not isinstance(state_dict, dict) or not all(hasattr(v, "shape") for v in state_dict.values()):
        raise ValueError(f"{path!r} is not a state_dict (a dict of tensors, as model.state_dict() gives)")
    return state_dict


def load_weights(model, path):
    """Load ``path`` into ``model``: a tallynet ``.npz`` checkpoint, else a PyTorch ``state_dict``
    file (``torch.save(model.state_dict(), path)``, read with ``weights_only=True``). A
    ``torch.nn.Module`` takes a state_dict through its own ``load_state_dict``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist")
    if not hasattr(model, "param_keys"):  # a torch.nn.Module
        if path.endswith(".npz"):
            raise ValueError(f"{path!r} is a tallynet checkpoint, but the model is a PyTorch module")
        try:
            model.load_state_dict(_read_torch_file(path))
        except RuntimeError as err:
            raise ValueError(f"state_dict {path!r} does not fit the PyTorch model: {err}") from None
        return model
    if path.endswith(".npz"):
        return load_npz_checkpoint(model, path)
    return load_torch_state_dict(model, _read_torch_file(path), path)


def load_model(name, weights=None):
    """``(model, spec)`` for a preset name, a YAML spec file or ``package.module:callable`` (loaded
    as the other commands load it, :func:`tallynet.importer.callables.load_callable`, and called
    with no arguments; it may return a tallynet model or a ``torch.nn.Module``, whose spec is then
    None: the cost model cannot see it), with ``weights`` loaded (see :func:`load_weights`)."""
    from ..importer.callables import is_reference, load_callable
    from ..models import PRESETS, from_spec, load_spec, resolve_spec

    spec = resolve_spec(name)
    if isinstance(spec, dict) or os.path.exists(name):
        spec = spec if isinstance(spec, dict) else load_spec(name)
        model = from_spec(spec)
    elif is_reference(name):
        model = load_callable(name)()
        torch = sys.modules.get("torch")  # a callable returning an nn.Module has imported it
        if not hasattr(model, "param_keys") and not (torch and isinstance(model, torch.nn.Module)):
            raise ValueError(f"{name}() returned a {type(model).__name__}, expected a tallynet model or a "
                             "torch.nn.Module")
        spec = model if hasattr(model, "param_keys") else None
    else:
        raise ValueError(f"model {name!r} is neither a spec file, a preset name nor package.module:callable; "
                         f"expected a YAML spec or one of {', '.join(sorted(PRESETS))}")
    if weights is not None:
        load_weights(model, weights)
    return model, spec
