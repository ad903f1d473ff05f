"""ImageNet's validation images beside their label files: :class:`ImageNetVal`."""

import os

import numpy as np

from .images import open_rgb
from .labels import parse_class_label, parse_synset_words

IMAGE_SUFFIXES = (".jpeg", ".jpg")  # ILSVRC2012_val_*.JPEG as distributed; seed 003's copies are .jpg


def _folder(path, what):
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} folder {path!r} does not exist or is not a folder")
    return path


class ImageNetVal:
    """The first ``limit`` JPEGs of the folder ``images`` (``.JPEG``, ``.jpeg`` or ``.jpg``, in sorted
    file-name order, which for ``ILSVRC2012_val_00000001.JPEG`` ... is the validation set's order)
    with their labels from the folder ``labels`` (``<image stem>.xml``, see
    :func:`~tallynet.imagenet.parse_class_label`) and the class list ``synsets``
    (``synset_words.txt``).

    Every label is read when the dataset is made, so a missing or bad XML file is an error at
    once, naming the image; the images are read when asked for. ``dataset[i]`` is
    ``(transform(image), label)``, the image a PIL RGB image (grayscale and CMYK files
    converted) and ``transform`` any callable (a :class:`~tallynet.imagenet.Scheme`), or the
    image itself without one.
    """

    def __init__(self, images, labels, synsets, transform=None, limit=None):
        images, labels = _folder(images, "images"), _folder(labels, "labels")
        self.index_to_synset, self.synset_to_index, self.synset_to_description = parse_synset_words(synsets)
        names = sorted(n for n in os.listdir(images) if n.lower().endswith(IMAGE_SUFFIXES))
        if limit is not None:
            if int(limit) < 1:
                raise ValueError(f"limit must be at least 1, got {limit}")
            names = names[:int(limit)]
        if not names:
            raise ValueError(f"images folder {images!r} holds no .JPEG, .jpeg or .jpg files")
        self.files = [os.path.join(images, n) for n in names]
        self.labels = np.array([self._label(labels, f) for f in self.files], dtype=np.int64)
        self.transform = transform

    def _label(self, labels, image):
        stem = os.path.splitext(os.path.basename(image))[0]
        xml = os.path.join(labels, stem + ".xml")
        if not os.path.isfile(xml):
            raise FileNotFoundError(f"image {image!r} has no label file: expected {xml!r}")
        return parse_class_label(xml, self.synset_to_index)[0]

    @property
    def num_classes(self):
        return len(self.index_to_synset)

    def __len__(self):
        return len(self.files)

    def image(self, i):
        """Image ``i`` as a PIL RGB image."""
        return open_rgb(self.files[i])

    def __getitem__(self, i):
        img = self.image(i)
        return (img if self.transform is None else self.transform(img)), int(self.labels[i])

    def __repr__(self):
        return (f"ImageNetVal({len(self)} images from {os.path.dirname(self.files[0])!r}, "
                f"{self.num_classes} classes)")
