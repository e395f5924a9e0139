"""streamdream: DeepDream (Inceptionism) for images, video files and live cameras."""

__version__ = "0.1.0"

import os as _os

# OpenCV reads this when it is imported: a stalled or unplugged V4L2 camera then blocks a read
# for 1 s instead of 10, so the camera watchdog can act (live.camera.CameraSource)
_os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", "1")
# and keeps FFmpeg's own log (hundreds of lines for a stream that cannot be read) quiet: where a
# source does not open, streamdream says so in one line
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
