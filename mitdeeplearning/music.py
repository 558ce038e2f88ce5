"""ABC tunes for lab 1: load and clean them, split generated text, validate, synthesise, draw.

Everything here is pure Python (music21 + numpy); no system binaries are needed. The typical
path of a tune through this module::

    songs = load_training_data()                 # list of cleaned ABC tunes (O'Neill's 1850)
    tunes = extract_song_snippet(generated_text) # split model output into tunes
    report = validate_song(tunes[0])             # playable? metrically sound? why not?
    play_song(tunes[0])                          # IPython Audio, 16 kHz mono, numpy synth
    plot_song(tunes[0])                          # piano roll: pitch against time

music21 and IPython are imported on first use, so importing this module is cheap.
"""

import contextlib
import ctypes
import dataclasses
import fractions
import io
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import warnings

import numpy as np

__all__ = [
    "InvalidSongError",
    "SongReport",
    "CORPUS_SOURCES",
    "load_training_data",
    "clean_tune",
    "split_tunes",
    "extract_song_snippet",
    "read_abc_text",
    "check_abc_file",
    "parse_song",
    "validate_song",
    "is_valid_song",
    "summarize_songs",
    "synthesize_song",
    "song_notes",
    "play_song",
    "play_generated_song",
    "abc_file_to_wav",
    "plot_song",
    "SAMPLE_RATE",
]

SAMPLE_RATE = 16000  # Hz; mono. Small enough that notebooks with a few clips stay small.
# Longest clip play_song renders: a whole tune (a generated one runs about a minute), while a
# runaway generation of endless bars still makes a clip of bounded size (about 6 MB in a notebook).
MAX_PLAY_SECONDS = 180.0

# music21 corpus folders that hold ABC tune books.
CORPUS_SOURCES = {
    "oneills": ("oneills1850",),  # O'Neill's Music of Ireland (1850 tunes book), 2,009 tunes
    "ryans": ("ryansMammoth",),  # Ryan's Mammoth Collection, 1,059 tunes
    "all": ("oneills1850", "ryansMammoth"),
}

# Header fields kept by the cleaner. X (number), T (title), M (meter), L (unit note length),
# K (key) are what a tune needs; R (rhythm: reel, jig, ...) and Q (tempo) are short and tell the
# model what kind of tune follows. P (parts) may appear inside a body. Bibliographic fields
# (B book, N notes, Z transcriber, S source, C composer, O origin, D discography, H history,
# W/w words, ...) are dropped: they are long free text that has nothing to do with the music.
KEPT_FIELDS = ("X", "T", "R", "M", "L", "Q", "K", "P")

_FIELD_RE = re.compile(r"^([A-Za-z]):(.*)$")
_MAX_METER_BEATS = 32  # numerator of M: (header or inline); see parse_song


class InvalidSongError(ValueError):
    """A tune cannot be played: no X:/K: header, no notes, or music21 cannot parse it."""


# CPU seconds that music21 may spend on one step (parsing, merging ties, measuring bars) of a
# tune of n characters: MUSIC21_TIME_LIMIT_S + MUSIC21_TIME_LIMIT_PER_KB_S * kb
# + MUSIC21_TIME_LIMIT_PER_KB2_S * kb**2, kb = n / 1000. music21's cost grows with the square of
# the length: one CPU core parsed a valid reel repeated to 16, 64, 125, 250, 500, 1,000 and 2,000
# bars (0.26 to 27 KB) in 0.02, 0.10, 0.33, 1.08, 3.84, 14.5 and 84 s, i.e. 0.08 to 0.12 s per KB
# squared, and merging their ties cost as much again; 500 bars taken from the bars of hundreds of
# real tunes (7.6 KB) took 12.3 s (0.21 s per KB squared); on a loaded machine a 10 KB tune took
# over 31 s (0.31 s per KB squared), which a limit linear in the length rejected.
# The quadratic term gives 2.5 times that worst case: 111 s for 10 KB, 811 s for a 3,000-bar
# (30 KB) tune. Parsing the 3,068 tunes of O'Neill's and Ryan's collections took a median 0.08 s,
# at most 1.54 s (963 characters), under their limit of 4.6 s. Generated tunes can make music21
# build time signatures such as 83/3 or 397/16 (an odd meter, or an overfull bar of tuplets that
# it re-bars), which takes it minutes even when they are short; they are stopped after a few
# seconds (a 1 KB tune after 4.8 s) and called invalid. CPU time of the thread, not wall time, so
# that a busy machine does not turn real tunes into invalid ones.
MUSIC21_TIME_LIMIT_S = 1.0
MUSIC21_TIME_LIMIT_PER_KB_S = 3.0
MUSIC21_TIME_LIMIT_PER_KB2_S = 0.8
#: the slowest rate measured (CPU seconds per KB squared of a valid tune), see above
MUSIC21_MEASURED_WORST_S_PER_KB2 = 0.31


