"""Tracing an ``nn.Module`` with ``torch.fx``, and naming where a traced operation comes from.

``torch.fx.symbolic_trace`` runs the module's ``forward`` on proxies and records every module
call, function and tensor method as a node; torch.nn's own modules (Conv2d, BatchNorm2d, ...)
stay whole (``call_module``), user modules are traced through. The module is traced in eval
mode, the mode whose computation the import reproduces (torchvision's GoogLeNet returns its
auxiliary outputs only in training mode, a stochastic depth draws only then); dropout modules
stay nodes of their own and keep their rate.

Recording the source line of every node costs about ten times the trace itself (a stack
summary per node), so the first trace records none; an error traces once more with them,
to name the line of the model's source (:func:`source_line`).
"""

import inspect
import os

from ..torch_bridge import _torch

torch = _torch()  # the importer needs torch: a clear ImportError naming the extra when it is absent
import torch.fx  # noqa: E402


class UnsupportedOperation(ValueError):
    """An operation of a PyTorch model that tallynet cannot import; the message names the
    operation, the fx node and the line of the model's source."""


def trace(module, record_stack_traces=False):
    """The ``torch.fx.Graph`` of ``module``'s forward in eval mode (its mode is restored)."""
    tracer = torch.fx.Tracer()
    tracer.record_stack_traces = record_stack_traces
    was_training = module.training
    module.eval()
    try:
        return tracer.trace(module)
    except (torch.fx.proxy.TraceError, TypeError, RuntimeError) as err:
        # data-dependent control flow (if x.sum() > 0), len() of a proxy, a tensor built from one...
        raise UnsupportedOperation(f"torch.fx cannot trace {type(module).__name__}: {err} "
                                   f"(at {_traceback_line(err)}); tallynet imports models whose forward runs "
                                   "the same operations whatever the input's values") from None
    finally:
        module.train(was_training)


def _user_frames(frames):
    """The frames outside PyTorch's own package (the model's code: the user's, torchvision's)."""
    torch_dir = os.path.dirname(torch.__file__) + os.sep
    return [f for f in frames if not f[0].startswith(torch_dir)]


def _traceback_line(err):
    import traceback

    frames = _user_frames([(f.filename, f.lineno) for f in traceback.extract_tb(err.__traceback__)])
    return f"{frames[-1][0]}:{frames[-1][1]}" if frames else "an unknown line"


def _parse_stack_trace(text):
    """``[(file, line)]`` of the frames of an fx node's ``stack_trace``, outermost first."""
    frames = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith('File "') and '", line ' in line:
            path, rest = line[len('File "'):].split('", line ', 1)
            frames.append((path, int(rest.split(",", 1)[0])))
    return frames


def source_line(module, node_name):
    """``file:line`` of the model's source that made the fx node ``node_name``: traced once more,
    recording stack traces, the innermost frame outside PyTorch. None when it cannot be told."""
    try:
        graph = trace(module, record_stack_traces=True)
    except UnsupportedOperation:
        return None
    node = next((n for n in graph.nodes if n.name == node_name), None)
    if node is None:
        return None
    frames = _user_frames(_parse_stack_trace(node.stack_trace))
    return f"{frames[-1][0]}:{frames[-1][1]}" if frames else None


def class_source(cls):
    """``file:line`` where a class is defined (a module's, for calls of it), or None."""
    try:
        return f"{inspect.getsourcefile(cls)}:{inspect.getsourcelines(cls)[1]}"
    except (OSError, TypeError):
        return None
