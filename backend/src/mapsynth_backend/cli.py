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

from . import __version__
from .commands import ALIASES, HIDDEN, STAGES, aliases_of, canonical, load_command
from .contract import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, cache_dir
from .runtime.jobs import Command, load_job
from .runtime.outputs import output_lock
from .runtime.protocol import CANCEL_FILE, Cancelled, ConsoleReporter, JsonLinesReporter, UserError, protocol_stream

logger = logging.getLogger("mapsynth_backend")


def chosen_command(argv: list[str]) -> str | None:
    """The command named on the command line (its canonical name), if it is a known one."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    return canonical(name) if name in STAGES or name in ALIASES else None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """With a known command in ``argv`` only its stage is imported; otherwise (--help, a typo) every visible
    command is listed."""
    parser = argparse.ArgumentParser(
        prog="mapsynth",
        description="MapSynth backend: maps to synthetic Sentinel-2 imagery. Every command also accepts"
        " --job JOB.json (written by the QGIS plugin) and then speaks JSON lines on stdout.",
    )
    parser.add_argument("--version", action="version", version=f"mapsynth-backend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = chosen_command(sys.argv[1:] if argv is None else argv)
    names = [chosen] if chosen else [name for name in STAGES if name not in HIDDEN]
    for name in names:
        command = load_command(name)
        cmd_parser = sub.add_parser(name, aliases=aliases_of(name), help=command.help, description=command.help)
        cmd_parser.add_argument("--job", type=Path, help="job file (JSON); switches to the JSON-lines protocol")
        cmd_parser.add_argument("--json", action="store_true", help="print the result as JSON")
        cmd_parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING"))
        cmd_parser.add_argument("--log-file", type=Path, help="log file in console mode (default: in the cache dir)")
        command.add_flags(cmd_parser)
        if name == "convert-fid-weights":  # also `mapsynth convert-fid-weights IN.pth OUT.safetensors`
            cmd_parser.add_argument("files", nargs="*", metavar="IN.pth OUT.safetensors", help="instead of the flags")
    return parser


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
    args = build_parser(argv).parse_args(argv)
    command: Command = load_command(args.command)
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
            params = load_job(args.job, command, aliases_of(command.name))
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
