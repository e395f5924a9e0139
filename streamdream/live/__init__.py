"""`streamdream webcam`: live sources, the live dream stage, the display, the performer's
controls and outputs, and the show that runs them."""
