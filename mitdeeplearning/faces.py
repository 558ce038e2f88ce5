"""Face / non-face data for lab 2, part 2: a synthetic offline dataset and the course's real file.

Synthetic faces (the offline default)
-------------------------------------
:func:`make_synthetic_faces` draws 64×64×3 cartoon faces and non-faces with NumPy, vectorised,
deterministically from a seed. Every face has

* a **skin tone** ``tone`` on a continuous light-to-dark scale in ``[0, 1]``; *lighter* faces have
  ``tone < 0.45``, *darker* faces ``tone > 0.55`` (the gap keeps the two groups unambiguous);
* a **hair length** ``hair`` (0 = short, 1 = long; long hair falls beside the face) — the second
  visible attribute, standing in for the course's female/male split of the Pilot Parliaments
  Benchmark;
* jitter in head shape, position, scale and pose (in-plane rotation), hair colour, eye/brow/mouth
  shapes, lighting direction and exposure, and a cluttered background (gradients, blotches,
  shapes).

**How the bias arises.** Two things make darker faces harder, both modelled on documented problems
of real photo collections: they are *rare* in the training set (``darker_fraction``, default 0.5 %),
and they are photographed with an exposure calibrated for lighter skin, so they come out darker
overall and their features have less contrast (``darker_exposure``, ``darker_contrast``). A
detector trained on such data sees few examples of that mode and learns it last.

Non-faces are cluttered backgrounds, stripe/check textures, random shapes, and *featureless*
face-coloured head-like blobs (skin tones drawn from the training faces' distribution, sometimes
with hair), so colour alone does not identify a face.

The **test set** is balanced: ``n_test_per_group`` faces in each of the four groups
(:data:`GROUPS`) plus as many non-faces as faces.

Files
-----
:func:`synthetic_faces_path` generates (once) and caches the dataset as an HDF5 file laid out like
the course's ``train_face.h5`` — datasets ``images`` (N×64×64×3 uint8) and ``labels`` (N×1) — plus
``tone``, ``hair`` and the test split, with ``attrs["channel_order"] = "rgb"`` (the layout:
:mod:`.face_files`). :class:`~mitdeeplearning.face_loader.FaceLoader` reads either file lazily with
h5py; :func:`load_test_set` reads the synthetic file's balanced test split. The faces themselves are
drawn by :mod:`.face_painter`.

The real data (online option)
-----------------------------
``mitdeeplearning.data.fetch("train_face.h5")`` downloads the course's CelebA + ImageNet file
(about 1.3 GB). Its images are stored in **BGR** order; the loader converts every read to **RGB** in
one place, so all its methods agree. (The 2020/21 forms of the loader live in
:mod:`mitdeeplearning.compat2021.lab2`.)
"""

import hashlib
import json
import pathlib

import numpy as np

from . import face_painter
from .face_files import CacheSpaceError, channel_order, pixel_format, to_rgb_float, write_h5
from .face_painter import SIZE

__all__ = [
    "GROUPS",
    "SIZE",
    "DARKER_FRACTION",
    "make_synthetic_faces",
    "group_of",
    "synthetic_faces_path",
    "load_test_set",
    "write_h5",
    "CacheSpaceError",
]

#: the four evaluation groups, in the order used everywhere (skin tone × hair length)
GROUPS = ("lighter, short hair", "lighter, long hair", "darker, short hair", "darker, long hair")
#: the default skew: share of darker-skinned faces in the training set (the one place that sets it;
#: the lab 2 notebook's parameters cell and the benchmark take it from here). At 1 % the standard
#: CNN's gap was under 10 points in about half the seeds, so one student run often showed no bias
#: to repair; at 0.5 % it showed one in 8 of the 10 seeds tried (see RESULTS.md for fresh seeds).
DARKER_FRACTION = 0.005


def _face_attributes(rng, n, darker_fraction, cfg):
    darker = rng.random(n) < darker_fraction
    tone = np.where(darker, rng.uniform(0.55, 1.0, n), rng.uniform(0.0, 0.45, n)).astype(np.float32)
    hair = (rng.random(n) < 0.5).astype(np.int64)
    exposure = np.where(
        darker,
        rng.uniform(*cfg["darker_exposure"], n),
        rng.uniform(0.85, 1.1, n),
    ).astype(np.float32)
    contrast = np.where(darker, cfg["darker_contrast"], 1.0).astype(np.float32)
    return tone, hair, exposure, contrast


