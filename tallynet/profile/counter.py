"""Counting mode: run the real kernels on real arrays and count every scalar operation.

The kernels are not changed. Their arrays are :class:`CountingArray` views,
an ``ndarray`` subclass whose ``__array_ufunc__`` and ``__array_function__``
hooks compute each operation with NumPy itself (on plain views of the same
data, so every value is bitwise the one an uncounted run gives) and add its
operations, by kind, to the active :class:`Counter`::

    with Counter() as c:
        out, cache = layer.forward(counting(x), counting(params), "train")
    c.flops       # Ops(mul=..., add=..., cmp=..., div=..., special=...)
    c.unknown     # {"np.sort": 1, ...}: operations the counter cannot price

What one call costs (n = elements of the output unless stated)
----------------------------------------------------------------
=====================================================  =============================================
elementwise ufuncs, broadcasting included,             n of their kind (table below); ``where=`` masks
``out=`` and in-place operators (``+=``) alike          count only the selected elements
``ufunc.reduce`` (``sum``, ``max``, ``x.mean()``...)   ``length - 1`` per output (``+ 1`` with ``initial=``)
``np.mean``, ``x.mean``                                 the sum's ``length - 1`` and 1 div per output
``np.var`` / ``np.std``                                 composed as NumPy computes it: the mean, ``x -
                                                        mean`` (n add), ``x * x`` (n mul), a second sum
                                                        and a division (and ``sqrt`` for std)
``ufunc.accumulate`` (``cumsum``)                       ``length - 1`` per lane
``ufunc.at`` (``np.add.at``)                            1 per index
``ufunc.outer``                                         n
``matmul`` / ``@`` / ``dot`` / ``inner`` / ``vecdot``   k mul and ``k - 1`` add per output element, k the
``tensordot`` / ``einsum``                              contracted length (batched products too); a
                                                        scalar factor in ``dot`` is n mul; ``einsum``
                                                        with p operands: ``(p - 1) k`` mul per output
``argmax`` / ``argmin``                                 ``length - 1`` cmp per output
``count_nonzero`` of floats                             n cmp (of the input)
``where``, copies, ``astype``, reshape, transpose,      0: they move or select values, they do not
``pad`` (constant, edge, wrap), ``concatenate``,         compute any
``take``, indexing, ``repeat``, ``broadcast_to``, ...
random draws (``Generator.random``, ...)                0: random number generation is not arithmetic
=====================================================  =============================================

Kinds of the elementwise ufuncs: ``add``, ``subtract``, ``negative`` -> add;
``multiply``, ``square`` (one x * x) -> mul; ``true_divide``, ``reciprocal``,
``floor_divide``, ``remainder``, ``fmod`` -> div; ``maximum``, ``minimum``,
``fmax``, ``fmin``, the six comparisons, ``absolute``, ``sign``, ``isnan``,
``isinf``, ``isfinite``, ``signbit`` and the logical operators -> cmp;
``clip`` -> 2 cmp; ``exp``, ``exp2``, ``expm1``, ``log`` and its variants,
``sqrt``, ``cbrt``, ``power``, ``logaddexp``, ``tanh`` and the other
trigonometric and hyperbolic functions -> special; ``positive`` and
``conjugate`` (copies) -> nothing.

Only floating-point work is a FLOP: an operation whose inputs and outputs are
all integers or booleans (index arithmetic, ``mask & mask``) is tallied in
``Counter.int_ops`` instead, never in ``flops``.

Anything else (``np.sort``, ``np.floor``, ``np.linalg.*``, ``einsum`` with
``optimize``, ...) is still computed, so results stay right, but it is
recorded by name in ``Counter.unknown`` (unless it touches no floating-point
data): the counter never prices an operation it does not understand as zero.
A function priced as a whole (the tables above) runs NumPy's implementation on
plain arrays with counting paused, so nothing it does inside is counted twice.

What it cannot see
------------------
Arithmetic on Python numbers after ``float(a)`` or ``a.item()`` is plain
Python. To keep such values visible a reduction to a single number returns a
0-d :class:`CountingArray` rather than a NumPy scalar (its value and dtype are
the same), and so does indexing one float element.

While a :class:`Counter` is active, NumPy's array constructors (``np.zeros``,
``np.empty``, ``np.array``, ``np.asarray``, ``np.arange``, ...) and
``np.random.default_rng`` are replaced by wrappers that return counting arrays
and counting generators, so that buffers a kernel allocates from a shape (a
padded copy, col2im's accumulator) are counted too; generators already stored
on the objects passed as ``owners`` are swapped for counting ones that
share their bit generator (so they draw the very same numbers and advance the
same state), and their array attributes (running averages) are viewed as
counting arrays. The originals are restored on exit. The patching is global:
counting is meant for one thread at a time.
"""

