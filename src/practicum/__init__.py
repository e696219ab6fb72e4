"""practicum."""
