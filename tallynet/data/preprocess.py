"""Split a dataset into train/val/test and preprocess it, shared by every loader.

Preprocessing, applied in this order to all three splits:

1. scale the raw pixel values to [0, 1]: ``x = raw / max_value`` (``max_value`` is
   255 for uint8 images, 16 for scikit-learn's digits);
2. subtract the mean of the *training* split only, so that no statistic leaks from
   the validation or test images: ``x = x - mean``.

``mean="channel"`` uses one mean per channel, shape (C, 1, 1); ``mean="pixel"`` one
per channel and position, shape (C, H, W). The mean is returned under the key
``"mean"`` so that ``X + mean`` gives back the scaled images in [0, 1] (e.g. to
display them) and ``(X + mean) * max_value`` the raw values.
"""

import numpy as np

from ..layers._checks import check_choice, check_int

MEAN_MODES = ("channel", "pixel")


def split_and_preprocess(X, y, *, max_value, num_val, num_test=None, X_test=None,
                         y_test=None, num_train=None, seed=0, mean="channel"):
    """Split images into train/val/test, scale them to [0, 1] and subtract the train mean.

    - X: images of shape (N, C, H, W), any real dtype, values in [0, max_value]
    - y: labels of shape (N,)
    - max_value: the largest possible raw value (255 for uint8 pixels)
    - num_val: validation images, drawn at random from X
    - num_test: without ``X_test``, test images drawn at random from X (required);
      with ``X_test``, a random subset of that size of the given test set
      (``None`` keeps all of it)
    - X_test, y_test: an official test split of shapes (M, C, H, W) and (M,), or None
    - num_train: training images to keep out of those left after val/test
      (``None`` keeps all of them)
    - seed: seed of the permutation (``numpy.random.default_rng(seed)``)
    - mean: "channel" or "pixel", see the module docstring

    Returns a dict with ``X_train, y_train, X_val, y_val, X_test, y_test`` (images
    float32 C-contiguous (n, C, H, W), labels int64 (n,)) and ``mean``, float32 of
    shape (C, 1, 1) or (C, H, W): every ``X_*`` equals ``raw / max_value - mean``.
    """
    check_choice("mean", mean, MEAN_MODES)
    _check_images("X", X, "y", y)
    n = X.shape[0]
    num_val = check_int("num_val", num_val, 1)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    val_idx, rest = perm[:num_val], perm[num_val:]

    if X_test is None:
        if num_test is None:
            raise ValueError("num_test is required when no separate test set (X_test) is given")
        num_test = check_int("num_test", num_test, 1)
        test_idx, rest = rest[:num_test], rest[num_test:]
        X_test, y_test = X, y
    else:
        _check_images("X_test", X_test, "y_test", y_test)
        if X_test.shape[1:] != X.shape[1:]:
            raise ValueError(f"X_test has images of shape {X_test.shape[1:]}, expected {X.shape[1:]} like X")
        test_idx = np.arange(X_test.shape[0])
        if num_test is not None:
            num_test = check_int("num_test", num_test, 1)
            if num_test > X_test.shape[0]:
                raise ValueError(f"num_test={num_test} exceeds the {X_test.shape[0]} test images available")
            test_idx = rng.permutation(X_test.shape[0])[:num_test]

    if rest.size == 0:
        taken = f"num_val={num_val}" + (f" and num_test={num_test}" if X_test is X else "")
        raise ValueError(f"{taken} take all {n} images, leaving none for training")
    if num_train is not None:
        num_train = check_int("num_train", num_train, 1)
        if num_train > rest.size:
            raise ValueError(
                f"num_train={num_train} exceeds the {rest.size} images left for training "
                f"({n} images minus the validation and test splits)"
            )
        rest = rest[:num_train]

    scale = np.float32(max_value)
    # Fancy indexing copies into a fresh C-contiguous array; scaling in place keeps
    # peak memory at one float32 copy of each split (CIFAR-10's train split is 600 MB).
    splits = {name: (images[idx].astype(np.float32), labels[idx].astype(np.int64))
              for name, images, labels, idx in (("train", X, y, rest), ("val", X, y, val_idx),
                                                ("test", X_test, y_test, test_idx))}
    for images, _ in splits.values():
        images /= scale
    axes = (0, 2, 3) if mean == "channel" else (0,)
    # Accumulate in float64: a float32 running sum over 50000 x 1024 values drifts.
    mu = splits["train"][0].mean(axis=axes, dtype=np.float64, keepdims=True)[0].astype(np.float32)
    data = {}
    for name, (images, labels) in splits.items():
        images -= mu
        data[f"X_{name}"], data[f"y_{name}"] = images, labels
    data["mean"] = mu
    return data


def _check_images(x_name, x, y_name, y):
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        got = f"shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{x_name} must be an array of images of shape (N, C, H, W), got {got}")
    if not isinstance(y, np.ndarray) or y.shape != (x.shape[0],):
        got = f"shape {y.shape}" if isinstance(y, np.ndarray) else type(y).__name__
        raise ValueError(f"{y_name} must be an array of shape ({x.shape[0]},) to match {x_name}, got {got}")
