"""Importing the module calls sys.exit."""

import sys

from _base import Base

sys.exit(3)


class MLP(Base):
    def forward(self, x):
        return self.layer(x)
