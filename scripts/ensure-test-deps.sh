#!/usr/bin/env bash
# Debian packages the tests need; installed with apt-get only when missing.
#   chromium          real headless browser for the page tests (driven by Playwright)
#   fonts-thai-tlwg   Thai glyphs, so screenshots show real Thai text
set -euo pipefail
packages=(chromium fonts-thai-tlwg)
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
