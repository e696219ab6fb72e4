"""forward asks for 100 GB."""

import torch

from _base import Base


class MLP(Base):
    def forward(self, x):
        big = torch.empty(25 * 2**30, dtype=torch.float32)  # 100 GB
        return self.layer(x) + big[0]
