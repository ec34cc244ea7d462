#!/usr/bin/env bash
# Debian packages the demo's simulators need; installed with apt-get only when missing.
#   python3-gi, gir1.2-gst-rtsp-server-1.0   Debian's GStreamer RTSP server, run by Debian's
#                                            own python3: the demo's simulated cameras
#   gstreamer1.0-plugins-base/good/ugly      test pictures, RTP/RTSP, x264
#   gstreamer1.0-x                           the Pango plugin: clock / time overlays
# Never fails: without them the demo still runs, its cameras then stay 'registered' (no live
# states, snapshots or video), and this says what to install.
set -uo pipefail
packages=(python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x)
note() {
  echo "note: $1"
  echo "      the demo runs without simulated cameras (they stay 'registered');"
  echo "      for live camera states, snapshots and video: sudo apt-get install ${packages[*]}"
}
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  note "not a Debian/Ubuntu system (no dpkg-query/apt-get)"; exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    note "missing ${missing[*]}, and installing needs root (no sudo here)"; exit 0
  fi
fi
echo "installing Debian packages for the demo's simulated cameras: ${missing[*]}"
if ! { $SUDO apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
         "${missing[@]}"; }; then
  note "apt-get could not install ${missing[*]}"
fi
exit 0
