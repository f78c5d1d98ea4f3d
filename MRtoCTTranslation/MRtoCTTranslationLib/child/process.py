"""The parent's side: start a child whose stdout carries JSON lines, collect its events, kill its tree.

The child gets a process group of its own, so a cancel kills it and every process it started (data
loaders, TotalSegmentator) at once. Reader threads only move lines into a queue; the caller handles the
events on its own thread (Slicer's main thread, from a timer).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def package_roots() -> list[str]:
    """The folders that hold this project's packages, for the child's PYTHONPATH (in Slicer they are
    module folders that PythonSlicer does not search by itself)."""
    import MRtoCTTranslationLib
    import SpineCoreLib

    roots = [Path(MRtoCTTranslationLib.__file__).resolve().parents[1], Path(SpineCoreLib.__file__).resolve().parents[1]]
    return list(dict.fromkeys(str(r) for r in roots))


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([*package_roots(), *filter(None, [env.get("PYTHONPATH", "")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildProcess:
    """One started child. ``events()`` drains what it reported so far (dicts; a line that is not JSON
    arrives as ``{"output": line}``); ``running``; ``kill_tree()``; ``stderr_tail()`` for a crash."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        if os.name == "posix":
            group: dict[str, Any] = {"start_new_session": True}
        else:
            group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)}
        self.proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                     env=env, **group)
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=30)
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._readers:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            self._events.put(event if isinstance(event, dict) else {"output": line})

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip())

    def events(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    @property
    def running(self) -> bool:
        """False once the process has exited and everything it wrote has been read."""
        return self.proc.poll() is None or any(t.is_alive() for t in self._readers)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def stderr_tail(self, lines: int = 8) -> str:
        return "\n".join(list(self._stderr)[-lines:])

    def kill_tree(self) -> None:
        """Kill the child and everything in its process group; wait for it."""
        if self.proc.poll() is None:
            if os.name == "posix":
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.proc.pid)], capture_output=True, check=False)
        self.proc.wait()
        for t in self._readers:
            t.join(5)


def child_command(python: str | None, spec_path: str | os.PathLike) -> list[str]:
    """``python -m MRtoCTTranslationLib.child SPEC`` (``python`` None: this interpreter)."""
    return [python or sys.executable, "-m", "MRtoCTTranslationLib.child", str(spec_path)]
