"""Reading JPEGs with Pillow (the ``tallynet[imagenet]`` extra), imported only when an image is read."""

import os


def pillow():
    """The ``PIL.Image`` module, or an ImportError saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading ImageNet's JPEGs needs Pillow: pip install 'tallynet[imagenet]'") from None
    return Image


def open_rgb(path):
    """The image at ``path`` decoded in full and converted to RGB, as torchvision's ``pil_loader``
    does (ImageNet's validation set holds grayscale "L" and CMYK JPEGs too). A file Pillow cannot
    decode (truncated, corrupt, not an image) is a ValueError naming it."""
    Image = pillow()
    path = os.fspath(path)
    try:
        with Image.open(path) as img:
            return img.convert("RGB")  # convert() decodes the whole file, so a truncated one fails here
    except FileNotFoundError:
        raise FileNotFoundError(f"image {path!r} does not exist") from None
    except (OSError, SyntaxError, ValueError) as err:  # UnidentifiedImageError is an OSError
        raise ValueError(f"cannot read image {path!r} (corrupt or not a JPEG?): {err}") from None