def make_synthetic_faces(
    n_train_faces=6000,
    n_train_nonfaces=6000,
    n_test_per_group=100,
    darker_fraction=DARKER_FRACTION,
    darker_exposure=(0.5, 0.7),
    darker_contrast=0.45,
    seed=0,
    chunk=1000,
    progress=True,
):
    """Draw a synthetic face / non-face dataset; the same arguments always give the same arrays.

    Parameters
    ----------
    n_train_faces, n_train_nonfaces : int
        Training set sizes. Faces are darker-skinned with probability ``darker_fraction``.
    n_test_per_group : int
        Faces per test group (:data:`GROUPS`); the test set also gets ``4 * n_test_per_group``
        non-faces.
    darker_fraction : float
        Share of darker-skinned faces in the *training* set (the skew). The test set is balanced.
    darker_exposure : (float, float)
        Range of the exposure factor of darker faces (lighter faces: 0.85–1.1).
    darker_contrast : float
        Contrast of darker faces' features relative to the skin (lighter faces: 1.0).
    seed : int
        Seed of everything random.

    Returns
    -------
    dict of NumPy arrays
        ``train_images`` uint8 (N, 64, 64, 3) RGB, ``train_labels`` float32 (N, 1) (1 = face),
        ``train_tone`` float32 (N,) (NaN for non-faces), ``train_hair`` int64 (N,) (-1 for non-faces),
        and the same four with the prefix ``test_``; faces and non-faces are interleaved at random.
    """
    from .util import tqdm

    cfg = {"darker_exposure": tuple(darker_exposure), "darker_contrast": float(darker_contrast)}
    root = np.random.default_rng(seed)
    # independent streams for train and test, so the test set does not depend on the train size
    train_rng, test_rng = (np.random.default_rng(s) for s in root.integers(0, 2**63, size=2))
    yy, xx = face_painter.grid()
    total = n_train_faces + n_train_nonfaces + 8 * n_test_per_group
    bar = tqdm(total=total, desc="drawing synthetic faces", unit="img", disable=not progress)

    def faces(rng, tone, hair, exposure, contrast):
        out = []
        for start in range(0, len(tone), chunk):
            sl = slice(start, start + chunk)
            m = len(tone[sl])
            out.append(face_painter.to_uint8(face_painter.draw_faces(rng, m, tone[sl], hair[sl], exposure[sl], contrast[sl], yy, xx)))
            bar.update(m)
        return np.concatenate(out) if out else np.zeros((0, SIZE, SIZE, 3), np.uint8)

    def nonfaces(rng, n, tone_source):
        out = []
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            # blobs take skin tones from the faces of the same split, so colour alone is no cue
            blob_tones = tone_source[rng.integers(0, len(tone_source), m)] if len(tone_source) else rng.random(m)
            out.append(face_painter.to_uint8(face_painter.draw_nonfaces(rng, m, blob_tones, yy, xx)))
            bar.update(m)
        return np.concatenate(out) if out else np.zeros((0, SIZE, SIZE, 3), np.uint8)

    result = {}
    # training split: skewed
    tone, hair, exposure, contrast = _face_attributes(train_rng, n_train_faces, darker_fraction, cfg)
    face_imgs = faces(train_rng, tone, hair, exposure, contrast)
    nonface_imgs = nonfaces(train_rng, n_train_nonfaces, tone)
    result.update(_interleave("train", train_rng, face_imgs, tone, hair, nonface_imgs))
    # test split: balanced groups
    k = n_test_per_group
    darker = np.repeat([False, False, True, True], k)
    t_hair = np.tile(np.repeat([0, 1], k), 2).astype(np.int64)
    t_tone = np.where(darker, test_rng.uniform(0.55, 1.0, 4 * k), test_rng.uniform(0.0, 0.45, 4 * k)).astype(np.float32)
    t_exposure = np.where(darker, test_rng.uniform(*cfg["darker_exposure"], 4 * k), test_rng.uniform(0.85, 1.1, 4 * k)).astype(np.float32)
    t_contrast = np.where(darker, cfg["darker_contrast"], 1.0).astype(np.float32)
    face_imgs = faces(test_rng, t_tone, t_hair, t_exposure, t_contrast)
    nonface_imgs = nonfaces(test_rng, 4 * k, t_tone)
    result.update(_interleave("test", test_rng, face_imgs, t_tone, t_hair, nonface_imgs))
    bar.close()
    return result


