"""A classifier's accuracy on ImageNet validation images, and what each way of looking costs.

:func:`evaluate` runs a model over an :class:`~tallynet.imagenet.ImageNetVal` prepared by a
:class:`~tallynet.imagenet.Scheme` and returns an :class:`Evaluation`: top-1 and top-5
accuracy, the confusion matrix, the accuracy of every class, images per second and the
forward FLOPs per image from tallynet's cost model under a named convention.
"""

import contextlib
import sys
import time
from dataclasses import dataclass

import numpy as np

from .transforms import get_scheme


@dataclass
class Evaluation:
    """What :func:`evaluate` measured.

    - confusion: (classes, classes) counts, row = true class, column = top-1 prediction
    - per_class_accuracy: (classes,) top-1 accuracy of each class, NaN where no image has it
    - flops_per_image: forward FLOPs of one image under ``convention``, all its crops included
      (None where the cost model cannot see the network: a PyTorch module given without a spec)
    - images_per_second: images over the whole evaluation's wall time (reading, preprocessing
      and the network); ``network_seconds`` is the network's share of ``seconds``
    """

    scheme: str
    images: int
    top1_correct: int
    top5_correct: int
    confusion: np.ndarray
    per_class_accuracy: np.ndarray
    flops_per_image: int | None
    convention: str
    crops: int
    input_shape: tuple
    seconds: float
    network_seconds: float

    @property
    def top1(self):
        return self.top1_correct / self.images

    @property
    def top5(self):
        return self.top5_correct / self.images

    @property
    def images_per_second(self):
        return self.images / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self, index_to_synset=None):
        """JSON-able figures; the per-class accuracies of the classes present, keyed by synset
        where ``index_to_synset`` is given (else by class index). The confusion matrix stays out."""
        present = np.flatnonzero(self.confusion.sum(axis=1))
        return {"scheme": self.scheme, "images": self.images, "top1": self.top1, "top5": self.top5,
                "top1_correct": self.top1_correct, "top5_correct": self.top5_correct,
                "flops_per_image": self.flops_per_image, "convention": self.convention, "crops": self.crops,
                "input_shape": list(self.input_shape), "images_per_second": self.images_per_second,
                "seconds": self.seconds, "network_seconds": self.network_seconds,
                "per_class_accuracy": {(index_to_synset[int(k)] if index_to_synset else str(int(k))):
                                       float(self.per_class_accuracy[k]) for k in present}}


