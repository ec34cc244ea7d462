#!/usr/bin/python3
"""Simulated IP cameras: a real RTSP server (Debian's GStreamer RTSP server) serving H.264 test
patterns. Used by the demo (``safezone sim cameras``), the tests and the benchmarks.

Runs under Debian's own python3 (python3-gi, gir1.2-gst-rtsp-server-1.0), NOT the venv, so it
imports nothing from safezone; ``safezone.sim.rtsp`` starts and drives it. Reads commands on
stdin so a caller can change the world while it runs; stdin closing (the caller ended, even by
SIGKILL) ends the server too, so it never outlives whoever started it:

    remove /cam2        stop serving a path and end its sessions (a camera going dark)
    add /cam2 ball      serve an open path again (pattern: ball | smpte | black | snow)
    add /cam2 ball clock    ... with an overlay (time | clock | none)

Prints "READY <open_port> <secure_port>" once listening, or "MISSING <what>" and exits 3 when a
GStreamer part is not installed. Spec (JSON, argv[1]):
    {"auth_method": "basic" | "digest", "backlog": 1024, "share_media": false,
     "keep_playing": false, "one_port": false, "host": "127.0.0.1", "port": 0,
     "paths": [{"path": "/cam1", "pattern": "ball", "user": null, "password": null,
                "width": 640, "height": 360, "fps": 15, "overlay": null}]}

Paths with a user/password: by default served by a second server instance that demands
authentication (Basic or Digest: the Python binding takes one method per server), on its own
port. ``one_port``: everything on ONE port, as a camera or NVR does; anonymous clients get a
default token that may look a protected path up but not start it, so gst-rtsp-server answers
them 401 (with its challenge) there instead of 404 (it answers 404 when the token may not even
look the path up, and only 401 when the media may not be constructed).

``overlay``: "time" (pipeline running time; the default for moving patterns), "clock" (wall
clock, so two pictures taken a second apart always differ, even from a freshly started
pipeline), "none" (the default for black and smpte). Patterns: any of videotestsrc's; "smpte" has a
noise patch (never still), "smpte75", "colors", "bar" … are still pictures.

``share_media``: paths with the same launch line (and the same user) share ONE pipeline, the way
a camera's encoder runs whatever the number of clients. Used to serve hundreds of paths on 2
cores: a DESCRIBE then costs no encoder start-up. Off by default: every path has its own
pipeline.

``keep_playing`` (with ``share_media``): an internal viewer plays each shared open picture from
the start, so its encoder runs all the time, as a camera's does. Without it, many clients
playing a shared picture the moment it starts can hit an assertion in gst-rtsp-server 1.22
(``gst_rtsp_media_get_rates``: a stream with a client but no segment yet) and abort the
server; once the picture flows, new clients are safe. READY is printed when every internal
viewer has received video (or after 10 s).
"""
# mypy checks this file with the package, but gi lives only in Debian's python3: the GObject
# types are Any here, hence the ignores on the imports and on the subclass.

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

try:
    import gi  # type: ignore[import-not-found, unused-ignore]

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import (  # type: ignore[import-not-found, unused-ignore]
        GLib,
        Gst,
        GstRtsp,
        GstRtspServer,
    )
except (ImportError, ValueError) as exc:  # ValueError: typelib missing
    print(f"MISSING python3-gi gir1.2-gst-rtsp-server-1.0 ({exc})", flush=True)
    raise SystemExit(3) from None

# Element → the Debian package that holds it (checked at start, so a missing plugin is named
# rather than showing up later as a camera that never answers).
ELEMENTS = {
    "videotestsrc": "gstreamer1.0-plugins-base",
    "clockoverlay": "gstreamer1.0-x",
    "timeoverlay": "gstreamer1.0-x",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "rtspsrc": "gstreamer1.0-plugins-good",
}
WARM_UP_S = 10.0
OVERLAYS = {"time": " ! timeoverlay", "clock": " ! clockoverlay time-format=%H:%M:%S", "none": ""}
ANONYMOUS = "anonymous"
ROLE = "media.factory.role"
Entry = dict[str, Any]


