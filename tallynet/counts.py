"""Operation counts by kind, the unit every cost in tallynet is expressed in."""

from dataclasses import dataclass, fields

#: The kinds of scalar operation counted. ``special`` covers exp, log and sqrt;
#: ``mac`` is used only by the ``macs`` convention, which counts multiply-accumulates.
KINDS = ("mul", "add", "cmp", "div", "special", "mac")


@dataclass(frozen=True)
class Ops:
    """A number of scalar operations of each kind; adds and scales like a vector."""

    mul: int = 0
    add: int = 0
    cmp: int = 0
    div: int = 0
    special: int = 0
    mac: int = 0

    @property
    def total(self):
        return sum(getattr(self, k) for k in KINDS)

    def __add__(self, other):
        return Ops(**{k: getattr(self, k) + getattr(other, k) for k in KINDS})

    def __mul__(self, factor):
        return Ops(**{k: getattr(self, k) * factor for k in KINDS})

    __rmul__ = __mul__

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


def matmul_ops(m, k, n):
    """An (m, k) @ (k, n) product: m n dot products of length k, each k mul and k - 1 add."""
    return Ops(mul=m * n * k, add=m * n * (k - 1))


def sum_ops(outputs, length):
    """Summing ``length`` values into each of ``outputs`` results: length - 1 additions each."""
    return Ops(add=outputs * (length - 1))


@dataclass(frozen=True)
class LayerFlops:
    """A layer's FLOPs: forward, and backward split into input and parameter gradients."""

    forward: Ops = Ops()
    backward_input: Ops = Ops()
    backward_params: Ops = Ops()

    @property
    def backward(self):
        return self.backward_input + self.backward_params

    def training_backward(self, pass_):
        """The backward FLOPs of the pass a training step runs: ``"full"`` (both gradients),
        ``"params"`` (no input gradient) or ``"none"`` (see ``tallynet.models.training_passes``)."""
        return {"full": self.backward, "params": self.backward_params, "none": Ops()}[pass_]
