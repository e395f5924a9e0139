"""Dense flow from a network: torchvision's RAFT-small, meant for CUDA."""

from __future__ import annotations

import numpy as np


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

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from grey `source` (H, W) to grey `target` (H, W)."""
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two grey frames of one size, got {source.shape} and {target.shape}")
        torch = self.torch
        h, w = source.shape
        # RAFT works on sizes divisible by 8 and at least 128 (its correlation pyramid)
        pad_h, pad_w = max(128, h + -h % 8) - h, max(128, w + -w % 8) - w

        def prepare(gray):
            x = torch.from_numpy(gray).to(self.device).float().div(127.5).sub(1.0)
            x = x[None, None].expand(1, 3, h, w)
            return torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")

        with torch.no_grad():
            flow = self.model(prepare(source), prepare(target))[-1]
        return flow[0, :, :h, :w].permute(1, 2, 0).float().cpu().numpy()
