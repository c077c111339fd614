"""`train_router --labeled FILE.jsonl [FILE ...] [options]`: the prompt scorer the gateway routes
with (default `models/fastgrnn.safetensors` and its exemplar bank beside it);
`train_router DATA.jsonl [options]`: the seed's candidate-scoring cell (five features per
candidate, default `models/candidates.safetensors`).

Plain-Python entry point (`main(argv) -> exit code`); the Django management command
only forwards its arguments here.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from routing.neural.model_file import save_model
from routing.neural.prompt_training import (
    ScorerOptions,
    is_held_out,
    load_labelled,
    save_trained,
    train_scorer,
)
from routing.neural.quantization import quantization_report
from routing.neural.training import EpochReport, TrainingOptions, train
from routing.neural.training_data import TrainingDataError, load_jsonl

_BAR_WIDTH = 30
DEFAULT_SCORER_PATH = "models/fastgrnn.safetensors"
DEFAULT_CANDIDATE_PATH = "models/candidates.safetensors"


class TextSink(Protocol):
    """Where progress goes: a text stream, or an adapter such as Django's stdout."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


# Options shared by both trainers, as (flag, TrainingOptions field); unset, each trainer's own default
# applies (the prompt scorer's in `ScorerOptions`, the candidate cell's in `TrainingOptions`).
_SHARED = (
    ("epochs", "epochs"),
    ("lr", "learning_rate"),
    ("lr_decay", "lr_decay"),
    ("batch_size", "batch_size"),
    ("seed", "seed"),
    ("val_split", "validation_split"),
    ("patience", "patience"),
    ("l2", "l2"),
    ("clip", "clip_norm"),
    ("distill_weight", "distill_weight"),
    ("temperature", "temperature"),
)
_CELL = (("hidden_dim", "hidden_dim"), ("nu", "nu"), ("zeta", "zeta"), ("rank", "rank"))


