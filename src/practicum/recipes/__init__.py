"""Training programs shared by several labs, each tested on its own."""
