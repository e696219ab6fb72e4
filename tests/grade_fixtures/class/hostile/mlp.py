"""A hostile submission: it tries to overwrite the grader's results and to reach the
network when constructed, and floods stdout when called."""

import json
import os
import socket
import sys

from torch import nn


class MLP(nn.Module):
    def __init__(self, num_inputs, num_outputs, num_hidden_layers, hidden_layer_width, **kw):
        super().__init__()
        self.layer = nn.Linear(num_inputs, num_outputs)
        plan = json.load(open("hostile.json")) if os.path.exists("hostile.json") else {}
        for path in plan.get("paths", []):
            try:
                with open(path, "w") as f:
                    f.write("forged,2,2,2\n")
            except OSError:
                pass
        if "port" in plan:
            try:
                socket.create_connection(("127.0.0.1", plan["port"]), timeout=1).close()
            except OSError:
                pass

    def forward(self, x):
        sys.stdout.write("x" * (100 * 2**20))
        return self.layer(x)
