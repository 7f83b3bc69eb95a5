"""Metrics: `gankit.metrics.toy` for point clouds, `gankit.metrics.classifier` for MNIST-like images."""