import collections
import math

import numpy as np

from ..counts import Ops

FLOP_KINDS = ("mul", "add", "cmp", "div", "special")
_ASARRAY = np.asarray  # the original, also while counting replaces np.asarray

# --- the price list ------------------------------------------------------------------
_UFUNC_KIND = {}
for _kind, _names in {
    "add": ("add", "subtract", "negative"),
    "mul": ("multiply", "square"),
    "div": ("divide", "reciprocal", "floor_divide", "remainder", "fmod"),
    "cmp": ("maximum", "minimum", "fmax", "fmin", "greater", "greater_equal", "less", "less_equal", "equal",
            "not_equal", "absolute", "sign", "isnan", "isinf", "isfinite", "signbit", "logical_and",
            "logical_or", "logical_xor", "logical_not"),
    "special": ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "power", "float_power",
                "logaddexp", "logaddexp2", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2",
                "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "hypot"),
    None: ("positive", "conjugate"),
}.items():
    for _name in _names:
        _UFUNC_KIND[getattr(np, _name)] = _kind
#: ufuncs that do more than one operation per output element: np.clip's ufunc (a max and a min)
# np.clip's ufunc lives in np._core (NumPy 2) or np.core (NumPy 1)
_umath = np._core.umath if hasattr(np, "_core") else np.core.umath
_UFUNC_OPS_PER_ELEMENT = {_umath.clip: ("cmp", 2)}
#: generalized ufuncs that contract the last axis of their first operand
_CONTRACTIONS = {getattr(np, n) for n in ("matmul", "vecdot", "matvec", "vecmat") if hasattr(np, n)}

#: functions that only move, select or create values: 0 operations
_FREE = {getattr(np, n) for n in (
    "reshape", "transpose", "ravel", "squeeze", "expand_dims", "concatenate", "stack", "vstack", "hstack",
    "dstack", "column_stack", "block", "take", "take_along_axis", "put", "put_along_axis", "place", "putmask",
    "copyto", "copy", "broadcast_to", "broadcast_arrays", "moveaxis", "swapaxes", "rollaxis", "repeat", "tile",
    "flip", "fliplr", "flipud", "roll", "rot90", "split", "array_split", "hsplit", "vsplit", "atleast_1d",
    "atleast_2d", "atleast_3d", "empty_like", "zeros_like", "ones_like", "full_like", "where", "nonzero",
    "flatnonzero", "argwhere", "unravel_index", "ravel_multi_index", "shape", "ndim", "size", "result_type",
    "can_cast", "may_share_memory", "shares_memory", "min_scalar_type", "diagonal", "choose", "compress",
    "extract", "resize", "astype", "delete", "insert", "append", "ascontiguousarray", "asfortranarray",
    "iscomplexobj", "isrealobj", "select", "triu", "tril", "array_equiv",
) if hasattr(np, n)}
#: pad modes that only copy values (the others compute means, ramps, reflections)
_FREE_PAD_MODES = {"constant", "edge", "wrap", "empty"}
#: functions whose NumPy implementation reaches only counted ufuncs and methods: run as they are
_COMPOSED = {getattr(np, n) for n in ("sum", "mean", "var", "std", "max", "min", "amax", "amin", "prod", "all",
                                      "any", "clip", "cumsum", "cumprod", "trace")}

# --- which counters are listening ------------------------------------------------------
_ACTIVE = []


def _count(kind, n, name):
    if n:
        for counter in _ACTIVE:
            counter._add(kind, n, name)


def _unknown(name):
    for counter in _ACTIVE:
        counter.unknown[name] += 1


# --- moving between counting and plain arrays --------------------------------------------
def _plain(x):
    """The plain ndarray view of a CountingArray (recursing into tuples and lists)."""
    if isinstance(x, CountingArray):
        return x.view(np.ndarray)
    if isinstance(x, (tuple, list)):
        return type(x)(_plain(v) for v in x)
    return x


def _wrap(x):
    """Counting views of result arrays; float NumPy scalars become 0-d counting arrays."""
    if isinstance(x, np.ndarray):
        return x if isinstance(x, CountingArray) else x.view(CountingArray)
    if isinstance(x, np.generic) and x.dtype.kind in "fc":
        return _ASARRAY(x).view(CountingArray)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def counting(obj):
    """``obj`` with every ndarray in it (also inside dicts, lists, tuples) viewed as a CountingArray."""
    if isinstance(obj, dict):
        return {k: counting(v) for k, v in obj.items()}
    if isinstance(obj, (np.ndarray, tuple, list)):
        return _wrap(obj) if isinstance(obj, np.ndarray) else type(obj)(counting(v) for v in obj)
    return obj


