"""The ``hptune`` command: list, show, export and delete studies; run the demo.

Exit codes scripts can rely on:

* 0: success
* 1: an unexpected error
* 2: bad usage: an unknown option, a malformed storage URL, an unknown format
* 3: not found: no such study, or no database file at the storage URL
* 130: interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hptune.exceptions import (
    ConfigurationError,
    HptuneError,
    StorageURLError,
    StudyNotFoundError,
    TrialStateError,
)
from hptune.export import FORMATS, dump_trials, trial_to_row, write_trials
from hptune.records import FrozenTrial, TrialState
from hptune.storage import Storage, get_storage
from hptune.study import Study, load_study

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that went away


def _count(text: str) -> int:
    """An argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


DEFAULT_STORAGE = "sqlite:///hptune.db"


class _NotFound(HptuneError):
    """A database file that does not exist (read commands never create one)."""


def _open_storage(url: str, *, create: bool = False) -> Storage:
    # A read command pointed at a wrong path must not leave an empty database behind, and
    # one pointed at another program's database must not write hptune's tables into it.
    from hptune.storage.sql import SQLStorage, sqlite_path

    path = sqlite_path(url)
    if path is not None and not create and not Path(path).exists():
        raise _NotFound(
            f"no database at {path!r} (from --storage {url!r}); check the path, or run a "
            "study first."
        )
    if create:
        return get_storage(url)
    return SQLStorage(url, create=False)


def _format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _table(rows: Sequence[dict[str, Any]]) -> str:
    """Format dict rows as an aligned text table (columns in first-seen order)."""
    if not rows:
        return "(none)"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _best_summary(study: Study) -> str:
    if study.is_multi_objective:
        front = study.best_trials
        return f"Pareto front: {len(front)} trials ({', '.join(str(t.number) for t in front)})"
    try:
        best = study.best_trial
    except TrialStateError:
        return "best trial: none complete yet"
    params = ", ".join(f"{k}={_format_value(v)}" for k, v in sorted(best.params.items()))
    return f"best trial: {best.number}, value {_format_value(best.value)}\n  params: {params}"


def cmd_studies(args: argparse.Namespace) -> int:
    storage = _open_storage(args.storage)
    rows = []
    for record in storage.list_studies():
        rows.append(
            {
                "name": record.name,
                "directions": ",".join(d.value for d in record.directions),
                "trials": record.n_trials,
                "created": record.datetime_created.isoformat(timespec="seconds")
                if record.datetime_created
                else None,
            }
        )
    print(_table(rows))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    study = load_study(args.study, _open_storage(args.storage))
    trials = study.trials
    counts = {s.value: sum(t.state is s for t in trials) for s in TrialState}
    print(f"study: {study.name}")
    print(f"directions: {', '.join(d.value for d in study.directions)}")
    print(f"trials: {len(trials)} (" + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ")")
    stop = study.storage.load_study(study.name).system_attrs.get("stop_reason")
    if stop:
        print(f"last stop: {stop['rule']}: {stop['message']}")
    print(_best_summary(study))
    return EXIT_OK


def _trial_rows(trials: Sequence[FrozenTrial]) -> list[dict[str, Any]]:
    keep = ("number", "state", "value", "duration_s")
    rows = []
    for trial in trials:
        row = trial_to_row(trial)
        shown = {k: v for k, v in row.items() if k in keep or k.startswith(("values_", "params_"))}
        rows.append(shown)
    # Why trials failed or were pruned, in one column, when any did.
    reasons = [t.fail_reason or t.prune_reason for t in trials]
    if any(reasons):
        for row, reason in zip(rows, reasons, strict=True):
            row["reason"] = reason
    return rows


