"""ABC loading, cleaning, splitting, validation, synthesis and drawing (mitdeeplearning.music)."""

import wave

import numpy as np
import pytest

from mitdeeplearning import music

GOOD = """X:1
T:Test Jig
M:6/8
L:1/8
K:G
D|GAB cde|gfe dcB|GAB cde|dBG A2D|GAB cde|gfe dcB|AGF GAB|G3 G2||"""

RAW = """%abc-2.1
% a file header comment

X: 7
T: The  Tune   One
T: Another title
M: 6/8
L: 1/8
B: "O'Neill's 7"
N: "Lively" "collected by J. O'Neill"
Z: "Transcribed by Somebody"
R: Double Jig
K:G
{d}(GAB) .c~de | "Am"gfe dcB |   % a comment
GAB cde|dBG A2D||

X: 8
T: Caf\u00e9 Tune
M: 2/4
L: 1/16
S: some source
K:D
(3ABc d2 d4|A2B2 A4||
"""


@pytest.fixture(scope="module")
def oneills():
    return music.load_training_data(verbose=False)


def test_corpus_loads_all_oneills_tunes_with_small_vocabulary(oneills):
    assert len(oneills) == 2009
    assert all(s.startswith("X:") and "\n\n" not in s and "K:" in s for s in oneills)
    vocab = set("\n\n".join(oneills))
    assert len(vocab) < 90
    assert all(ord(c) < 128 for c in vocab)
    assert not any(line.startswith(("Z:", "B:", "N:", "S:")) for s in oneills for line in s.split("\n"))


def test_load_prints_count(capsys):
    songs = music.load_training_data("ryans")
    assert len(songs) > 1000
    assert f"Found {len(songs)} songs" in capsys.readouterr().out


