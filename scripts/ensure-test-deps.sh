#!/usr/bin/env bash
# Debian packages the tests need; installed with apt-get only when missing.
#   chromium          real headless browser for the page tests (driven by Playwright)
#   fonts-thai-tlwg   Thai glyphs, so screenshots show real Thai text
#   gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-*
#                     the real RTSP cameras of the tests (run by Debian's own python3)
#   gstreamer1.0-x    its Pango plugin draws the clock / time overlays on the test pictures
#   ffmpeg            ffprobe, to check evidence clips independently
#   mosquitto         private brokers for the broker-restart and password/ACL tests
#   coturn            a real TURN server for the short-lived call credentials tests
#   libasound2-data   ALSA's configuration: the box's microphone and speaker tests use its
#                     "null" device through PyAV
set -euo pipefail
packages=(chromium fonts-thai-tlwg python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x
  ffmpeg mosquitto coturn libasound2-data)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
