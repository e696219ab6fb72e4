"""forward opens a TCP connection to 127.0.0.1 (the port in targets.json)."""

import json
import socket

from _base import Base


class MLP(Base):
    def forward(self, x):
        port = json.load(open("targets.json"))["port"]
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return self.layer(x)