def launch(pattern: str, width: int, height: int, fps: int, overlay: str | None = None) -> str:
    """The pipeline of one simulated camera."""
    if overlay is None:
        overlay = "none" if pattern in ("black", "smpte") else "time"
    overlay = OVERLAYS[overlay]
    # Key frame every second so a new viewer gets a picture quickly.
    return (
        f"( videotestsrc is-live=true pattern={pattern}{overlay} "
        f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=600 "
        f"! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def make_server(host: str, port: int, backlog: int) -> Any:
    """An RTSP server bound to ``host:port`` (0: any free port)."""
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(port))
    server.set_backlog(backlog)
    return server


class SharedFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc, unused-ignore]
    """One media for every URL it is mounted at (the default key is the URL's path)."""

    def do_gen_key(self, _url: object) -> str:
        return "shared"


def permissions(grants: dict[str, bool]) -> Any:
    """Factory permissions: role → may construct (every listed role may look the path up)."""
    perms = GstRtspServer.RTSPPermissions()
    for role, construct in grants.items():
        perms.add_permission_for_role(role, "media.factory.access", True)
        perms.add_permission_for_role(role, "media.factory.construct", construct)
    return perms


class Servers:
    """The open server, the authenticating one (the same one with ``one_port``) and the paths."""

    def __init__(self, spec: dict[str, Any]) -> None:
        backlog = int(spec.get("backlog", 1024))
        host = str(spec.get("host", "127.0.0.1"))
        self.one_port = bool(spec.get("one_port", False))
        self.share = bool(spec.get("share_media", False))
        self.shared: dict[tuple[str, str | None], Any] = {}
        self.shared_open_paths: list[str] = []  # one path per shared open picture
        self.open = make_server(host, int(spec.get("port", 0)), backlog)
        self.secure = self.open if self.one_port else make_server(host, 0, backlog)
        auth = GstRtspServer.RTSPAuth()
        self.digest = spec.get("auth_method", "basic") == "digest"
        auth.set_supported_methods(
            GstRtsp.RTSPAuthMethod.DIGEST if self.digest else GstRtsp.RTSPAuthMethod.BASIC
        )
        if self.one_port:
            token = GstRtspServer.RTSPToken()
            token.set_string(ROLE, ANONYMOUS)
            auth.set_default_token(token)
        self.secure.set_auth(auth)
        self.auth = auth
        entries: list[Entry] = list(spec.get("paths", []))
        self.users = sorted({str(e["user"]) for e in entries if e.get("user")})
        for user in self.users:
            self._add_user(user, next(str(e["password"]) for e in entries if e.get("user") == user))
        for entry in entries:
            self.mount(entry)

    def _add_user(self, user: str, password: str) -> None:
        token = GstRtspServer.RTSPToken()
        token.set_string(ROLE, f"user-{user}")
        if self.digest:
            self.auth.add_digest(user, password, token)
        else:
            self.auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)

    def factory_for(self, entry: Entry) -> Any:
        """The media factory of one path (shared with equal paths under ``share_media``)."""
        line = launch(
            str(entry.get("pattern", "ball")),
            int(entry.get("width", 640)),
            int(entry.get("height", 360)),
            int(entry.get("fps", 15)),
            entry.get("overlay"),
        )
        user = entry.get("user") or None
        key = (line, user)
        if self.share and key in self.shared:
            return self.shared[key]
        factory = SharedFactory() if self.share else GstRtspServer.RTSPMediaFactory()
        factory.set_launch(line)
        factory.set_shared(True)
        if user:
            grants = {f"user-{user}": True}
            if self.one_port:
                grants[ANONYMOUS] = False  # found, but not started: 401 and a challenge
            factory.set_permissions(permissions(grants))
        elif self.one_port:
            # With auth on this server every factory needs permissions, for every role.
            grants = {ANONYMOUS: True, **{f"user-{u}": True for u in self.users}}
            factory.set_permissions(permissions(grants))
        if self.share:
            self.shared[key] = factory
            if not user:
                self.shared_open_paths.append(str(entry["path"]))
        return factory

    def mount(self, entry: Entry) -> None:
        """Serve one path."""
        server = self.secure if entry.get("user") else self.open
        server.get_mount_points().add_factory(str(entry["path"]), self.factory_for(entry))

    def remove(self, path: str) -> None:
        """Stop serving ``path`` and end the sessions playing it."""
        for server in [self.open] if self.one_port else [self.open, self.secure]:
            server.get_mount_points().remove_factory(path)
            server.get_session_pool().filter(self._ending(path), None)

    @staticmethod
    def _ending(path: str) -> Any:
        def filt(_pool: object, session: Any, _data: object) -> Any:
            # Ending the session closes the client's stream, as a camera going dark would.
            for media in session.filter(None, None) or []:
                # RTSPSessionMedia has no get_path(); matches() gives (matched, length).
                matched, _length = media.matches(path)
                if matched:
                    return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        return filt

    def command(self, _source: object, _condition: object) -> bool:
        """One stdin command; EOF (the caller is gone) stops the server."""
        line = sys.stdin.readline()
        if not line:
            LOOP.quit()
            return False
        parts = line.split()
        if parts and parts[0] == "remove":
            self.remove(parts[1])
        elif parts and parts[0] == "add":
            self.mount({
                "path": parts[1],
                "pattern": parts[2] if len(parts) > 2 else "ball",
                "overlay": parts[3] if len(parts) > 3 else None,
            })
        print(f"OK {line.strip()}", flush=True)
        return True


