"""The dream stage's tensor work on the dream device: objectives, gradient ascent with octaves,
the flow stage and the dream carried along it from frame to frame."""
