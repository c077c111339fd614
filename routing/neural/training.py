"""Mini-batch training of the FastGRNN router: Adam, global-norm clipping, per-epoch
learning-rate decay and early stopping on a validation split.

Everything random (initial weights, split, batch order) derives from one seed, so the
same data and options give bit-identical weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from routing.neural.backprop import LossSettings, Params, forward_logits, loss_and_gradients
from routing.neural.fastgrnn import (
    LOW_RANK_NAMES,
    TENSOR_NAMES,
    FastGRNN,
    FastGRNNConfig,
    initialize,
)
from routing.neural.training_data import Dataset


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    epochs: int = 60
    learning_rate: float = 0.01
    lr_decay: float = 0.97  # multiplied into the learning rate after every epoch
    batch_size: int = 64
    seed: int = 0
    validation_split: float = 0.2
    patience: int = 8  # epochs without validation improvement before stopping
    min_delta: float = 1e-5
    l2: float = 1e-4
    clip_norm: float = 1.0  # <= 0 disables clipping
    distill_weight: float = 0.5
    temperature: float = 2.0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    model: FastGRNNConfig = field(default_factory=FastGRNNConfig)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must be >= 1")
        if not self.learning_rate > 0 or not 0 < self.lr_decay <= 1:
            raise ValueError("learning_rate must be > 0 and lr_decay in (0, 1]")
        if self.l2 < 0 or not 0 <= self.distill_weight <= 1 or not self.temperature > 0:
            raise ValueError("l2 >= 0, distill_weight in [0, 1] and temperature > 0 required")

    @property
    def loss_settings(self) -> LossSettings:
        return LossSettings(self.l2, self.distill_weight, self.temperature)


@dataclass(frozen=True, slots=True)
class EpochReport:
    epoch: int
    learning_rate: float
    train_loss: float
    train_accuracy: float
    validation_loss: float | None
    validation_accuracy: float | None


@dataclass(frozen=True, slots=True)
class TrainingResult:
    model: FastGRNN  # weights of the best validation epoch (last epoch without validation)
    history: list[EpochReport]
    best_epoch: int
    stopped_early: bool


def clip_by_global_norm(grads: Params, max_norm: float) -> tuple[Params, float]:
    """Scale all gradients together so their joint L2 norm is at most `max_norm`."""
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    if max_norm <= 0 or norm <= max_norm:
        return grads, norm
    scale = max_norm / norm
    return {name: g * scale for name, g in grads.items()}, norm


class Adam:
    def __init__(self, params: Params, beta1: float, beta2: float, epsilon: float) -> None:
        self._m = {k: np.zeros_like(v) for k, v in params.items()}
        self._v = {k: np.zeros_like(v) for k, v in params.items()}
        self._beta1, self._beta2, self._epsilon = beta1, beta2, epsilon
        self.steps = 0

    def step(self, params: Params, grads: Params, learning_rate: float) -> None:
        """Update `params` in place."""
        self.steps += 1
        b1, b2 = self._beta1, self._beta2
        correction1 = 1.0 - b1**self.steps
        correction2 = 1.0 - b2**self.steps
        for name, g in grads.items():
            m, v = self._m[name], self._v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            params[name] -= (
                learning_rate * (m / correction1) / (np.sqrt(v / correction2) + self._epsilon)
            )


def _project_rank(params: Params, rank: int | None) -> None:
    if rank is None:
        return
    for name in LOW_RANK_NAMES:
        if rank < min(params[name].shape):
            u, s, vt = np.linalg.svd(params[name], full_matrices=False)
            params[name] = (u[:, :rank] * s[:rank]) @ vt[:rank]


def to_model(config: FastGRNNConfig, params: Params) -> FastGRNN:
    return FastGRNN(config, {name: params[name].astype(np.float32) for name in TENSOR_NAMES})


def evaluate(
    config: FastGRNNConfig, params: Params, data: Dataset, settings: LossSettings
) -> tuple[float, float]:
    """(loss, accuracy at score >= 0.5) over the whole dataset."""
    batch = data.as_batch()
    loss, _ = loss_and_gradients(config, params, batch, settings)
    logits = forward_logits(config, params, batch)[:, 0]
    accuracy = float(np.mean((logits >= 0.0) == (data.labels >= 0.5))) if len(data) else 0.0
    return loss, accuracy


def train(
    data: Dataset,
    options: TrainingOptions,
    on_batch: Callable[[int, int, int], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainingResult:
    """Train from a seeded initialisation.

    `on_batch(epoch, batches_done, batches_total)` and `on_epoch(report)` let the CLI
    draw progress without this module printing anything.
    """
    config = options.model
    if data.features.shape[1] != config.input_dim:
        raise ValueError(
            f"data has {data.features.shape[1]} features, model expects {config.input_dim}"
        )
    rng = np.random.default_rng(options.seed)
    train_set, validation = data.split(options.validation_split, options.seed)
    if len(train_set) == 0:
        raise ValueError("no training examples after the validation split")
    params: Params = {
        k: v.astype(np.float64) for k, v in initialize(config, options.seed).tensors.items()
    }
    optimiser = Adam(params, options.beta1, options.beta2, options.epsilon)
    settings = options.loss_settings
    learning_rate = options.learning_rate
    batches_total = math.ceil(len(train_set) / options.batch_size)

    best_loss, best_epoch, best_params = math.inf, 0, {k: v.copy() for k, v in params.items()}
    history: list[EpochReport] = []
    stale = 0
    stopped_early = False
    for epoch in range(1, options.epochs + 1):
        order = rng.permutation(len(train_set))
        for index, start in enumerate(range(0, len(train_set), options.batch_size), start=1):
            batch = train_set.take(order[start : start + options.batch_size])
            _, grads = loss_and_gradients(config, params, batch.as_batch(), settings)
            grads, _ = clip_by_global_norm(grads, options.clip_norm)
            optimiser.step(params, grads, learning_rate)
            _project_rank(params, config.rank)
            if on_batch is not None:
                on_batch(epoch, index, batches_total)

        train_loss, train_acc = evaluate(config, params, train_set, settings)
        val_loss = val_acc = None
        if len(validation):
            val_loss, val_acc = evaluate(config, params, validation, settings)
        report = EpochReport(epoch, learning_rate, train_loss, train_acc, val_loss, val_acc)
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)

        monitored = train_loss if val_loss is None else val_loss
        if monitored < best_loss - options.min_delta:
            best_loss, best_epoch, stale = monitored, epoch, 0
            best_params = {k: v.copy() for k, v in params.items()}
        else:
            stale += 1
            if val_loss is not None and stale >= options.patience:
                stopped_early = True
                break
        learning_rate *= options.lr_decay

    if not len(validation):
        best_params, best_epoch = params, len(history)
    return TrainingResult(to_model(config, best_params), history, best_epoch, stopped_early)
