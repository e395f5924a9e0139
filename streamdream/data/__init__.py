"""Media that ships inside the package, so the first run needs no input of the user's.

`bigbuckbunny.mp4`: the first 4 s of *Big Buck Bunny* at 640x360 with its audio (made by
scripts/make_demo_clip.py). Big Buck Bunny is licensed CC BY 3.0, (c) copyright 2008 Blender
Foundation, www.bigbuckbunny.org.
"""

from importlib import resources
from pathlib import Path


def demo_clip() -> Path:
    """The shipped Big Buck Bunny clip (CC BY 3.0, Blender Foundation)."""
    return Path(str(resources.files(__name__) / "bigbuckbunny.mp4"))
