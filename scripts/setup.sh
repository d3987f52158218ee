#!/usr/bin/env bash
# Install what is missing — Debian packages, a .venv, the kuanyue package — and nothing else.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--dev]
#   --dev  also the test tools: Debian's chromium, mpv and tesseract (chi_sim, the clip
#          legibility test), pytest and friends.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

PACKAGES=(ffmpeg espeak-ng fonts-noto-cjk fontconfig libchromaprint1)
[ "$DEV" = 1 ] && PACKAGES+=(chromium mpv tesseract-ocr tesseract-ocr-chi-sim liquidsoap icecast2)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    say "安装系统软件包 / installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  for tool in ffmpeg ffprobe espeak-ng fc-match; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "找不到 $tool。本脚本只会在 Debian/Ubuntu 上自动安装。/ $tool not found; automatic installs need Debian/Ubuntu." >&2
      echo "macOS: brew install ffmpeg espeak-ng fontconfig && brew install --cask font-noto-sans-cjk-sc" >&2
      echo "Other Linux: install ffmpeg, espeak-ng, fontconfig and the Noto Sans CJK fonts with your package manager." >&2
      exit 1
    fi
  done
fi

# Python ≥ 3.11: the newest one on PATH.
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHON="$candidate"; break
  fi
done
if [ -z "$PYTHON" ]; then
  echo "需要 Python ≥ 3.11 / Python ≥ 3.11 is required (Debian: sudo apt-get install python3 python3-venv)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  say "创建虚拟环境 / creating .venv with $PYTHON"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    [ -x "$(command -v apt-get)" ] && { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo";
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
    "$PYTHON" -m venv .venv
  fi
fi

EXTRAS="piper"
[ "$DEV" = 1 ] && EXTRAS="piper,dev"
STAMP=".venv/.kuanyue-installed-$EXTRAS"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "安装 Python 依赖 / installing the kuanyue package ($EXTRAS)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
  touch "$STAMP"
fi

# Message catalogues are compiled here, not committed.
.venv/bin/pybabel compile -f -d web/translations >/dev/null
