"""What the walk dispatches on: modules by class, functions by object (or qualified name), tensor
methods by name; and the values it passes on without a tallynet node of their own."""

from .modules import MODULES
from .operations import FUNCTIONS, FUNCTIONS_BY_NAME, METHODS, PARTIAL, Attribute, Chunks, Grouped
from .walk import Refused, Tensor, qualified_name


class Handlers:
    """What the walk dispatches on: modules by class, functions by object (or qualified name),
    tensor methods by name."""

    @staticmethod
    def module(m):
        handler = MODULES.get(type(m))
        if handler is None:
            raise Refused(f"no tallynet layer maps the module {type(m).__name__}")
        return handler

    @staticmethod
    def function(target):
        handler = FUNCTIONS.get(target) or FUNCTIONS_BY_NAME.get(qualified_name(target))
        if handler is None:
            raise Refused("no tallynet layer computes this operation")
        return handler

    @staticmethod
    def method(name):
        if name not in METHODS:
            raise Refused("no tallynet layer computes this operation")
        return METHODS[name]

    @staticmethod
    def is_traced(value):
        return isinstance(value, (Tensor,) + PARTIAL)

    @staticmethod
    def describe_partial(value, what):
        if isinstance(value, Grouped):
            return (f"{what} is the channels of a tensor seen as {len(value.shape)}-d groups {value.shape}, which "
                    "tallynet imports only within a channel shuffle (view, transpose(1, 2), view back)")
        if isinstance(value, Attribute):
            return (f"{what} is the parameter {value.target!r}, read by the forward itself, which tallynet imports "
                    "only as a class token (expand(N, -1, -1), then cat before the tokens) or a positional "
                    "embedding (added to the tokens)")
        if isinstance(value, Chunks):
            return f"{what} is the tuple of chunks of a split, which tallynet imports only one chunk at a time ([i])"
        return f"{what} is {value!r}, not a tensor the model computes (tallynet's layers take no constants)"
