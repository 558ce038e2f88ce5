"""The HDF5 layout of lab 2's face files: writing one safely, reading its pixels in one format.

The course's ``train_face.h5`` holds ``images`` (N×64×64×3 uint8, **BGR**) and ``labels`` (N×1);
the synthetic files add ``tone``, ``hair`` and a test split, and say ``attrs["channel_order"] =
"rgb"``. :func:`write_h5` writes that layout without ever leaving a half-written file;
:func:`pixel_format` and :func:`to_rgb_float` turn whatever a file stores into float32 RGB in
``[0, 1]``, the one format every reader returns.
"""

import json
import os
import pathlib

import numpy as np

__all__ = ["CacheSpaceError", "write_h5", "channel_order", "pixel_format", "to_rgb_float"]


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


def channel_order(h5_file):
    """``"rgb"`` or ``"bgr"``: what an open h5 file says (the course's file says nothing: BGR)."""
    order = h5_file.attrs.get("channel_order", "bgr")
    order = order.decode() if isinstance(order, bytes) else str(order)
    if order not in ("rgb", "bgr"):
        raise ValueError(f"{h5_file.filename}: unknown channel_order {order!r}")
    return order


def pixel_format(images, path):
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


def to_rgb_float(raw, channel_order, scale, grey):
    """float32 RGB (n, H, W, 3) in [0, 1] from raw pixels of the file's layout."""
    if grey:
        raw = np.repeat(raw.reshape(raw.shape[:3])[..., None], 3, axis=-1)
    elif channel_order == "bgr":
        raw = raw[..., ::-1]
    images = raw.astype(np.float32)
    if scale != 1.0:
        images /= np.float32(scale)
    return images
