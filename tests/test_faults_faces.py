"""Faults in the synthetic-faces cache and bad input to the face loader.

A full disk gives a clear error and leaves nothing partial (h5py never writes to the disk
itself), a damaged cache file is regenerated with a notice, and get_batch / read_images refuse or
handle what numpy would otherwise turn into a cryptic message or a silent wrong picture.
"""

import errno
import os
import shutil

import numpy as np
import pytest

from mitdeeplearning import face_files, faces
from mitdeeplearning.face_loader import FaceLoader

SMALL = dict(n_train_faces=40, n_train_nonfaces=40, n_test_per_group=3, progress=False)


def test_full_disk_mid_write_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    real_write = os.write
    written = []

    def write_until_full(fd, data):  # a disk with 64 KiB left
        if sum(written) + len(data) > 65536:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write_until_full)
    monkeypatch.setattr(face_files.os, "write", write_until_full)
    with pytest.raises(faces.CacheSpaceError) as info:
        faces.synthetic_faces_path(cache_dir=tmp_path, **SMALL)
    monkeypatch.undo()
    message = str(info.value)
    assert str(tmp_path) in message and "MB" in message and "cache_dir=" in message
    assert list(tmp_path.iterdir()) == []  # no *.h5.tmp<pid> left behind


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(faces.CacheSpaceError, match="needs .* MB, 0 MB are free"):
        faces.synthetic_faces_path(cache_dir=tmp_path, **SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_cache_is_regenerated_with_a_notice(tmp_path, capsys, damage):
    path = faces.synthetic_faces_path(cache_dir=tmp_path, **SMALL)
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.write_bytes(b"\0" * 2048)
    capsys.readouterr()
    again = faces.synthetic_faces_path(cache_dir=tmp_path, **SMALL)
    assert again == path and again.read_bytes() == good
    out = capsys.readouterr().out
    assert f"The cached {path} is corrupt" in out and "generating it again" in out
    loader = FaceLoader(again)
    assert loader.get_batch(8)[0].shape == (8, 64, 64, 3)
    loader.close()


def _file(tmp_path, images, labels, channel_order="bgr", name="x.h5"):
    return faces.write_h5(tmp_path / name, {"images": images, "labels": np.asarray(labels, np.float32).reshape(-1, 1)},
                          channel_order=channel_order)


def _loader(tmp_path, n_faces, n_other, **kwargs):
    images = np.random.default_rng(0).integers(0, 256, (n_faces + n_other, 64, 64, 3), dtype=np.uint8)
    return FaceLoader(_file(tmp_path, images, [1] * n_faces + [0] * n_other, **kwargs))


def test_get_batch_without_faces_says_so(tmp_path):
    loader = _loader(tmp_path, 0, 10)
    with pytest.raises(ValueError, match="holds no faces"):
        loader.get_batch(4)


def test_get_batch_larger_than_the_population_says_what_to_do(tmp_path):
    loader = _loader(tmp_path, 3, 30)
    with pytest.raises(ValueError, match="takes 5 distinct faces, but .* holds only 3; use a batch of at most 6 or pass p_pos"):
        loader.get_batch(10)
    images, _ = loader.get_batch(10, p_pos=np.full(3, 1 / 3))  # with replacement it is fine
    assert images.shape == (10, 64, 64, 3)


@pytest.mark.parametrize("n", [10**12, 0, -3, 2.5, "32", True])
def test_get_batch_rejects_impossible_sizes_before_allocating(tmp_path, n):
    loader = _loader(tmp_path, 10, 10)
    with pytest.raises(ValueError, match="batch"):
        loader.get_batch(n)


def test_float_images_in_unit_range_are_not_divided_again(tmp_path):
    images = np.random.default_rng(1).random((6, 64, 64, 3)).astype(np.float32)
    loader = FaceLoader(_file(tmp_path, images, [1, 0] * 3, channel_order="rgb"))
    np.testing.assert_allclose(loader.read_images([0, 5]), images[[0, 5]], atol=1e-7)
    loader.close()
    big = FaceLoader(_file(tmp_path, images * 255, [1, 0] * 3, channel_order="rgb", name="y.h5"))
    np.testing.assert_allclose(big.read_images([2]), images[[2]], atol=1e-5)
    big.close()


@pytest.mark.parametrize("shape", [(4, 64, 64), (4, 64, 64, 1)])
def test_grayscale_images_become_three_equal_channels_not_mirrored(tmp_path, shape):
    grey = np.tile(np.arange(64, dtype=np.uint8)[None, None, :] * 4, (4, 64, 1)).reshape(shape)
    loader = FaceLoader(_file(tmp_path, grey, [1, 1, 0, 0], channel_order="bgr"))
    images = loader.read_images([1])
    assert images.shape == (1, 64, 64, 3)
    expected = grey.reshape(4, 64, 64)[1].astype(np.float32) / 255
    for channel in range(3):
        np.testing.assert_allclose(images[0, :, :, channel], expected)
    loader.close()


def test_unsupported_image_layouts_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(2, 64, 64, 4\)"):
        FaceLoader(_file(tmp_path, np.zeros((2, 64, 64, 4), np.uint8), [1, 0]))
    with pytest.raises(ValueError, match="dtype int32"):
        FaceLoader(_file(tmp_path, np.zeros((2, 64, 64, 3), np.int32), [1, 0], name="i.h5"))
