"""`mapsynth <command> [--job JOB | flags]`: one entry point for the QGIS plugin and for people.

With ``--job`` the command speaks the JSON-lines protocol on stdout (machine mode); otherwise it shows a
progress bar on stderr and prints the result (JSON with ``--json``). Exit codes: 0 done, 1 error (one line
for the user, traceback in the log), 130 cancelled.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from . import (
    __version__,
    assemble,
    crop,
    dataset,
    diagnostics,
    evaluate,
    experiment,
    export,
    generate,
    grid,
    landcover,
    masks,
    train,
)
from .jobs import Command, Param, load_job
from .outputs import output_lock
from .protocol import CANCEL_FILE, Cancelled, ConsoleReporter, JsonLinesReporter, UserError, protocol_stream


def _convert_fid_weights(params: dict, reporter) -> dict:
    from .fid_inception import convert_fid_weights  # torch only for this command

    return convert_fid_weights(params, reporter)


CONVERT_FID = Command(
    "convert-fid-weights",
    "Convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth to safetensors for evaluate (weights only,"
    " sha256-checked; prints the tensor fingerprint).",
    _convert_fid_weights,
    (
        Param("input", "path", help="pt_inception-2015-12-05-6726825d.pth, as pytorch-fid downloads it"),
        Param("output", "path", help="the .safetensors file to write"),
        Param("unverified_source", "bool", False, "convert a file whose sha256 does not match (FID marks it)"),
    ),
)

COMMANDS: dict[str, Command] = {
    cmd.name: cmd
    for cmd in (
        *diagnostics.COMMANDS,
        *grid.COMMANDS,
        *crop.COMMANDS,
        *dataset.COMMANDS,
        *train.COMMANDS,
        *generate.COMMANDS,
        *assemble.COMMANDS,
        *masks.COMMANDS,
        *export.COMMANDS,
        *evaluate.COMMANDS,
        *experiment.COMMANDS,
        *landcover.COMMANDS,
        CONVERT_FID,
    )
}
EXIT_OK, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 130

logger = logging.getLogger("mapsynth_backend")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mapsynth",
        description="MapSynth backend: maps to synthetic Sentinel-2 imagery. Every command also accepts"
        " --job JOB.json (written by the QGIS plugin) and then speaks JSON lines on stdout.",
    )
    parser.add_argument("--version", action="version", version=f"mapsynth-backend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        cmd_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        cmd_parser.add_argument("--job", type=Path, help="job file (JSON); switches to the JSON-lines protocol")
        cmd_parser.add_argument("--json", action="store_true", help="print the result as JSON")
        cmd_parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING"))
        cmd_parser.add_argument("--log-file", type=Path, help="log file in console mode (default: in the cache dir)")
        command.add_flags(cmd_parser)
        if command is CONVERT_FID:  # also `mapsynth convert-fid-weights IN.pth OUT.safetensors`
            cmd_parser.add_argument("files", nargs="*", metavar="IN.pth OUT.safetensors", help="instead of the flags")
    return parser


def cache_dir() -> Path:
    """Per-user cache (logs, jobs): MAPSYNTH_CACHE_DIR, else the platform's cache folder."""
    if os.environ.get("MAPSYNTH_CACHE_DIR"):
        return Path(os.environ["MAPSYNTH_CACHE_DIR"])
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "mapsynth"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mapsynth"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mapsynth"


def configure_logging(args: argparse.Namespace) -> Path | None:
    """Job mode: stderr is the job's backend.log. Console mode: a log file, so tracebacks stay off screen."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if args.job is not None:
        logging.basicConfig(stream=sys.stderr, level=args.log_level, format=fmt)
        return None
    log_file = args.log_file or cache_dir() / "logs" / "mapsynth.log"
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(filename=log_file, level=args.log_level, format=fmt, encoding="utf-8")
    except OSError:
        logging.basicConfig(stream=sys.stderr, level=logging.CRITICAL, format=fmt)
        return None
    return log_file


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (the plugin's second cancel step, or a scheduler) unwinds like a cancel: temporary files are
    removed, locks released, nothing unfinished is marked complete."""
    raise Cancelled()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    log_file = configure_logging(args)
    where = f"log: {log_file}" if log_file else "traceback in the log"
    flags = {p.name: getattr(args, p.name) for p in command.params if getattr(args, p.name) is not None}
    flags.update(zip(("input", "output"), getattr(args, "files", None) or (), strict=False))
    if args.job is not None:
        reporter = JsonLinesReporter(protocol_stream(), Path.cwd() / CANCEL_FILE)
    else:
        reporter = ConsoleReporter(json_result=args.json)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.job is not None:
            if flags:
                raise UserError(f"give either --job or parameter flags, not both ({', '.join(sorted(flags))})")
            params = load_job(args.job, command)
        else:
            params = command.resolve(flags)
        logger.info("mapsynth-backend %s: %s %s", __version__, command.name, params)
        if not params.get("allow_download"):
            os.environ["HF_HUB_OFFLINE"] = "1"  # no hub access unless this job asked for it (read at import)
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        with output_lock(command.name, params, reporter) or contextlib.nullcontext():
            outputs = command.run(params, reporter)
        reporter.result(outputs)
        return EXIT_OK
    except UserError as exc:
        logger.info("user error", exc_info=True)
        reporter.error(str(exc))
        return EXIT_ERROR
    except (Cancelled, KeyboardInterrupt):
        logger.warning("cancelled: finished outputs are kept, unfinished ones are not marked complete")
        reporter.log("cancelled", "warning")
        return EXIT_CANCELLED
    except MemoryError:
        logger.exception("out of memory")
        reporter.error(f"{command.name}: out of memory; use a smaller BATCH_SIZE or area ({where})")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into one line
        logger.exception("internal error")
        reporter.error(f"{command.name} failed: {type(exc).__name__}: {exc} ({where})")
        return EXIT_ERROR
    finally:
        reporter.close()
