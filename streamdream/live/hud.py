"""The on-screen figures (the h key): rates, latency, the look, recording."""

from __future__ import annotations

import cv2
import numpy as np

from ..pipeline import RunStats


def hud_lines(stats: RunStats, look: str, recording: bool, deepening: bool) -> list[str]:
    lines = [f"camera {stats.camera_fps:4.1f} fps   dream {stats.dream_fps:4.1f} fps   "
             f"display {stats.display_fps:4.1f} fps",
             f"latency {stats.latency_ms:4.0f} ms   dropped {stats.dropped}", look]
    if deepening:
        lines.append("still: deepening")
    if recording:
        lines.append("REC")
    return lines


def draw_hud(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """`image` (RGB uint8) with `lines` written top left on a dark band; a copy."""
    out = image.copy()
    scale = max(0.35, image.shape[1] / 1400)
    height = int(22 * scale / 0.5)
    cv2.rectangle(out, (0, 0), (image.shape[1], height * len(lines) + 6), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        color = (255, 60, 60) if line == "REC" else (255, 255, 255)
        cv2.putText(out, line, (6, height * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return cv2.addWeighted(image, 0.35, out, 0.65, 0)
