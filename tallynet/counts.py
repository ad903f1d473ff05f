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


#: the three parts of a layer's FLOPs, in the order the walkthrough prints them
PARTS = ("forward", "backward_input", "backward_params")


@dataclass(frozen=True)
class Term:
    """One named term of a layer's count, the line a walkthrough prints for it:
    ``label: symbol = f1 x f2 x ... = value``, of the kinds in ``ops``.

    The product of ``factors`` is the term's value; a layer's FLOPs under a convention
    are the sums of its terms, so the printed derivation and the count are one thing.
    """

    label: str
    symbol: str
    factors: tuple
    ops: Ops

    def __post_init__(self):
        product = 1
        for f in self.factors:
            product *= f
        if product != self.ops.total:
            raise ValueError(f"term {self.label!r}: its factors {self.factors} multiply to {product}, "
                             f"but it counts {self.ops.total} operations")


def term(label, symbol, factors, kind):
    """A :class:`Term` of one kind of operation (``"mul"``, ``"add"``, ...), whose count is the
    product of ``factors``; or of the given :class:`Ops` (which must add up to that product)."""
    factors = tuple(int(f) for f in factors)
    if isinstance(kind, str):
        product = 1
        for f in factors:
            product *= f
        kind = Ops(**{kind: product})
    return Term(label, symbol, factors, kind)


def flops_from_terms(terms):
    """The :class:`LayerFlops` that ``{part: [Term]}`` adds up to (a missing part counts 0)."""
    return LayerFlops(**{part: sum((t.ops for t in terms.get(part, ())), Ops()) for part in PARTS})
