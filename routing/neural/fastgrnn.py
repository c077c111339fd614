"""FastGRNN cell that scores routing candidates.

One step of the gated cell, applied to a batch of candidates at once::

    r = sigmoid(nu·(W_r x + b_r))
    u = sigmoid(nu·(W_u x + b_u))
    c = tanh(zeta·(W_c x + W_rec(r ⊙ h0) + b_c))
    h = u ⊙ h0 + (1 - u) ⊙ c
    score = sigmoid(W_out h + b_out)[0]

`FastGRNN.predict` is the readable reference; `ScoringKernel` is the fused form used on
the request path and must agree with it to within float32 rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# Order matters only for readability of saved files; lookups are by name.
TENSOR_NAMES: tuple[str, ...] = (
    "w_reset",
    "w_update",
    "w_candidate",
    "w_recurrent",
    "w_output",
    "b_reset",
    "b_update",
    "b_candidate",
    "b_output",
)
WEIGHT_MATRIX_NAMES: tuple[str, ...] = TENSOR_NAMES[:5]
LOW_RANK_NAMES: tuple[str, ...] = ("w_reset", "w_update", "w_candidate")


@dataclass(frozen=True, slots=True)
class FastGRNNConfig:
    """Shape and fixed pre-activation scales of the cell.

    `rank`, when set, constrains the three input matrices to that rank (FastGRNN's
    low-rank factorisation); `None` leaves them full rank.
    """

    input_dim: int = 5
    hidden_dim: int = 8
    output_dim: int = 1
    nu: float = 1.0
    zeta: float = 1.0
    rank: int | None = None

    def __post_init__(self) -> None:
        for name in ("input_dim", "hidden_dim", "output_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("nu", "zeta"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite positive number, got {value!r}")
        if self.rank is not None:
            limit = min(self.input_dim, self.hidden_dim)
            if isinstance(self.rank, bool) or not isinstance(self.rank, int):
                raise ValueError(f"rank must be an integer or None, got {self.rank!r}")
            if not 1 <= self.rank <= limit:
                raise ValueError(f"rank must be in [1, {limit}], got {self.rank}")

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        h, i, o = self.hidden_dim, self.input_dim, self.output_dim
        return {
            "w_reset": (h, i),
            "w_update": (h, i),
            "w_candidate": (h, i),
            "w_recurrent": (h, h),
            "w_output": (o, h),
            "b_reset": (h,),
            "b_update": (h,),
            "b_candidate": (h,),
            "b_output": (o,),
        }


def _sigmoid(z: FloatArray) -> FloatArray:
    # The tanh form never overflows, unlike 1 / (1 + exp(-z)) for large negative z.
    out: FloatArray = (0.5 * np.tanh(0.5 * z) + 0.5).astype(z.dtype, copy=False)
    return out


# eq=False: comparing dicts of arrays elementwise has no single truth value; models
# are compared by identity.
@dataclass(frozen=True, slots=True, eq=False)
class FastGRNN:
    """Immutable cell parameters plus the reference forward pass."""

    config: FastGRNNConfig
    tensors: dict[str, FloatArray]

    def __post_init__(self) -> None:
        shapes = self.config.tensor_shapes()
        missing = [name for name in TENSOR_NAMES if name not in self.tensors]
        if missing:
            raise ValueError(f"missing tensors: {', '.join(missing)}")
        for name, shape in shapes.items():
            if self.tensors[name].shape != shape:
                raise ValueError(
                    f"tensor {name} has shape {self.tensors[name].shape}, expected {shape}"
                )
        # Private read-only float32 copies: a model in service is shared across threads.
        frozen: dict[str, FloatArray] = {}
        for name in TENSOR_NAMES:
            array = np.array(self.tensors[name], dtype=np.float32, order="C")
            array.flags.writeable = False
            frozen[name] = array
        object.__setattr__(self, "tensors", frozen)

    def __getitem__(self, name: str) -> FloatArray:
        return self.tensors[name]

    def replace_tensors(self, tensors: dict[str, FloatArray]) -> FastGRNN:
        return FastGRNN(self.config, {name: tensors[name] for name in TENSOR_NAMES})

    def hidden_state(self, x: npt.ArrayLike, h0: npt.ArrayLike | None = None) -> FloatArray:
        """New hidden state h for a batch `x` of shape [N, input_dim]."""
        cfg = self.config
        xs = np.atleast_2d(np.asarray(x, dtype=np.float32))
        if xs.ndim != 2 or xs.shape[1] != cfg.input_dim:
            raise ValueError(f"expected input of shape [N, {cfg.input_dim}], got {xs.shape}")
        if h0 is None:
            h_prev = np.zeros((xs.shape[0], cfg.hidden_dim), dtype=np.float32)
        else:
            h_prev = np.broadcast_to(
                np.asarray(h0, dtype=np.float32), (xs.shape[0], cfg.hidden_dim)
            )
        t = self.tensors
        nu, zeta = np.float32(cfg.nu), np.float32(cfg.zeta)
        r = _sigmoid(nu * (xs @ t["w_reset"].T + t["b_reset"]))
        u = _sigmoid(nu * (xs @ t["w_update"].T + t["b_update"]))
        c = np.tanh(
            zeta * (xs @ t["w_candidate"].T + (r * h_prev) @ t["w_recurrent"].T + t["b_candidate"])
        )
        h: FloatArray = u * h_prev + (np.float32(1.0) - u) * c
        return h

    def outputs(self, x: npt.ArrayLike, h0: npt.ArrayLike | None = None) -> FloatArray:
        """All output units after the sigmoid, shape [N, output_dim]."""
        h = self.hidden_state(x, h0)
        return _sigmoid(h @ self.tensors["w_output"].T + self.tensors["b_output"])

    def predict(self, x: npt.ArrayLike, h0: npt.ArrayLike | None = None) -> FloatArray:
        """Routing score per candidate: the first output unit, shape [N]."""
        out: FloatArray = np.ascontiguousarray(self.outputs(x, h0)[:, 0])
        return out


def initialize(config: FastGRNNConfig | None = None, seed: int = 0) -> FastGRNN:
    """Seeded Xavier-uniform weights and zero biases (update-gate bias at 1 keeps early
    training close to the previous state, the usual GRU trick)."""
    cfg = config or FastGRNNConfig()
    rng = np.random.default_rng(seed)
    tensors: dict[str, FloatArray] = {}
    for name, shape in cfg.tensor_shapes().items():
        if name.startswith("w_"):
            limit = math.sqrt(6.0 / (shape[0] + shape[1]))
            tensors[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        else:
            tensors[name] = np.zeros(shape, dtype=np.float32)
    tensors["b_update"][:] = 1.0
    model = FastGRNN(cfg, tensors)
    return project_to_rank(model) if cfg.rank is not None else model


def project_to_rank(model: FastGRNN) -> FastGRNN:
    """Nearest (Frobenius) rank-`config.rank` input matrices, via truncated SVD."""
    rank = model.config.rank
    if rank is None or rank >= min(model.config.input_dim, model.config.hidden_dim):
        return model
    tensors = dict(model.tensors)
    for name in LOW_RANK_NAMES:
        u, s, vt = np.linalg.svd(tensors[name].astype(np.float64), full_matrices=False)
        tensors[name] = ((u[:, :rank] * s[:rank]) @ vt[:rank]).astype(np.float32)
    return FastGRNN(model.config, tensors)


_ONE = np.float32(1.0)
_HALF = np.float32(0.5)
# tanh of this is exactly 1.0 in float32 (anything above ~9.1 is).
_SATURATED = 30.0


class ScoringKernel:
    """Fused, allocation-light form of `FastGRNN.predict` for h0 = 0.

    With h0 = 0 the reset gate and recurrent matrix drop out, and
    h = (1 - u) ⊙ c.  Writing sigmoid(z) = ½(1 + tanh(z/2)) lets the update and candidate
    pre-activations share one matmul and one tanh; the ½ factors and nu, zeta are folded
    into the fused weights once, here, instead of on every request.

    The output bias rides along as one extra hidden unit whose update pre-activation is
    0 and candidate pre-activation saturates tanh at exactly 1, so (1 - 0)·1 = 1 and
    the output matmul adds the bias itself: one whole-array operation fewer per call.
    """

    __slots__ = ("_gate_bias", "_gate_weights", "_out_weights", "_units")

    def __init__(self, model: FastGRNN) -> None:
        cfg, t = model.config, model.tensors
        half_nu = 0.5 * cfg.nu
        no_weights = np.zeros((1, cfg.input_dim), dtype=np.float32)
        self._units = cfg.hidden_dim + 1
        self._gate_weights: FloatArray = np.ascontiguousarray(
            np.concatenate(
                [half_nu * t["w_update"], no_weights, cfg.zeta * t["w_candidate"], no_weights]
            ).T,
            dtype=np.float32,
        )
        self._gate_bias: FloatArray = np.concatenate(
            [half_nu * t["b_update"], [0.0], cfg.zeta * t["b_candidate"], [_SATURATED]]
        ).astype(np.float32)
        # score = ½ + ½·tanh(½·logit) and h = ½(1 - tanh_u) ⊙ c: fold both halves.
        self._out_weights: FloatArray = np.concatenate(
            [0.25 * t["w_output"][0], [0.5 * t["b_output"][0]]]
        ).astype(np.float32)

    def score(self, features: FloatArray) -> FloatArray:
        """Scores for float32 features of shape [N, input_dim]; returns a new [N] array."""
        z = np.dot(features, self._gate_weights)
        z += self._gate_bias
        np.tanh(z, out=z)
        units = self._units
        keep = np.subtract(_ONE, z[:, :units])
        keep *= z[:, units:]
        logit = np.dot(keep, self._out_weights)
        np.tanh(logit, out=logit)
        logit *= _HALF
        logit += _HALF
        return logit