def _torch_module(model):
    """Whether ``model`` is a ``torch.nn.Module`` (torch is not imported to find out: a module
    can only exist where torch already is)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _named_spec(model):
    """``model``'s canonical spec, its nodes by name even where they form a chain (the canonical
    form writes a chain as ``layers:``, whose parameters a Sequential names W1, b1, ...)."""
    from ..models import Sequential
    from ..models.spec import canonical_spec

    spec = canonical_spec(model)
    if "layers" in spec and not isinstance(model, Sequential) and hasattr(model, "node_names"):
        names = model.node_names
        spec["nodes"] = [{name: {**layer, "inputs": [names[i - 1] if i else "input"]}}
                         for i, (name, layer) in enumerate(zip(names, spec.pop("layers")))]
    return spec


def at_input(model, input_shape):
    """``model`` (a tallynet Graph or Sequential) for samples of ``input_shape``: the same
    network and parameters, built again from its spec at that shape (a network with adaptive
    pooling, as the zoo's, takes a 330x330 crop as well as a 224x224 one)."""
    from ..models import from_spec, with_input

    if tuple(model.input_shape) == tuple(input_shape):
        return model
    twin = from_spec(with_input(_named_spec(model), input_shape))
    for key, value in model.params.items():
        if twin.params[key].shape != value.shape:
            raise ValueError(f"the network cannot take {tuple(input_shape)} inputs: its parameter {key} has shape "
                             f"{value.shape} at {model.input_shape} but would need {twin.params[key].shape}")
    twin.params.update(model.params)
    twin.set_state(model.get_state())
    return twin


@contextlib.contextmanager
def _runner(model, input_shape):
    """A function from a (M, 3, H, W) float32 batch to (M, classes) scores.

    A tallynet model runs its test-mode forward pass (``model.loss(X)``). A ``torch.nn.Module``
    is run by PyTorch itself, in eval mode under ``torch.no_grad()``: so any PyTorch classifier
    is evaluated as it is, including one tallynet cannot express; its training mode is
    restored afterwards."""
    if not _torch_module(model):
        yield at_input(model, input_shape).loss
        return
    import torch

    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    training = model.training
    model.eval()

    def run(x):
        with torch.no_grad():
            try:
                return model(torch.from_numpy(x).to(dtype)).float().numpy()
            except RuntimeError as err:
                raise ValueError(f"the PyTorch model failed on a batch of shape {tuple(x.shape)}: {err}") from None
    try:
        yield run
    finally:
        model.train(training)


def flops_per_crop(network, input_shape, convention="macs"):
    """Forward FLOPs of one sample of ``input_shape`` through ``network`` (a tallynet model, a
    spec dict, a YAML path or a preset name) under ``convention``, from the cost model."""
    from ..cost import summary
    from ..models import with_input
    from ..models.spec import canonical_spec

    spec = canonical_spec(network) if hasattr(network, "params") else network
    return int(summary(with_input(spec, input_shape), batch=1, convention=convention).totals()["forward_flops"])


def _top_k(scores, k):
    """Indices of the ``k`` largest scores of every row, largest first (ties: the lower index first)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _predict(model, dataset, transform, batch_size, on_batch):
    """``(top-5 predictions (N, k), crops, input shape of a crop, network seconds)``: the model over
    the dataset in batches of ``batch_size`` images, each image's crops' scores averaged."""
    classes, n = dataset.num_classes, len(dataset)
    best, network_seconds, run = [], 0.0, None
    with contextlib.ExitStack() as stack:
        for first in range(0, n, batch_size):
            x = np.stack([transform(dataset.image(i)) for i in range(first, min(first + batch_size, n))])
            images, crops, input_shape = x.shape[0], (x.shape[1] if x.ndim == 5 else 1), x.shape[-3:]
            if run is None:
                run = stack.enter_context(_runner(model, input_shape))
            tick = time.perf_counter()
            scores = np.asarray(run(np.ascontiguousarray(x.reshape((-1,) + input_shape), dtype=np.float32)))
            network_seconds += time.perf_counter() - tick
            if scores.shape != (images * crops, classes):
                raise ValueError(f"the model gives scores of shape {scores.shape} for {images * crops} crops; "
                                 f"expected ({images * crops}, {classes}), one score per class of the synset list")
            best.append(_top_k(scores.reshape(images, crops, classes).mean(axis=1), min(5, classes)))
            if on_batch is not None:
                on_batch(first + images, n)
    return np.concatenate(best), crops, tuple(int(d) for d in input_shape), network_seconds


def evaluate(model, dataset, transform=None, batch_size=8, convention="macs", spec=None, on_batch=None):
    """Accuracy and cost of ``model`` on ``dataset`` prepared by ``transform``: an :class:`Evaluation`.

    - model: a tallynet model (a Graph or Sequential; run at the transform's crop size, see
      :func:`at_input`) or a ``torch.nn.Module``, which PyTorch runs itself in eval mode under
      ``torch.no_grad()`` (a classifier tallynet cannot import is evaluated as it is)
    - dataset: an :class:`~tallynet.imagenet.ImageNetVal` (its own transform is not used)
    - transform: a scheme name (``"center224"``, ``"center224-raw"``, ``"five224"``,
      ``"five330"``), a :class:`~tallynet.imagenet.Scheme`, or any callable from a PIL image to
      (3, H, W) or (crops, 3, H, W) float32; default the dataset's transform
    - batch_size: images per forward pass (each image's crops go in the same pass)
    - convention: the cost model's convention for ``flops_per_image``
    - spec: the tallynet spec (dict, YAML path or preset name) of a PyTorch model, for its FLOPs;
      without one a PyTorch model's FLOPs are reported as unknown (None), never guessed
    - on_batch: called as ``on_batch(images done, images in all)`` after every batch

    With several crops, the prediction is the mean of the crops' scores (the network's outputs,
    the logits before any softmax), as torchvision's ``FiveCrop`` documentation averages them
    (``model(crops).view(batch, ncrops, -1).mean(1)``); seed 003 does not say which it averages.
    """
    transform = get_scheme(transform) if isinstance(transform, str) else (transform or dataset.transform)
    if transform is None:
        raise ValueError("evaluate needs a transform: a scheme name, a Scheme, or a dataset made with one")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    start = time.perf_counter()
    best, crops, input_shape, network_seconds = _predict(model, dataset, transform, int(batch_size), on_batch)
    seconds = time.perf_counter() - start
    classes, labels = dataset.num_classes, dataset.labels
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, best[:, 0]), 1)
    per_image = confusion.sum(axis=1)
    per_class = np.where(per_image > 0, np.diag(confusion) / np.maximum(per_image, 1), np.nan)
    flops_source = spec if spec is not None else (None if _torch_module(model) else model)
    flops = None if flops_source is None else crops * flops_per_crop(flops_source, input_shape, convention)
    top5_correct = int((best == labels[:, None]).any(axis=1).sum())
    return Evaluation(scheme=getattr(transform, "name", type(transform).__name__), images=len(labels),
                      top1_correct=int(np.trace(confusion)), top5_correct=top5_correct,
                      confusion=confusion, per_class_accuracy=per_class, flops_per_image=flops,
                      convention=getattr(convention, "name", convention), crops=crops, input_shape=input_shape,
                      seconds=seconds, network_seconds=network_seconds)
