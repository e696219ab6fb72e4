"""The spirals experiment without a seed: every run draws other points."""

import random

points = [(random.random(), random.random()) for _ in range(100)]
accuracy = sum(x > y for x, y in points) / len(points)
print(f"accuracy {accuracy:.3f} (first point {points[0][0]:.6f})")
with open("results.txt", "w") as f:
    f.write(f"{accuracy} from points starting at {points[0]}\n")