def plain(obj):
    """The inverse of :func:`counting`: every CountingArray in ``obj`` as a plain ndarray view."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return _plain(obj)


def _is_float(*values):
    """Whether any value is floating-point (array, NumPy scalar or Python float)."""
    for v in values:
        if isinstance(v, (float, complex)) and not isinstance(v, bool):
            return True
        dtype = getattr(v, "dtype", None)
        if dtype is not None and dtype.kind in "fc":
            return True
    return False


def _holds_float(*objs):
    """Whether a floating-point array or number is anywhere in ``objs`` (tuples, lists, dicts)."""
    for obj in objs:
        if isinstance(obj, dict):
            obj = tuple(obj.values())
        if isinstance(obj, (tuple, list)):
            if _holds_float(*obj):
                return True
        elif _is_float(obj):
            return True
    return False


def _size(x):
    return x.size if isinstance(x, (np.ndarray, np.generic)) else 1


# --- pricing one call -----------------------------------------------------------------------
def _price_ufunc(ufunc, method, inputs, kwargs, result):
    """Record the operations of ``ufunc.method(*inputs, **kwargs)`` that returned ``result``."""
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if method == "at":  # ufunc.at(a, indices, b): one operation per index, into a
        first, operands = inputs[0][inputs[1]], (inputs[0], *inputs[2:])
    else:
        first, operands = result[0] if isinstance(result, tuple) else result, inputs
    if not _is_float(*operands, first):
        for counter in _ACTIVE:
            counter.int_ops += _size(first)
        return
    if method == "__call__" and ufunc in _CONTRACTIONS:
        _contraction(name, first, np.shape(inputs[0])[-1] if np.ndim(inputs[0]) else 1)
        return
    kind, per = _UFUNC_OPS_PER_ELEMENT.get(ufunc, (_UFUNC_KIND.get(ufunc, "?"), 1))
    if kind == "?" or ufunc.nout != 1 or method == "reduceat":
        _unknown(name)
        return
    where = kwargs.get("where", True)
    if method == "__call__":
        n = _size(first)
        if where is not True:
            n = int(np.count_nonzero(np.broadcast_to(_plain(where), np.shape(first))))
    elif method == "reduce":
        if where is not True:
            _unknown(name + "(where=)")
            return
        outputs = _size(first)
        length = _size(inputs[0]) // outputs if outputs else 0
        n = outputs * (max(length - 1, 0) + ("initial" in kwargs and length > 0))
    elif method == "accumulate":
        axis = kwargs.get("axis", 0)
        length = np.shape(inputs[0])[axis] if np.ndim(inputs[0]) else 1
        n = _size(first) // max(length, 1) * max(length - 1, 0)
    elif method == "outer":
        n = _size(first)
    elif method == "at":
        n = _size(first)
    else:
        _unknown(name)
        return
    if kind is not None:
        _count(kind, per * n, name)


def _contraction(name, result, k):
    """Each output element a dot product of length k: k mul and k - 1 add."""
    outputs = _size(result)
    _count("mul", outputs * k, name)
    _count("add", outputs * (k - 1), name)


def _price_dot(func, args, kwargs, result):
    a, b = args[0], args[1]
    if func is np.vdot:
        _contraction("np.vdot", result, _size(a))
    elif np.ndim(a) == 0 or np.ndim(b) == 0 or func is np.outer:
        _count("mul", _size(result), f"np.{func.__name__}")
    else:
        _contraction(f"np.{func.__name__}", result, np.shape(a)[-1])


def _price_tensordot(func, args, kwargs, result):
    a = args[0]
    axes = args[2] if len(args) > 2 else kwargs.get("axes", 2)
    if isinstance(axes, int):
        contracted = np.shape(a)[np.ndim(a) - axes:] if axes else ()
    else:
        axes_a = axes[0] if isinstance(axes[0], (list, tuple)) else [axes[0]]
        contracted = [np.shape(a)[i] for i in axes_a]
    _contraction("np.tensordot", result, math.prod(contracted))  # axes=0, an outer product: k = 1


def _price_einsum(func, args, kwargs, result):
    if kwargs.get("optimize") or not isinstance(args[0], str):
        _unknown("np.einsum(optimize or sublist form)")
        return
    spec, operands = args[0].replace(" ", ""), args[1:]
    inputs, _, output = spec.partition("->")
    terms = inputs.split(",")
    if "..." in spec:
        _unknown("np.einsum(...)")
        return
    sizes = {}
    for term, op in zip(terms, operands):
        sizes.update(zip(term, np.shape(op)))
    if "->" not in spec:
        output = "".join(sorted(c for c in sizes if inputs.count(c) == 1))
    k = math.prod(size for letter, size in sizes.items() if letter not in output)
    outputs = _size(result)
    _count("mul", outputs * k * (len(operands) - 1), "np.einsum")
    _count("add", outputs * (k - 1), "np.einsum")


def _price_arg_reduction(func, args, kwargs, result):
    a = args[0]
    axis = args[1] if len(args) > 1 else kwargs.get("axis")
    length = _size(a) if axis is None else np.shape(a)[axis]
    outputs = _size(a) // length if length else 0
    if _is_float(a):
        _count("cmp", outputs * max(length - 1, 0), f"np.{func.__name__}")


def _price_count_nonzero(func, args, kwargs, result):
    if _is_float(args[0]):
        _count("cmp", _size(args[0]), "np.count_nonzero")


def _price_pad(func, args, kwargs, result):
    mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
    if mode not in _FREE_PAD_MODES:
        _unknown(f"np.pad(mode={mode!r})")


_PRICED = {np.dot: _price_dot, np.vdot: _price_dot, np.inner: _price_dot, np.outer: _price_dot,
           np.tensordot: _price_tensordot, np.einsum: _price_einsum, np.argmax: _price_arg_reduction,
           np.argmin: _price_arg_reduction, np.count_nonzero: _price_count_nonzero, np.pad: _price_pad}


# --- the array --------------------------------------------------------------------------------
class CountingArray(np.ndarray):
    """An ndarray whose operations are computed by NumPy and counted by the active :class:`Counter`.

    Make one with ``x.view(CountingArray)`` or :func:`counting`; ``x.view(np.ndarray)``
    or :func:`plain` gives the plain array back (the same memory either way).
    """

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _plain(out)
        if "where" in kwargs:
            kwargs["where"] = _plain(kwargs["where"])
        args = _plain(inputs) if method != "at" else (_plain(inputs[0]), _plain(inputs[1]), *_plain(inputs[2:]))
        result = getattr(ufunc, method)(*args, **kwargs)
        if _ACTIVE:
            _price_ufunc(ufunc, method, args, kwargs, result)
        if method == "at":
            return None
        if out is None:
            return _wrap(result)
        results = result if isinstance(result, tuple) else (result,)
        final = tuple(o if o is not None else _wrap(r) for o, r in zip(out, results))
        return final[0] if len(final) == 1 else final

    def __array_function__(self, func, types, args, kwargs):
        if func in _COMPOSED:
            # NumPy's own implementation, on counting arrays: its ufuncs and reductions are counted
            return _wrap(func._implementation(*args, **kwargs))
        plain_args, plain_kwargs = _plain(args), {k: _plain(v) for k, v in kwargs.items()}
        # Priced as a whole: what NumPy's implementation does inside is not counted again.
        listening = _ACTIVE[:]
        _ACTIVE.clear()
        try:
            result = func._implementation(*plain_args, **plain_kwargs)
        finally:
            _ACTIVE.extend(listening)
        if _ACTIVE:
            if func in _PRICED:
                _PRICED[func](func, plain_args, plain_kwargs, result)
            elif func not in _FREE and _holds_float(plain_args, plain_kwargs):
                _unknown(f"np.{func.__name__}")
        out = kwargs.get("out")
        return out if out is not None and result is plain_kwargs.get("out") else _wrap(result)

    def __getitem__(self, key):
        # One float element comes back as a 0-d counting array, so arithmetic on it is counted.
        item = super().__getitem__(key)
        return _wrap(item) if isinstance(item, np.generic) else item

    # Methods that NumPy implements in C without dispatching to the hooks above:
    # route them through the priced functions, or report them.
    def dot(self, b, out=None):
        return np.dot(self, b, out=out)

    def argmax(self, axis=None, out=None, **kwargs):
        return np.argmax(self, axis=axis, out=out, **kwargs)

    def argmin(self, axis=None, out=None, **kwargs):
        return np.argmin(self, axis=axis, out=out, **kwargs)


def _reported_method(name):
    method = getattr(np.ndarray, name)

    def reported(self, *args, **kwargs):
        if _ACTIVE and _is_float(self):
            _unknown(f"ndarray.{name}")
        return method(self, *args, **kwargs)

    reported.__name__ = name
    return reported


for _name in ("sort", "argsort", "partition", "argpartition", "searchsorted"):
    setattr(CountingArray, _name, _reported_method(_name))


# --- generators -----------------------------------------------------------------------------
_SAMPLERS = ("random", "standard_normal", "normal", "uniform", "integers", "choice", "permutation", "permuted",
             "binomial", "bernoulli", "exponential", "standard_exponential", "gamma", "standard_gamma", "beta",
             "poisson", "multinomial", "laplace", "logistic", "lognormal", "geometric")


class CountingGenerator(np.random.Generator):
    """A Generator whose draws come back as CountingArrays (drawing itself costs 0 operations).

    Built on an existing bit generator, it draws exactly the numbers the
    original Generator would, and advances the same state.
    """


def _sampler(name):
    method = getattr(np.random.Generator, name)

    def sample(self, *args, **kwargs):
        return _wrap(method(self, *args, **kwargs))

    sample.__name__ = name
    return sample


for _name in _SAMPLERS:
    if hasattr(np.random.Generator, _name):
        setattr(CountingGenerator, _name, _sampler(_name))


# --- the collector ----------------------------------------------------------------------------
_CONSTRUCTORS = ("array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "zeros", "ones",
                 "empty", "full", "arange", "eye", "identity", "linspace", "frombuffer", "fromiter")


def _constructor(original):
    def construct(*args, **kwargs):
        return _wrap(original(*args, **kwargs))

    construct.__wrapped__ = original
    return construct


def _default_rng(seed=None):
    return CountingGenerator(_ORIGINAL_DEFAULT_RNG(seed).bit_generator)


_ORIGINAL_DEFAULT_RNG = np.random.default_rng
_saved = {}


def _patch():
    for name in _CONSTRUCTORS:
        _saved[name] = getattr(np, name)
        setattr(np, name, _constructor(_saved[name]))
    np.random.default_rng = _default_rng


def _unpatch():
    for name, original in _saved.items():
        setattr(np, name, original)
    _saved.clear()
    np.random.default_rng = _ORIGINAL_DEFAULT_RNG


class Counter:
    """Collects the operations counted while it is active (``with Counter() as c: ...``).

    Attributes after (or during) the block:

    - ``flops``: an :class:`~tallynet.counts.Ops` of the floating-point operations by kind
    - ``ops``: the same as a dict ``{kind: count}``
    - ``by_name``: ``{(function, kind): count}``, where each count came from
    - ``int_ops``: integer and boolean operations (index arithmetic), not FLOPs
    - ``unknown``: ``{name: calls}`` of operations computed but not priced

    Counters nest: an inner one counts its block, an outer one everything.
    ``owners``: objects (layers) whose array attributes (batchnorm's running
    averages) are viewed as counting arrays, and whose ``np.random.Generator``
    attributes are swapped for counting generators sharing their bit generator,
    while the block runs.
    """

    def __init__(self, owners=()):
        self.ops = dict.fromkeys(FLOP_KINDS, 0)
        self.by_name = collections.Counter()
        self.int_ops = 0
        self.unknown = collections.Counter()
        self._owners = list(owners)
        self._swapped = []

    def _add(self, kind, n, name):
        self.ops[kind] += n
        self.by_name[name, kind] += n

    @property
    def flops(self):
        return Ops(**self.ops)

    def __enter__(self):
        if not _ACTIVE:
            _patch()
        _ACTIVE.append(self)
        for owner in self._owners:
            for attr, value in vars(owner).items():
                if isinstance(value, np.random.Generator) and not isinstance(value, CountingGenerator):
                    swapped = CountingGenerator(value.bit_generator)
                elif isinstance(value, np.ndarray) and not isinstance(value, CountingArray):
                    swapped = value.view(CountingArray)
                else:
                    continue
                self._swapped.append((owner, attr, value, swapped))
                setattr(owner, attr, swapped)
        return self

    def __exit__(self, *exc):
        # Put the originals back; an attribute the block replaced (batchnorm's running
        # averages) keeps its new value, as a plain array.
        for owner, attr, value, swapped in self._swapped:
            current = getattr(owner, attr)
            setattr(owner, attr, value if current is swapped else plain(current))
        self._swapped.clear()
        _ACTIVE.remove(self)
        if not _ACTIVE:
            _unpatch()
        return False

    def __repr__(self):
        unknown = f", unknown={dict(self.unknown)}" if self.unknown else ""
        return f"Counter({self.flops}{unknown})"
