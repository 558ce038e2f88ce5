"""Where the labs' online files come from, and where they are kept.

Every file the labs may download is listed in :data:`REGISTRY` with its URL and, where one is
published, its hash. :func:`fetch` returns the local path of a file, downloading it through
`pooch <https://www.fatiando.org/pooch>`_ on first use.

Cache directory, first match wins:

1. ``$MDL_DATA_DIR``;
2. ``data/`` of the source checkout this package was imported from (git-ignored);
3. the user cache directory (``~/.cache/mitdeeplearning`` on Linux).

``MDL_OFFLINE=1`` forbids network access: a file that is not cached raises
:class:`DataUnavailableError` at once, with instructions for getting it by hand. A failed or
corrupt download never stays in the cache (pooch writes to a temporary file and only moves it in
place once complete and verified; we additionally check the size where it is known).
"""

import dataclasses
import logging
import os
import pathlib
import urllib.parse

__all__ = [
    "DataFile",
    "REGISTRY",
    "DataUnavailableError",
    "data_dir",
    "is_offline",
    "is_cached",
    "fetch",
]


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One downloadable file: where it lives and how to recognise a good copy."""

    url: str
    known_hash: str | None  # "sha256:…" / "md5:…", or None when nobody publishes one
    size: int | None  # bytes, where known; used to reject truncated files without a hash
    description: str


REGISTRY = {
    "mnist.npz": DataFile(
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        # the hash Keras itself checks (keras.datasets.mnist.load_data)
        known_hash="sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        size=None,  # the hash already pins the exact content
        description="full MNIST, 70,000 handwritten digits (Keras' copy)",
    ),
    "train_face.h5": DataFile(
        url="https://www.dropbox.com/s/hlz8atheyozp1yx/train_face.h5?dl=1",
        known_hash=None,
        size=None,
        description="the MIT course's CelebA faces + ImageNet non-faces, 64x64 RGB (about 1.3 GB)",
    ),
}


class DataUnavailableError(RuntimeError):
    """A data file is neither cached nor downloadable right now; the message says what to do."""


def is_offline():
    """True when ``MDL_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("MDL_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _checkout_data_dir():
    root = pathlib.Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "data" / "README.md").is_file():
        return root / "data"
    return None


def data_dir():
    """The directory that caches downloads (created if missing)."""
    if os.environ.get("MDL_DATA_DIR"):
        path = pathlib.Path(os.environ["MDL_DATA_DIR"]).expanduser()
    else:
        path = _checkout_data_dir()
        if path is None:
            import pooch

            path = pathlib.Path(pooch.os_cache("mitdeeplearning"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _resolve(name_or_url, known_hash, fname, size):
    if name_or_url in REGISTRY:
        entry = REGISTRY[name_or_url]
        return entry.url, known_hash or entry.known_hash, fname or name_or_url, size or entry.size
    parsed = urllib.parse.urlparse(name_or_url)
    if parsed.scheme not in {"http", "https", "ftp"}:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(
            f"{name_or_url!r} is neither a registered data file ({known}) nor an http(s)/ftp URL."
        )
    name = fname or pathlib.PurePosixPath(parsed.path).name or "download"
    return name_or_url, known_hash, name, size


def is_cached(name_or_url, fname=None):
    """True if :func:`fetch` would return a cached copy without touching the network."""
    _, _, name, _ = _resolve(name_or_url, None, fname, None)
    return (data_dir() / name).is_file()


def _advice(url, target):
    return (
        f"To get it by hand, download {url}\n"
        f"and save it as {target}\n"
        f"(or point MDL_DATA_DIR at a folder that holds it)."
    )


def fetch(name_or_url, *, known_hash=None, fname=None, size=None, timeout=60, progressbar=True):
    """Return the local path of a data file, downloading it into :func:`data_dir` if needed.

    ``name_or_url`` is a key of :data:`REGISTRY` (e.g. ``"mnist.npz"``) or any http(s) URL.
    A registered file's hash and size are checked; for a URL, pass ``known_hash`` if you have one.
    Raises :class:`DataUnavailableError` when offline, on a network or HTTP error, on a hash or
    size mismatch, or on a timeout (``timeout`` seconds without data); nothing partial is kept.
    """
    import pooch

    url, known_hash, name, size = _resolve(name_or_url, known_hash, fname, size)
    folder = data_dir()
    target = folder / name

    if target.is_file():
        if known_hash is not None and not pooch.file_hash(str(target), alg=known_hash.split(":")[0]) == known_hash.split(":")[1]:
            raise DataUnavailableError(
                f"The cached {target} does not match its known hash {known_hash}; it is corrupt. "
                f"Delete it and run again to download a fresh copy."
            )
        return target

    if is_offline():
        raise DataUnavailableError(
            f"{name} is not cached in {folder} and MDL_OFFLINE is set, so it cannot be downloaded.\n"
            + _advice(url, target)
        )

    logging.getLogger("pooch").setLevel(logging.WARNING)
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
    try:
        path = pathlib.Path(
            pooch.retrieve(url, known_hash=known_hash, fname=name, path=folder, downloader=downloader)
        )
    except Exception as exc:  # requests/pooch errors: HTTP status, timeout, hash mismatch, I/O
        if target.exists():  # pooch removes bad files itself; make sure, never keep a bad copy
            target.unlink()
        raise DataUnavailableError(
            f"Downloading {name} from {url} failed: {type(exc).__name__}: {exc}\n" + _advice(url, target)
        ) from exc

    if size is not None and path.stat().st_size != size:
        actual = path.stat().st_size
        path.unlink()
        raise DataUnavailableError(
            f"Downloaded {name} has {actual} bytes, expected {size}: the transfer was cut short or "
            f"the file changed upstream. The partial file was deleted.\n" + _advice(url, target)
        )
    return path
