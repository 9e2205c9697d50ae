"""Training on private images: DP-SGD (Opacus), federated learning (Flower) and the data and models they share."""
