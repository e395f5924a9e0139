# Sourced by scripts/demo and scripts/test: make .venv with the README's install if it is
# missing or incomplete, then activate it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import streamdream, torch, pytest, simpleeval, librosa, uvicorn, ray" 2>/dev/null; then
    python3 -m venv .venv
    . .venv/bin/activate
    pip install torch==2.14.1 torchvision==0.29.1
    pip install -e ".[test,live,audio,web,cluster,heif]"
else
    . .venv/bin/activate
fi