class Viewers:
    """Internal viewers (rtspsrc ! fakesink over TCP) that keep pictures playing."""

    def __init__(self, urls: list[str]) -> None:
        self.waiting = set(urls)
        self.lock = threading.Lock()
        self.pipelines: list[Any] = []
        for url in urls:
            pipeline = Gst.parse_launch(
                f'rtspsrc location="{url}" protocols=tcp latency=0 '
                "! fakesink name=sink sync=false signal-handoffs=true"
            )
            pipeline.get_by_name("sink").connect("handoff", self._flowing, url)
            pipeline.set_state(Gst.State.PLAYING)
            self.pipelines.append(pipeline)

    def _flowing(self, _sink: object, _buffer: object, _pad: object, url: str) -> None:
        with self.lock:  # streaming threads
            self.waiting.discard(url)

    def all_flowing(self) -> bool:
        """Every viewer has received video."""
        with self.lock:
            return not self.waiting


def missing_elements() -> list[str]:
    """'element (package)' for each GStreamer element the cameras need and lack."""
    return [f"{e} ({p})" for e, p in ELEMENTS.items() if Gst.ElementFactory.find(e) is None]


def main() -> None:
    """Serve the spec in argv[1] until stdin closes or SIGTERM/SIGINT."""
    Gst.init(None)
    missing = missing_elements()
    if missing:
        print("MISSING " + ", ".join(missing), flush=True)
        raise SystemExit(3)
    spec = json.loads(sys.argv[1])
    servers = Servers(spec)
    for server in {servers.open, servers.secure}:
        if not server.attach(None):  # 0: could not listen (the port is taken)
            print(f"ERROR cannot listen on {server.get_address()}:{server.get_service()}",
                  flush=True)
            raise SystemExit(4)
    ready = f"READY {servers.open.get_bound_port()} {servers.secure.get_bound_port()}"
    if spec.get("keep_playing") and servers.shared_open_paths:
        host, port = servers.open.get_address(), servers.open.get_bound_port()
        viewers = Viewers([f"rtsp://{host}:{port}{p}" for p in servers.shared_open_paths])
        deadline = time.monotonic() + WARM_UP_S

        def announce() -> bool:
            if viewers.all_flowing() or time.monotonic() > deadline:
                print(ready, flush=True)
                return False
            return True

        GLib.timeout_add(20, announce)
        KEEP.append(viewers)
    else:
        print(ready, flush=True)
    GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, servers.command)
    for signum in (15, 2):  # SIGTERM, SIGINT: end quietly, no traceback
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, _quit)
    LOOP.run()
    # Leave at once: finalising GStreamer while the internal viewers' threads still run can
    # crash the interpreter on its way out (SIGSEGV), which would look like a failure.
    sys.stdout.flush()
    os._exit(0)


def _quit() -> bool:
    LOOP.quit()
    return False


LOOP: Any = GLib.MainLoop()
KEEP: list[Viewers] = []  # alive as long as the loop runs

if __name__ == "__main__":
    main()
