"""parse_region: 1-based inclusive text to 0-based half-open coordinates."""

import pytest

from seqem.errors import ParameterError
from seqem.io.regions import parse_region


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chr1", ("chr1", 0, None)),
        ("chr1:1-1", ("chr1", 0, 1)),
        ("chr1:1000-2000", ("chr1", 999, 2000)),
        ("chr1:1,000-2,000", ("chr1", 999, 2000)),
        ("chr1:500", ("chr1", 499, None)),
        ("chr1:500-", ("chr1", 499, None)),
        (" chrX:10-20 ", ("chrX", 9, 20)),
        ("HLA-A*01:01:x", ("HLA-A*01:01:x", 0, None)),  # ':' inside a name
        ("scaffold_1|abc", ("scaffold_1|abc", 0, None)),
    ],
)
def test_parse(text, expected):
    assert parse_region(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty region"),
        ("   ", "empty region"),
        ("chr1:0-10", "1-based"),
        ("chr1:20-10", "ends before it starts"),
        ("chr1:10--20", "malformed region"),
        ("chr1:-20", "malformed region"),
        ("chr1:", "malformed region"),
        (":1-10", "no sequence name"),
    ],
)
def test_malformed(text, message):
    with pytest.raises(ParameterError, match=message) as info:
        parse_region(text)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["1:abc", "1:1-1e3", "1:10k", "chr1:1-2,x"])
def test_with_names_text_after_colon_must_be_coordinates(text):
    """Knowing the file's names, 'NAME:junk' is malformed rather than a name
    (without them, '1:abc' could be a name; '1:1-1e3' never is)."""
    with pytest.raises(ParameterError, match="malformed region"):
        parse_region(text, names={"1", "chr1"})


def test_without_names_numeric_looking_coordinates_are_malformed():
    for text in ("1:1-1e3", "1:10k", "1:1.5"):
        with pytest.raises(ParameterError, match="malformed region"):
            parse_region(text)
    assert parse_region("1:abc") == ("1:abc", 0, None)


def test_a_known_name_with_colons_is_the_whole_record():
    names = {"HLA-A*01:01", "HLA-A*01:01:x"}
    assert parse_region("HLA-A*01:01", names=names) == ("HLA-A*01:01", 0, None)
    assert parse_region("HLA-A*01:01:x", names=names) == ("HLA-A*01:01:x", 0, None)
    assert parse_region("HLA-A*01:01:5-10", names=names) == ("HLA-A*01:01", 4, 10)
