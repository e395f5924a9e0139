"""streamdream: DeepDream (Inceptionism) for images, video files and live cameras."""

__version__ = "0.1.0"
