"""``cs231n.vis_utils``: ``visualize_grid`` (:func:`tallynet.plot.image_grid`)."""

from ..plot import image_grid


def visualize_grid(Xs, ubound=255.0, padding=1):
    """The course's signature: Xs (N, H, W, C) tiled into one image, each rescaled to [0, ubound]."""
    return image_grid(Xs, ubound, padding)


__all__ = ["visualize_grid"]
