"""Variants of a network written ``SPEC@T@T...``: a spec or preset and the transformations applied to it.

``seed-cnn@input=3x64x64``, ``seed-cnn@depthwise``, ``seed-cnn@width=2``,
``seed-cnn@blocks=+1``, ``seed-cnn@mixed``, ``seed-cnn@optimizer=adam``,
``seed-cnn@checkpoint=2``; several in order,
joined by ``@`` or ``,`` (``seed-cnn@width=2,mixed``). A transformation either edits the
spec (:mod:`tallynet.cost.transforms`) or changes how the cost model sizes the step (dtype,
precision, optimizer, gradient checkpointing: keyword arguments of :func:`~tallynet.cost.summary`).

:data:`TRANSFORMS` is the registry the parser reads, and its forms are what a refusal lists.
A new transformation is one :func:`register` call with a ``parse`` of the text after ``=``
(None when there is none) and an ``apply`` of the parsed value to a :class:`Variant`:
:func:`edits_spec` for one that edits the spec, :func:`sets_options` for one whose value is
keyword arguments of :func:`~tallynet.cost.summary`.
"""

import os
import re
from dataclasses import dataclass, field, replace

from .. import optim
from ..dtypes import COST_DTYPES, cost_dtype
from ..models.presets import read_spec, with_input
from ..models.spec import SpecError
from . import transforms
from .summary import network_nodes, summary


class TransformError(ValueError):
    """A variant that cannot be read; the message names it and the accepted forms."""


@dataclass(frozen=True)
class Variant:
    """A network (``spec``, a dict) and the :func:`~tallynet.cost.summary` options it is sized with."""

    label: str
    spec: dict = field(repr=False)
    options: dict = field(default_factory=dict)

    def summary(self, batch=None, convention="exact"):
        return summary(self.spec, batch=batch, convention=convention, **self.options)


@dataclass(frozen=True)
class Transform:
    form: str       # how it is written, for the refusal's list: "width=K"
    parse: object   # the text after "=" (None when there is none) -> a value; ValueError: bad syntax
    apply: object   # (variant, value) -> the new variant; ValueError: the network does not allow it


#: name -> Transform; the forms in registration order are the accepted ones
TRANSFORMS = {}


def register(name, form, parse, apply):
    """Accept ``name`` (``name=VALUE`` or bare, as ``parse`` decides) in variants."""
    TRANSFORMS[name] = Transform(form, parse, apply)


def accepted_forms():
    return ", ".join(t.form for t in TRANSFORMS.values())


def edits_spec(edit):
    """``apply`` of a transformation that edits the spec: ``edit(spec, value) -> spec``."""
    def apply(variant, value):
        spec = edit(variant.spec, value)
        try:
            network_nodes(spec)
        except SpecError as err:
            raise ValueError(f"the transformed network does not fit together: {err}") from None
        return replace(variant, spec=spec)
    return apply


def sets_options(variant, options):
    """``apply`` of a transformation whose value is keyword arguments of :func:`~tallynet.cost.summary`."""
    return replace(variant, options={**variant.options, **options})


# --- the transformations' values ----------------------------------------------------
def _value(pattern, example):
    """A parser of values matching ``pattern`` (a regular expression), or ValueError naming ``example``."""
    def parse(value):
        if value is None or not re.fullmatch(pattern, value):
            raise ValueError(f"expected {example}, got {'nothing' if value is None else repr(value)}")
        return value
    return parse


def _shape(value):
    return [int(d) for d in _value(r"[1-9]\d*(x[1-9]\d*)*", "a sample shape like 3x64x64 (or 784)")(value).split("x")]


def _factor(value):
    k = float(_value(r"\d+(\.\d*)?|\.\d+", "a factor > 0 like 2 or 0.5")(value))
    if k <= 0:
        raise ValueError(f"expected a factor > 0 like 2 or 0.5, got {value!r}")
    return k


def _more(value):
    return int(_value(r"\+[1-9]\d*", "+N with N >= 1, like +1")(value)[1:])


def _keep_first(value):
    if value not in (None, "keep-first"):
        raise ValueError(f"expected nothing or keep-first, got {value!r}")
    return value == "keep-first"


def _dtype(value):
    return {"dtype": cost_dtype(_value(r"\w+", "a dtype")(value)).name, "master_dtype": None}


def _mixed(value):
    half = _value(r"b?float16", "nothing, float16 or bfloat16")(value or "float16")
    return {"dtype": half, "master_dtype": "float32"}


def _optimizer(value):
    return {"optimizer": optim.rule_name(_value(r"\w+", "an optimizer")(value))}


def _checkpoint(value):
    return {"checkpoint": int(_value(r"[1-9]\d*", "a segment length K >= 1, like 2")(value))}


register("input", "input=CxHxW", _shape, edits_spec(with_input))
register("width", "width=K", _factor, edits_spec(transforms.with_width))
register("blocks", "blocks=+N", _more, edits_spec(transforms.with_more_blocks))
register("depthwise", "depthwise[=keep-first]", _keep_first, edits_spec(transforms.with_depthwise))
register("dtype", f"dtype={'|'.join(COST_DTYPES)}", _dtype, sets_options)
register("mixed", "mixed[=bfloat16]", _mixed, sets_options)
register("optimizer", f"optimizer={'|'.join([*optim.UPDATE_RULES, *optim.ALIASES])}", _optimizer, sets_options)
register("checkpoint", "checkpoint=K", _checkpoint, sets_options)


# --- parsing -------------------------------------------------------------------------
def split_variant(text):
    """``(spec, [transformation, ...])`` of ``SPEC@T@T,T``; an existing file is a spec as it is."""
    if os.path.exists(text) or "@" not in text:
        return text, []
    base, rest = text.split("@", 1)
    return base, re.split(r"[@,]", rest)


def variant(text):
    """The :class:`Variant` written ``text``: ``seed-cnn``, ``seed-cnn@width=2,mixed``, ``net.yaml@depthwise``.

    Bad syntax is a :class:`TransformError` naming the accepted forms; a transformation the
    network does not allow (``blocks=+1`` on a graph) one naming why."""
    base, pieces = split_variant(text)
    return transformed(Variant(text, read_spec(base)), *pieces, label=text)


def transformed(base, *pieces, label=None):
    """Variant ``base`` with the transformations ``pieces`` (``"width=2"``, ``"mixed"``) applied in order;
    ``label``: the new variant's (default: the base's and the pieces, joined by ``@``)."""
    label = label or "@".join([base.label, *pieces])
    current = base
    for piece in pieces:
        name, equals, value = piece.partition("=")
        transform = TRANSFORMS.get(name)
        try:
            if transform is None:
                raise ValueError("is empty" if not piece else f"unknown transformation {name!r}")
            value = transform.parse(value if equals else None)
        except ValueError as err:
            raise TransformError(f"variant {label!r}: {piece!r}: {err}; expected SPEC@T[@T...] (or T,T) with each T "
                                 f"one of {accepted_forms()}") from None
        try:
            current = transform.apply(current, value)
        except ValueError as err:
            raise TransformError(f"variant {label!r}: {piece}: {err}") from None
    return replace(current, label=label)
