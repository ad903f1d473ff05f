"""Seed 003's coding part: a classifier's accuracy on ImageNet validation images under several
ways of preparing them, and what each costs per image.

- :mod:`~tallynet.imagenet.labels`: ``parse_synset_words``, ``parse_class_label`` (the course's helpers)
- :mod:`~tallynet.imagenet.dataset`: ``ImageNetVal``, the images beside their label files
- :mod:`~tallynet.imagenet.transforms`: torchvision's preprocessing in NumPy and Pillow; ``SCHEMES``
- :mod:`~tallynet.imagenet.evaluate`: ``evaluate`` and its ``Evaluation``
- :mod:`~tallynet.imagenet.weights`: the model the ``tallynet evaluate`` command names, with its weights

Pillow (``pip install 'tallynet[imagenet]'``) is imported only when an image is read.
"""

from .dataset import ImageNetVal
from .evaluate import Evaluation, evaluate
from .labels import LabelError, parse_class_label, parse_synset_words
from .transforms import SCHEMES, Scheme, get_scheme

__all__ = ["ImageNetVal", "Evaluation", "evaluate", "LabelError", "parse_class_label", "parse_synset_words",
           "SCHEMES", "Scheme", "get_scheme"]
