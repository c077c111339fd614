"""Loss and exact gradients of the FastGRNN cell, in float64.

The forward pass mirrors `FastGRNN.hidden_state` term by term (general h0, so the
reset gate and recurrent matrix get their true gradients too); only the first output
unit is supervised, as only it is served as the routing score.

Loss per example, with z the first output logit, y the 0/1 label and optional teacher
logit t (temperature T, distillation weight a)::

    hard  = BCE(sigmoid(z), y)
    soft  = T² · BCE(sigmoid(z / T), sigmoid(t / T))          (Hinton et al.: the T² keeps
                                                           gradient scale independent of T)
    loss  = (1 - a) · hard + a · soft   if the example has a teacher logit, else hard

averaged over the batch, plus l2/2 · Σ‖W‖² over the weight matrices (not biases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.neural.fastgrnn import WEIGHT_MATRIX_NAMES, FastGRNNConfig

F64 = npt.NDArray[np.float64]
Params = dict[str, F64]


@dataclass(frozen=True, slots=True)
class Batch:
    features: F64  # [N, I]
    labels: F64  # [N]
    teacher_logits: F64  # [N], NaN where there is no teacher
    h0: F64 | None = None  # [H] or [N, H]; None is zeros


@dataclass(frozen=True, slots=True)
class LossSettings:
    l2: float = 0.0
    distill_weight: float = 0.5
    temperature: float = 2.0


def _sigmoid(z: F64) -> F64:
    out: F64 = 0.5 * np.tanh(0.5 * z) + 0.5
    return out


def _bce_with_logits(z: F64, target: F64) -> F64:
    # log(1 + e^z) - target·z, written to be stable for large |z|.
    out: F64 = np.logaddexp(0.0, z) - target * z
    return out


def forward_logits(config: FastGRNNConfig, params: Params, batch: Batch) -> F64:
    return _forward(config, params, batch)[0]


def _forward(config: FastGRNNConfig, params: Params, batch: Batch) -> tuple[F64, dict[str, F64]]:
    x = batch.features
    n = x.shape[0]
    h0 = (
        np.zeros((n, config.hidden_dim))
        if batch.h0 is None
        else np.broadcast_to(batch.h0, (n, config.hidden_dim))
    )
    nu, zeta = config.nu, config.zeta
    r = _sigmoid(nu * (x @ params["w_reset"].T + params["b_reset"]))
    u = _sigmoid(nu * (x @ params["w_update"].T + params["b_update"]))
    gated = r * h0
    c = np.tanh(
        zeta
        * (x @ params["w_candidate"].T + gated @ params["w_recurrent"].T + params["b_candidate"])
    )
    h = u * h0 + (1.0 - u) * c
    logits = h @ params["w_output"].T + params["b_output"]
    return logits, {"x": x, "h0": h0, "r": r, "u": u, "c": c, "gated": gated, "h": h}


def loss_and_gradients(
    config: FastGRNNConfig, params: Params, batch: Batch, settings: LossSettings
) -> tuple[float, Params]:
    """Mean loss over the batch (plus L2) and its exact gradient for every tensor."""
    logits, cache = _forward(config, params, batch)
    z = logits[:, 0]
    n = z.shape[0]
    y = batch.labels
    has_teacher = ~np.isnan(batch.teacher_logits)
    a = np.where(has_teacher, settings.distill_weight, 0.0)
    temp = settings.temperature
    soft_target = _sigmoid(np.where(has_teacher, batch.teacher_logits, 0.0) / temp)

    per_example = (1.0 - a) * _bce_with_logits(z, y) + a * temp**2 * _bce_with_logits(
        z / temp, soft_target
    )
    loss = float(per_example.mean()) if n else 0.0
    loss += 0.5 * settings.l2 * sum(float(np.sum(params[k] ** 2)) for k in WEIGHT_MATRIX_NAMES)

    # d(per_example)/dz: hard term sigmoid(z) - y; soft term T·(sigmoid(z/T) - p_t).
    dz = ((1.0 - a) * (_sigmoid(z) - y) + a * temp * (_sigmoid(z / temp) - soft_target)) / max(n, 1)
    d_logits = np.zeros_like(logits)
    d_logits[:, 0] = dz

    x, h0, r, u, c, gated, h = (cache[k] for k in ("x", "h0", "r", "u", "c", "gated", "h"))
    nu, zeta = config.nu, config.zeta
    grads: Params = {
        "w_output": d_logits.T @ h,
        "b_output": d_logits.sum(axis=0),
    }
    dh = d_logits @ params["w_output"]
    d_pre_u = dh * (h0 - c) * u * (1.0 - u) * nu
    d_pre_c = dh * (1.0 - u) * (1.0 - c * c) * zeta
    d_pre_r = (d_pre_c @ params["w_recurrent"]) * h0 * r * (1.0 - r) * nu
    grads["w_update"], grads["b_update"] = d_pre_u.T @ x, d_pre_u.sum(axis=0)
    grads["w_candidate"], grads["b_candidate"] = d_pre_c.T @ x, d_pre_c.sum(axis=0)
    grads["w_recurrent"] = d_pre_c.T @ gated
    grads["w_reset"], grads["b_reset"] = d_pre_r.T @ x, d_pre_r.sum(axis=0)
    for name in WEIGHT_MATRIX_NAMES:
        grads[name] = grads[name] + settings.l2 * params[name]
    return loss, grads
