"""Training and evaluation driver behind ``numconv train`` and ``numconv evaluate``.

Inputs are standardized per channel with the training split's mean and standard deviation.
Each epoch: shuffled mini-batches (order derived from the seed and the epoch number), forward,
cross-entropy, backward, optimizer step; then test loss and accuracy. After every epoch the
run directory gets ``last.npz`` (model, optimizer, scheduler and RNG state, history; written
atomically), ``metrics.csv`` and ``curves.png``. ``resume`` continues from ``last.npz`` and
gives exactly the result of an uninterrupted run.
"""
from __future__ import annotations

import csv
import io
import numbers
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import checkpoint, dispatch, shapes
from . import functional as F
from . import random as nc_random
from .atomic import atomic_open
from .autograd import no_grad
from .tensor import Tensor

# --optimizer: each of numconv.optim's optimizers, by its lower-case name
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "rprop", "asgd")
_OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad",
                      "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam", "rprop": "Rprop",
                      "asgd": "ASGD"}
_WITHOUT_DECAY = ("rprop",)  # the optimizers that take no weight decay (PyTorch's Rprop has none)
_WITH_MOMENTUM = ("sgd", "rmsprop")  # the optimizers that take --momentum
# --scheduler: none; step and cosine, stepped after each epoch; onecycle and cyclic, stepped after each batch
SCHEDULERS = ("none", "step", "cosine", "onecycle", "cyclic")
PER_BATCH = ("onecycle", "cyclic")
# --augment: none; crop (a random crop of the image's size after padding it by an eighth of its side,
# zeros, the usual CIFAR augmentation); flip-crop (that and a random left-right mirror, for natural images)
AUGMENTS = ("none", "crop", "flip-crop")


@dataclass
class Config:
    model: str = "lenet5"
    data: str = "mnist"
    epochs: int = 10
    batch_size: int = 64
    lr: float | None = None  # None: 1e-3, or 1.0 (its usual rate) for Adadelta
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float | None = None  # None: 0.01 for AdamW (its usual default), else 0
    scheduler: str = "none"
    augment: str = "none"
    device: str = "cpu"
    seed: int = 0
    out: str = "runs/lenet5-mnist"
    data_dir: str | None = None
    limit: int = 0  # use only the first N training images (0: all); for quick runs and tests
    progress: bool = True
    history: list = field(default_factory=list)

    def __post_init__(self):
        if self.lr is None:
            self.lr = 1.0 if self.optimizer == "adadelta" else 1e-3
        if self.weight_decay is None:
            self.weight_decay = 1e-2 if self.optimizer == "adamw" else 0.0


def _check(cfg: Config):
    from . import data, models

    if cfg.model not in models.list_models():
        raise ValueError(f"--model {cfg.model!r} is not a model; valid names: {', '.join(models.list_models())}")
    if cfg.data not in data.available():
        raise ValueError(f"--data {cfg.data!r} is not a dataset; valid names: {', '.join(data.available())}")
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer {cfg.optimizer!r} is not known; valid names: {', '.join(OPTIMIZERS)}")
    if cfg.scheduler not in SCHEDULERS:
        raise ValueError(f"--scheduler {cfg.scheduler!r} is not known; valid names: {', '.join(SCHEDULERS)}")
    if cfg.augment not in AUGMENTS:
        raise ValueError(f"--augment {cfg.augment!r} is not known; valid names: {', '.join(AUGMENTS)}")
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    shapes.real(cfg.lr, "--lr", 0.0, lo_open=True)
    for name in ("momentum", "weight_decay"):
        shapes.real(getattr(cfg, name), f"--{name.replace('_', '-')}", 0.0)
    if cfg.optimizer in _WITHOUT_DECAY and cfg.weight_decay != 0:
        raise ValueError(f"--optimizer {cfg.optimizer} has no weight decay; leave --weight-decay out (or 0), got "
                         f"{cfg.weight_decay}")
    if cfg.limit < 0:
        raise ValueError(f"--limit must be >= 0, got {cfg.limit}")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, numbers.Integral) or cfg.seed < 0:
        raise ValueError(f"--seed must be a whole number >= 0, got {cfg.seed!r}")
    if cfg.device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be 'cpu' or 'cuda', got {cfg.device!r}")
    if cfg.device == "cuda":
        from . import cuda

        if not cuda.is_available():
            raise ValueError(
                "--device cuda: CUDA is not available here (numconv.cuda.is_available() is False); install the "
                "'cuda' extra (pip install numconv[cuda]) on a machine with an NVIDIA GPU and driver, or use --device cpu"
            )


