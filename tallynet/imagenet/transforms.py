"""Preprocessing with torchvision's semantics, in NumPy and Pillow (no torch needed).

Each function is the torchvision transform of the same name applied to a PIL image, and gives
the same numbers (the tests compare them with ``torchvision.transforms`` to 1e-6):

- :func:`resize_shorter` is ``Resize(size)``: the shorter side becomes ``size``, the longer
  ``int(size * long / short)`` (truncated, as torchvision rounds it), by Pillow's bilinear
  filter, which is antialiased (its support widens with the scale factor) as torchvision's
  resize of a PIL image always is;
- :func:`center_crop` is ``CenterCrop(size)``: top ``int(round((h - size) / 2))``, left likewise;
- :func:`five_crop` is ``FiveCrop(size)``: the corners top-left, top-right, bottom-left,
  bottom-right, then the center, in that order;
- :func:`to_tensor` is ``ToTensor()``: (H, W, 3) uint8 to (3, H, W) float32 in [0, 1], x / 255;
- :func:`normalize` is ``Normalize(mean, std)``: (x - mean) / std per channel, in float32.

:data:`SCHEMES` are seed 003's ways of preparing a validation image, by name.
"""

from dataclasses import dataclass

import numpy as np

from .images import pillow

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resized_size(width, height, size):
    """``(new_width, new_height)`` of an image whose shorter side becomes ``size`` (torchvision's
    ``_compute_resized_output_size``: the longer side is truncated, not rounded)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def resize_shorter(img, size):
    """The PIL image ``img`` with its shorter side resized to ``size`` (Pillow's antialiased bilinear)."""
    new_size = resized_size(img.width, img.height, size)
    if new_size == img.size:  # torchvision returns the image untouched
        return img
    return img.resize(new_size, pillow().BILINEAR)


def _check_fits(size, height, width, what):
    if size > height or size > width:
        raise ValueError(f"{what}: a {size}x{size} crop does not fit in a {height}x{width} image; "
                         "expected a crop at most the image's shorter side")


def center_crop(pixels, size):
    """The central ``size`` x ``size`` window of an (H, W, ...) array, placed as torchvision places it."""
    height, width = pixels.shape[:2]
    _check_fits(size, height, width, "center crop")
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return pixels[top:top + size, left:left + size]


def five_crop(pixels, size):
    """The four corner windows and the central one of an (H, W, ...) array, stacked: (5, size, size, ...)
    in torchvision's order (top-left, top-right, bottom-left, bottom-right, center)."""
    height, width = pixels.shape[:2]
    _check_fits(size, height, width, "five crop")
    bottom, right = height - size, width - size
    corners = [pixels[top:top + size, left:left + size] for top, left in ((0, 0), (0, right), (bottom, 0),
                                                                         (bottom, right))]
    return np.stack(corners + [center_crop(pixels, size)])


def to_tensor(pixels):
    """(..., H, W, 3) uint8 pixels as (..., 3, H, W) float32 in [0, 1] (torchvision divides by 255 in float32)."""
    return np.moveaxis(np.asarray(pixels), -1, -3).astype(np.float32) / np.float32(255)


def normalize(x, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """(x - mean) / std per channel of (..., 3, H, W) float32 ``x``, with float32 mean and std as torchvision."""
    mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    return (x - mean) / std


@dataclass(frozen=True)
class Scheme:
    """A way of preparing a PIL RGB image for a network: resize the shorter side to ``resize``,
    take one central ``crop`` x ``crop`` window (``crops=1``) or five (``crops=5``), scale to [0, 1]
    and, if ``normalized``, normalise with ImageNet's mean and std.

    Calling it returns (3, crop, crop) float32 for one crop and (5, 3, crop, crop) for five,
    the shapes torchvision's ``Compose([..., CenterCrop, ToTensor(), ...])`` and ``FiveCrop``
    followed by stacking the crops give."""

    name: str
    resize: int
    crop: int
    crops: int = 1
    normalized: bool = True

    def __post_init__(self):
        if self.crops not in (1, 5):
            raise ValueError(f"scheme {self.name!r}: crops must be 1 (center) or 5 (corners and center), "
                             f"got {self.crops}")
        if self.crop > self.resize:
            raise ValueError(f"scheme {self.name!r}: a {self.crop} crop does not fit in an image resized to "
                             f"{self.resize}; expected crop <= resize")

    @property
    def input_shape(self):
        """The shape of one crop as the network sees it: (3, crop, crop)."""
        return (3, self.crop, self.crop)

    def __call__(self, img):
        pixels = np.asarray(resize_shorter(img, self.resize))
        pixels = center_crop(pixels, self.crop) if self.crops == 1 else five_crop(pixels, self.crop)
        x = to_tensor(pixels)
        return normalize(x) if self.normalized else x

    def describe(self):
        """One line saying what the scheme does, in torchvision's terms."""
        crop = f"CenterCrop({self.crop})" if self.crops == 1 else f"FiveCrop({self.crop}), logits averaged"
        return f"Resize({self.resize}), {crop}, ToTensor()" + (", Normalize(ImageNet mean, std)"
                                                                 if self.normalized else "")


SCHEMES = {scheme.name: scheme for scheme in (
    Scheme("center224", resize=224, crop=224),
    Scheme("center224-raw", resize=224, crop=224, normalized=False),
    Scheme("five224", resize=280, crop=224, crops=5),
    Scheme("five330", resize=330, crop=330, crops=5),
)}


def get_scheme(scheme):
    """A :class:`Scheme` by name (or the Scheme itself); an unknown name is a ValueError naming the choices."""
    if isinstance(scheme, Scheme):
        return scheme
    if scheme not in SCHEMES:
        raise ValueError(f"unknown transform {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return SCHEMES[scheme]