def _interleave(prefix, rng, faces, tone, hair, nonfaces):
    images = np.concatenate([faces, nonfaces])
    labels = np.concatenate([np.ones(len(faces)), np.zeros(len(nonfaces))]).astype(np.float32)[:, None]
    tones = np.concatenate([tone, np.full(len(nonfaces), np.nan, np.float32)]).astype(np.float32)
    hairs = np.concatenate([hair, np.full(len(nonfaces), -1)]).astype(np.int64)
    order = rng.permutation(len(images))
    return {
        f"{prefix}_images": images[order],
        f"{prefix}_labels": labels[order],
        f"{prefix}_tone": tones[order],
        f"{prefix}_hair": hairs[order],
    }


def group_of(tone, hair):
    """Group index into :data:`GROUPS` for faces (tone, hair); -1 for non-faces (NaN tone)."""
    tone = np.asarray(tone)
    hair = np.asarray(hair)
    group = 2 * (tone > 0.5).astype(np.int64) + hair.astype(np.int64)
    return np.where(np.isnan(tone), -1, group)


_REQUIRED_DATASETS = ("images", "labels", "tone", "hair", "test_images", "test_labels", "test_tone", "test_hair")


def _check_cached_faces(path):
    """Raise ``OSError``/``ValueError`` saying why if a cached synthetic file cannot be read whole."""
    import h5py

    with h5py.File(path, "r") as f:
        missing = [name for name in _REQUIRED_DATASETS if name not in f]
        if missing:
            raise ValueError(f"it lacks the datasets {missing}")
        for name in _REQUIRED_DATASETS:  # the last row lies at the end of the file: a cut is seen
            dataset = f[name]
            if len(dataset):
                dataset[len(dataset) - 1]


def synthetic_faces_path(cache_dir=None, progress=True, **kwargs):
    """Path of the cached synthetic dataset for these arguments, generating it on first use.

    ``kwargs`` are those of :func:`make_synthetic_faces`; the file name carries a hash of them,
    so different settings never overwrite each other.
    """
    from . import data

    import inspect

    # the generator's own defaults, so that the two can never disagree
    params = {
        name: p.default
        for name, p in inspect.signature(make_synthetic_faces).parameters.items()
        if name not in ("chunk", "progress")
    }
    unknown = set(kwargs) - set(params)
    if unknown:
        raise TypeError(f"unknown synthetic-face options {sorted(unknown)}; valid: {sorted(params)}")
    params.update(kwargs)
    params["darker_exposure"] = [float(v) for v in params["darker_exposure"]]
    key = json.dumps({"version": 1, **params}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = pathlib.Path(cache_dir) if cache_dir is not None else data.data_dir()
    path = folder / f"synthetic_faces_{digest}.h5"
    if path.is_file():
        try:
            _check_cached_faces(path)
        except Exception as exc:  # h5py raises OSError, KeyError, ValueError... for a damaged file
            print(f"The cached {path} is corrupt ({type(exc).__name__}: {str(exc)[:120]}); generating it again.")
            path.unlink()
    if not path.is_file():
        arrays = make_synthetic_faces(progress=progress, **params)
        write_h5(path, arrays, channel_order="rgb", meta=params)
    return path


def load_test_set(path):
    """The synthetic file's test split: (images float32 RGB, labels (N, 1), groups (N,) with -1 = non-face)."""
    import h5py

    with h5py.File(path, "r") as f:
        if "test_images" not in f:
            raise KeyError(
                f"{path} has no test split (test_images). Only the synthetic files carry one; for the "
                f"course's real data, evaluate on your own labelled photos."
            )
        scale, grey = pixel_format(f["test_images"], path)
        images = to_rgb_float(f["test_images"][:], channel_order(f), scale, grey)
        labels = f["test_labels"][:].astype(np.float32).reshape(-1, 1)
        groups = group_of(f["test_tone"][:], f["test_hair"][:])
    return images, labels, groups