def test_load_from_file_and_folder(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text(RAW)
    assert len(music.load_training_data(path, verbose=False)) == 2
    assert len(music.load_training_data(tmp_path, verbose=False)) == 2
    with pytest.raises(FileNotFoundError, match="neither a corpus name"):
        music.load_training_data(tmp_path / "missing.abc")
    (tmp_path / "empty.abc").write_text("no tunes here\n")
    with pytest.raises(ValueError, match="no ABC tune"):
        music.load_training_data(tmp_path / "empty.abc")


def test_load_from_url_goes_through_data_layer(tmp_path, http_server, data_home):
    http_server.files["tunes.abc"] = RAW.encode()
    songs = music.load_training_data(http_server.url("ok", "tunes.abc"), verbose=False)
    assert len(songs) == 2
    assert [p.name for p in (data_home / "urls").rglob("*.abc")] == ["tunes.abc"]


def test_load_from_url_offline_raises(monkeypatch, data_home):
    from mitdeeplearning.data import DataUnavailableError

    monkeypatch.setenv("MDL_OFFLINE", "1")
    with pytest.raises(DataUnavailableError):
        music.load_training_data("https://example.invalid/tunes.abc")


def test_clean_tune_keeps_music_headers_and_drops_the_rest():
    tune = music.clean_tune(music.split_tunes(RAW)[0])
    lines = tune.split("\n")
    assert lines[:6] == ["X:7", "T:The Tune One", "M:6/8", "L:1/8", "R:double jig", "K:G"]
    assert lines[6] == "GAB cde | gfe dcB |"  # grace note, slur, staccato, roll, chord symbol, comment gone
    assert "Another title" not in tune and "O'Neill" not in tune and "Transcribed" not in tune


def test_clean_tune_ascii_and_keeps_tuplets():
    tune = music.clean_tune(music.split_tunes(RAW)[1])
    assert "T:Cafe Tune" in tune and "S:" not in tune
    assert "(3ABc" in tune


def test_clean_tune_without_simplify_keeps_ornaments():
    tune = music.clean_tune(music.split_tunes(RAW)[0], simplify=False)
    assert "{d}(GAB) .c~de" in tune


def test_clean_tune_rejects_headerless_text():
    with pytest.raises(ValueError, match="X:"):
        music.clean_tune("T:no number\nK:G\nabc")
    with pytest.raises(ValueError, match="K:"):
        music.clean_tune("X:1\nT:no key\nabc")


def test_extract_first_last_and_no_double_counting():
    tunes = [f"X:{i}\nT:t{i}\nK:G\nGAB|" for i in range(5)]
    text = "\n\n".join(tunes)  # no trailing blank line after the last tune
    assert music.extract_song_snippet(text) == tunes
    assert music.extract_song_snippet(text + "\n\n\n") == tunes
    # text before the first X: (an unfinished tune) is not a tune
    assert music.extract_song_snippet("cde|fga|\n\n" + text) == tunes
    # a tune that runs into the next X: without a blank line is still split there
    assert music.extract_song_snippet("X:1\nK:G\nabc\nX:2\nK:D\ndef") == ["X:1\nK:G\nabc", "X:2\nK:D\ndef"]
    # garbage after a blank line following a tune is not part of it
    assert music.extract_song_snippet("X:1\nK:G\nabc\n\ngarbage") == ["X:1\nK:G\nabc"]
    assert music.extract_song_snippet("") == []
    assert music.extract_song_snippet("no tune at all") == []


def test_extract_counts_every_corpus_tune_once(oneills):
    assert len(music.extract_song_snippet("\n\n".join(oneills[:804]))) == 804


def test_real_tunes_are_valid_at_both_levels(oneills):
    rng = np.random.default_rng(1)
    sample = [oneills[i] for i in rng.choice(len(oneills), 25, replace=False)]
    reports = [music.validate_song(s) for s in sample]
    assert all(r.playable for r in reports)
    assert sum(r.metrically_sound for r in reports) >= 23


def test_random_text_is_often_playable_but_not_metrically_sound(oneills):
    text = "\n".join(oneills[:300])
    chars, counts = np.unique(list(text), return_counts=True)
    rng = np.random.default_rng(0)
    header = "X:1\nT:Random\nM:6/8\nL:1/8\nK:G\n"
    reports = [music.validate_song(header + "".join(rng.choice(chars, 300, p=counts / counts.sum()))) for _ in range(15)]
    assert sum(r.playable for r in reports) >= 5
    assert sum(r.metrically_sound for r in reports) <= 2


@pytest.mark.parametrize(
    "song, reason",
    [
        ("", "empty"),
        ("T:x\nM:6/8\nL:1/8\nK:G\nGAB cde|", "no X: header"),
        ("X:1\nT:x\nM:6/8\nL:1/8\nGAB cde|", "no K: header"),
        ("X:1\nM:6/8\nL:1/8\nK:G\n", "zero notes"),
        ("X:1\nK:G\nqqq rrr", "cannot parse"),
        ("X:1\nM:6/8\nL:1/8\nK:G\nGAB c822482de|", "implausible number 822482"),
    ],
)
def test_invalid_songs_raise_with_reason(song, reason):
    with pytest.raises(music.InvalidSongError, match=reason):
        music.parse_song(song)
    with pytest.raises(ValueError, match=reason):  # InvalidSongError is a ValueError
        music.play_song(song)
    report = music.validate_song(song)
    assert not report.playable and reason in report.reason


def test_truncated_tune_is_not_playable():
    truncated = GOOD[: GOOD.index("K:G") + 7]  # header and two notes
    report = music.validate_song(truncated)
    assert not report.playable and "notes" in report.reason


def test_wrong_bar_lengths_are_playable_but_not_metrically_sound():
    bad = "X:1\nM:6/8\nL:1/8\nK:G\nD|GA cde|gfe dcBA|GAB cd|dBG A2D2|GAB c|gfe dcB|AGF GAB|G3 G2||"
    report = music.validate_song(bad)
    assert report.playable and not report.metrically_sound
    assert "inner bars" in report.reason
    good = music.validate_song(GOOD)
    assert good.metrically_sound and good.level == "metrically sound"
    assert music.is_valid_song(GOOD) and music.is_valid_song(GOOD, level="metrical")
    assert music.is_valid_song(bad) and not music.is_valid_song(bad, level="metrical")
    with pytest.raises(ValueError, match="level"):
        music.is_valid_song(GOOD, level="strict")


def test_summarize_songs_line():
    _, line = music.summarize_songs([GOOD, "garbage"], progress=False)
    assert line == "1/2 playable, 1/2 metrically sound"


def test_song_notes_and_synthesis_length():
    notes = music.song_notes(GOOD)
    assert notes.shape[1] == 3 and len(notes) == 44  # D + 6+6+6+5+6+6+6 + 2
    end_quarters = float(np.max(notes[:, 0] + notes[:, 1]))
    audio = music.synthesize_song(GOOD, tempo_qpm=120)
    assert audio.dtype == np.float32 and audio.ndim == 1
    expected = (end_quarters * 0.5 + 0.3) * music.SAMPLE_RATE
    assert abs(len(audio) - expected) <= 2
    assert np.max(np.abs(audio)) > 0.5  # not silent
    rms = np.sqrt(np.mean(audio[: music.SAMPLE_RATE] ** 2))
    assert rms > 0.05
    # pitch: the first note is D4 (293.7 Hz); its spectrum peaks there
    first = audio[: int(0.25 * music.SAMPLE_RATE)]
    freqs = np.fft.rfftfreq(len(first), 1 / music.SAMPLE_RATE)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(first)))] - 293.7) < 8


