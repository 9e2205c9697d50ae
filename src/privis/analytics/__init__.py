"""Analytics that keep no frame: people counts from tracks, released raw or with differential privacy."""
