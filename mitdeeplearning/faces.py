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
of real photo collections: they are *rare* in the training set (``darker_fraction``, default 1 %),
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
``tone``, ``hair`` and the test split, with ``attrs["channel_order"] = "rgb"``. The same
:class:`TrainingDatasetLoader` reads either file lazily with h5py.

The real data (online option)
-----------------------------
``mitdeeplearning.data.fetch("train_face.h5")`` downloads the course's CelebA + ImageNet file
(≈ 1.3 GB). Its images are stored in **BGR** order (the 2020 course loader flipped them in one
method and not in another); :class:`TrainingDatasetLoader` converts every read to **RGB** in one
place, so all its methods agree, except ``get_all_train_faces()``, which keeps what it returned in
2021 (the raw uint8 BGR images) unless called with ``as_float=True``.
"""

import hashlib
import json
import os
import pathlib

import numpy as np

__all__ = [
    "GROUPS",
    "SIZE",
    "DARKER_FRACTION",
    "make_synthetic_faces",
    "synthetic_faces_path",
    "write_h5",
    "CacheSpaceError",
    "TrainingDatasetLoader",
    "load_test_set",
    "get_test_faces",
    "FaceGroups",
]

SIZE = 64
#: the four evaluation groups, in the order used everywhere (skin tone × hair length)
GROUPS = ("lighter, short hair", "lighter, long hair", "darker, short hair", "darker, long hair")
#: the default skew: share of darker-skinned faces in the training set (the one place that sets it;
#: the lab 2 notebook's parameters cell and the benchmark take it from here)
DARKER_FRACTION = 0.01

# skin colours (RGB) at tone 0, 0.25, 0.5, 0.75, 1: a continuous light-to-dark scale
_SKIN_ANCHORS = np.array(
    [[244, 212, 186], [228, 180, 142], [190, 134, 96], [136, 90, 60], [88, 56, 38]], dtype=np.float32
) / 255.0
_HAIR_COLOURS = np.array(
    [[25, 20, 18], [60, 40, 25], [110, 75, 40], [200, 170, 110], [150, 70, 35], [90, 90, 95]],
    dtype=np.float32,
) / 255.0


def skin_colour(tone):
    """RGB skin colour in [0, 1] for tones in [0, 1] (array of shape tone.shape + (3,))."""
    tone = np.clip(np.asarray(tone, dtype=np.float32), 0.0, 1.0)
    pos = tone * (len(_SKIN_ANCHORS) - 1)
    lo = np.minimum(np.floor(pos).astype(int), len(_SKIN_ANCHORS) - 2)
    frac = (pos - lo)[..., None]
    return _SKIN_ANCHORS[lo] * (1 - frac) + _SKIN_ANCHORS[lo + 1] * frac


# ----------------------------------------------------------------------------- drawing primitives


def _grid():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return yy[None], xx[None]  # (1, H, W)


def _col(v):
    return np.asarray(v, dtype=np.float32)[:, None, None]


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _soft(dist, width=1.0):
    """Anti-aliased mask from a signed 'radius' measure: 1 inside (dist < 1), 0 outside."""
    return np.clip((1.0 - dist) * width + 0.5, 0.0, 1.0)


def _ellipse(yy, xx, cy, cx, ry, rx, theta=None, edge=None):
    dy, dx = yy - _col(cy), xx - _col(cx)
    if theta is not None:
        c, s = _col(np.cos(theta)), _col(np.sin(theta))
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    r = np.sqrt((dx / _col(rx)) ** 2 + (dy / _col(ry)) ** 2)
    # edge width ~ one pixel relative to the radius
    scale = _col(np.minimum(rx, ry)) if edge is None else edge
    return _soft(r, scale)


def _paint(img, mask, colour):
    """Alpha-blend a per-sample colour (B, 3) or a per-pixel colour (B, H, W, 3) where mask (B, H, W)."""
    mask = mask.astype(np.float32, copy=False)
    # only touch the rows/columns where some image of the chunk has paint (features are small)
    rows = np.flatnonzero(mask.max(axis=(0, 2)) > 0)
    cols = np.flatnonzero(mask.max(axis=(0, 1)) > 0)
    if len(rows) == 0 or len(cols) == 0:
        return img
    win = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    m = mask[win][..., None]
    colour = np.asarray(colour, dtype=np.float32)
    colour = colour[:, None, None, :] if colour.ndim == 2 else colour[win]
    img[win] += m * (colour - img[win])  # in place: the caller always reassigns the result
    return img


def _smooth_noise(rng, n, cells, channels=3):
    """Low-frequency noise in [0, 1]: a random cells×cells grid, bilinearly upsampled to 64×64."""
    grid = rng.random((n, cells + 1, cells + 1, channels), dtype=np.float32)
    t = np.linspace(0, cells, SIZE, dtype=np.float32)
    i0 = np.minimum(t.astype(int), cells - 1)
    frac = (t - i0).astype(np.float32)
    f = frac[None, :, None, None]
    rows = grid[:, i0] * (1 - f) + grid[:, i0 + 1] * f  # (n, 64, cells+1, C)
    f2 = frac[None, None, :, None]
    return rows[:, :, i0] * (1 - f2) + rows[:, :, i0 + 1] * f2


def _background(rng, n, yy, xx, clutter=6):
    """Cluttered backgrounds: a colour gradient, low-frequency blotches and random shapes."""
    base = rng.uniform(0.1, 0.9, (n, 3)).astype(np.float32)
    other = rng.uniform(0.1, 0.9, (n, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, n)
    ramp = (_col(np.cos(angle)) * (xx - 32) + _col(np.sin(angle)) * (yy - 32)) / 64 + 0.5
    img = base[:, None, None] * (1 - ramp[..., None]) + other[:, None, None] * ramp[..., None]
    blotch = _smooth_noise(rng, n, 4)
    img = _f32(img * 0.7 + blotch * 0.3)
    for _ in range(clutter):
        colour = rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)
        cy, cx = rng.uniform(-5, 69, n), rng.uniform(-5, 69, n)
        if rng.random() < 0.5:
            r = rng.uniform(3, 14, n)
            mask = _ellipse(yy, xx, cy, cx, r, r * rng.uniform(0.5, 1.5, n))
        else:
            h, w = rng.uniform(2, 12, n), rng.uniform(2, 12, n)
            mask = ((np.abs(yy - _col(cy)) < _col(h)) & (np.abs(xx - _col(cx)) < _col(w))).astype(np.float32)
        mask *= _col(rng.random(n) < 0.7)  # not every image gets every shape
        img = _paint(img, mask, colour)
    return img


def _texture(rng, n, yy, xx):
    """Stripes and checks at random frequency and orientation, two random colours."""
    a = rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)
    b = rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)
    freq = _col(rng.uniform(0.1, 0.6, n))
    angle = rng.uniform(0, np.pi, n)
    u = _col(np.cos(angle)) * xx + _col(np.sin(angle)) * yy
    v = -_col(np.sin(angle)) * xx + _col(np.cos(angle)) * yy
    checks = _col(rng.random(n) < 0.5)
    pattern = 0.5 + 0.5 * np.sin(freq * u) * np.where(checks > 0, np.sin(freq * v), 1.0)
    return a[:, None, None] * (1 - pattern[..., None]) + b[:, None, None] * pattern[..., None]


class _Head:
    """Per-sample head geometry (centre, radii, rotation) and head-frame coordinates."""

    def __init__(self, rng, n, yy, xx):
        self.cy = rng.uniform(28, 36, n)
        self.cx = rng.uniform(27, 37, n)
        self.ry = rng.uniform(19, 25, n)
        self.rx = self.ry * rng.uniform(0.72, 0.88, n)
        self.theta = rng.uniform(-0.3, 0.3, n)  # pose: in-plane rotation, about ±17°
        c, s = _col(np.cos(self.theta)), _col(np.sin(self.theta))
        dy, dx = yy - _col(self.cy), xx - _col(self.cx)
        self.u = (c * dx + s * dy) / _col(self.rx)  # head frame: u across, v down, head = unit disc
        self.v = (-s * dx + c * dy) / _col(self.ry)
        self.px = _col(1.0 / self.rx)  # one pixel in head units, for anti-aliasing

    def part(self, u0, v0, a, b):
        """Mask of an ellipse at head coordinates (u0, v0) with half-axes (a, b) in head units."""
        r = np.sqrt(((self.u - _col(u0)) / _col(a)) ** 2 + ((self.v - _col(v0)) / _col(b)) ** 2)
        return _soft(r, _col(np.minimum(a, b)) / self.px)


def _draw_faces(rng, n, tone, hair, exposure, contrast, yy, xx):
    img = _background(rng, n, yy, xx)
    head = _Head(rng, n, yy, xx)
    skin = skin_colour(tone)
    hair_colour = _HAIR_COLOURS[rng.integers(0, len(_HAIR_COLOURS), n)] * rng.uniform(0.85, 1.15, (n, 1))

    # long hair: a wide mass behind the head that falls below the chin on both sides
    long_hair = head.part(np.zeros(n), rng.uniform(0.15, 0.3, n), rng.uniform(1.25, 1.4, n), rng.uniform(1.15, 1.3, n))
    long_hair *= (head.v > -1.2).astype(np.float32) * _col(hair)
    img = _paint(img, long_hair, hair_colour)
    # neck, then the head
    neck = ((np.abs(head.u) < 0.45) & (head.v > 0.6) & (head.v < 1.6)).astype(np.float32)
    img = _paint(img, neck, skin * 0.85)
    img = _paint(img, head.part(np.zeros(n), np.zeros(n), np.ones(n), np.ones(n)), skin)

    # facial features: colours are pulled towards the skin by (1 - contrast)
    def feature(colour):
        colour = np.broadcast_to(np.asarray(colour, dtype=np.float32), (n, 3))
        return skin + _col(contrast)[:, 0] * (colour - skin)

    eye_v = rng.uniform(-0.2, -0.05, n)
    eye_u = rng.uniform(0.3, 0.42, n)
    eye_a, eye_b = rng.uniform(0.13, 0.19, n), rng.uniform(0.07, 0.11, n)
    iris = rng.uniform(0.05, 0.35, (n, 1)) * np.array([[1.0, 0.9, 0.8]], dtype=np.float32)
    brow_v = eye_v - rng.uniform(0.17, 0.25, n)
    for side in (-1.0, 1.0):
        img = _paint(img, head.part(side * eye_u, eye_v, eye_a, eye_b), feature([0.95, 0.95, 0.92]))
        img = _paint(img, head.part(side * eye_u, eye_v, eye_b * 0.9, eye_b * 0.9), feature(iris))
        img = _paint(img, head.part(side * eye_u, brow_v, eye_a * 1.2, np.full(n, 0.045)), feature(hair_colour * 0.8))
    nose = head.part(np.zeros(n), rng.uniform(0.12, 0.22, n), rng.uniform(0.07, 0.1, n), rng.uniform(0.1, 0.16, n))
    img = _paint(img, nose, feature(skin * 0.72))
    mouth_v = rng.uniform(0.45, 0.58, n)
    mouth = head.part(np.zeros(n), mouth_v, rng.uniform(0.25, 0.38, n), rng.uniform(0.06, 0.12, n))
    lips = skin * 0.55 + np.array([[0.35, 0.05, 0.08]], dtype=np.float32)
    img = _paint(img, mouth, feature(lips))

    # hair on top of the head: the part of a slightly larger ellipse above a wavy hairline
    hairline = rng.uniform(-0.62, -0.42, n)
    wave = 0.08 * np.sin(_col(rng.uniform(3, 7, n)) * head.u + _col(rng.uniform(0, 6, n)))
    cap = head.part(np.zeros(n), np.zeros(n), np.full(n, 1.08), np.full(n, 1.08))
    cap *= np.clip((_col(hairline) + wave - head.v) * 8.0, 0.0, 1.0)
    img = _paint(img, cap, hair_colour)
    return _light(rng, n, img, exposure, yy, xx)


def _light(rng, n, img, exposure, yy, xx):
    """Exposure, a directional light gradient and sensor noise."""
    angle = rng.uniform(0, 2 * np.pi, n)
    strength = _col(rng.uniform(0.0, 0.35, n))
    ramp = (_col(np.cos(angle)) * (xx - 32) + _col(np.sin(angle)) * (yy - 32)) / 45
    light = _col(exposure) * (1.0 + strength * ramp)
    img = img * light[..., None].astype(np.float32)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(0.025)
    return np.clip(img, 0.0, 1.0)


def _draw_nonfaces(rng, n, blob_tones, yy, xx):
    kind = rng.integers(0, 4, n)  # 0 clutter, 1 texture, 2 shapes, 3 featureless face-coloured blob
    img = _background(rng, n, yy, xx, clutter=9)
    tex = _texture(rng, n, yy, xx)
    img = np.where((kind == 1)[:, None, None, None], tex * 0.8 + img * 0.2, img)
    # shapes: big circles/ellipses in arbitrary colours, some with "spots"
    shapes = (kind == 2).astype(np.float32)
    for _ in range(3):
        r = rng.uniform(8, 22, n)
        mask = _ellipse(yy, xx, rng.uniform(10, 54, n), rng.uniform(10, 54, n), r, r * rng.uniform(0.5, 1.4, n))
        img = _paint(img, mask * _col(shapes), rng.uniform(0, 1, (n, 3)).astype(np.float32))
    # featureless head-like blobs (same geometry as heads, no eyes/brows/nose/mouth)
    blob = (kind == 3).astype(np.float32)
    head = _Head(rng, n, yy, xx)
    skin = skin_colour(blob_tones)
    hair_colour = _HAIR_COLOURS[rng.integers(0, len(_HAIR_COLOURS), n)]
    head_mask = head.part(np.zeros(n), np.zeros(n), np.ones(n), np.ones(n)) * _col(blob)
    img = _paint(img, head_mask, skin)
    with_hair = _col((rng.random(n) < 0.5).astype(np.float32) * blob)
    cap = head.part(np.zeros(n), np.zeros(n), np.full(n, 1.08), np.full(n, 1.08))
    cap *= np.clip((_col(rng.uniform(-0.62, -0.42, n)) - head.v) * 8.0, 0.0, 1.0) * with_hair
    img = _paint(img, cap, hair_colour)
    exposure = rng.uniform(0.75, 1.1, n)
    return _light(rng, n, img, exposure, yy, xx)


def _to_uint8(img):
    return np.round(img * 255.0).astype(np.uint8)


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
    yy, xx = _grid()
    total = n_train_faces + n_train_nonfaces + 8 * n_test_per_group
    bar = tqdm(total=total, desc="drawing synthetic faces", unit="img", disable=not progress)

    def faces(rng, tone, hair, exposure, contrast):
        out = []
        for start in range(0, len(tone), chunk):
            sl = slice(start, start + chunk)
            m = len(tone[sl])
            out.append(_to_uint8(_draw_faces(rng, m, tone[sl], hair[sl], exposure[sl], contrast[sl], yy, xx)))
            bar.update(m)
        return np.concatenate(out) if out else np.zeros((0, SIZE, SIZE, 3), np.uint8)

    def nonfaces(rng, n, tone_source):
        out = []
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            # blobs take skin tones from the faces of the same split, so colour alone is no cue
            blob_tones = tone_source[rng.integers(0, len(tone_source), m)] if len(tone_source) else rng.random(m)
            out.append(_to_uint8(_draw_nonfaces(rng, m, blob_tones, yy, xx)))
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


class CacheSpaceError(OSError):
    """The cache folder has too little free space for a file; the message names folder and size."""


def _space_error(folder, needed, free):
    return CacheSpaceError(
        f"not enough free space in {folder} for the synthetic face dataset: it needs "
        f"{needed / 1e6:.0f} MB, {free / 1e6:.0f} MB are free. Free some space there, or pass "
        f"cache_dir= (or set MDL_DATA_DIR) to a folder on a disk with room."
    )


def _write_file_atomically(path, payload):
    """Write ``payload`` (bytes) to ``path`` through a temporary file in the same folder.

    Plain ``os.write`` calls, so that a full disk is an ordinary ``OSError`` (h5py writing into a
    full disk itself can crash the interpreter as it releases the error); the temporary file is
    removed on any failure, including Ctrl-C.
    """
    import errno
    import shutil

    folder = path.parent
    free = shutil.disk_usage(folder).free
    if free < len(payload):
        raise _space_error(folder, len(payload), free)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        try:
            view, done = memoryview(payload), 0
            while done < len(view):
                done += os.write(fd, view[done:done + (1 << 24)])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _space_error(folder, len(payload), shutil.disk_usage(folder).free) from exc
        raise


def write_h5(path, arrays, channel_order="rgb", meta=None):
    """Write a dataset dict (as from :func:`make_synthetic_faces`) in the course's h5 layout.

    Training arrays become ``images``/``labels``/``tone``/``hair``; test arrays keep their
    ``test_`` prefix. The file is built in memory and then written to a temporary file that is
    moved in place, so a crash or a full disk never leaves a half-written cache: a full disk
    raises :class:`CacheSpaceError` naming the folder and the space needed.
    """
    import io

    import h5py

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["channel_order"] = channel_order
        f.attrs["meta"] = json.dumps(meta or {})
        for key, value in arrays.items():
            name = key[len("train_"):] if key.startswith("train_") else key
            # one image per chunk: random batches then read only the images they need
            chunks = (1,) + value.shape[1:] if value.ndim > 1 and len(value) else None
            f.create_dataset(name, data=value, chunks=chunks)
    _write_file_atomically(path, buffer.getbuffer())
    return path


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


# ----------------------------------------------------------------------------- loader


class TrainingDatasetLoader:
    """Batches from a face / non-face h5 file, read lazily (only the rows asked for).

    Works with the synthetic file (:func:`synthetic_faces_path`) and the course's ``train_face.h5``.
    Every method returns float32 RGB images in ``[0, 1]`` of shape (n, 64, 64, 3); the conversion
    from the file's channel order (``attrs["channel_order"]``, BGR for the course file) happens in
    one place, :meth:`read_images`. The one exception is :meth:`get_all_train_faces`, which by
    default returns what it returned in 2021 (uint8 BGR, 0-255); ``as_float=True`` gives the rest's
    format.

    Parameters
    ----------
    data_path : str or Path
        The h5 file, with datasets ``images`` (N, 64, 64, 3) uint8 and ``labels`` (N, 1).
    channels_last : bool
        ``False`` returns (n, 3, 64, 64) instead (kept for compatibility with the 2024 course API).
    training : bool
        Kept for compatibility; the synthetic files hold their test split separately.
    """

    def __init__(self, data_path, channels_last=True, training=True):
        import h5py

        self.data_path = pathlib.Path(data_path)
        if not self.data_path.is_file():
            raise FileNotFoundError(
                f"{self.data_path} does not exist. Use mdl.lab2.synthetic_faces_path() for the "
                f"offline dataset or mdl.data.fetch('train_face.h5') for the course's real file."
            )
        print(f"Opening {self.data_path}")
        self.cache = h5py.File(self.data_path, "r")
        for name in ("images", "labels"):
            if name not in self.cache:
                raise KeyError(f"{self.data_path} has no dataset {name!r}; it is not a face h5 file.")
        self.images = self.cache["images"]  # an h5py Dataset: nothing is read until indexed
        self.labels = self.cache["labels"][:].astype(np.float32).reshape(-1, 1)
        order = self.cache.attrs.get("channel_order", "bgr")
        self.channel_order = order.decode() if isinstance(order, bytes) else str(order)
        if self.channel_order not in ("rgb", "bgr"):
            raise ValueError(f"{self.data_path}: unknown channel_order {self.channel_order!r}")
        self.channels_last = channels_last
        self.training = training
        try:
            self._scale, self._grey = _pixel_format(self.images, self.data_path)
        except ValueError:
            self.cache.close()
            raise
        self.image_dims = tuple(self.images.shape[1:3]) + (3,)
        self.train_inds = np.arange(len(self.labels))
        self.pos_train_inds = self.train_inds[self.labels[:, 0] == 1.0]
        self.neg_train_inds = self.train_inds[self.labels[:, 0] != 1.0]
        self.tone = self.cache["tone"][:] if "tone" in self.cache else None
        self.hair = self.cache["hair"][:] if "hair" in self.cache else None
        self.reads = 0  # number of rows read from disk, for tests and curiosity
        self._rng = None  # the batch order's generator: see seed()

    # -- the one place that touches pixel data
    def read_images(self, inds):
        """Float32 RGB images in [0, 1] for row indices ``inds`` (any order, repeats allowed)."""
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        if len(inds) == 0:
            return np.zeros((0,) + tuple(self.image_dims), np.float32)
        unique, inverse = np.unique(inds, return_inverse=True)  # h5py wants increasing indices
        raw = self.images[unique]
        self.reads += len(unique)
        images = _to_rgb_float(raw[inverse], self.channel_order, self._scale, self._grey)
        if not self.channels_last:
            images = np.transpose(images, (0, 3, 1, 2))
        return images

    def get_train_size(self):
        return len(self.train_inds)

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

    def get_batch(self, n, only_faces=False, p_pos=None, p_neg=None, return_inds=False):
        """A batch of ``n`` images and labels: half faces, half non-faces (or only faces).

        ``p_pos`` (over the faces, in the order of :attr:`pos_train_inds`) and ``p_neg`` (over the
        non-faces) are sampling probabilities; ``None`` means uniform. Faces are drawn *with*
        replacement when ``p_pos`` is given, so a heavily weighted face can appear twice.
        Raises ``ValueError`` for a batch size that is not a positive integer, larger than the
        training set, or asking for more distinct faces / non-faces than the file holds.
        """
        self._check_batch_size(n, only_faces, p_pos, p_neg)
        # unseeded, draw from NumPy's global generator (as in 2020/21), which
        # keras.utils.set_random_seed seeds: never from fresh OS entropy, which no seed could repeat
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

    def _check_batch_size(self, n, only_faces, p_pos, p_neg):
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"the batch size n must be a positive integer, got {n!r}")
        n_faces, n_other = len(self.pos_train_inds), len(self.neg_train_inds)
        if n > self.get_train_size():
            raise ValueError(
                f"a batch of {n} images is larger than the whole training set of {self.get_train_size()} "
                f"in {self.data_path}; use a batch size such as 32 or 64"
            )
        if n_faces == 0:
            raise ValueError(f"{self.data_path} holds no faces (no label 1), so no batch can be drawn")
        if only_faces:
            return
        if n_other == 0:
            raise ValueError(
                f"{self.data_path} holds no non-faces (label 0); draw faces only with only_faces=True"
            )
        for count, available, p, what, arg in ((n // 2, n_faces, p_pos, "faces", "p_pos"),
                                               (n - n // 2, n_other, p_neg, "non-faces", "p_neg")):
            if p is None and count > available:
                raise ValueError(
                    f"a batch of {n} takes {count} distinct {what}, but {self.data_path} holds only "
                    f"{available}; use a batch of at most {2 * available} or pass {arg} (sampling "
                    f"with replacement)"
                )

    def seed(self, seed):
        """Give :meth:`get_batch` its own generator, seeded with ``seed``; returns the loader.

        Unseeded, the loader draws from NumPy's global generator (``np.random.seed`` or
        ``keras.utils.set_random_seed`` make that reproducible too).
        """
        self._rng = np.random.default_rng(seed)
        return self

    def get_n_most_prob_faces(self, prob, n, *, step=1):
        """The ``n`` training faces with the highest probability ``prob`` (over the faces).

        ``step=10`` takes every 10th face of the top ``10 n`` instead, the 2020/21 helper's
        selection (a spread over the most likely faces rather than the very top).
        """
        prob = np.asarray(prob).reshape(-1)
        if len(prob) != len(self.pos_train_inds):
            raise ValueError(f"prob has {len(prob)} entries, expected one per training face ({len(self.pos_train_inds)})")
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(f"step must be a positive integer, got {step!r}")
        top = np.argsort(prob)[::-1][: n * step : step]
        return self.read_images(self.pos_train_inds[top])

    def get_all_train_faces(self, *, as_float=False):
        """All training faces, in the order of :attr:`pos_train_inds`; reads them all at once.

        By default what the 2020/21 helper returned: the images as the course's file stores them,
        **uint8 in 0-255, BGR** (a synthetic RGB file is flipped to BGR, so every file gives the
        same order). ``as_float=True`` returns float32 RGB in ``[0, 1]`` instead, like
        :meth:`get_batch`; :meth:`iter_train_faces` gives the same in batches.
        """
        if not as_float:
            inds = self.pos_train_inds
            raw = self.images[inds] if len(inds) else np.zeros((0,) + tuple(self.image_dims), np.uint8)
            self.reads += len(inds)
            if self.channel_order == "rgb" and not self._grey:  # grayscale has no channel order
                raw = raw[..., ::-1]
            if not self.channels_last:
                raw = np.transpose(raw, (0, 3, 1, 2))
            return np.ascontiguousarray(raw)
        return self.read_images(self.pos_train_inds)

    def iter_train_faces(self, batch_size=512):
        """All training faces in order of :attr:`pos_train_inds`, ``batch_size`` at a time."""
        for start in range(0, len(self.pos_train_inds), batch_size):
            yield self.read_images(self.pos_train_inds[start:start + batch_size])

    def face_groups(self):
        """Group index (:data:`GROUPS`) of every training face, or None if the file has no attributes.

        For evaluation and the oracle only: a debiasing model never sees this.
        """
        if self.tone is None or self.hair is None:
            return None
        return group_of(self.tone[self.pos_train_inds], self.hair[self.pos_train_inds])

    def close(self):
        self.cache.close()


def _pixel_format(images, path):
    """(divisor to [0, 1], grayscale?) of an image dataset; raises ValueError for other layouts.

    uint8 pixels are divided by 255; float pixels already in [0, 1] are kept (dividing them again
    would give near-black images), float pixels in [0, 255] are divided. Grayscale images, (N, H,
    W) or (N, H, W, 1), are repeated into three channels (never reversed as BGR would be).
    """
    shape = images.shape
    if len(shape) == 3 or (len(shape) == 4 and shape[-1] == 1):
        grey = True
    elif len(shape) == 4 and shape[-1] == 3:
        grey = False
    else:
        raise ValueError(
            f"{path}: images of shape {shape} are neither (N, H, W, 3) colour nor (N, H, W[, 1]) grayscale"
        )
    kind = np.dtype(images.dtype)
    if kind == np.uint8:
        return 255.0, grey
    if not np.issubdtype(kind, np.floating):
        raise ValueError(f"{path}: images of dtype {kind} are not supported; store uint8 (0-255) or float (0-1)")
    sample = np.unique(np.linspace(0, len(images) - 1, num=min(len(images), 64)).astype(np.int64))
    peak = float(np.max(images[sample])) if len(images) else 0.0
    if peak > 255.0 or float(np.min(images[sample]) if len(images) else 0.0) < 0.0:
        raise ValueError(f"{path}: float images must lie in [0, 1] or [0, 255], found values up to {peak:g}")
    return (1.0 if peak <= 1.0 else 255.0), grey


def _to_rgb_float(raw, channel_order, scale, grey):
    """float32 RGB (n, H, W, 3) in [0, 1] from raw pixels of the file's layout."""
    if grey:
        raw = np.repeat(raw.reshape(raw.shape[:3])[..., None], 3, axis=-1)
    elif channel_order == "bgr":
        raw = raw[..., ::-1]
    images = raw.astype(np.float32)
    if scale != 1.0:
        images /= np.float32(scale)
    return images


