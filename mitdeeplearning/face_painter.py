"""The painter of lab 2's synthetic faces: cartoon faces and non-faces drawn with NumPy, vectorised.

A face is a head (an ellipse in its own rotated frame) with skin, hair (short or long), eyes,
brows, nose and mouth, lit from a random side over a cluttered background; its features' contrast
and its exposure are inputs, so that the data set (:mod:`.faces`) can photograph darker faces as a
camera calibrated for lighter skin does. Non-faces are clutter, textures, shapes and featureless
face-coloured blobs. Every function draws a whole batch at once from the generator it is given.
"""

import numpy as np

__all__ = ["SIZE", "skin_colour", "grid", "draw_faces", "draw_nonfaces", "to_uint8"]

#: side of every image, in pixels
SIZE = 64

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


def grid():
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


def draw_faces(rng, n, tone, hair, exposure, contrast, yy, xx):
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


def draw_nonfaces(rng, n, blob_tones, yy, xx):
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


def to_uint8(img):
    return np.round(img * 255.0).astype(np.uint8)