def _build(cfg: Config):
    from . import data, models, optim

    split = data.get_dataset(cfg.data, data_dir=cfg.data_dir)
    train_set, test_set = split
    # Standard practice: zero-mean, unit-variance inputs per channel, from the training split only.
    mean, std = data.channel_stats(train_set)
    train_set, test_set = data.standardize(train_set, mean, std), data.standardize(test_set, mean, std)
    if cfg.limit:
        train_set = data.Subset(train_set, range(min(cfg.limit, len(train_set))))
    x0, _ = train_set[0]
    in_shape = tuple(np.asarray(x0).shape)
    n_classes = split.num_classes
    nc_random.manual_seed(cfg.seed)
    try:
        model = models.get_model(cfg.model, num_classes=n_classes, in_channels=in_shape[0])
    except TypeError:  # a model with a fixed 3-channel stem; the shape check below explains a mismatch
        model = models.get_model(cfg.model, num_classes=n_classes)
    try:
        with no_grad():
            model.eval()
            out = model(Tensor(np.zeros((1,) + in_shape, np.float32)))
    except ValueError as e:
        raise ValueError(f"--model {cfg.model} does not fit --data {cfg.data} images of shape {in_shape}: {e}") from None
    if out.shape != (1, n_classes):
        raise ValueError(f"--model {cfg.model} gives outputs of shape {out.shape[1:]} for {cfg.data}, expected ({n_classes},)")
    params = list(model.parameters())
    extra = dict(momentum=cfg.momentum) if cfg.optimizer in _WITH_MOMENTUM else {}
    if cfg.optimizer not in _WITHOUT_DECAY:
        extra["weight_decay"] = cfg.weight_decay
    opt = getattr(optim, _OPTIMIZER_CLASSES[cfg.optimizer])(params, lr=cfg.lr, **extra)
    steps_per_epoch = len(data.DataLoader(train_set, batch_size=cfg.batch_size))
    return model, opt, _scheduler(cfg, opt, steps_per_epoch), train_set, test_set


