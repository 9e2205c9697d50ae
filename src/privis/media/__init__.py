"""Media I/O at the edge of privis: image files now, video and streams in `video`."""