def build_parser(prog: str = "train_router") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Train the FastGRNN neural router. Options left out take the defaults of the "
        "model being trained (models/README.md lists both).",
    )
    p.add_argument(
        "data",
        nargs="?",
        help="candidate-scoring data (the seed's five features): JSONL of "
        "{features: [5 floats], label: 0|1, teacher_logit?}",
    )
    p.add_argument(
        "--labeled",
        nargs="+",
        metavar="FILE",
        help="train the prompt scorer from labelled prompts: JSONL of {id, prompt, weak, strong}",
    )
    p.add_argument("--out", default=None, help="model file to write")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--lr-decay", type=float, help="per-epoch factor")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--val-split", type=float)
    p.add_argument("--patience", type=int)
    p.add_argument("--l2", type=float)
    p.add_argument("--clip", type=float, help="global grad norm")
    p.add_argument("--distill-weight", type=float)
    p.add_argument("--temperature", type=float)
    p.add_argument("--hidden-dim", type=int)
    p.add_argument("--nu", type=float)
    p.add_argument("--zeta", type=float)
    p.add_argument("--rank", type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _given(args: argparse.Namespace, names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {field: getattr(args, flag) for flag, field in names if getattr(args, flag) is not None}


def _options(args: argparse.Namespace, base: TrainingOptions | None = None) -> TrainingOptions:
    """`base` (default: the candidate cell's defaults) with the options given on the command line."""
    defaults = base or TrainingOptions()
    return replace(
        defaults, **_given(args, _SHARED), model=replace(defaults.model, **_given(args, _CELL))
    )


def progress_bar(done: int, total: int, width: int = _BAR_WIDTH) -> str:
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _epoch_line(report: EpochReport) -> str:
    line = (
        f"epoch {report.epoch:3d}  lr {report.learning_rate:.5f}  "
        f"loss {report.train_loss:.4f}  acc {report.train_accuracy:.4f}"
    )
    if report.validation_loss is not None and report.validation_accuracy is not None:
        line += f"  val_loss {report.validation_loss:.4f}  val_acc {report.validation_accuracy:.4f}"
    return line


def _scorer_options(args: argparse.Namespace) -> ScorerOptions:
    base = ScorerOptions()
    return replace(base, training=_options(args, base.training))


def _progress(args: argparse.Namespace, out: TextSink) -> tuple[Any, Any]:
    def on_batch(epoch: int, done: int, total: int) -> None:
        if not args.quiet:
            out.write(f"\repoch {epoch:3d} {progress_bar(done, total)}")
            out.flush()

    def on_epoch(report: EpochReport) -> None:
        prefix = "\r" if not args.quiet else ""
        # Pad so the epoch summary fully overwrites the progress bar line.
        out.write(f"{prefix}{_epoch_line(report):<{_BAR_WIDTH + 20}}\n")
        out.flush()

    return on_batch, on_epoch


def train_labeled(args: argparse.Namespace, out: TextSink) -> int:
    """Train the prompt scorer; nothing is written unless training succeeds."""
    target = args.out or DEFAULT_SCORER_PATH
    try:
        options = _scorer_options(args)
        rows = load_labelled(args.labeled)
    except (TrainingDataError, ValueError) as exc:
        print(f"error: {exc}", file=out)
        return 2
    held = sum(is_held_out(r.id) for r in rows)
    print(
        f"training the prompt scorer on {len(rows) - held} labelled prompts "
        f"({held} held out for measuring) from {', '.join(args.labeled)} (seed {options.training.seed})",
        file=out,
    )
    on_batch, on_epoch = _progress(args, out)
    try:
        trained = train_scorer(
            rows, options, on_batch=on_batch, on_epoch=on_epoch, sources=list(args.labeled)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=out)
        return 2
    if trained.stopped_early:
        print(f"early stopping after epoch {len(trained.history)}", file=out)
    best = trained.history[trained.best_epoch - 1]
    print(f"best epoch {trained.best_epoch}: {_epoch_line(best)}", file=out)
    save_trained(trained, target)
    calibration = trained.spec.calibration
    print(
        f"calibration: score threshold {calibration.threshold(0.5):.4f} for half the prompts on "
        f"the powerful tier; saved {target} and its exemplar bank ({len(trained.bank)} prompts)",
        file=out,
    )
    return 0


def main(argv: list[str] | None = None, stdout: TextSink | None = None) -> int:
    out = stdout or sys.stdout
    args = build_parser().parse_args(argv)
    if args.labeled:
        return train_labeled(args, out)
    if not args.data:
        print("error: give a candidate-scoring data file or --labeled FILE [FILE ...]", file=out)
        return 2
    args.out = args.out or DEFAULT_CANDIDATE_PATH
    try:
        options = _options(args)
        data = load_jsonl(args.data, options.model.input_dim)
    except (TrainingDataError, ValueError) as exc:
        print(f"error: {exc}", file=out)
        return 2
    print(f"training on {len(data)} examples from {args.data} (seed {options.seed})", file=out)

    on_batch, on_epoch = _progress(args, out)
    result = train(data, options, on_batch=on_batch, on_epoch=on_epoch)
    best = result.history[result.best_epoch - 1]
    if result.stopped_early:
        print(f"early stopping after epoch {len(result.history)}", file=out)
    print(f"best epoch {result.best_epoch}: {_epoch_line(best)}", file=out)

    _, validation = data.split(options.validation_split, options.seed)
    check = validation if len(validation) else data
    report = quantization_report(result.model, check.features.astype(np.float32), check.labels)
    print(
        f"int8 check on {len(check)} examples: accuracy float {report.float_accuracy:.4f} "
        f"-> int8 {report.quantized_accuracy:.4f}, max |score change| "
        f"{report.max_abs_score_change:.5f}, decision agreement {report.decision_agreement:.4f}",
        file=out,
    )
    save_model(result.model, args.out)
    print(f"saved {args.out}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
