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
corrupt download never stays in the cache: pooch writes to a temporary file, which is checked
(hash and size where known, the announced Content-Length, not an HTML page, and a content check
that the caller may pass, such as "ABC text with a tune") before it is moved in place. A URL is
cached under a digest of the whole URL, so two URLs never share a file.
"""

import dataclasses
import hashlib
import logging
import os
import pathlib
import time
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
    deadline_s: float | None = None  # most seconds the whole download may take (None: DEFAULT_DEADLINE_S)


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
        deadline_s=3 * 3600,  # 1.3 GB at 120 kB/s
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


#: total seconds that a download may take, from the request to the last byte, unless ``fetch`` is
#: told otherwise (a server that trickles a byte now and then never trips a per-read timeout)
DEFAULT_DEADLINE_S = 900


def _url_key(url):
    """Folder (below :func:`data_dir`) that caches an unregistered URL: a digest of the whole URL,
    query included, so that ``…/a/tunes.abc``, ``…/b/tunes.abc`` and ``…/tunes.abc?v=2`` never
    share a cached file."""
    return pathlib.Path("urls") / hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _resolve(name_or_url, known_hash, fname, size):
    """(url, known_hash, path relative to the cache, size) of a registered name or a URL."""
    if name_or_url in REGISTRY:
        entry = REGISTRY[name_or_url]
        return entry.url, known_hash or entry.known_hash, pathlib.Path(fname or name_or_url), size or entry.size
    parsed = urllib.parse.urlparse(name_or_url)
    if parsed.scheme not in {"http", "https", "ftp"}:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(
            f"{name_or_url!r} is neither a registered data file ({known}) nor an http(s)/ftp URL."
        )
    name = fname or pathlib.PurePosixPath(parsed.path).name or "download"
    return name_or_url, known_hash, _url_key(name_or_url) / name, size


def is_cached(name_or_url, fname=None):
    """True if :func:`fetch` would return a cached copy without touching the network."""
    _, _, relative, _ = _resolve(name_or_url, None, fname, None)
    return (data_dir() / relative).is_file()


def _advice(url, target):
    return (
        f"To get it by hand, download {url}\n"
        f"and save it as {target}\n"
        f"(or point MDL_DATA_DIR at a folder that holds it)."
    )


class _HashAdviceFilter(logging.Filter):
    """Drops pooch's "Use this value as the 'known_hash' argument" line, printed after every
    download without a hash: advice to whoever calls pooch (this module), not to a student."""

    def filter(self, record):
        return "known_hash' argument" not in str(record.msg)


def _quiet_pooch_logger():
    import pooch

    logger = pooch.get_logger()  # pooch's own Logger object; logging.getLogger("pooch") is another
    if not any(isinstance(f, _HashAdviceFilter) for f in logger.filters):
        logger.addFilter(_HashAdviceFilter())


def _looks_like_html(path, name):
    if name.lower().endswith((".htm", ".html")):
        return False
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _check_file(path, name, known_hash, size, verify):
    """Raise ValueError saying why if the file at ``path`` is not a good copy of ``name``."""
    import pooch

    if known_hash is not None:
        alg, _, expected = known_hash.partition(":")
        actual = pooch.file_hash(str(path), alg=alg)
        if actual != expected:
            raise ValueError(f"its {alg} hash is {actual}, expected {expected}")
    if size is not None and os.path.getsize(path) != size:
        raise ValueError(f"it has {os.path.getsize(path)} bytes, expected {size}")
    if _looks_like_html(path, name):
        raise ValueError("it is an HTML page (a login, error or redirect page), not the file itself")
    if verify is not None:
        verify(pathlib.Path(path))


class _Downloader:
    """pooch downloader: streams with requests under a per-read timeout *and* a total deadline,
    requires the number of bytes that Content-Length announced, and checks the file (hash, size,
    not an HTML page, ``verify``) while it still has pooch's temporary name, so that a bad body is
    never moved into place (pooch deletes the temporary file when this raises)."""

    def __init__(self, name, timeout, deadline, progressbar, check):
        self.name, self.timeout, self.deadline = name, timeout, deadline
        self.progressbar, self.check = progressbar, check

    def __call__(self, url, output_file, pooch_obj):
        import requests

        start = time.monotonic()
        with requests.get(url, stream=True, timeout=self.timeout, allow_redirects=True) as response:
            response.raise_for_status()
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isdigit() else None
            if response.headers.get("Content-Encoding", "identity") not in ("identity", ""):
                announced = None  # the length of the compressed body, not of what we write
            bar = None
            if self.progressbar:
                from .util import tqdm

                bar = tqdm(total=announced, unit="B", unit_scale=True, desc=self.name, leave=False)
            received = 0
            try:
                with open(output_file, "wb") as out:
                    while True:
                        # read1 returns what has arrived (iter_content would wait for a full chunk,
                        # so a trickling server would never reach the deadline check)
                        chunk = response.raw.read1(65536, decode_content=True)
                        if not chunk:
                            break
                        if time.monotonic() - start > self.deadline:
                            raise TimeoutError(
                                f"the download took longer than its deadline of {self.deadline:g} s "
                                f"({received} bytes received): the server is too slow or stalled (fetch(..., deadline=SECONDS) "
                                f"allows longer)"
                            )
                        out.write(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        if announced is not None and received != announced:
            raise ValueError(f"the server announced {announced} bytes (Content-Length) but sent {received}")
        try:
            self.check(output_file)
        except ValueError as exc:
            raise ValueError(f"the downloaded file is not a good copy: {exc}") from exc


def _remove_empty_folders(leaf, top):
    """Remove ``leaf`` and its parents up to (not including) ``top`` while they are empty."""
    leaf = pathlib.Path(leaf)
    while leaf != top and top in leaf.parents and leaf.is_dir() and not any(leaf.iterdir()):
        leaf.rmdir()
        leaf = leaf.parent


def _make_readable(path):
    """pooch's temporary files are created 0600; a cached data file is an ordinary 0644 file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def fetch(name_or_url, *, known_hash=None, fname=None, size=None, timeout=60, deadline=None,
          verify=None, progressbar=True):
    """Return the local path of a data file, downloading it into :func:`data_dir` if needed.

    ``name_or_url`` is a key of :data:`REGISTRY` (e.g. ``"mnist.npz"``) or any http(s) URL. A URL
    is cached under a digest of the whole URL (query included) below ``data_dir()/urls/``, keeping
    its file name. A registered file's hash and size are checked; for a URL, pass ``known_hash``
    if you have one, and ``verify``: a function of the file's path that raises ``ValueError``
    saying why when the content is not what it should be (e.g. ABC text without a tune). Every
    download is checked before it is moved into place (hash, size, the Content-Length the server
    announced, not an HTML page, ``verify``); a cached copy that fails these checks is replaced by
    a fresh download (offline: reported with the command that removes it).

    ``timeout`` is the most seconds to wait for any data; ``deadline`` the most seconds the whole
    download may take (default: the registry entry's ``deadline_s``, else :data:`DEFAULT_DEADLINE_S`). Raises
    :class:`DataUnavailableError` when offline, on a network or HTTP error, a failed check or a
    timeout; nothing partial is kept.
    """
    import pooch

    url, known_hash, relative, size = _resolve(name_or_url, known_hash, fname, size)
    if deadline is None:
        entry = REGISTRY.get(name_or_url)
        deadline = entry.deadline_s if entry is not None and entry.deadline_s else DEFAULT_DEADLINE_S
    folder = data_dir()
    target = folder / relative
    name = target.name

    def check(path):
        _check_file(path, name, known_hash, size, verify)

    if target.is_file():
        try:
            check(target)
            return target
        except ValueError as exc:
            problem = f"The cached {target} is corrupt: {exc}."
        if is_offline():
            raise DataUnavailableError(
                f"{problem}\nDelete it (rm '{target}') and run again online to download a fresh copy."
            )
        print(f"{problem} Downloading a fresh copy.")
        target.unlink()

    if is_offline():
        raise DataUnavailableError(
            f"{name} is not cached in {target.parent} and MDL_OFFLINE is set, so it cannot be "
            f"downloaded.\n" + _advice(url, target)
        )

    _quiet_pooch_logger()
    downloader = _Downloader(name, timeout, deadline, progressbar, check)
    try:
        path = pathlib.Path(
            pooch.retrieve(url, known_hash=None, fname=name, path=target.parent, downloader=downloader)
        )
    except Exception as exc:  # requests/pooch errors: HTTP status, timeout, failed check, I/O
        if target.exists():  # pooch only moves a checked file in place; make sure, never keep a bad copy
            target.unlink()
        _remove_empty_folders(target.parent, folder)
        raise DataUnavailableError(
            f"Downloading {name} from {url} failed: {type(exc).__name__}: {exc}\n" + _advice(url, target)
        ) from exc
    _make_readable(path)
    return path