def test_synthesis_is_capped_and_tempo_scales():
    slow = music.synthesize_song(GOOD, tempo_qpm=60, max_seconds=None)
    fast = music.synthesize_song(GOOD, tempo_qpm=120, max_seconds=None)
    assert len(slow) > 1.8 * len(fast)
    capped = music.synthesize_song(GOOD, tempo_qpm=60, max_seconds=2)
    assert len(capped) == 2 * music.SAMPLE_RATE


def test_play_song_returns_16khz_audio(oneills):
    from IPython.display import Audio

    audio = music.play_song(oneills[0])
    assert isinstance(audio, Audio)
    assert audio.data[:4] == b"RIFF"
    with wave.open(__import__("io").BytesIO(audio.data)) as f:
        assert f.getframerate() == 16000 and f.getnchannels() == 1
        frames = f.getnframes()
    # the whole tune, not a clip of it (this one lasts about 24 s)
    assert frames == len(music.synthesize_song(oneills[0], max_seconds=None)) > 20 * 16000


def test_play_song_caps_a_runaway_tune():
    endless = "X:1\nL:1/4\nQ:1/4=240\nK:C\n" + "CDEF|" * 1200  # 20 minutes of crotchets
    audio = music.play_song(endless)
    with wave.open(__import__("io").BytesIO(audio.data)) as f:
        assert f.getnframes() == int(music.MAX_PLAY_SECONDS * 16000)


def test_timidity_backend_missing_tools_raise(monkeypatch):
    monkeypatch.setattr(music.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="abc2midi"):
        music.play_song(GOOD, backend="timidity")
    with pytest.raises(ValueError, match="backend"):
        music.play_song(GOOD, backend="midi")


def test_play_generated_song_reports_and_plays(capsys):
    text = GOOD + "\n\nX:2\nK:G\nqqq\n\n" + GOOD.replace("X:1", "X:3")
    valid = music.play_generated_song(text, max_songs=1)
    assert len(valid) == 2
    assert "2 of 3 tunes valid" in capsys.readouterr().out
    with pytest.raises(music.InvalidSongError, match="none of the 1"):
        music.play_generated_song("X:2\nK:G\nqqq")
    with pytest.raises(music.InvalidSongError, match="no tune"):
        music.play_generated_song("just text")


def test_kept_file_helpers(tmp_path, monkeypatch):
    from mitdeeplearning.compat2021 import lab1 as compat

    monkeypatch.chdir(tmp_path)
    base = compat.save_song_to_abc(GOOD)
    assert base == "tmp" and (tmp_path / "tmp.abc").read_text() == GOOD
    assert compat.abc2wav("tmp.abc") == 0  # the 2020/21 return value: the exit status of success
    wav = tmp_path / "tmp.wav"
    assert music.abc_file_to_wav("tmp.abc", tmp_path / "again.wav") == tmp_path / "again.wav"
    with wave.open(str(wav)) as f:
        assert f.getframerate() == 16000 and f.getnframes() > 16000
    assert compat.play_wav(str(wav)).data[:4] == b"RIFF"
    with pytest.raises(FileNotFoundError, match="abc2wav"):
        compat.play_wav("nothing.wav")


def test_plot_song_draws_every_note():
    import matplotlib

    matplotlib.use("Agg")
    ax = music.plot_song(GOOD)
    assert len(ax.patches) == len(music.song_notes(GOOD))
    assert ax.get_title() == "Test Jig"
    assert ax.get_xlabel().startswith("time")
    with pytest.raises(music.InvalidSongError):
        music.plot_song("X:1\nK:G\n")
