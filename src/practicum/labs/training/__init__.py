"""Training: optimisers and the tricks of the trade."""
