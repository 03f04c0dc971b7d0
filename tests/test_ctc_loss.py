"""The CTC loss (``F.ctc_loss``, ``nn.CTCLoss``): against a brute-force sum over every alignment (the
textbook definition, tiny sizes), against torch (padded and concatenated targets, ragged lengths,
repeated labels, every reduction, zero_infinity), its gradient against central differences in float64
and, through a log_softmax, against torch's. The device path runs in tests/_cuda_training_cases.py."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import numconv as nc
import numconv.functional as F
from reference import numerical_grad


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _collapse(path, blank):
    out, prev = [], None
    for c in path:
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return out


def _brute_force_nll(lp, target, blank):
    """-log of the sum, over every path of classes through the T steps that collapses to ``target``
    (repeats merged, then blanks dropped), of the product of its probabilities."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path, blank) == list(target):
            total += np.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def _case(rng, T, N, C, S, blank=0, dtype=np.float64):
    lp = _log_softmax(rng.standard_normal((T, N, C))).astype(dtype)
    in_len = rng.integers(max(1, T // 2), T + 1, N)
    in_len[0] = T
    tg_len = rng.integers(0, S + 1, N)
    tg_len[0] = S
    labels = [c for c in range(C) if c != blank]
    targets = rng.choice(labels, (N, S))
    targets[-1, :2] = labels[0]  # a repeated label needs a blank between
    return lp, targets, in_len, tg_len


@pytest.mark.parametrize("blank", [0, 2])
def test_ctc_matches_the_sum_over_alignments(blank, rng):
    T, C = 5, 3
    a, b = (c for c in range(C) if c != blank)
    for target in ([a], [a, a], [a, b], [], [a, b, a], [b, b, b]):  # [b, b, b] needs 5 steps: exactly T
        lp = _log_softmax(rng.standard_normal((T, C)))
        want = _brute_force_nll(lp, target, blank)
        got = F.ctc_loss(nc.Tensor(lp), nc.tensor(np.array(target, np.int64)), T, len(target), blank=blank,
                         reduction="none")
        assert got.shape == ()
        np.testing.assert_allclose(got.item(), want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_ctc_follows_torch(reduction, dtype, rng, torch):
    lp, targets, in_len, tg_len = _case(rng, T=9, N=4, C=5, S=3, dtype=dtype)
    tF = torch.nn.functional
    want = tF.ctc_loss(torch.from_numpy(lp), torch.from_numpy(targets), torch.from_numpy(in_len),
                       torch.from_numpy(tg_len), reduction=reduction)
    got = F.ctc_loss(nc.Tensor(lp), targets, in_len, tg_len, reduction=reduction)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol)
    concat = np.concatenate([targets[n, :tg_len[n]] for n in range(len(tg_len))])  # the 1-d form
    np.testing.assert_allclose(F.ctc_loss(nc.Tensor(lp), concat, in_len, tg_len, reduction=reduction).numpy(),
                               want.numpy(), rtol=rtol)
    module = nc.nn.CTCLoss(reduction=reduction)(nc.Tensor(lp), nc.tensor(targets), nc.tensor(in_len), tg_len)
    np.testing.assert_allclose(module.numpy(), want.numpy(), rtol=rtol)


def test_ctc_gradient_through_log_softmax_matches_torch(rng, torch):
    T, N, C, S = 8, 3, 4, 3
    logits = rng.standard_normal((T, N, C))
    _, targets, in_len, tg_len = _case(rng, T, N, C, S, blank=1)
    x = nc.Tensor(logits, requires_grad=True)
    loss = F.ctc_loss(x.log_softmax(2), targets, in_len, tg_len, blank=1)
    loss.backward()
    tx = torch.tensor(logits, requires_grad=True)
    tl = torch.nn.functional.ctc_loss(tx.log_softmax(2), torch.from_numpy(targets), torch.from_numpy(in_len),
                                      torch.from_numpy(tg_len), blank=1)
    tl.backward()
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_ctc_gradient_is_the_derivative_of_the_loss(rng, torch):
    """With respect to log_probs themselves (not normalized afterwards), the gradient is -occupancy, as
    central differences say; torch's adds exp(log_probs) inside each sample's steps (its gradient
    assumes a log_softmax comes next, which then removes it)."""
    T, N, C, S = 6, 3, 4, 2
    lp, targets, in_len, tg_len = _case(rng, T, N, C, S)
    gy = rng.standard_normal(N)
    x = nc.Tensor(lp, requires_grad=True)
    (F.ctc_loss(x, targets, in_len, tg_len, reduction="none") * nc.Tensor(gy)).sum().backward()
    want = numerical_grad(lambda v: F.ctc_loss(nc.Tensor(v), targets, in_len, tg_len, reduction="none").numpy(),
                          lp.copy(), gy, 1e-6)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-8)
    tx = torch.tensor(lp, requires_grad=True)
    (torch.nn.functional.ctc_loss(tx, torch.from_numpy(targets), torch.from_numpy(in_len), torch.from_numpy(tg_len),
                                  reduction="none") * torch.from_numpy(gy)).sum().backward()
    inside = (np.arange(T)[:, None] < in_len[None, :])[:, :, None]
    np.testing.assert_allclose(tx.grad.numpy() - x.grad.numpy(), np.exp(lp) * gy[None, :, None] * inside, atol=1e-12)


def test_ctc_without_alignment_and_zero_infinity(rng, torch):
    T, C = 3, 4
    lp = _log_softmax(rng.standard_normal((T, 2, C)))
    targets = np.array([[1, 1, 2], [1, 2, 3]])  # 1 1 2 needs 4 steps; 1 2 3 fits in 3
    tF = torch.nn.functional
    for zero_infinity in (False, True):
        x = nc.Tensor(lp, requires_grad=True)
        loss = F.ctc_loss(x, targets, [3, 3], [3, 3], reduction="none", zero_infinity=zero_infinity)
        tx = torch.tensor(lp, requires_grad=True)
        tloss = tF.ctc_loss(tx.log_softmax(2), torch.from_numpy(targets), torch.tensor([3, 3]), torch.tensor([3, 3]),
                            reduction="none", zero_infinity=zero_infinity)
        np.testing.assert_array_equal(loss.numpy(), tloss.detach().numpy())
        assert (loss.numpy()[0] == 0) if zero_infinity else np.isinf(loss.numpy()[0])
        if zero_infinity:
            loss.sum().backward()
            assert np.all(x.grad.numpy()[:, 0] == 0) and np.all(np.isfinite(x.grad.numpy()))


def test_ctc_without_alignment_has_torchs_nan_gradient_unless_zero_infinity(rng, torch):
    """A target no alignment reaches (3 labels in 2 steps): without zero_infinity its gradient is NaN
    over the sample's own time steps and 0 past them, as PyTorch's; the other samples' stay finite."""
    T, C = 5, 4
    z = rng.standard_normal((T, 3, C))
    targets, in_len, tg_len = np.array([[1, 2, 3], [1, 2, 1], [2, 2, 0]]), [2, 5, 4], [3, 3, 2]
    tF = torch.nn.functional
    for reduction in ("sum", "mean"):
        x = nc.Tensor(z, requires_grad=True)
        F.ctc_loss(F.log_softmax(x, 2), targets, in_len, tg_len, reduction=reduction).backward()
        tx = torch.tensor(z, requires_grad=True)
        tF.ctc_loss(tx.log_softmax(2), torch.from_numpy(targets), torch.tensor(in_len), torch.tensor(tg_len),
                    reduction=reduction).backward()
        ours, theirs = x.grad.numpy(), tx.grad.numpy()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        assert np.isnan(ours[:2, 0]).all() and not ours[2:, 0].any()
        np.testing.assert_allclose(ours[:, 1:], theirs[:, 1:], rtol=1e-9, atol=1e-12)


def test_ctc_unbatched_and_empty_targets(rng, torch):
    lp = _log_softmax(rng.standard_normal((6, 5)))
    t = np.array([3, 1, 4])
    want = torch.nn.functional.ctc_loss(torch.from_numpy(lp), torch.from_numpy(t), torch.tensor(6), torch.tensor(3),
                                        reduction="none")
    got = F.ctc_loss(nc.Tensor(lp), t, 6, 3, reduction="none")
    assert got.shape == () and np.isclose(got.item(), want.item(), rtol=1e-12)
    # an empty target: every step a blank
    np.testing.assert_allclose(F.ctc_loss(nc.Tensor(lp), np.zeros(0, np.int64), 6, 0, reduction="none").item(),
                               -lp[:, 0].sum(), rtol=1e-12)


def test_ctc_names_bad_input(rng):
    lp, targets, in_len, tg_len = _case(rng, T=5, N=2, C=4, S=2)
    x = nc.Tensor(lp)
    with pytest.raises(ValueError, match=r"targets of sample 0 hold 0: classes must be in \[0, 4\) and not the blank 0"):
        F.ctc_loss(x, np.array([[0, 1], [1, 2]]), in_len, tg_len)
    with pytest.raises(ValueError, match=r"input_lengths must be in \[0, 5\] \(the time steps of log_probs\), got 6"):
        F.ctc_loss(x, targets, [6, 2], tg_len)
    with pytest.raises(ValueError, match=r"target_lengths must hold one length per sample \(2\), got shape \(3,\)"):
        F.ctc_loss(x, targets, in_len, [1, 1, 1])
    with pytest.raises(ValueError, match="target_lengths sum to 4, targets has 3"):
        F.ctc_loss(x, np.array([1, 2, 3]), in_len, [2, 2])
    with pytest.raises(TypeError, match="targets must hold integer class indices, got dtype float64"):
        F.ctc_loss(x, targets.astype(float), in_len, tg_len)
    with pytest.raises(ValueError, match=r"blank must be a class index in \[0, 4\), got 4"):
        F.ctc_loss(x, targets, in_len, tg_len, blank=4)
    with pytest.raises(ValueError, match=r"log_probs must have shape \(T, N, C\) or \(T, C\)"):
        F.ctc_loss(nc.Tensor(lp[0, 0]), targets, in_len, tg_len)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nc.nn.CTCLoss(reduction="max")


def test_ctc_of_a_sample_without_time_steps(rng, torch):
    """An input length of 0 started the recursion from step 0 anyway: a finite loss where torch's is 0
    (empty target) or inf."""
    lp = _log_softmax(rng.standard_normal((4, 3, 3)))
    targets, in_len = np.array([[1], [1], [2]]), np.array([0, 4, 0])
    tF = torch.nn.functional
    for tg_len in ([0, 1, 1], [1, 1, 0]):
        for zero_infinity in (False, True):
            want = tF.ctc_loss(torch.from_numpy(lp), torch.from_numpy(targets), torch.from_numpy(in_len),
                               torch.tensor(tg_len), reduction="none", zero_infinity=zero_infinity)
            x = nc.Tensor(lp, requires_grad=True)
            got = F.ctc_loss(x, targets, in_len, tg_len, reduction="none", zero_infinity=zero_infinity)
            np.testing.assert_allclose(np.abs(got.numpy()), np.abs(want.numpy()), rtol=1e-12)  # torch's 0 is -0.0
            got[1].backward()
            assert not x.grad.numpy()[:, [0, 2]].any()  # nothing reaches the samples without steps


def test_ctc_with_impossible_classes_keeps_a_finite_gradient(rng, torch):
    """A class of probability 0 (log-probability -inf) that no target holds: the loss is torch's, and
    the gradient stays finite (-inf - -inf made NaN there before the gradient became a kernel; torch's
    own is not finite there)."""
    z = rng.standard_normal((6, 2, 4))
    z[:, :, 3] = -np.inf
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    targets = np.array([[1, 2], [2, 2]])
    x = nc.Tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x, targets, [6, 6], [2, 2], reduction="sum")
    loss.backward()
    tx = torch.tensor(lp, requires_grad=True)
    tloss = torch.nn.functional.ctc_loss(tx, torch.from_numpy(targets), torch.tensor([6, 6]), torch.tensor([2, 2]),
                                         reduction="sum")
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    g = x.grad.numpy()
    assert np.isfinite(g).all() and not g[..., 3].any()
    np.testing.assert_allclose(g[..., :3], tx.grad.numpy()[..., :3] - np.exp(lp[..., :3]), atol=1e-12)
