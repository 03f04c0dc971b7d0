"""Checkpoints: round trip, atomic writes, corrupt and truncated files, no pickle."""
import os

import numpy as np
import pytest

from numconv import checkpoint


def _state(rng):
    return {
        "model": {"conv1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "fc.bias": rng.standard_normal(10)},
        "optim": {"state": {0: {"step": 3, "exp_avg": rng.standard_normal(5)}}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999)}]},
        "epoch": 7,
        "rng": {"bit_generator": "PCG64", "state": {"state": 2 ** 100 + 17, "inc": 12345}},
        "name": "lenet5",
        "nothing": None,
    }


def test_round_trip_keeps_values_dtypes_and_structure(tmp_path):
    rng = np.random.default_rng(0)
    s = _state(rng)
    path = tmp_path / "ck.npz"
    checkpoint.save(path, s)
    back = checkpoint.load(path)
    assert back["model"]["conv1.weight"].dtype == np.float32
    np.testing.assert_array_equal(back["model"]["conv1.weight"], s["model"]["conv1.weight"])
    np.testing.assert_array_equal(back["optim"]["state"][0]["exp_avg"], s["optim"]["state"][0]["exp_avg"])
    assert list(back["optim"]["state"]) == [0]  # an int key comes back an int (an optimizer's state, as PyTorch's)
    assert back["optim"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["rng"]["state"]["state"] == 2 ** 100 + 17
    assert back["epoch"] == 7 and back["name"] == "lenet5" and back["nothing"] is None


def test_file_loads_without_pickle(tmp_path):
    path = tmp_path / "ck.npz"
    checkpoint.save(path, _state(np.random.default_rng(1)))
    with np.load(path, allow_pickle=False) as z:
        assert "__structure__" in z.files


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_raises_clear_error(tmp_path, damage):
    path = tmp_path / "ck.npz"
    checkpoint.save(path, _state(np.random.default_rng(2)))
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint" * 10)
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        checkpoint.load(path)


@pytest.mark.parametrize("field, value, raised", [(6, 99, "NotImplementedError"), (8, 1, "RuntimeError")],
                         ids=["version", "encrypted"])
def test_a_damaged_zip_directory_byte_is_a_clear_error(tmp_path, field, value, raised):
    """One byte of the central directory (the version needed to extract, the flags' encrypted bit)
    made Python's zipfile raise NotImplementedError or RuntimeError, not a damaged-file error."""
    import zipfile

    path = tmp_path / "ck.npz"
    checkpoint.save(path, _state(np.random.default_rng(4)))
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first member's central directory record
    data[entry + field] = value
    path.write_bytes(bytes(data))
    with pytest.raises(Exception) as plain:  # what zipfile itself does with it
        with zipfile.ZipFile(path) as zf:
            zf.read(zf.namelist()[0])
    assert type(plain.value).__name__ == raised
    with pytest.raises(ValueError, match=f"corrupt or truncated.*{raised}"):
        checkpoint.load(path)


@pytest.mark.parametrize("proc", [True, False], ids=["umask-from-proc", "umask-set-and-restored"])
def test_a_checkpoint_gets_the_mode_a_plain_file_would(tmp_path, monkeypatch, proc):
    from numconv import atomic

    if not proc:  # no /proc (macOS, say): the umask is read by setting it and restoring it
        def no_proc(*a, **k):
            raise OSError("no /proc here")

        monkeypatch.setattr(atomic, "open", no_proc, raising=False)
    old = os.umask(0o027)
    try:
        path = tmp_path / "ck.npz"
        checkpoint.save(path, _state(np.random.default_rng(5)))
        (tmp_path / "plain").write_text("x")
        assert os.stat(path).st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777 == 0o640
        assert os.umask(0o027) == 0o027  # left as it was
    finally:
        os.umask(old)


def test_npz_without_structure_is_rejected(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match="not a numconv checkpoint"):
        checkpoint.load(path)


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    good = _state(np.random.default_rng(3))
    checkpoint.save(path, good)
    with pytest.raises(TypeError):
        checkpoint.save(path, {"bad": object()})

    def crash_midway(f, **arrays):  # the disk fills up halfway through the write
        f.write(b"PK\x03\x04 partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", crash_midway)
    with pytest.raises(OSError, match="No space"):
        checkpoint.save(path, _state(np.random.default_rng(4)))
    monkeypatch.undo()
    back = checkpoint.load(path)
    np.testing.assert_array_equal(back["model"]["fc.bias"], good["model"]["fc.bias"])
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")] == []


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.load(tmp_path / "nope.npz")


def test_a_npy_file_is_not_a_checkpoint(tmp_path):
    """np.load reads a .npy as one array; it was then used as an archive (a TypeError from NumPy)."""
    path = tmp_path / "ck.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        checkpoint.load(str(path))


def test_a_header_declaring_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    """A member whose .npy header declares a shape of 10**10 (crafted or damaged) is corrupt: refused
    from its header, where NumPy would try to allocate 80 GB first."""
    import zipfile

    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    checkpoint.save(str(good), {"w": np.arange(10.0), "meta": {"epoch": 3}})
    crafted = 0
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if b"(10,)" in data[:128]:
                data, crafted = data.replace(b"(10,)", b"(10000000000,)", 1), crafted + 1
            zout.writestr(info.filename, data)
    assert crafted == 1
    with pytest.raises(ValueError, match=r"declares shape \(10000000000,\)"):
        checkpoint.load(str(bad))
    assert checkpoint.load(str(good))["meta"] == {"epoch": 3}


def test_saving_over_a_file_keeps_its_mode_and_follows_a_link(tmp_path):
    private = tmp_path / "private.npz"
    checkpoint.save(private, _state(np.random.default_rng(6)))
    os.chmod(private, 0o600)
    checkpoint.save(private, _state(np.random.default_rng(7)))
    assert os.stat(private).st_mode & 0o777 == 0o600  # as open() would: still private
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    checkpoint.save(target, _state(np.random.default_rng(8)))
    os.symlink(target, link)
    state = _state(np.random.default_rng(9))
    checkpoint.save(link, state)
    assert os.path.islink(link)  # the link stays, the file it names has the new contents
    loaded = checkpoint.load(target)
    np.testing.assert_array_equal(loaded["model"]["fc.bias"], state["model"]["fc.bias"])


def test_files_of_other_kinds_are_not_numconv_checkpoints(tmp_path, torch):
    """A PyTorch .pt, a pickle, a .npy and a directory were all called 'corrupt or truncated'."""
    import pickle

    rng = np.random.default_rng(10)
    torch.save({"w": torch.from_numpy(rng.standard_normal(3))}, tmp_path / "model.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"a": rng.standard_normal(2)}))
    np.save(tmp_path / "a.npy", rng.standard_normal(4))
    for name, words in (("model.pt", "PyTorch file"), ("legacy.pt", "pickle"), ("p.pkl", "pickle"),
                        ("a.npy", ".npy array file, not an .npz archive"), ("", "directory")):
        with pytest.raises(ValueError, match="not a numconv checkpoint") as e:
            checkpoint.load(tmp_path / name)
        assert words in str(e.value) and "corrupt" not in str(e.value), (name, e.value)
    good = tmp_path / "ck.npz"  # a checkpoint cut short is still called damaged, not foreign
    checkpoint.save(good, _state(rng))
    good.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt or truncated") as e:
        checkpoint.load(good)
    assert "not a numconv checkpoint" not in str(e.value)


def test_numpy_scalars_come_back_as_the_same_scalars(tmp_path):
    """np.float32, np.int64 and np.bool_ came back as 0-d arrays, np.float64 as a Python float."""
    rng = np.random.default_rng(11)
    values = {"f32": np.float32(rng.standard_normal()), "f64": np.float64(rng.standard_normal()),
              "f16": np.float16(rng.standard_normal()), "i64": np.int64(rng.integers(-2**62, 2**62)),
              "u8": np.uint8(rng.integers(0, 256)), "b": np.bool_(rng.random() < 0.5), "s": np.str_("label"),
              "py": [float(rng.standard_normal()), int(rng.integers(100)), True], "zero_d": np.array(2.5)}
    path = tmp_path / "s.npz"
    checkpoint.save(path, values)
    back = checkpoint.load(path)
    for k, v in values.items():
        if k == "py":
            assert back[k] == v and [type(x) for x in back[k]] == [float, int, bool]
        elif k == "zero_d":
            assert isinstance(back[k], np.ndarray) and back[k].shape == () and back[k] == 2.5
        else:
            assert type(back[k]) is type(v) and back[k] == v, (k, type(back[k]), back[k])


def test_save_fsyncs_the_directory_after_the_rename(tmp_path, monkeypatch):
    import stat

    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    checkpoint.save(tmp_path / "ck.npz", _state(np.random.default_rng(12)))
    if hasattr(os, "O_DIRECTORY"):  # POSIX: the file, then (after the rename) its folder
        assert synced == [False, True], synced
    synced.clear()
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)  # a platform without it: skipped, not an error
    checkpoint.save(tmp_path / "ck.npz", _state(np.random.default_rng(13)))
    assert synced == [False] and checkpoint.load(tmp_path / "ck.npz")["epoch"] == 7


def test_dict_keys_are_all_strings_or_all_ints(tmp_path):
    path = tmp_path / "ck.npz"
    checkpoint.save(path, {"ints": {3: 1.5, -2: "x", np.int64(7): None}, "empty": {}})
    back = checkpoint.load(path)
    assert back == {"ints": {3: 1.5, -2: "x", 7: None}, "empty": {}}
    assert all(type(k) is int for k in back["ints"])
    for bad in ({"a": 1, 2: 3}, {True: 1}, {1.5: 2}):
        with pytest.raises(TypeError, match="all strings or all ints"):
            checkpoint.save(tmp_path / "bad.npz", bad)
    assert not (tmp_path / "bad.npz").exists()
