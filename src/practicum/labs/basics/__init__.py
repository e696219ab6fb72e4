"""Foundations: fitting functions and decision boundaries with autograd."""
