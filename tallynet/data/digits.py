"""scikit-learn's bundled 8x8 handwritten digits: 1797 grey images, 10 classes, values 0..16.

The images ship inside scikit-learn (no download); install it with
``pip install "tallynet[data]"``.
"""

from .preprocess import split_and_preprocess

DIGITS_MAX_VALUE = 16


def load_digits(num_val=180, num_test=360, num_train=None, seed=0, mean="channel"):
    """Load the digits, split them at random into train/val/test and preprocess them.

    - num_val, num_test: validation and test images drawn at random (not stratified)
    - num_train: training images kept out of the remaining ones, None for all
      (the default split is 1257 / 180 / 360)
    - seed, mean: see :func:`tallynet.data.split_and_preprocess`

    Returns the Solver's data dict: images float32 of shape (n, 1, 8, 8) equal to
    ``value / 16 - mean`` with ``mean`` (returned too) the training split's mean,
    labels int64 in 0..9.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as e:
        raise ImportError(
            'load_digits needs scikit-learn, which bundles the digits: pip install "tallynet[data]"'
        ) from e
    digits = sklearn_load_digits()
    return split_and_preprocess(digits.images[:, None], digits.target,
                                max_value=DIGITS_MAX_VALUE, num_val=num_val, num_test=num_test,
                                num_train=num_train, seed=seed, mean=mean)
