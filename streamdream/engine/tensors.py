"""Where frames cross to the dream device and back: RGB uint8 (H, W, 3) arrays to float
tensors (1, 3, H, W) in [0, 1] and back, a dream's detail back as float, and the one shape check
every image function starts with."""

from __future__ import annotations

import numpy as np
import torch


def upload(array: np.ndarray, device) -> torch.Tensor:
    """A numpy array as a tensor on `device`; to a GPU through pinned memory, without waiting."""
    return send(torch.from_numpy(np.ascontiguousarray(array)), device)


def send(tensor: torch.Tensor, device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A host tensor on `device` (in `dtype`, if given), the host not waiting for the device: to
    a GPU through pinned memory, queued behind the work already there. A plain copy from pageable
    memory would wait for all of it first."""
    device = torch.device(device)
    if device.type == "cpu":
        return tensor if dtype is None else tensor.to(dtype)
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device=device, dtype=dtype, non_blocking=True)


def to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1] on `device`."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
    return upload(frame, device).permute(2, 0, 1).contiguous()[None].float().div_(255)


def to_frame(image: torch.Tensor) -> np.ndarray:
    """float (1, C, H, W) in [0, 1] -> uint8 (H, W, C) on the CPU; C is 3 (RGB) or 4 (RGBA)."""
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] not in (3, 4):
        raise ValueError(f"expected (1, 3 or 4, H, W), got {tuple(image.shape)}")
    return image[0].detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def to_detail(detail: torch.Tensor) -> np.ndarray:
    """A dream's detail, float (1, C, H, W) in [-1, 1] (dream minus input) -> float32 (H, W, C) in
    the frame's 0-255 units on the CPU, as it is: not rounded to whole levels, as `to_frame` is."""
    if detail.ndim != 4 or detail.shape[0] != 1:
        raise ValueError(f"expected (1, C, H, W), got {tuple(detail.shape)}")
    hwc = detail[0].detach().permute(1, 2, 0)
    # into a fresh (H, W, C) tensor in one pass: the permuted view times 255 would keep its strides
    return torch.mul(hwc, 255.0, out=torch.empty(hwc.shape, dtype=torch.float32, device=hwc.device)).cpu().numpy()


def check_image(image: torch.Tensor) -> None:
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"expected an image tensor of shape (1, 3, H, W), got {tuple(image.shape)}")
