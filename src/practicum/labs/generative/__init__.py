"""Generative models: autoencoders, variational autoencoders, GANs."""