def _check_probabilities(p, n, name):
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(p) != n:
        raise ValueError(f"{name} has {len(p)} entries, expected {n}")
    if np.any(p < 0) or not np.isfinite(p).all():
        raise ValueError(f"{name} must be finite and non-negative")
    total = p.sum()
    if not np.isclose(total, 1.0, atol=1e-3):
        raise ValueError(f"{name} must sum to 1, got {total:.4f}")
    return p / total


def load_test_set(path):
    """The synthetic file's test split: (images float32 RGB, labels (N, 1), groups (N,) with -1 = non-face)."""
    import h5py

    with h5py.File(path, "r") as f:
        if "test_images" not in f:
            raise KeyError(
                f"{path} has no test split (test_images). Only the synthetic files carry one; for the "
                f"course's real data, evaluate on your own labelled photos."
            )
        scale, grey = _pixel_format(f["test_images"], path)
        order = f.attrs.get("channel_order", "bgr")
        order = order.decode() if isinstance(order, bytes) else str(order)
        images = _to_rgb_float(f["test_images"][:], order, scale, grey)
        labels = f["test_labels"][:].astype(np.float32).reshape(-1, 1)
        groups = group_of(f["test_tone"][:], f["test_hair"][:])
    return images, labels, groups


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
COMPAT_GROUP_ORDER = (GROUPS[1], GROUPS[0], GROUPS[3], GROUPS[2])
_COMPAT_LABELS = ("Light Female", "Light Male", "Dark Female", "Dark Male")