def cmd_trials(args: argparse.Namespace) -> int:
    study = load_study(args.study, _open_storage(args.storage))
    states = None if args.state is None else [TrialState.parse(s) for s in args.state]
    trials = study.history(states=states)
    if args.limit is not None:
        trials = trials[len(trials) - args.limit :] if args.limit else []
    print(_table(_trial_rows(trials)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    study = load_study(args.study, _open_storage(args.storage))
    if args.output in (None, "-"):
        dump_trials(study.trials, sys.stdout, args.format or "csv", directions=study.directions)
        return EXIT_OK
    # Without --format the file's suffix decides (out.parquet is an error, not CSV).
    path = write_trials(study.trials, args.output, format=args.format, directions=study.directions)
    print(f"wrote {len(study.trials)} trials to {path}", file=sys.stderr)
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    storage = _open_storage(args.storage)
    record = storage.load_study(args.study)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigurationError(
                f"refusing to delete study {args.study!r} ({record.n_trials} trials) without "
                "confirmation; pass --yes."
            )
        try:
            answer = input(f"delete study {args.study!r} and its {record.n_trials} trials? [y/N] ")
        except EOFError:  # Ctrl-D: no
            answer = ""
            print()
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return EXIT_OK
    storage.delete_study(args.study)
    print(f"deleted study {args.study!r} ({record.n_trials} trials)")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from hptune.demo import run_demo, summarize

    if args.fresh:
        storage = get_storage(args.storage)
        with contextlib.suppress(StudyNotFoundError):
            storage.delete_study(args.study_name)
    print(
        f"tuning a PyTorch MLP on scikit-learn's digits: {args.n_trials} trials of up to "
        f"{args.epochs} epochs ({args.sampler}, pruner {args.pruner}), stored in "
        f"{args.storage} (study {args.study_name!r}); run again to resume.",
        file=sys.stderr,
    )
    result = run_demo(
        storage=args.storage,
        study_name=args.study_name,
        n_trials=args.n_trials,
        max_epochs=args.epochs,
        seed=args.seed,
        sampler=args.sampler,
        pruner=None if args.pruner == "none" else args.pruner,
        show_progress=False if args.no_progress else None,
        n_jobs=args.n_jobs,
    )
    print(summarize(result))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Return the ``hptune`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="hptune",
        description="Inspect hptune studies and run the demo.",
        epilog="exit codes: 0 ok, 1 error, 2 bad usage, 3 study or database not found, "
        "130 interrupted, 141 the reader of the output went away",
    )
    default = os.environ.get("HPTUNE_STORAGE", DEFAULT_STORAGE)
    storage_help = f"database URL (default: $HPTUNE_STORAGE or {DEFAULT_STORAGE})"
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str, with_study: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        if with_study:
            p.add_argument("study", help="the study's name")
        p.add_argument("--storage", default=default, help=storage_help)
        return p

    add("studies", "list the studies in a storage", with_study=False).set_defaults(func=cmd_studies)
    add("show", "summarize a study and its best trial").set_defaults(func=cmd_show)
    p = add("trials", "list a study's trials as a table")
    p.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in TrialState],
        help="only trials in this state (repeatable)",
    )
    p.add_argument("--limit", type=_count, help="only the last N trials (N >= 0)")
    p.set_defaults(func=cmd_trials)
    p = add("export", "write every trial as CSV or JSON")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="csv or json (default: the output file's suffix; csv on standard output)",
    )
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)
    p = add("delete", "delete a study and its trials")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)
    p = add("demo", "tune a PyTorch network on the digits data (resumable)", with_study=False)
    p.add_argument("--study-name", default="digits-mlp")
    p.add_argument("--n-trials", type=int, default=60, help="trials the study should hold")
    p.add_argument("--epochs", type=int, default=20, help="epochs per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", default="tpe", help="strategy name (default: tpe)")
    p.add_argument("--pruner", default="asha", help="pruner name, or none (default: asha)")
    p.add_argument("--n-jobs", type=int, default=1, help="trials run at once (threads)")
    p.add_argument("--fresh", action="store_true", help="delete the demo study first")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a reader that went away shows here, not at exit
        return code
    except KeyboardInterrupt:
        print("hptune: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (StudyNotFoundError, _NotFound) as e:
        print(f"hptune: error: {e}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except (StorageURLError, ConfigurationError, ValueError) as e:
        print(f"hptune: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`hptune trials ... | head`): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as e:  # an output file that cannot be written: a path, a full disk
        print(f"hptune: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except ImportError as e:
        print(f"hptune: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except HptuneError as e:
        print(f"hptune: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
