"""Stopping a child: politely first, by force when it ignores SIGTERM; reaped either way."""

from __future__ import annotations

import subprocess
import sys
import time

from safezone.sim.processes import stop_process


def child(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    proc.stdout.close()
    return proc


def test_a_child_that_obeys_sigterm_stops_at_once() -> None:
    proc = child("import time; print('ready', flush=True); time.sleep(60)")
    started = time.monotonic()
    stop_process(proc, grace_s=10)
    assert proc.returncode == -15 and time.monotonic() - started < 5
    stop_process(proc)  # already gone: nothing to do


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    proc = child("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                 "print('ready', flush=True); time.sleep(60)")
    started = time.monotonic()
    stop_process(proc, grace_s=0.5)
    assert proc.returncode == -9 and 0.5 <= time.monotonic() - started < 5
