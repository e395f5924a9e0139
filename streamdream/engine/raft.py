"""Dense flow from a network: torchvision's RAFT-small, meant for CUDA."""

from __future__ import annotations

import contextlib

import numpy as np

from .tensors import upload


class RAFTFlow:
    """Dense flow with torchvision's RAFT-small: sharper motion edges than DIS, meant for CUDA.

    Weights come from `weights_file` (a state dict) or torchvision's download cache.
    """

    def __init__(self, device, weights_file: str | None = None):
        import torch
        from torchvision.models.optical_flow import Raft_Small_Weights, raft_small

        from ..models.weights import download_weights, load_weights_file

        model = raft_small(weights=None)
        if weights_file is not None:
            state = load_weights_file(weights_file)
        else:
            state = download_weights(Raft_Small_Weights.DEFAULT, "`optical_flow` raft",
                                     "set `flow_weights` to the file, or use `optical_flow` dis")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            from ..errors import UsageError

            raise UsageError(f"flow weights do not fit RAFT-small ({str(exc).splitlines()[0]}); "
                             f"pass a raft_small state dict") from None
        self.torch, self.device = torch, torch.device(device)
        self.model = model.eval().to(self.device)
        # its own CUDA stream: the dream's work on the default stream does not hold up the flow's
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from grey `source` (H, W) to grey `target` (H, W)."""
        return self._flows(source, target, both=False)[0]

    def pair(self, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The flows (H, W, 2) from grey `source` to `target` and back, in one batched pass: the
        two frames go to the device once, and both flows come back in one copy."""
        there, back = self._flows(source, target, both=True)
        return there, back

    def _flows(self, source: np.ndarray, target: np.ndarray, both: bool) -> np.ndarray:
        # (1 or 2, H, W, 2): source to target, and with `both` target to source
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two grey frames of one size, got {source.shape} and {target.shape}")
        torch = self.torch
        h, w = source.shape
        # RAFT works on sizes divisible by 8 and at least 128 (its correlation pyramid)
        pad_h, pad_w = max(128, h + -h % 8) - h, max(128, w + -w % 8) - w
        stream = torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()
        with stream, torch.inference_mode():
            grey = upload(np.stack([source, target]), self.device).float().div_(127.5).sub_(1.0)
            grey = torch.nn.functional.pad(grey[:, None].expand(-1, 3, h, w), (0, pad_w, 0, pad_h), mode="replicate")
            first, second = (grey, grey.flip(0)) if both else (grey[:1], grey[1:])
            return self.model(first, second)[-1][:, :, :h, :w].permute(0, 2, 3, 1).float().cpu().numpy()
