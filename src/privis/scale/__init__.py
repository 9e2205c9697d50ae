"""Beyond one process: Ray Data batches, their resumable manifest, object storage."""
