"""Lab 2's 2020/21 call forms: the course's face loader and test faces, as they behaved then.

Thin wrappers over today's :class:`~mitdeeplearning.face_loader.FaceLoader` and
:func:`~mitdeeplearning.faces.load_test_set`; ``mdl.lab2`` re-exports them, and
``docs/COMPATIBILITY.md`` lists what each returns.
"""

import numpy as np

from .. import faces
from ..face_loader import FaceLoader

__all__ = ["TrainingDatasetLoader", "get_test_faces", "FaceGroups", "COMPAT_GROUP_ORDER"]


class TrainingDatasetLoader(FaceLoader):
    """The 2020/21 loader: today's :class:`FaceLoader` plus the old constructor and methods.

    ``channels_last=False`` returns (n, 3, 64, 64) images (the 2024 course API); ``training`` is
    accepted and unused (the synthetic files hold their test split separately).
    """

    def __init__(self, data_path, channels_last=True, training=True):
        super().__init__(data_path)
        self.channels_last = channels_last
        self.training = training

    def read_images(self, inds):
        images = super().read_images(inds)
        return images if self.channels_last else np.transpose(images, (0, 3, 1, 2))

    def get_train_steps_per_epoch(self, batch_size, factor=10, *, only_faces=False):
        """Training images (or faces) // ``factor`` // ``batch_size``, as in 2020/21.

        ``factor=10`` (the old default) gives the steps of a tenth of an epoch, which is what the
        2020/21 notebooks trained for; ``factor=1`` gives the steps of a whole epoch.
        """
        for name, value in (("batch_size", batch_size), ("factor", factor)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        n = len(self.pos_train_inds) if only_faces else self.get_train_size()
        return n // factor // batch_size

    def get_n_most_prob_faces(self, prob, n, *, step=1):
        """Today's top ``n`` faces; ``step=10`` takes every 10th face of the top ``10 n`` instead,
        the 2020/21 helper's selection (a spread over the most likely faces rather than the very top)."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(f"step must be a positive integer, got {step!r}")
        return super().get_n_most_prob_faces(prob, n * step)[::step]

    def get_all_train_faces(self, *, as_float=False):
        """All training faces, in the order of ``pos_train_inds``; reads them all at once.

        By default what the 2020/21 helper returned: the images as the course's file stores them,
        **uint8 in 0-255, BGR** (a synthetic RGB file is flipped to BGR, so every file gives the
        same order). ``as_float=True`` returns float32 RGB in ``[0, 1]`` instead, like
        :meth:`get_batch`; today's :meth:`iter_train_faces` gives the same in batches.
        """
        if as_float:
            return self.read_images(self.pos_train_inds)
        inds = self.pos_train_inds
        raw = self.read_rows(inds)
        if self.channel_order == "rgb" and not self._grey:  # grayscale has no channel order
            raw = raw[..., ::-1]
        if not self.channels_last:
            raw = np.transpose(raw, (0, 3, 1, 2))
        return np.ascontiguousarray(raw)


class FaceGroups(tuple):
    """Test faces by group: a tuple of image arrays that carries each group's name.

    Positional use works as in 2020/21 (``for group in faces``, ``faces[0]``); ``names`` says what
    each position holds, ``faces["darker, long hair"]`` picks a group by name, and ``items()``
    yields ``(name, images)`` pairs.
    """

    def __new__(cls, names, arrays):
        self = super().__new__(cls, arrays)
        self.names = tuple(names)
        if len(self.names) != len(self):
            raise ValueError(f"{len(self.names)} names for {len(self)} groups")
        return self

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.names:
                raise KeyError(f"no test-face group {key!r}; the groups are {list(self.names)}")
            key = self.names.index(key)
        return super().__getitem__(key)

    def items(self):
        return list(zip(self.names, self))

    def __repr__(self):
        return "FaceGroups(" + ", ".join(f"{n!r}: {len(a)} faces" for n, a in self.items()) + ")"


# The 2020/21 helper returned its four groups in the order Light Female, Light Male, Dark Female,
# Dark Male, and its notebooks label them by position. The synthetic faces have skin tone and hair
# length (standing in for the female/male split), so the positions hold these groups:
COMPAT_GROUP_ORDER = (faces.GROUPS[1], faces.GROUPS[0], faces.GROUPS[3], faces.GROUPS[2])
_COMPAT_LABELS = ("Light Female", "Light Male", "Dark Female", "Dark Male")


def get_test_faces(path=None, *, n_per_group=5, verbose=True):
    """Balanced test faces by group: a :class:`FaceGroups` of four float64 RGB arrays in [0, 1].

    As in 2020/21: a tuple of four groups of ``n_per_group`` (default 5) faces each, shape
    (n_per_group, 64, 64, 3), in the positions of the old groups. The groups are *synthetic* faces
    (see :data:`COMPAT_GROUP_ORDER`): position 0 is "lighter, long hair" where 2020/21 had
    "Light Female", 1 "lighter, short hair" (Light Male), 2 "darker, long hair" (Dark Female),
    3 "darker, short hair" (Dark Male). The result's ``names`` say so, and ``verbose`` prints the
    mapping, so that a notebook labelling the positions by the old names is told what they hold.
    ``n_per_group=None`` gives every test face of each group. Today's
    :func:`~mitdeeplearning.faces.load_test_set` returns the whole test split with a group index per image.
    """
    if n_per_group is not None and (isinstance(n_per_group, bool) or not isinstance(n_per_group, (int, np.integer))
                                    or n_per_group < 1):
        raise ValueError(f"n_per_group must be a positive integer or None, got {n_per_group!r}")
    if path is None:
        path = faces.synthetic_faces_path()
    images, _, groups = faces.load_test_set(path)
    arrays = []
    for name in COMPAT_GROUP_ORDER:
        members = images[groups == faces.GROUPS.index(name)]
        if n_per_group is not None:
            if len(members) < n_per_group:
                raise ValueError(f"{path} holds {len(members)} test faces of group {name!r}, fewer than n_per_group={n_per_group}")
            members = members[:n_per_group]
        arrays.append(members.astype(np.float64))
    if verbose:
        mapping = "; ".join(f"[{i}] {name} (2020/21: {old})" for i, (name, old) in enumerate(zip(COMPAT_GROUP_ORDER, _COMPAT_LABELS)))
        print(f"Test faces, {len(arrays[0])} per group, synthetic (skin tone x hair length): {mapping}")
    return FaceGroups(COMPAT_GROUP_ORDER, arrays)
