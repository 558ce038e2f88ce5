"""Batches of faces and non-faces from a face h5 file, read lazily: lab 2, part 2's data loader.

:class:`FaceLoader` reads the synthetic files (:func:`mitdeeplearning.faces.synthetic_faces_path`)
and the course's real ``train_face.h5`` alike. It reads only the rows a batch needs, and every
image it returns is float32 RGB in ``[0, 1]`` of shape (n, 64, 64, 3): the conversion from what the
file stores happens in one place, :meth:`FaceLoader.read_images`. The 2020/21 course's forms of the
loader (``TrainingDatasetLoader`` with its raw BGR faces and tenth-of-an-epoch steps) are in
:mod:`mitdeeplearning.compat2021.lab2`.
"""

import pathlib

import numpy as np

from .face_files import channel_order, pixel_format, to_rgb_float
from .faces import group_of

__all__ = ["FaceLoader"]


class FaceLoader:
    """Batches from a face / non-face h5 file with datasets ``images`` (N, H, W, 3) and ``labels`` (N, 1).

    Attributes: ``pos_train_inds`` and ``neg_train_inds`` (the rows of the faces and non-faces),
    ``labels`` (N, 1) float32, ``tone`` and ``hair`` (the synthetic files' face attributes, else
    None), ``reads`` (rows read from disk so far).
    """

    def __init__(self, data_path):
        import h5py

        self.data_path = pathlib.Path(data_path)
        if not self.data_path.is_file():
            raise FileNotFoundError(
                f"{self.data_path} does not exist. Use mdl.lab2.synthetic_faces_path() for the "
                f"offline dataset or mdl.data.fetch('train_face.h5') for the course's real file."
            )
        self.cache = h5py.File(self.data_path, "r")
        try:
            for name in ("images", "labels"):
                if name not in self.cache:
                    raise KeyError(f"{self.data_path} has no dataset {name!r}; it is not a face h5 file.")
            self.images = self.cache["images"]  # an h5py Dataset: nothing is read until indexed
            self.channel_order = channel_order(self.cache)
            self._scale, self._grey = pixel_format(self.images, self.data_path)
        except (KeyError, ValueError):
            self.cache.close()
            raise
        self.labels = self.cache["labels"][:].astype(np.float32).reshape(-1, 1)
        self.image_dims = tuple(self.images.shape[1:3]) + (3,)
        self.train_inds = np.arange(len(self.labels))
        self.pos_train_inds = self.train_inds[self.labels[:, 0] == 1.0]
        self.neg_train_inds = self.train_inds[self.labels[:, 0] != 1.0]
        self.tone = self.cache["tone"][:] if "tone" in self.cache else None
        self.hair = self.cache["hair"][:] if "hair" in self.cache else None
        self.reads = 0
        self._rng = None  # the batch order's generator: see seed()

    def read_images(self, inds):
        """Float32 RGB images in [0, 1] for row indices ``inds`` (any order, repeats allowed)."""
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        if len(inds) == 0:
            return np.zeros((0,) + tuple(self.image_dims), np.float32)
        unique, inverse = np.unique(inds, return_inverse=True)
        raw = self.read_rows(unique)
        return to_rgb_float(raw[inverse], self.channel_order, self._scale, self._grey)

    def read_rows(self, rows):
        """The stored images of the distinct ``rows``, as the file holds them (no conversion)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self.reads += len(rows)
        if len(rows) == 0:
            return np.zeros((0,) + tuple(self.images.shape[1:]), self.images.dtype)
        # one read per row: h5py's list indexing (images[rows]) is about 100 times slower per row
        return np.stack([self.images[i] for i in rows.tolist()])

    def get_train_size(self):
        """The number of training images, faces and non-faces."""
        return len(self.train_inds)

    def get_batch(self, n, only_faces=False, p_pos=None, p_neg=None, return_inds=False):
        """A batch of ``n`` images and labels: half faces, half non-faces (or only faces).

        ``p_pos`` (over the faces, in the order of ``pos_train_inds``) and ``p_neg`` (over the
        non-faces) are sampling probabilities; ``None`` means uniform. Faces are drawn *with*
        replacement when ``p_pos`` is given, so a heavily weighted face can appear twice.
        Raises ``ValueError`` for a batch size that is not a positive integer, larger than the
        training set, or asking for more distinct faces / non-faces than the file holds.
        """
        _check_batch_size(self, n, only_faces, p_pos, p_neg)
        # unseeded, draw from NumPy's global generator, which keras.utils.set_random_seed seeds:
        # never from fresh OS entropy, which no seed could repeat
        rng = self._rng if self._rng is not None else np.random
        if p_pos is not None:
            p_pos = _check_probabilities(p_pos, len(self.pos_train_inds), "p_pos")
        if p_neg is not None:
            p_neg = _check_probabilities(p_neg, len(self.neg_train_inds), "p_neg")
        if only_faces:
            selected = rng.choice(self.pos_train_inds, size=n, replace=p_pos is not None or n > len(self.pos_train_inds), p=p_pos)
        else:
            n_pos = n // 2
            pos = rng.choice(self.pos_train_inds, size=n_pos, replace=p_pos is not None, p=p_pos)
            neg = rng.choice(self.neg_train_inds, size=n - n_pos, replace=p_neg is not None, p=p_neg)
            selected = np.concatenate([pos, neg])
        images = self.read_images(selected)
        labels = self.labels[selected]
        return (images, labels, selected) if return_inds else (images, labels)

    def seed(self, seed):
        """Give :meth:`get_batch` its own generator, seeded with ``seed``; returns the loader.

        Unseeded, the loader draws from NumPy's global generator (``np.random.seed`` or
        ``keras.utils.set_random_seed`` make that reproducible too).
        """
        self._rng = np.random.default_rng(seed)
        return self

    def get_n_most_prob_faces(self, prob, n):
        """The ``n`` training faces with the highest probability ``prob`` (one entry per face), most likely first."""
        prob = np.asarray(prob).reshape(-1)
        if len(prob) != len(self.pos_train_inds):
            raise ValueError(f"prob has {len(prob)} entries, expected one per training face ({len(self.pos_train_inds)})")
        return self.read_images(self.pos_train_inds[np.argsort(prob)[::-1][:n]])

    def iter_train_faces(self, batch_size=512):
        """All training faces in the order of ``pos_train_inds``, ``batch_size`` at a time."""
        for start in range(0, len(self.pos_train_inds), batch_size):
            yield self.read_images(self.pos_train_inds[start:start + batch_size])

    def face_groups(self):
        """Group index (``faces.GROUPS``) of every training face, or None if the file has no attributes.

        For evaluation and the oracle only: a debiasing model never sees this.
        """
        if self.tone is None or self.hair is None:
            return None
        return group_of(self.tone[self.pos_train_inds], self.hair[self.pos_train_inds])

    def close(self):
        self.cache.close()


def _check_batch_size(loader, n, only_faces, p_pos, p_neg):
    """Raise ``ValueError`` saying why when ``loader`` cannot draw a batch of ``n`` as asked."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the batch size n must be a positive integer, got {n!r}")
    path, n_faces, n_other = loader.data_path, len(loader.pos_train_inds), len(loader.neg_train_inds)
    if n > loader.get_train_size():
        raise ValueError(f"a batch of {n} images is larger than the whole training set of {loader.get_train_size()} "
                         f"in {path}; use a batch size such as 32 or 64")
    if n_faces == 0:
        raise ValueError(f"{path} holds no faces (no label 1), so no batch can be drawn")
    if only_faces:
        return
    if n_other == 0:
        raise ValueError(f"{path} holds no non-faces (label 0); draw faces only with only_faces=True")
    for count, available, p, what, arg in ((n // 2, n_faces, p_pos, "faces", "p_pos"),
                                           (n - n // 2, n_other, p_neg, "non-faces", "p_neg")):
        if p is None and count > available:
            raise ValueError(f"a batch of {n} takes {count} distinct {what}, but {path} holds only {available}; use a "
                             f"batch of at most {2 * available} or pass {arg} (sampling with replacement)")


def _check_probabilities(p, n, name):
    """``p`` as float64 summing to exactly 1; ``ValueError`` for a wrong length, sign or sum."""
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(p) != n:
        raise ValueError(f"{name} has {len(p)} entries, expected {n}")
    if np.any(p < 0) or not np.isfinite(p).all():
        raise ValueError(f"{name} must be finite and non-negative")
    total = p.sum()
    if not np.isclose(total, 1.0, atol=1e-3):
        raise ValueError(f"{name} must sum to 1, got {total:.4f}")
    return p / total
