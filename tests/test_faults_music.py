"""Bad input to lab 1's ABC helpers: encodings, None, and long valid tunes against the time limit."""

import re

import pytest

from mitdeeplearning import music

TWO_TUNES = (
    "X:1\nT:First\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n\n"
    "X:2\nT:Second\nM:6/8\nL:1/8\nK:D\nFAA DAA|FAA dAF|EAA cAA|EAA ecA|\n"
)


def test_utf8_byte_order_mark_keeps_the_first_tune(tmp_path):
    path = tmp_path / "bom.abc"
    path.write_bytes(b"\xef\xbb\xbf" + TWO_TUNES.encode())
    songs = music.load_training_data(str(path), verbose=False)
    assert [s.split("\n")[1] for s in songs] == ["T:First", "T:Second"]
    assert len(music.extract_song_snippet("\ufeff" + TWO_TUNES)) == 2  # text with a BOM too


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, encoding):
    path = tmp_path / "wide.abc"
    data = TWO_TUNES.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path.write_bytes(data)
    assert len(music.load_training_data(str(path), verbose=False)) == 2


def test_utf16_without_byte_order_mark_names_the_encoding_and_the_fix(tmp_path):
    path = tmp_path / "wide.abc"
    path.write_bytes(TWO_TUNES.encode("utf-16-le"))
    with pytest.raises(ValueError, match="UTF-16") as info:
        music.load_training_data(str(path), verbose=False)
    assert str(path) in str(info.value) and "Save it as UTF-8" in str(info.value)


@pytest.mark.parametrize("call", [music.song_notes, music.synthesize_song, music.parse_song])
def test_none_is_refused_with_the_type_named(call):
    with pytest.raises(music.InvalidSongError, match="got NoneType"):
        call(None)


def test_play_song_of_none_is_a_clear_error():
    with pytest.raises(Exception) as info:
        music.play_song(None)
    assert not isinstance(info.value, AttributeError)
    assert "NoneType" in str(info.value) or "None" in str(info.value)


def _limit(kb):
    return music._music21_time_limit("x" * int(kb * 1000))


def test_time_limit_follows_music21s_quadratic_cost():
    """music21's parse time grows with the square of the length; the limit must keep a margin
    over the slowest measured rate at every length up to a 4,000-bar tune (40 KB), while a
    short (hostile) tune is still stopped within seconds."""
    for kb in (1, 2, 5, 10, 20, 30, 40):
        worst_cost = music.MUSIC21_MEASURED_WORST_S_PER_KB2 * kb * kb
        assert _limit(kb) >= 2 * worst_cost, (kb, _limit(kb), worst_cost)
    assert _limit(1) <= 5.0 and _limit(0.3) <= 2.5


def _long_reel(bars):
    body = ["GABc dedB", "dedB dedB", "c2ec B2dB", "c2A2 A2BA", "GABc dedB", "dedB dedB", "cBAG FGAF", "G2G2 G4"]
    lines = ["|".join(body[(i + k) % 8] for k in range(8)) + "|" for i in range(0, bars, 8)]
    return "X:1\nT:Long reel\nM:4/4\nL:1/8\nK:G\n" + "\n".join(lines)


def test_a_long_valid_tune_is_judged_metrically_sound():
    song = _long_reel(200)  # 2.1 KB, ~0.5 s of music21 here
    report = music.validate_song(song)
    assert report.metrically_sound, report.reason
    assert report.num_inner_bars >= 190


def test_timeout_message_says_what_happened(monkeypatch):
    monkeypatch.setattr(music, "MUSIC21_TIME_LIMIT_S", 0.05)
    monkeypatch.setattr(music, "MUSIC21_TIME_LIMIT_PER_KB_S", 0.0)
    monkeypatch.setattr(music, "MUSIC21_TIME_LIMIT_PER_KB2_S", 0.0)
    report = music.validate_song(_long_reel(400))
    assert not report.playable
    assert re.search(r"music21 used more than 0.05 s of CPU time to parse the tune", report.reason)
