"""atomic_output: the target appears whole or not at all."""

import gzip
import os
import stat
import threading

import pytest

from seqem.io.atomic import atomic_output, is_gz_name, staged_outputs


def leftovers(folder):
    return [name for name in os.listdir(folder) if name.endswith(".part")]


def test_writes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_output(target) as fh:
        fh.write("a\tb\n")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_text() == "a\tb\n"
    assert leftovers(tmp_path) == []


def test_permissions_follow_the_umask(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_output(target) as fh:
        fh.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_error_removes_temporary_and_keeps_old_file(tmp_path, exc):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(exc), atomic_output(target) as fh:
        fh.write("half a new file")
        raise exc()
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_error_leaves_no_file(tmp_path):
    target = tmp_path / "new.bed"
    with pytest.raises(RuntimeError), atomic_output(target) as fh:
        fh.write("x")
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_gz_name_compresses_reproducibly(tmp_path):
    outputs = []
    for name in ("a.tsv.gz", "b.tsv.GZ"):
        target = tmp_path / name
        with atomic_output(target) as fh:
            fh.write("x\n1\n")
        assert gzip.decompress(target.read_bytes()) == b"x\n1\n"
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]  # no timestamp or name in the header


def test_compress_can_be_forced_off(tmp_path):
    target = tmp_path / "plain.gz"
    with atomic_output(target, compress=False) as fh:
        fh.write("text")
    assert target.read_text() == "text"


def test_binary_mode(tmp_path):
    target = tmp_path / "blob.bin"
    with atomic_output(target, "wb") as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_dash_is_stdout(capsys, tmp_path):
    with atomic_output("-") as fh:
        fh.write("to stdout\n")
    assert capsys.readouterr().out == "to stdout\n"
    assert os.listdir(tmp_path) == []


def test_missing_directory_names_the_target(tmp_path):
    target = tmp_path / "nope" / "out.txt"
    with pytest.raises(FileNotFoundError) as info, atomic_output(target):
        pass  # pragma: no cover
    assert info.value.filename == str(target)


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"), atomic_output("x", "a"):
        pass  # pragma: no cover


def test_is_gz_name():
    assert is_gz_name("x.fa.gz") and is_gz_name("X.GZ")
    assert not is_gz_name("x.fa") and not is_gz_name("gz")


def test_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "private.txt"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    with atomic_output(target) as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_symbolic_link_is_followed(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_output(link) as fh:
        fh.write("new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_devices_and_pipes_are_written_in_place(tmp_path):
    # renaming over /dev/null would replace the device with a regular file
    with atomic_output(os.devnull) as fh:
        fh.write("discarded\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with atomic_output(fifo) as fh:
        fh.write("through the pipe\n")
    reader.join(10)
    assert got == ["through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_staged_outputs_are_committed_together(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a\n")
    with staged_outputs():
        with atomic_output(a) as fh:
            fh.write("new a\n")
        assert a.read_text() == "old a\n"  # not before the block ends
        with staged_outputs():  # nested: commits with the outer block
            with atomic_output(b) as fh:
                fh.write("new b\n")
        assert not b.exists()
    assert a.read_text() == "new a\n" and b.read_text() == "new b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_staged_outputs_are_dropped_on_error(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a\n")
    with pytest.raises(RuntimeError), staged_outputs():
        with atomic_output(a) as fh:
            fh.write("new a\n")
        with atomic_output(b) as fh:
            fh.write("new b\n")
        raise RuntimeError("a later step failed")
    assert a.read_text() == "old a\n" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with staged_outputs() as stage:
        with atomic_output(b) as fh:
            fh.write("new b\n")
        stage.discard()
    assert not b.exists()
