"""Vision: convolutional networks and images (MNIST, Fashion-MNIST, CIFAR, SIREN)."""
