"""forward never returns."""

from _base import Base


class MLP(Base):
    def forward(self, x):
        while True:
            pass