def _music21_time_limit(song):
    kb = len(song) / 1000
    return MUSIC21_TIME_LIMIT_S + MUSIC21_TIME_LIMIT_PER_KB_S * kb + MUSIC21_TIME_LIMIT_PER_KB2_S * kb * kb


class _Music21Timeout(BaseException):
    """Injected into the thread running music21 (a BaseException, so that music21's own
    ``except Exception`` clauses cannot swallow it)."""


def _thread_clock(ident):
    """A function returning the CPU time of thread ``ident`` (wall time where the OS has none)."""
    try:
        clock = time.pthread_getcpuclockid(ident)
        time.clock_gettime(clock)
    except (AttributeError, OSError):  # Windows, macOS: no per-thread CPU clock for other threads
        return time.monotonic
    return lambda: time.clock_gettime(clock)


def _with_time_limit(seconds, what, func):
    """``func()``, stopped with :class:`InvalidSongError` once it used ``seconds`` of CPU time.

    A watchdog thread raises :class:`_Music21Timeout` in this thread through CPython's
    ``PyThreadState_SetAsyncExc``: unlike ``signal.alarm`` this works outside the main thread
    and leaves other timers alone. It aims the exception at a moment when this thread runs
    music21's own code, not a garbage-collector or weakref callback (where Python would print
    "Exception ignored" and drop it), and repeats it every 50 ms until ``func`` ends in case it
    was dropped anyway; one still pending when ``func`` ends in time is cleared. (A plain
    function rather than a context manager, so that no frame lies between ``func`` and the
    handlers.) Without ``ctypes.pythonapi`` (not CPython) ``func`` runs without a limit.
    """
    if not hasattr(ctypes, "pythonapi"):
        return func()
    import music21

    music21_dir = os.path.dirname(music21.__file__)
    ident = threading.get_ident()
    target = ctypes.c_ulong(ident)
    clock = _thread_clock(ident)
    start = clock()
    lock, done = threading.Lock(), threading.Event()
    fired = False

    def watchdog():
        nonlocal fired
        used = 0.0
        while used < seconds:  # CPU time grows no faster than wall time: sleep what is left
            if done.wait(max(seconds - used, 0.01)):
                return
            used = clock() - start
        deadline = time.monotonic() + 0.5  # then fire wherever the thread is
        while not done.wait(0.001):
            frame = sys._current_frames().get(ident)
            if frame is not None and not frame.f_code.co_filename.startswith(music21_dir):
                if time.monotonic() < deadline:
                    continue
            with lock:
                if done.is_set():
                    return
                fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(_Music21Timeout))
            if done.wait(0.05):
                return

    thread = threading.Thread(target=watchdog, name="music21-time-limit", daemon=True)
    thread.start()
    timed_out = False
    try:
        result = func()
    except _Music21Timeout:
        timed_out = True
    finally:
        while True:  # disarm; an exception still in flight may arrive in here, so retry
            try:
                with lock:
                    done.set()
                    if fired:
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)  # clear a pending one
                break
            except _Music21Timeout:
                continue
        thread.join()
    if timed_out:
        raise InvalidSongError(
            f"music21 used more than {seconds:g} s of CPU time to {what} and was stopped (a valid tune "
            f"of this length needs well under that; odd meters, or overfull bars of tuplets that it "
            f"has to re-bar, can take it minutes)"
        )
    return result


# ---------------------------------------------------------------------------------------------
# Loading and cleaning
# ---------------------------------------------------------------------------------------------


def _ascii(text):
    """Map accented and typographic characters to plain ASCII (é -> e, ’ -> ')."""
    replacements = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"}
    for src, dst in replacements.items():
        text = text.replace(src, dst)
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode("ascii")


def _strip_comment(line):
    """Remove a ``%`` comment (an escaped ``\\%`` is kept)."""
    match = re.search(r"(?<!\\)%", line)
    return line if match is None else line[: match.start()]


