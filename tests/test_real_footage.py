"""The shared real clip, when this checkout sits beside ../shared (a user's checkout does not)."""

import hashlib

from pathlib import Path

import pytest

from streamdream.cli import main

from .conftest import probe

CLIP = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"

pytestmark = [pytest.mark.media, pytest.mark.skipif(not CLIP.exists(), reason=f"no shared test media at {CLIP}")]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_real_clip_keeps_audio_and_timing(tmp_path):
    out = tmp_path / "bunny.mp4"
    before = _digest(CLIP)
    assert main(["video", str(CLIP), "-o", str(out), "--frames", "8", "--width", "160", "--layers", "block3",
                 "--octaves", "2", "--iterations", "2", "--seed", "1", "--device", "cpu"]) == 0
    frames, times, facts, audio = probe(out)
    assert len(frames) == 8 and frames[0].shape == (90, 160, 3)
    assert times[-1] == pytest.approx(7 / 25, abs=1e-3)
    assert audio == pytest.approx(8 / 25, abs=0.05)
    assert _digest(CLIP) == before  # the input is only ever read
