"""Pressed model files: the same models as the text, ignored once stale, clear errors."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from seqem.errors import InputFormatError
from seqem.io.hmmer import read_hmmer
from seqem.io.pressed import press, pressed_path, read_pressed

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "profile"


def library(tmp_path):
    """Every model file at hand concatenated: amino and DNA models, with and
    without COMPO, MAP, RF, CS, MM and the Pfam cutoff lines."""
    paths = [REPO / "data" / "example_family.hmm"]
    paths += sorted((SHARED / "tutorial" / "models").glob("*.hmm"))
    paths += sorted((SHARED / "bench" / "fullmodels").glob("*.hmm"))
    out = tmp_path / "library.hmm"
    out.write_text("".join(p.read_text() for p in paths))
    return out


def same(a, b):
    for field in ("name", "accession", "description", "nseq", "effn", "stats", "consensus",
                  "rf", "mm", "cs", "meta"):  # fmt: skip
        assert getattr(a, field) == getattr(b, field), (a.name, field)
    assert a.alphabet.name == b.alphabet.name
    for field in ("match", "insert", "transitions", "compo", "map"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None), (a.name, field)
        if x is not None:
            assert np.array_equal(x, y), (a.name, field)


def test_pressed_models_equal_the_text(tmp_path):
    path = library(tmp_path)
    text = read_hmmer(path, pressed=False)
    assert press(path) == len(text)
    pressed = read_pressed(path)
    assert pressed is not None and len(pressed) == len(text)
    for a, b in zip(pressed, text, strict=True):
        same(a, b)
    # read_hmmer takes the pressed form when it is current
    for a, b in zip(read_hmmer(path), text, strict=True):
        same(a, b)


def test_a_changed_text_file_is_read_again(tmp_path):
    path = tmp_path / "m.hmm"
    shutil.copy(REPO / "data" / "example_family.hmm", path)
    press(path)
    assert read_pressed(path) is not None
    text = path.read_text().replace("NAME  example_family", "NAME  renamed_family")
    path.write_text(text)
    assert read_pressed(path) is None
    assert read_hmmer(path)[0].name == "renamed_family"
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched only
    assert read_pressed(path) is None


def test_corrupt_press_is_one_clear_error(tmp_path):
    path = tmp_path / "m.hmm"
    shutil.copy(REPO / "data" / "example_family.hmm", path)
    press(path)
    Path(pressed_path(path)).write_bytes(b"not a zip file")
    with pytest.raises(InputFormatError, match="press again") as info:
        read_hmmer(path)
    assert pressed_path(path) in str(info.value)


def test_press_refuses_bad_input(tmp_path):
    bad = tmp_path / "bad.hmm"
    bad.write_text("HMMER3/f [3.3.2]\nNAME x\n")
    with pytest.raises(InputFormatError):
        press(bad)
    assert not Path(pressed_path(bad)).exists()
    with pytest.raises(InputFormatError, match="standard input"):
        press("-")


def test_truncated_or_flipped_press_is_one_clear_error(tmp_path):
    """A cut-off pressed file (zipfile.BadZipFile) and one with a flipped byte in an
    array (Bad CRC-32) are the one-line 'press again' error, from every reader."""
    path = tmp_path / "m.hmm"
    shutil.copy(REPO / "data" / "example_family.hmm", path)
    press(path)
    packed = Path(pressed_path(path))
    whole = packed.read_bytes()
    flipped = bytearray(whole)
    flipped[len(whole) // 2] ^= 0x01  # inside the model values
    for data in (whole[:1000], bytes(flipped)):
        packed.write_bytes(data)
        with pytest.raises(InputFormatError, match="delete it or press again") as info:
            read_hmmer(path)
        assert str(info.value).startswith(f"{packed}: ") and "\n" not in str(info.value)


def test_a_damaged_press_never_gives_other_models(tmp_path):
    """Every damage tried (cut at many lengths, bits flipped at many places) gives
    either the one clear error or the very models of the text file."""
    path = tmp_path / "m.hmm"
    shutil.copy(REPO / "data" / "example_family.hmm", path)
    text = read_hmmer(path, pressed=False)
    press(path)
    packed = Path(pressed_path(path))
    whole = packed.read_bytes()
    damaged = [whole[:n] for n in range(0, len(whole), 37)]
    for i in range(0, len(whole), 11):
        for bit in (0x01, 0x80):
            data = bytearray(whole)
            data[i] ^= bit
            damaged.append(bytes(data))
    errors = 0
    for data in damaged:
        packed.write_bytes(data)
        try:
            models = read_pressed(path)
        except InputFormatError as exc:
            assert "\n" not in str(exc)
            errors += 1
            continue
        assert models is not None and len(models) == len(text)
        for a, b in zip(models, text, strict=True):
            same(a, b)
    assert errors > len(damaged) // 2