def _simplify_body(line):
    """Drop ornaments that change neither pitch nor rhythm.

    Grace notes ``{...}`` take no time, slurs ``( )`` and staccato dots ``.`` only change the
    articulation, ``!decorations!`` and quoted annotations ``"..."`` are text. Removing them makes
    the character sequences shorter and more regular, so the model sees more bars per window.
    Tuplets ``(3`` do change the rhythm and are kept.
    """
    line = re.sub(r"\{[^}]*\}", "", line)
    line = re.sub(r'"[^"]*"', "", line)
    line = re.sub(r"![^!]*!", "", line)
    line = re.sub(r"\((?!\d)", "", line)
    line = line.replace(")", "")
    line = line.replace(".", "")
    line = line.replace("~", "")
    return line


def clean_tune(tune, *, simplify=True):
    """Clean one raw ABC tune into a compact block of text.

    Keeps the header fields in :data:`KEPT_FIELDS` (the first title only), writes them as
    ``F:value`` with no space after the colon, drops ``%`` comments and every other field, turns
    the text into ASCII, collapses runs of spaces and removes empty lines, so that a tune is one
    block with no blank line inside. With ``simplify`` (default) ornaments that change neither
    pitch nor rhythm are removed as well (see :func:`_simplify_body`).

    Returns the cleaned tune (a ``str`` without trailing newline). Raises ``ValueError`` when the
    text has no ``X:`` line or no ``K:`` line.
    """
    lines = _ascii(tune).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header, body = [], []
    seen_title = in_body = False
    for raw in lines:
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        match = _FIELD_RE.match(line.strip())
        if match:
            field, value = match.group(1), re.sub(r"\s+", " ", match.group(2).strip())
            if field not in KEPT_FIELDS:
                continue
            if field == "T":
                if seen_title or in_body:
                    continue
                seen_title = True
            if field == "R":
                value = value.lower()
            value = value.strip('"')
            (body if in_body else header).append(f"{field}:{value}")
            if field == "K":
                in_body = True
            continue
        if not in_body:  # music before the K: line is malformed ABC; keep it out of the header
            continue
        if simplify:
            line = _simplify_body(line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            body.append(line)
    if not header or not header[0].startswith("X:"):
        raise ValueError("tune does not start with an X: (reference number) line")
    if not in_body:
        raise ValueError("tune has no K: (key) line, which must end the header")
    return "\n".join(header + body)


def split_tunes(text):
    """Split the text of an ABC file into raw tunes, one per ``X:`` line (file header dropped)."""
    text = text.lstrip("\ufeff")  # a byte-order mark would hide the first tune's X: line
    starts = [m.start() for m in re.finditer(r"(?m)^X:", text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def _corpus_files(source):
    import music21

    root = pathlib.Path(music21.__file__).parent / "corpus"
    files = []
    for folder in CORPUS_SOURCES[source]:
        found = sorted((root / folder).glob("*.abc"))
        if not found:
            raise FileNotFoundError(
                f"music21's corpus folder {root / folder} holds no .abc files. Reinstall music21 "
                f"(pip install --force-reinstall music21) or pass the path of an ABC file."
            )
        files.extend(found)
    return files


def read_abc_text(path):
    """The text of an ABC file: UTF-8 (with or without a byte-order mark), or UTF-16/32 with one.

    Raises ``ValueError`` naming the file and the fix when the file is UTF-16 without a
    byte-order mark (NUL bytes between the letters), which no ABC reader could split into tunes.
    """
    raw = pathlib.Path(path).read_bytes()
    for bom, encoding in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                          (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding, errors="replace")
    head = raw[:4096]
    if head and head.count(b"\x00") > len(head) // 4:
        raise ValueError(
            f"{path} looks like UTF-16 or UTF-32 text without a byte-order mark (every other byte is "
            f"NUL). Save it as UTF-8 (e.g. iconv -f UTF-16LE -t UTF-8 in.abc > out.abc) and load that."
        )
    return raw.decode("utf-8", errors="replace")


def check_abc_file(path):
    """Raise ``ValueError`` saying why unless ``path`` holds at least one ABC tune (X: ... K:).

    Used to verify a downloaded ABC file before it enters the cache, so that an HTML login page or
    an error message served with status 200 is never kept as a tune book.
    """
    text = read_abc_text(path)
    for raw in split_tunes(text):
        try:
            clean_tune(raw)
            return
        except ValueError:
            continue
    start = " ".join(text[:80].split())
    raise ValueError(f"it holds no ABC tune (a block starting with 'X:' and holding 'K:'); it starts with {start!r}")


def _source_files(source):
    if source in CORPUS_SOURCES:
        return _corpus_files(source)
    text = str(source)
    if re.match(r"^(https?|ftp)://", text):
        from . import data

        return [data.fetch(text, verify=check_abc_file)]
    path = pathlib.Path(text).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.abc"))
        if not files:
            raise FileNotFoundError(f"the folder {path} holds no .abc files")
        return files
    if path.is_file():
        return [path]
    raise FileNotFoundError(
        f"{source!r} is neither a corpus name ({', '.join(CORPUS_SOURCES)}), an existing .abc "
        f"file or folder, nor an http(s) URL."
    )


def load_training_data(source="oneills", *, simplify=True, verbose=True):
    """Load cleaned ABC tunes to train on.

    Parameters
    ----------
    source : str or path
        ``"oneills"`` (default: O'Neill's 1850 collection from music21's corpus, 2,009 tunes),
        ``"ryans"`` (Ryan's Mammoth Collection, 1,059 tunes), ``"all"`` (both), the path of an
        ``.abc`` file or of a folder of them, or an http(s) URL of an ``.abc`` file (downloaded
        once through :func:`mitdeeplearning.data.fetch`).
    simplify : bool
        Drop ornaments that change neither pitch nor rhythm (see :func:`clean_tune`).
    verbose : bool
        Print how many tunes were loaded.

    Returns
    -------
    list of str
        One cleaned tune per item, each starting with ``X:`` and holding no blank line. Tunes
        without a ``K:`` line are skipped (and counted in the printed summary).
    """
    songs, skipped = [], 0
    for path in _source_files(source):
        text = read_abc_text(path)
        for raw in split_tunes(text):
            try:
                songs.append(clean_tune(raw, simplify=simplify))
            except ValueError:
                skipped += 1
    if not songs:
        raise ValueError(f"no ABC tune (a block starting with 'X:' and holding 'K:') in {source!r}")
    if verbose:
        extra = f" ({skipped} without a K: line skipped)" if skipped else ""
        print(f"Found {len(songs)} songs in {source!r}{extra}")
    return songs


# ---------------------------------------------------------------------------------------------
# Splitting generated text
# ---------------------------------------------------------------------------------------------


def extract_song_snippet(text):
    """Split text (e.g. model output) into tunes.

    A tune starts at a line beginning with ``X:`` and runs to the next blank line, the next
    ``X:`` line or the end of the text, whichever comes first. Text before the first ``X:`` line
    (an unfinished tune) is ignored, and every tune is counted once. Returns a list of stripped
    strings (possibly empty).
    """
    text = text.replace("\r\n", "\n")
    songs = []
    for chunk in split_tunes(text):
        tune = re.split(r"\n[ \t]*\n", chunk, maxsplit=1)[0].strip()
        if tune:
            songs.append(tune)
    return songs


# ---------------------------------------------------------------------------------------------
# Parsing and validation
# ---------------------------------------------------------------------------------------------


def _headers(song):
    fields = {}
    for line in song.split("\n"):
        match = _FIELD_RE.match(line.strip())
        if match and match.group(1) not in fields:
            fields[match.group(1)] = match.group(2).strip()
    return fields


def _sounding_notes(flat):
    """The notes and chords of a flat stream that make a sound: a duration and at least one pitch.

    Grace notes (``{g}``, or a zero length such as ``A0``) take no time and empty chords ``[]``
    hold no pitch; music21 lists both among a score's notes, but neither can be heard.
    """
    return [n for n in flat.notes if n.duration.quarterLength > 0 and len(n.pitches) > 0]


def parse_song(song):
    """Parse an ABC tune with music21; returns a ``music21.stream.Score``.

    Raises :class:`InvalidSongError` saying why when the text is empty, lacks an ``X:`` or
    ``K:`` header, writes an implausible number or meter, when music21 fails on it or takes more
    than its CPU time limit (see :data:`MUSIC21_TIME_LIMIT_S`), or when it holds no notes that sound (grace notes
    and empty chords do not count).
    """
    if not isinstance(song, str):
        raise InvalidSongError(f"a song must be ABC text (str), got {type(song).__name__}")
    if not song.strip():
        raise InvalidSongError("the song is empty")
    lines = [line.strip() for line in song.strip().split("\n")]
    if not lines[0].startswith("X:"):
        raise InvalidSongError("no X: header: an ABC tune must start with a line 'X:<number>'")
    fields = _headers(song)
    if "K" not in fields:
        raise InvalidSongError("no K: header: an ABC tune needs a key line such as 'K:G' before its notes")
    for number, line in enumerate(lines, 1):
        if re.match(r"^[XTQRP]:", line):
            continue
        big = re.search(r"\d{3,}", line)
        if big:
            # a length like A822482 makes music21 build hundreds of thousands of bars (and use
            # gigabytes); real tunes never write numbers of more than two digits here
            raise InvalidSongError(f"implausible number {big.group()} at line {number}: note lengths and meters have at most two digits")
        meter = re.search(r"(?:^|\[)(M:\s*(\d+)\s*/\s*\d+)", line)
        if meter and int(meter.group(2)) > _MAX_METER_BEATS:
            # music21 needs seconds to build a time signature such as 97/3 (its time grows
            # faster than the square of the numerator); real meters count at most 12 or so
            raise InvalidSongError(
                f"implausible meter {meter.group(1)} at line {number}: a meter counts at most "
                f"{_MAX_METER_BEATS} beats (as in M:6/8 or M:12/8)"
            )
    import music21

    # music21 writes a warning to stderr for every token it cannot read ("assuming C"); a
    # generated tune can produce dozens. They are collected and quoted if parsing fails.
    messages = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(messages):
        warnings.simplefilter("ignore")
        try:
            score = _with_time_limit(
                _music21_time_limit(song), "parse the tune", lambda: music21.converter.parse(song, format="abc")
            )
        except InvalidSongError:
            raise
        except Exception as exc:  # music21 raises many types (ABCTokenException, IndexError, ...)
            raise InvalidSongError(
                f"music21 cannot parse the tune: {type(exc).__name__}: {exc}"
                + (f" (after warnings: {messages.getvalue().strip()[:300]})" if messages.getvalue() else "")
            ) from exc
    if not _sounding_notes(score.flatten()):
        raise InvalidSongError(
            "the tune has zero notes: music21 found no pitches with a duration in its body "
            "(grace notes, zero-length notes and empty chords are not heard)"
        )
    return score


@dataclasses.dataclass
class SongReport:
    """What :func:`validate_song` found out about one tune."""

    playable: bool
    metrically_sound: bool
    reason: str  # "ok" or why the tune fails the stronger level it fails
    num_notes: int = 0
    num_inner_bars: int = 0
    num_full_inner_bars: int = 0

    @property
    def level(self):
        return "metrically sound" if self.metrically_sound else "playable" if self.playable else "invalid"


def _inner_bar_fit(score):
    """(number of inner bars, number that fit the meter) for a parsed tune.

    Empty bars (two bar lines in a row, as in ``||`` at a line end followed by ``|`` at the next
    line's start) are notation, not music, and are skipped. A short bar followed by a short bar
    that completes it (a section ending in the middle of a bar, then a pickup) counts as two bars
    that fit, as both are written correctly.
    """
    import music21

    part = score.parts[0] if score.parts else score
    lengths = []
    for measure in part.getElementsByClass(music21.stream.Measure):
        actual = fractions.Fraction(measure.duration.quarterLength).limit_denominator(96)
        if actual == 0:
            continue
        ts = measure.getContextByClass(music21.meter.TimeSignature)
        expected = None if ts is None else fractions.Fraction(ts.barDuration.quarterLength).limit_denominator(96)
        lengths.append((actual, expected))
    inner = lengths[1:-1]
    fits = [expected is not None and actual == expected for actual, expected in inner]
    for i in range(len(inner) - 1):
        (a, e), (b, _) = inner[i], inner[i + 1]
        if e is not None and a < e and b < e and a + b == e:
            fits[i] = fits[i + 1] = True
    return len(inner), sum(fits)


def validate_song(song, *, min_notes=8, min_bar_fraction=0.8, min_inner_bars=2):
    """Check a tune at two levels and say why it fails.

    *Playable*: it has ``X:`` and ``K:`` headers and music21 parses it to at least ``min_notes``
    notes. *Metrically sound*: playable, and at least ``min_bar_fraction`` of its inner bars (all
    but the first, which may be a pickup, and the last) last exactly what its meter ``M:`` says;
    it needs at least ``min_inner_bars`` of them. Returns a :class:`SongReport`; never raises for
    bad music (the reason is in the report).
    """
    try:
        score = parse_song(song)
    except InvalidSongError as exc:
        return SongReport(False, False, str(exc))
    n_notes = len(_sounding_notes(score.flatten()))  # what play_song would play: no grace notes
    if n_notes < min_notes:
        return SongReport(False, False, f"only {n_notes} notes (need at least {min_notes})", n_notes)
    try:
        inner, fit = _with_time_limit(_music21_time_limit(song), "measure the bars", lambda: _inner_bar_fit(score))
    except Exception as exc:  # music21 can fail on odd meters while measuring bars (or time out)
        return SongReport(True, False, f"bars cannot be measured: {type(exc).__name__}: {exc}", n_notes)
    if inner < min_inner_bars:
        reason = f"only {inner} inner bars (need at least {min_inner_bars} to judge the meter)"
        return SongReport(True, False, reason, n_notes, inner, fit)
    if fit < min_bar_fraction * inner:
        reason = f"only {fit} of {inner} inner bars match the meter (need {min_bar_fraction:.0%})"
        return SongReport(True, False, reason, n_notes, inner, fit)
    return SongReport(True, True, "ok", n_notes, inner, fit)


def is_valid_song(song, level="playable"):
    """True if ``song`` passes ``level`` ("playable" or "metrical") of :func:`validate_song`."""
    if level not in ("playable", "metrical"):
        raise ValueError(f"level must be 'playable' or 'metrical', got {level!r}")
    report = validate_song(song)
    return report.playable if level == "playable" else report.metrically_sound


def summarize_songs(songs, *, progress=True):
    """Validate many tunes; returns ``(reports, summary_line)``.

    The summary reads ``"k/n playable, m/n metrically sound"``.
    """
    iterator = songs
    if progress and len(songs) > 10:
        from .util import tqdm

        iterator = tqdm(songs, desc="validating tunes")
    reports = [validate_song(s) for s in iterator]
    n = len(reports)
    k = sum(r.playable for r in reports)
    m = sum(r.metrically_sound for r in reports)
    return reports, f"{k}/{n} playable, {m}/{n} metrically sound"


# ---------------------------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------------------------


def _tempo_qpm(song, default):
    q = _headers(song).get("Q", "")
    match = re.match(r"^\s*(?:(\d+)/(\d+)\s*=\s*)?(\d+)\s*$", q)
    if not match:
        return default
    # float, not int: a generated Q:1/<5,000 digits>=120 must not hit Python's limit on
    # int(str) digits (ValueError); huge values become inf and are rejected below
    bpm = float(match.group(3))
    if match.group(1):  # "1/4=120": beats of a given note length
        beat = float(match.group(1)) / float(match.group(2)) if float(match.group(2)) > 0 else math.nan
        bpm = bpm * 4 * beat
    if not math.isfinite(bpm) or bpm <= 0:
        return default
    return min(max(bpm, 40.0), 320.0)  # generated tunes may write any tempo; keep it listenable


def song_notes(song):
    """The notes of a tune as an array of ``(start, duration, midi_pitch)`` rows, in quarter notes.

    Ties are merged; chords give one row per pitch; grace notes (no duration) are dropped.
    Raises :class:`InvalidSongError` like :func:`parse_song`.
    """
    if isinstance(song, str):
        score = parse_song(song)
        flat = _with_time_limit(_music21_time_limit(song), "merge the tied notes", lambda: score.flatten().stripTies())
    elif hasattr(song, "flatten") and hasattr(song, "notes"):  # a music21 Score parsed before
        flat = song.flatten().stripTies()
    else:
        raise InvalidSongError(
            f"a song must be ABC text (str) or a score from parse_song, got {type(song).__name__}"
            + (" (did the function that should make the song return nothing?)" if song is None else "")
        )
    rows = []
    for element in _sounding_notes(flat):
        duration = float(element.duration.quarterLength)
        for pitch in element.pitches:
            rows.append((float(element.offset), duration, float(pitch.midi)))
    if not rows:
        raise InvalidSongError("the tune has no sounding notes (only grace notes or rests)")
    return np.array(sorted(rows), dtype=np.float64)


# A plucked note (see _pluck_body) decays at least as fast as exp(-4.1 t): 3 s after its start it is
# below 5e-6 of its peak, under the resolution of 16-bit audio. Longer notes are rendered for
# this long only, so that a chord of a hundred whole notes costs no more than a bar of eighths.
_RING_SECONDS = 3.0


def _audible_freq(midi, sample_rate):
    """Frequency of a MIDI pitch, moved down by octaves until it lies below the Nyquist frequency.

    At 16 kHz anything from C9 (MIDI 120, 8.4 kHz) upwards could not be sampled and would render
    to silence; an octave lower it is still the same note name.
    """
    freq = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    while freq >= sample_rate / 2:
        freq /= 2
    return freq


def _pluck_body(freq, n_samples, sample_rate):
    """A plucked-string-like note without its release: a few harmonics, each decaying faster."""
    t = np.arange(n_samples) / sample_rate
    wave = np.zeros(n_samples)
    for k, amp in ((1, 1.0), (2, 0.5), (3, 0.28), (4, 0.15), (5, 0.08), (6, 0.04)):
        if k * freq >= sample_rate / 2:
            break
        wave += amp * np.exp(-t * (2.5 + 1.6 * k)) * np.sin(2 * np.pi * k * freq * t)
    attack = min(n_samples, int(0.005 * sample_rate))
    wave[:attack] *= np.linspace(0, 1, attack, endpoint=False)
    return wave


def _release(wave, sample_rate):
    """Fade the last 20 ms of a note (in place) so that cutting it off does not click."""
    release = min(len(wave), int(0.02 * sample_rate))
    wave[len(wave) - release :] *= np.linspace(1, 0, release)
    return wave


def synthesize_song(song, *, sample_rate=SAMPLE_RATE, tempo_qpm=None, max_seconds=MAX_PLAY_SECONDS):
    """Render a tune to a mono float32 waveform in [-1, 1] with a small numpy synthesiser.

    ``tempo_qpm`` is quarter notes per minute (default: the tune's ``Q:`` field, else 120; reels
    and jigs are lively). The audio starts at the first note (leading rests are skipped). Notes
    ring for their written length plus a short tail, at most 3 s (a plucked note has died away by
    then); pitches above half the sample rate sound octaves lower. The audio is cut at
    ``max_seconds`` (None: no limit) so notebooks that embed it stay small. Raises
    :class:`InvalidSongError` for a tune that cannot be parsed or has no notes.
    """
    if tempo_qpm is not None and not tempo_qpm > 0:
        raise ValueError(f"tempo_qpm must be a positive number of quarter notes per minute, got {tempo_qpm!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive (or None for no limit), got {max_seconds!r}")
    notes = song_notes(song)
    qpm = tempo_qpm or (_tempo_qpm(song, 120.0) if isinstance(song, str) else 120.0)
    sec_per_quarter = 60.0 / qpm
    # rows are sorted by start; a tune opening with a minute of rests would otherwise be cut at
    # max_seconds before its first note and render to silence although it is playable
    starts = (notes[:, 0] - notes[0, 0]) * sec_per_quarter
    durations = notes[:, 1] * sec_per_quarter
    total = float(np.max(starts + durations)) + 0.3
    if max_seconds is not None:
        total = min(total, float(max_seconds))
    n_total = int(round(total * sample_rate))
    ring = int(_RING_SECONDS * sample_rate)
    placed = []  # (first sample, number of samples, pitch) of every note that starts in the clip
    for start, duration, midi in zip(starts, durations, notes[:, 2]):
        a = int(round(start * sample_rate))
        if a >= n_total:
            break
        placed.append((a, min(int((duration + 0.08) * sample_rate), ring, n_total - a), midi))
    # one waveform per pitch, as long as its longest note: chords and repeated notes reuse it
    longest = {}
    for _, n, midi in placed:
        longest[midi] = max(n, longest.get(midi, 0))
    bodies = {midi: _pluck_body(_audible_freq(midi, sample_rate), n, sample_rate) for midi, n in longest.items()}
    audio = np.zeros(n_total)
    for a, n, midi in placed:
        audio[a : a + n] += _release(bodies[midi][:n].copy(), sample_rate)
    peak = np.max(np.abs(audio))
    if peak == 0:
        raise InvalidSongError("the tune rendered to silence")
    return (0.9 * audio / peak).astype(np.float32)


def _write_wav(path, audio, sample_rate):
    import wave

    pcm = np.clip(audio * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(pcm.tobytes())


def _timidity_wav(song, wav_path):
    missing = [tool for tool in ("abc2midi", "timidity") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"backend='timidity' needs {' and '.join(missing)} on PATH (Debian/Ubuntu: "
            f"apt-get install abcmidi timidity). Use the default backend='numpy', which needs "
            f"no system tools."
        )
    with tempfile.TemporaryDirectory() as tmp:
        abc, mid = pathlib.Path(tmp) / "song.abc", pathlib.Path(tmp) / "song.mid"
        abc.write_text(song)
        for cmd in (["abc2midi", str(abc), "-o", str(mid)], ["timidity", str(mid), "-Ow", "-o", str(wav_path)]):
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 or (cmd[0] == "abc2midi" and not mid.is_file()):
                raise InvalidSongError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return pathlib.Path(wav_path)


def play_song(song, *, backend="numpy", tempo_qpm=None, max_seconds=MAX_PLAY_SECONDS):
    """Return an ``IPython.display.Audio`` that plays the tune (16 kHz mono by default).

    ``backend="numpy"`` (default) synthesises in pure Python; ``backend="timidity"`` uses
    ``abc2midi`` and ``timidity`` from PATH and raises ``RuntimeError`` if they are missing.
    Raises :class:`InvalidSongError` (a ``ValueError``) saying why for an empty, header-less or
    unparsable tune; :func:`is_valid_song` tells beforehand.
    """
    from IPython.display import Audio

    if backend == "numpy":
        audio = synthesize_song(song, tempo_qpm=tempo_qpm, max_seconds=max_seconds)
        return Audio(audio, rate=SAMPLE_RATE)
    if backend == "timidity":
        parse_song(song)  # same errors as the numpy backend for bad tunes
        with tempfile.TemporaryDirectory() as tmp:
            wav = _timidity_wav(song, pathlib.Path(tmp) / "song.wav")
            return Audio(data=wav.read_bytes())
    raise ValueError(f"backend must be 'numpy' or 'timidity', got {backend!r}")


def play_generated_song(generated_text, *, max_songs=3, level="playable"):
    """Extract tunes from generated text, report how many are valid, play the first valid ones.

    Prints ``"k of n tunes valid"`` and displays up to ``max_songs`` players (``None``: all).
    Returns the list of valid tunes. Raises :class:`InvalidSongError` when no tune at all is
    valid, with advice, so that a silent notebook cell never looks like success.
    """
    from IPython.display import display

    songs = extract_song_snippet(generated_text)
    if not songs:
        raise InvalidSongError(
            "no tune (a block starting with 'X:') in the generated text: generate more characters "
            "or start generation from 'X'."
        )
    valid = [s for s in songs if is_valid_song(s, level=level)]
    print(f"{len(valid)} of {len(songs)} tunes valid ({level})")
    if not valid:
        raise InvalidSongError(
            f"none of the {len(songs)} generated tunes is {level}: train longer or lower the "
            f"sampling temperature."
        )
    for song in valid[: max_songs if max_songs is not None else len(valid)]:
        display(play_song(song))
    return valid


def abc_file_to_wav(abc_file, wav_file=None, *, backend="numpy", max_seconds=MAX_PLAY_SECONDS):
    """Render an ``.abc`` file (its first tune) to a WAV file; returns the WAV's ``pathlib.Path``.

    The WAV goes next to the ABC file (same name, ``.wav``) unless ``wav_file`` is given. No shell
    script is needed: the default backend is the numpy synthesiser. Raises
    :class:`InvalidSongError` for a file without a playable tune.
    """
    abc_file = pathlib.Path(abc_file)
    songs = extract_song_snippet(abc_file.read_text())
    if not songs:
        raise InvalidSongError(f"{abc_file} holds no tune starting with 'X:'")
    wav_file = pathlib.Path(wav_file) if wav_file else abc_file.with_suffix(".wav")
    if backend == "timidity":
        parse_song(songs[0])
        return _timidity_wav(songs[0], wav_file)
    if backend != "numpy":
        raise ValueError(f"backend must be 'numpy' or 'timidity', got {backend!r}")
    _write_wav(wav_file, synthesize_song(songs[0], max_seconds=max_seconds), SAMPLE_RATE)
    return wav_file


# ---------------------------------------------------------------------------------------------
# Piano roll
# ---------------------------------------------------------------------------------------------


_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def plot_song(song, *, ax=None, title=None, max_quarters=None):
    """Draw a piano roll of a tune: one bar per note, pitch (MIDI) against time (quarter notes).

    Bar lines of the tune are drawn as thin vertical lines. Returns the matplotlib ``Axes``.
    Raises :class:`InvalidSongError` like :func:`parse_song`.
    """
    import matplotlib.pyplot as plt
    import music21

    score = parse_song(song) if isinstance(song, str) else song
    notes = song_notes(score)
    if max_quarters is not None:
        notes = notes[notes[:, 0] < max_quarters]
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    for start, duration, midi in notes:
        ax.add_patch(plt.Rectangle((start, midi - 0.4), duration * 0.95, 0.8, color="tab:blue"))
    part = score.parts[0] if score.parts else score
    for measure in part.getElementsByClass(music21.stream.Measure):
        if max_quarters is None or measure.offset < max_quarters:
            ax.axvline(float(measure.offset), color="0.85", linewidth=0.8, zorder=0)
    lo, hi = int(notes[:, 2].min()) - 1, int(notes[:, 2].max()) + 1
    ax.set_ylim(lo - 0.5, hi + 0.5)
    ax.set_xlim(0, float(np.max(notes[:, 0] + notes[:, 1])))
    ticks = [m for m in range(lo, hi + 1) if m % 12 in (0, 4, 7)]
    ax.set_yticks(ticks, [f"{_NAMES[m % 12]}{m // 12 - 1}" for m in ticks])
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("pitch")
    if title is None and isinstance(song, str):
        title = _headers(song).get("T")
    if title:
        ax.set_title(title)
    return ax
