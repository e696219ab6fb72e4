"""forward prints 100 MB."""

import sys

from _base import Base


class MLP(Base):
    def forward(self, x):
        sys.stdout.write("x" * (100 * 2**20))
        return self.layer(x)
