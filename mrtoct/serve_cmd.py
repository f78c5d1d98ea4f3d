"""``mrtoct serve``: both workflows (landmarks and registration, one-click synthetic CT) in a browser."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
from pathlib import Path

from .errors import CLIError

LOCAL = ("127.0.0.1", "localhost", "::1")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve both workflows as a web app (trame-slicer) on this machine")
    p.add_argument("data_dir", nargs="?", default=".", help="folder with cases, where the phantom sample and "
                   "saved results go (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                   "only; there is no authentication)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.set_defaults(run=run)


def check(args: argparse.Namespace) -> Path:
    """The data folder, after every argument is checked; nothing is started before."""
    data = Path(args.data_dir)
    if not data.is_dir():
        raise CLIError(f"DATA_DIR: {data} is not a folder: give an existing folder (or none: the current one)")
    if not os.access(data, os.W_OK):
        raise CLIError(f"DATA_DIR: {data} is not writable: the phantom sample and results are saved there")
    if not 1 <= args.port <= 65535:
        raise CLIError(f"--port: {args.port} is not a port: give 1-65535")
    if args.host not in LOCAL:
        try:
            ipaddress.ip_address(args.host)
        except ValueError as exc:
            raise CLIError(f"--host: {args.host!r} is not an IP address: give one, e.g. 127.0.0.1") from exc
    with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as s:
        try:
            s.bind((args.host, args.port))
        except OSError as exc:
            raise CLIError(f"--port: {args.host}:{args.port} cannot be used ({exc.strerror}): choose another "
                           "port") from exc
    return data


def run(args: argparse.Namespace) -> int:
    data = check(args)
    try:
        import trame_slicer  # noqa: F401
    except ImportError as exc:
        raise CLIError("mrtoct serve needs trame-slicer: pip install -e '.[web]' (or \"trame-slicer[standalone]"
                       "==2.0.0\")") from exc
    if args.host not in LOCAL:
        logging.getLogger(__name__).warning(
            "listening on %s: anyone who can reach this address can use the app and read the data folder; "
            "there is no authentication", args.host)
    from .web.app import serve

    serve(data.resolve(), args.host, args.port)
    return 0
