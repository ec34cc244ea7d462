"""Start and drive the simulated cameras' RTSP server (``rtsp_server.py``, run by Debian's own
python3 because python3-gi and GStreamer's RTSP server live there, not in the venv)."""

from __future__ import annotations

import json
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from safezone.sim.processes import stop_process

SCRIPT = Path(__file__).with_name("rtsp_server.py")
DEBIAN_PYTHON = "/usr/bin/python3"
DEBIAN_PACKAGES = (
    "python3-gi", "gir1.2-gst-rtsp-server-1.0", "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-ugly",
)
INSTALL_HINT = "sudo apt-get install " + " ".join(DEBIAN_PACKAGES)
READY_TIMEOUT_S = 20.0


class RtspUnavailable(RuntimeError):
    """The simulated cameras' RTSP server cannot run here; the message says why.
    ``not_installed``: a Debian package is missing (``INSTALL_HINT`` names them)."""

    def __init__(self, message: str, *, not_installed: bool = False) -> None:
        super().__init__(message)
        self.not_installed = not_installed


class RtspServerProcess:
    """A running server: ``url(path)`` builds a stream URL, ``remove``/``add`` change what it
    serves, ``close()`` ends it. The server also ends by itself when this process ends (its
    stdin closes), so it is never left behind.

    Options as in ``rtsp_server.py``. ``wait=False`` returns at once; call ``wait_ready()``
    before using it (lets a caller do other work while Debian's python3 loads GStreamer).
    ``new_session`` keeps the terminal's Ctrl-C away from the server: its owner stops it, after
    its own clean-up.
    """

    def __init__(
        self,
        paths: list[dict[str, Any]],
        *,
        backlog: int = 1024,
        auth_method: str = "basic",
        share_media: bool = False,
        keep_playing: bool = False,
        one_port: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        wait: bool = True,
        new_session: bool = False,
    ) -> None:
        spec = {
            "paths": paths, "backlog": backlog, "auth_method": auth_method,
            "share_media": share_media, "keep_playing": keep_playing, "one_port": one_port,
            "host": host, "port": port,
        }
        self.host = host
        self.port = self.secure_port = 0
        self.secure_paths = {p["path"] for p in paths if p.get("user")}
        if not Path(DEBIAN_PYTHON).exists():
            raise RtspUnavailable(
                f"{DEBIAN_PYTHON} is missing (Debian's python3)", not_installed=True
            )
        self.proc = subprocess.Popen(  # noqa: S603 - fixed interpreter and script, JSON arg
            [DEBIAN_PYTHON, str(SCRIPT), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )
        if wait:
            self.wait_ready()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Block until the server listens; ``RtspUnavailable`` when it cannot."""
        if self.port:
            return
        line = self._read_line(timeout_s)
        if line.startswith("READY"):
            self.port, self.secure_port = (int(p) for p in line.split()[1:3])
            return
        self.close()
        if line.startswith("MISSING"):
            missing = line[len("MISSING"):].strip()
            raise RtspUnavailable(f"not installed: {missing}", not_installed=True)
        raise RtspUnavailable(f"the RTSP server did not start: {line.strip()!r}")

    def _read_line(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None  # noqa: S101 - created with a pipe
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                return self.proc.stdout.readline()
            if self.proc.poll() is not None:
                return f"(exited with {self.proc.returncode})"
        return f"(no answer in {timeout_s:.0f} s)"

    def url(self, path: str, user: str | None = None, password: str | None = None) -> str:
        """URL of a path (protected paths may live on the second, authenticating server)."""
        auth = f"{user}:{password}@" if user else ""
        port = self.secure_port if path in self.secure_paths else self.port
        return f"rtsp://{auth}{self.host}:{port}{path}"

    def _command(self, text: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None  # noqa: S101
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply.startswith("OK"):
            raise RuntimeError(f"RTSP server did not confirm {text!r}: {reply!r}")

    def remove(self, path: str) -> None:
        """Stop serving ``path`` and end its sessions (a camera going dark)."""
        self._command(f"remove {path}")

    def add(self, path: str, pattern: str = "ball", overlay: str | None = None) -> None:
        """Serve an open ``path`` (again)."""
        self._command(f"add {path} {pattern}" + (f" {overlay}" if overlay else ""))

    def close(self) -> None:
        """Stop the server and wait for it (killed if it does not stop within 5 s)."""
        stop_process(self.proc, grace_s=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> RtspServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