def augmentation(name, image_shape):
    """--augment's transform of a batch of (C, H, W) images, or None for 'none': 'crop' pads each side
    by an eighth of the shorter side (4 pixels of CIFAR's 32, zeros: the mean, after standardizing)
    and crops the image's size back at a random place; 'flip-crop' also mirrors half the images left
    to right. Drawn per image from numconv.random (a checkpoint's generator state resumes them)."""
    from . import transforms

    if name == "none":
        return None
    size = tuple(image_shape[1:])
    steps = [transforms.RandomCrop(size, padding=max(1, min(size) // 8))]
    if name == "flip-crop":
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose(steps)


def _scheduler(cfg: Config, opt, steps_per_epoch):
    """--scheduler's schedule over ``opt``: step (lr / 10 every epochs / 3 epochs) and cosine (to 0 over the
    run), stepped after each epoch; onecycle (up to --lr over the first 30% of the run's batches, then down to
    lr / 25 / 1e4) and cyclic (triangular2: from lr / 10 up to --lr over an epoch and down over the next, the
    amplitude halved each cycle), stepped after each batch. These two cycle the momentum (sgd and rmsprop
    with --momentum > 0) or beta1 (the Adam family) the other way, as PyTorch's do by default."""
    from . import optim

    sched = optim.lr_scheduler
    if cfg.scheduler == "step":
        return sched.StepLR(opt, step_size=max(1, cfg.epochs // 3), gamma=0.1)
    if cfg.scheduler == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=cfg.epochs)
    momentum = "betas" in opt.defaults or (cfg.optimizer in _WITH_MOMENTUM and cfg.momentum > 0)
    if cfg.scheduler == "onecycle":
        return sched.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, cycle_momentum=momentum)
    if cfg.scheduler == "cyclic":
        return sched.CyclicLR(opt, base_lr=cfg.lr / 10, max_lr=cfg.lr, step_size_up=steps_per_epoch,
                              mode="triangular2", cycle_momentum=momentum)
    return None


def evaluate_model(model, dataset, batch_size=256, device="cpu"):
    """(mean cross-entropy, accuracy) of ``model`` on ``dataset``, in eval mode without a graph (the
    model's mode is restored after); batches go to ``device`` (the model's), and only the two
    per-batch scalars come back to the host."""
    from . import data

    was_training = model.training
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    try:
        with no_grad():
            for xb, yb in data.DataLoader(dataset, batch_size=batch_size):
                if device != "cpu":
                    xb, yb = xb.to(device), yb.to(device)
                logits = model(xb)
                loss_sum += float(F.cross_entropy(logits, yb, reduction="sum").item())
                if device != "cpu":
                    correct += int((logits.argmax(1) == yb).sum().item())
                else:
                    correct += int((np.asarray(logits.numpy()).argmax(1) == np.asarray(yb.numpy())).sum())
                total += len(yb)
    finally:
        model.train(was_training)  # as it was: evaluating mid-epoch leaves dropout and batch norm training
    return loss_sum / total, correct / total


def _progress(iterable, total, desc, enabled):
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(iterable, total=total, desc=desc, unit="batch", leave=True, dynamic_ncols=True)
        except ImportError:
            pass
    return iterable


def _write_text_atomic(path, text):
    with atomic_open(path, "w") as f:
        f.write(text)


def _write_metrics(out, history):
    if not history:
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(history[0]))
    w.writeheader()
    w.writerows(history)
    _write_text_atomic(os.path.join(out, "metrics.csv"), buf.getvalue())


def _plot(out, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    a.plot(ep, [h["test_loss"] for h in history], "s-", label="test")
    a.set_xlabel("epoch"), a.set_ylabel("cross-entropy"), a.legend(), a.grid(alpha=0.3)
    b.plot(ep, [100 * h["test_acc"] for h in history], "o-", color="C2")
    b.set_xlabel("epoch"), b.set_ylabel("test accuracy (%)"), b.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out, "curves.png")
    try:
        with atomic_open(path, "wb", suffix=".png") as f:
            fig.savefig(f, dpi=100, format="png")
    finally:
        plt.close(fig)
    return path


def _config_record(cfg):
    rec = asdict(cfg)
    rec.pop("history")
    return {k: v for k, v in rec.items() if v is not None}


# what a training checkpoint holds (``train`` writes it), and the kind of each entry
_CHECKPOINT_ENTRIES = {"config": dict, "model": dict, "optimizer": dict, "rng": dict, "history": list, "epoch": int}
# one epoch's row of its history (and of metrics.csv)
_HISTORY_ROW = {"epoch": int, "train_loss": float, "test_loss": float, "test_acc": float, "seconds": float,
                "images_per_s": float}


def _training_state(path, needs):
    """``checkpoint.load(path)``, checked to be a training checkpoint with the ``needs`` entries of
    the right kinds: a ValueError naming what is missing or wrong, instead of a KeyError or
    AttributeError deep inside the resume."""
    state = checkpoint.load(path)
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a numconv training checkpoint (it holds a {type(state).__name__})")
    missing = [k for k in needs if k not in state]
    if missing:
        raise ValueError(f"{path} is not a numconv training checkpoint: it lacks {missing}")
    for k in needs:
        kind = _CHECKPOINT_ENTRIES[k]
        if not isinstance(state[k], kind) or isinstance(state[k], bool):
            raise ValueError(f"{path}: its {k!r} entry is a {type(state[k]).__name__}, not a {kind.__name__}")
    if "epoch" in needs and state["epoch"] < 0:
        raise ValueError(f"{path}: its 'epoch' entry is {state['epoch']}, not an epoch number (>= 0)")
    if "history" in needs:
        for i, row in enumerate(state["history"]):
            if not isinstance(row, dict) or set(row) != set(_HISTORY_ROW) or not all(
                    isinstance(row[k], kind) and not isinstance(row[k], bool) for k, kind in _HISTORY_ROW.items()):
                raise ValueError(f"{path}: its 'history' entry {i} is {row!r}, not a row of "
                                 f"{{{', '.join(f'{k}: {t.__name__}' for k, t in _HISTORY_ROW.items())}}}")
        if "epoch" in needs and len(state["history"]) != state["epoch"]:
            raise ValueError(f"{path}: its 'history' holds {len(state['history'])} rows for {state['epoch']} epochs")
    return state


# settings a resumed run must share with its checkpoint: each changes what the run computes
_RESUME_KEYS = ("model", "data", "data_dir", "optimizer", "batch_size", "seed", "limit", "lr", "weight_decay",
                "scheduler", "augment")
_RESUME_DEFAULTS = {"augment": "none"}  # settings older checkpoints predate, at the value that ran


def _resume_mismatch(saved, cfg):
    """The first setting ``cfg`` changes from the checkpoint's ``saved`` config, as (flag, saved, asked), or None."""
    keys = _RESUME_KEYS + (("momentum",) if cfg.optimizer in _WITH_MOMENTUM else ())
    if cfg.scheduler not in ("none", "cyclic"):  # step, cosine and onecycle are fitted to the run's length
        keys += ("epochs",)
    for key in keys:
        was = saved.get(key, _RESUME_DEFAULTS.get(key))
        if was != getattr(cfg, key) and not (key == "data_dir" and _same_folder(was, cfg.data_dir)):
            return f"--{key.replace('_', '-')}", was, getattr(cfg, key)
    return None


def _same_folder(a, b):
    """Whether two --data-dir values name one folder ('data', 'data/', './data', a link to it)."""
    return a is not None and b is not None and os.path.realpath(os.path.expanduser(str(a))) == \
        os.path.realpath(os.path.expanduser(str(b)))


def train(cfg: Config, resume: bool = False, log=print, overwrite: bool = False):
    """Train per ``cfg``; returns the history (a list of per-epoch dicts). A run folder that holds a
    checkpoint is continued (``resume``) or replaced (``overwrite``), never silently replaced. A
    resumed run whose checkpoint already holds ``cfg.epochs`` epochs (or more) trains nothing: it says
    so and returns the checkpoint's history, leaving the folder as it is."""
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    _check(cfg)
    ck_path = os.path.join(cfg.out, "last.npz")
    if os.path.lexists(ck_path) and not os.path.isdir(ck_path) and not resume and not overwrite:
        raise ValueError(f"--out {cfg.out} already holds a run (last.npz); continue it with --resume, replace it "
                         "with --overwrite, or choose another --out")
    files = [name for name in ("metrics.csv", "curves.png") if os.path.lexists(os.path.join(cfg.out, name))]
    if files and not os.path.lexists(ck_path) and not overwrite:
        raise ValueError(f"--out {cfg.out} already holds {' and '.join(files)} but no run (last.npz); a run would "
                         "replace them: choose another --out, or pass --overwrite")
    from . import data

    if cfg.device == "cpu" and dispatch.cpu_kernels_cached() is False:  # before _build's shape check compiles
        log("first run on this machine: numconv's kernels compile with Numba as they are first used (about "
            "20-40 s on 2 cores, most of it before and in the first batch); later runs load them from its cache")
    if os.path.exists(cfg.out) and not os.path.isdir(cfg.out):
        raise ValueError(f"--out {cfg.out} is a file, not a folder")
    os.makedirs(cfg.out, exist_ok=True)
    if not os.access(cfg.out, os.W_OK) or os.path.isdir(ck_path):  # found now, not after an epoch of training
        raise ValueError(f"--out {cfg.out}: cannot write {ck_path} there")
    state = None
    if resume and os.path.exists(ck_path):  # checked before the data loads and the model is built
        state = _training_state(ck_path, tuple(_CHECKPOINT_ENTRIES))
        bad = _resume_mismatch(state["config"], cfg)
        if bad is not None:
            flag, was, asked = bad
            why = " (the schedule is fitted to the run's length)" if flag == "--epochs" else ""
            raise ValueError(f"--resume: the checkpoint in {cfg.out} was made with {flag} {was!r}, this run asks for "
                             f"{asked!r}{why}; use the same settings or another --out")
    model, opt, sched, train_set, test_set = _build(cfg)
    if cfg.device != "cpu":  # before a checkpoint loads: its arrays go into the moved parameters and state
        model.to(cfg.device)
    history, start = [], 1
    if state is not None:
        if sched is not None and not isinstance(state.get("scheduler"), dict):
            raise ValueError(f"{ck_path}: its 'scheduler' entry is {type(state.get('scheduler')).__name__}, not the "
                             f"--scheduler {cfg.scheduler} state its config names")
        for entry, load in (("model", model.load_state_dict), ("optimizer", opt.load_state_dict),
                            ("scheduler", sched.load_state_dict if sched is not None else None),
                            ("rng", nc_random.set_state)):
            if load is not None:
                try:
                    load(state[entry])
                except (ValueError, TypeError) as e:
                    kind = TypeError if isinstance(e, TypeError) else ValueError
                    raise kind(f"{ck_path}: its {entry!r} entry: {e}") from None
        history = list(state["history"])
        start = int(state["epoch"]) + 1
        if start > cfg.epochs:  # nothing left to train (the checkpoint was still checked): said, not a silent "done"
            acc = f" (test accuracy {100 * history[-1]['test_acc']:.2f}%)" if history else ""
            log(f"--resume: the run in {cfg.out} has already trained {start - 1} epochs{acc}, and --epochs "
                f"{cfg.epochs} asks for no more; nothing to train (pass a larger --epochs to continue it)")
            return history
        log(f"resuming {cfg.out} after epoch {start - 1}")
    elif resume:
        log(f"--resume: no checkpoint in {cfg.out} yet, starting from scratch")
    loader = data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    augment = augmentation(cfg.augment, np.asarray(train_set[0][0]).shape)
    n_params = sum(p.size for p in model.parameters())
    log(f"{cfg.model} ({n_params:,} parameters) on {cfg.data}: {len(train_set)} train / {len(test_set)} test images, "
        f"{cfg.optimizer} lr={cfg.lr}, batch {cfg.batch_size}, {cfg.epochs} epochs, device {cfg.device}"
        + ("" if augment is None else f", augment {cfg.augment}"))
    for epoch in range(start, cfg.epochs + 1):
        loader.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        seen, loss_sum = 0, 0.0
        bar = _progress(loader, len(loader), f"epoch {epoch}/{cfg.epochs}", cfg.progress)
        for xb, yb in bar:
            if cfg.device != "cpu":
                xb, yb = xb.to(cfg.device), yb.to(cfg.device)
            if augment is not None:
                xb = augment(xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if cfg.scheduler in PER_BATCH:
                sched.step()
            n = len(yb)
            seen += n
            loss_sum += float(loss.item()) * n
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        if sched is not None and cfg.scheduler not in PER_BATCH:
            sched.step()
        seconds = time.perf_counter() - t0
        test_loss, test_acc = evaluate_model(model, test_set, device=cfg.device)
        row = {"epoch": epoch, "train_loss": round(loss_sum / seen, 6), "test_loss": round(test_loss, 6),
               "test_acc": round(test_acc, 6), "seconds": round(seconds, 3), "images_per_s": round(seen / seconds, 1)}
        history.append(row)
        log(f"epoch {epoch}: train loss {row['train_loss']:.4f}, test loss {row['test_loss']:.4f}, "
            f"test accuracy {100 * test_acc:.2f}%, {seconds:.1f} s ({row['images_per_s']:.0f} images/s)")
        checkpoint.save(ck_path, {
            "config": _config_record(cfg), "epoch": epoch, "model": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict() if sched is not None else None,
            "rng": nc_random.get_state(), "history": history,
        })
        _write_metrics(cfg.out, history)
        _plot(cfg.out, history)
    log(f"done: checkpoint {ck_path}, metrics {os.path.join(cfg.out, 'metrics.csv')}, plot {os.path.join(cfg.out, 'curves.png')}")
    return history


def evaluate(checkpoint_path, data_dir=None, batch_size=256, log=print):
    """Rebuild the model a checkpoint was trained as, load its weights, report test loss and accuracy."""
    batch_size = shapes.integer(batch_size, "batch_size", lo=1)
    state = _training_state(checkpoint_path, ("config", "model"))
    cfg = Config(**{k: v for k, v in state["config"].items() if k in Config.__dataclass_fields__})
    if data_dir is not None:
        cfg.data_dir = data_dir
    cfg.progress, cfg.device = False, "cpu"  # evaluated on the CPU, wherever it trained
    try:
        _check(cfg)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{checkpoint_path}: its config is not one numconv train accepts: {e}") from None
    model, _, _, _, test_set = _build(cfg)
    model.load_state_dict(state["model"])
    loss, acc = evaluate_model(model, test_set, batch_size)
    log(f"{cfg.model} on {cfg.data} test set ({len(test_set)} images), epoch {state.get('epoch')}: "
        f"loss {loss:.4f}, accuracy {100 * acc:.2f}%")
    return loss, acc
