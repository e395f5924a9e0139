"""Files in and out: still images, video decoding, H.264 with audio, resumable partial files,
and output paths that cannot lose work."""
