"""HDR video (a phone's HLG, an HDR10 file's PQ) brought to standard dynamic range: read as if it
were SDR, its signal is flat and grey (HLG) or dark and washed out (PQ), and so was its dream.

The signal is taken to light (BT.2100's HLG inverse OETF and 1000-nit OOTF, or PQ's EOTF),
diffuse white (203 nits, BT.2408) set to SDR's white, the highlights above a knee rolled off
smoothly instead of clipped, the colours taken from BT.2020's primaries to BT.709's, and the
result coded with BT.1886's gamma, as an SDR display shows it."""

from __future__ import annotations

import numpy as np

# FFmpeg's transfer codes (AVColorTransferCharacteristic)
PQ, HLG = 16, 18
TRANSFERS = {PQ: "PQ (HDR10)", HLG: "HLG"}

# nits of HDR's diffuse white, which becomes SDR's white (BT.2408), and of an HLG display's peak
REFERENCE_WHITE = 203.0
HLG_PEAK = 1000.0
# light (in SDR whites) kept as it is below this; above, rolled off towards white, never reaching it
KNEE = 0.75

# linear BT.2020 RGB to linear BT.709 RGB (BT.2087)
BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                            [-0.1246, 1.1329, -0.0083],
                            [-0.0182, -0.1006, 1.1187]], dtype=np.float32)
BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)
BT709_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def hlg_to_nits(signal: np.ndarray) -> np.ndarray:
    """HLG signal (..., 3) in [0, 1], BT.2020 RGB -> display light in nits on a 1000-nit display."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.where(signal <= 0.5, signal * signal / 3.0, (np.exp((signal - c) / a) + b) / 12.0)
    scene_luma = np.maximum(e @ BT2020_LUMA, 1e-6)[..., None]
    return HLG_PEAK * scene_luma ** 0.2 * e  # the OOTF, system gamma 1.2


def pq_to_nits(signal: np.ndarray) -> np.ndarray:
    """PQ signal (..., 3) in [0, 1] -> absolute light in nits (SMPTE ST 2084)."""
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    p = np.power(np.clip(signal, 0.0, 1.0), 1.0 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1)


def roll_off(light: np.ndarray) -> np.ndarray:
    """Luminance in SDR whites -> at most 1: as it is up to KNEE, then a curve whose slope starts
    at 1 and that approaches 1 without reaching it."""
    over = np.maximum(light - KNEE, 0.0)
    return np.where(light <= KNEE, light, KNEE + (1.0 - KNEE) * (1.0 - np.exp(-over / (1.0 - KNEE))))


def to_sdr(signal: np.ndarray, transfer: int) -> np.ndarray:
    """An HDR picture's signal, RGB uint16 (H, W, 3) in BT.2020 with the `transfer` PQ or HLG,
    as an SDR picture, RGB uint8 (H, W, 3) in BT.709."""
    if signal.ndim != 3 or signal.shape[2] != 3:
        raise ValueError(f"signal must be (H, W, 3), got {signal.shape}")
    if transfer not in TRANSFERS:
        raise ValueError(f"transfer must be PQ ({PQ}) or HLG ({HLG}), got {transfer}")
    e = signal.astype(np.float32) / 65535.0
    nits = hlg_to_nits(e) if transfer == HLG else pq_to_nits(e)
    light = (nits / REFERENCE_WHITE) @ BT2020_TO_BT709.T
    light = np.maximum(light, 0.0)  # a BT.2020 colour beyond BT.709's gamut, clipped
    luma = np.maximum(light @ BT709_LUMA, 1e-6)[..., None]
    # (a saturated colour may still pass white in one channel, which is clipped: brought towards
    # its grey instead, a red at diffuse white's level came out pink)
    light = light * (roll_off(luma) / luma)
    return np.round(np.clip(light, 0.0, 1.0) ** (1.0 / 2.4) * 255.0).astype(np.uint8)