def get_test_faces(path=None, *, n_per_group=5, verbose=True):
    """Balanced test faces by group: a :class:`FaceGroups` of four float64 RGB arrays in [0, 1].

    As in 2020/21: a tuple of four groups of ``n_per_group`` (default 5) faces each, shape
    (n_per_group, 64, 64, 3), in the positions of the old groups. The groups are *synthetic* faces
    (see :data:`COMPAT_GROUP_ORDER`): position 0 is "lighter, long hair" where 2020/21 had
    "Light Female", 1 "lighter, short hair" (Light Male), 2 "darker, long hair" (Dark Female),
    3 "darker, short hair" (Dark Male). The result's ``names`` say so, and ``verbose`` prints the
    mapping, so that a notebook labelling the positions by the old names is told what they hold.
    ``n_per_group=None`` gives every test face of each group. For evaluation,
    :func:`load_test_set` returns the whole test split with a group index per image.
    """
    if n_per_group is not None and (isinstance(n_per_group, bool) or not isinstance(n_per_group, (int, np.integer)) or n_per_group < 1):
        raise ValueError(f"n_per_group must be a positive integer or None, got {n_per_group!r}")
    if path is None:
        path = synthetic_faces_path()
    images, _, groups = load_test_set(path)
    arrays = []
    for name in COMPAT_GROUP_ORDER:
        members = images[groups == GROUPS.index(name)]
        if n_per_group is not None:
            if len(members) < n_per_group:
                raise ValueError(f"{path} holds {len(members)} test faces of group {name!r}, fewer than n_per_group={n_per_group}")
            members = members[:n_per_group]
        arrays.append(members.astype(np.float64))
    if verbose:
        mapping = "; ".join(f"[{i}] {name} (2020/21: {old})" for i, (name, old) in enumerate(zip(COMPAT_GROUP_ORDER, _COMPAT_LABELS)))
        print(f"Test faces, {len(arrays[0])} per group, synthetic (skin tone x hair length): {mapping}")
    return FaceGroups(COMPAT_GROUP_ORDER, arrays)
