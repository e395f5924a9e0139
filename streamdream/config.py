"""Configuration as frozen dataclasses: one per stage, grouped in `Config`.

Defaults live here; presets (TOML) and command-line flags override them, in that order
(see presets.py). Every value is checked in one place, `check()`, so a bad preset and a bad
flag get the same one-line message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .errors import UsageError
from .frames import MIN_SIDE


@dataclass(frozen=True)
class DreamConfig:
    """What to dream and how hard: the network, the objective and the gradient ascent."""

    model: str = "lite0"
    weights: str | None = None  # a local state dict instead of the model's own weights
    num_classes: int = 1000
    layers: str | None = "block10"  # objective spec; see objectives.py
    class_name: str | None = None  # an ImageNet class to push towards ("class" in TOML)
    guide: str | None = None  # an image whose features guide the dream
    octaves: int = 4
    octave_scale: float = 1.4
    iterations: int = 10
    step: float = 0.006
    jitter: int = 32
    seed: int | None = None  # None: a fresh random seed each run (reported, so it can be repeated)
    device: str = "auto"
    precision: str = "auto"  # fp32, bf16, or auto: bf16 where it is faster (see models.runtime.uses_bf16)
    compile: bool = False  # torch.compile the network (opt-in: each new frame size compiles anew)
    width: int | None = None  # rescale the input to this width first, keeping the aspect


@dataclass(frozen=True)
class VideoConfig:
    """How frames after the first reuse the previous dream."""

    flow: bool = True  # False: dream every frame from scratch (the baseline)
    optical_flow: str = "dis"  # dis (OpenCV, CPU) or raft (torchvision RAFT-small, for CUDA; downloads weights)
    flow_weights: str | None = None  # a local RAFT-small state dict
    flow_width: int | None = None  # flow is computed on a copy at most this wide (None: 1280 on a CPU, 640 on a GPU; see engine/motion.py)
    # The default is two full-size steps a frame, light on carried pixels: the steps at full size are
    # what keeps a carried dream's eyes and faces sharp where the picture under them changes (steps
    # at smaller octaves grew texture instead; scripts/bench_video.py measures the depth of both).
    # With one, a subject that moves into view was left a fine texture where a full dream puts eyes;
    # the second costs half again the time of a carried frame (docs/depth.md measures both)
    refine_iterations: int = 2  # full-size ascent steps on each frame after the carried detail is laid down
    refine_octaves: int = 1  # >1: steps a frame at one of the smaller octaves, in turn (amortised octaves)
    octave_steps: int = 1  # how many steps a frame at that smaller octave
    step_regions: int = 1  # >1: the full-size steps of a frame fall on one of this many bands, in turn (see engine/dream.ascend_band)
    carried_step: float = 0.3  # share of the step on pixels carried for a while (1: all)
    fresh_step: float = 2.0  # share of the step on pixels the previous frame did not show
    fresh_frames: int = 6  # frames over which a newly shown pixel's step falls from fresh_step to carried_step
    max_gain: float = 0.1  # how much a frame may scale a region's carried detail towards the keyframe's strength
    scene_cut: float = 0.15  # mean absolute difference (0-1) of consecutive frames that starts a new dream
    crf: int = 18


@dataclass(frozen=True)
class ZoomConfig:
    """The endless zoom: each dreamt keyframe is the last one enlarged by `zoom`."""

    zoom: float = 1.05  # enlargement from one dreamt keyframe to the next
    rotate: float = 0.0  # degrees turned from one keyframe to the next
    fps: int = 25
    keyframe_every: int = 5  # output frames per dreamt keyframe; the rest are interpolated


@dataclass(frozen=True)
class LiveConfig:
    """`webcam`: the camera, the display between dreamt frames, and installation mode."""

    fps: float = 30.0  # frame rate asked of the camera
    dream_scale: float | None = None  # dream at this share of the shown size (None: all of it)
    step_regions: int | None = None  # the frame's steps fall on one of this many bands a frame (None: 1 on CUDA, 5 on a CPU)
    # a live show's own, not [video]'s: a camera does not wait for the dream, and a second step a
    # frame would halve a CPU's dreamt frames a second
    refine_iterations: int = 1  # full-size ascent steps on each dreamt frame
    rebuild_every: int | None = None  # rebuild the structure every this many dreamt frames the camera moves on, each counted by how much of it the flow check doubts (a twentieth: one frame; 0: never; None: 25 when the steps fall on bands, as a CPU's do, else never)
    blend: float = 0.5  # seconds a preset or layer switch cross-fades over
    cycle: float = 120.0  # installation: seconds between presets
    still_seconds: float = 8.0  # installation: after this long without motion the dream deepens
    still_motion: float = 0.3  # mean flow (px/frame) below which the scene counts as still
    deepen_zoom: float = 1.002  # installation, still scene: the dream grows by this a frame
    deepen_iterations: int = 1  # installation, still scene: extra steps a frame
    stall: float = 3.0  # seconds without a new camera frame before the camera counts as lost
    frozen: float = 10.0  # seconds of identical frames before the camera counts as lost
    fade: float = 20.0  # installation, camera lost: seconds the last dream fades out over
    retry_max: float = 30.0  # installation, camera lost: longest wait between reconnection tries


@dataclass(frozen=True)
class ScheduleConfig:
    """Settings that change over the run, each a schedule's text: keyframes at frames, seconds
    (s) or beats (b), each value a number or an expression, e.g. "0:(0.4), 10s:(2.0)" or
    "0:(0.6 + 1.6*beat)" (see schedule/keyframes.py and schedule/timeline.py)."""

    strength: str | None = None  # the +/- keys' multiplier: the step and the strength held
    step: str | None = None  # the ascent step alone
    jitter: str | None = None  # pixels
    layers: str | None = None  # a layer spec at each keyframe; between two, a blend of both
    preset: str | None = None  # a preset name at each keyframe, cross-faded
    colors: str | None = None  # 0: the input's colours, the dream in luminance; 1: the dream's colours
    zoom: str | None = None  # zoom job: enlargement per keyframe
    rotate: str | None = None  # zoom job: degrees per keyframe
    pan_x: str | None = None  # zoom job: share of the width the view moves right per keyframe
    pan_y: str | None = None  # zoom job: share of the height the view moves down per keyframe
    bpm: float | None = None  # the tempo beats (b, beat) count in; None: the beats found in the audio


@dataclass(frozen=True)
class Config:
    description: str = "the default look: eyes and fur at mid depth of EfficientNet-Lite0"
    dream: DreamConfig = field(default_factory=DreamConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    zoom: ZoomConfig = field(default_factory=ZoomConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


@dataclass(frozen=True)
class VisualizeConfig:
    """`visualize`: what to draw from noise, with which networks, and how."""

    classes: tuple[str, ...] = ()  # ImageNet class names or numbers
    model: str | None = None  # a network or an ensemble NAME,NAME (None: lite0,lite1 for classes, lite0 for layers)
    weights: str | None = None
    num_classes: int = 1000
    size: tuple[int, int] = (256, 256)  # (width, height) of each image
    steps: int = 256
    layers: str | None = None  # a layer or channel objective, alone or added to the classes
    grid: bool = False  # several classes or samples side by side in one image
    samples: int = 1  # images per class, pushed apart from each other
    diversity: float | None = None  # how hard samples are pushed apart (None: the default)
    opaque: bool = False  # no alpha: the class fills the frame as texture
    alpha: bool = False  # keep the alpha channel in the written image
    param: str = "fourier"  # the image prior: fourier, pyramid or pixel
    seed: int | None = None
    device: str = "auto"


@dataclass(frozen=True)
class ClusterConfig:
    """`video` on a Ray cluster: where the workers are and how the film is cut into chunks."""

    address: str = "local:2"  # local:N (a cluster of N workers here), auto (RAY_ADDRESS or a running head), ray://HOST:PORT
    chunk_seconds: float = 20.0  # the longest chunk inside a shot; films are cut at scene cuts first
    warmup_seconds: float = 2.0  # a chunk inside a shot starts dreaming this much early and drops those frames
    overlap_seconds: float = 1.0  # the end of the warm-up, cross-faded with the chunk before (<= warmup_seconds)
    chunks_dir: str | None = None  # a folder every worker can write: chunks go there instead of through Ray
    worker_cpus: int | None = None  # CPU cores a worker takes (None: local:N shares this machine's; else 4, or 1 a GPU)


def check_cluster(c: ClusterConfig, where: str = "settings") -> ClusterConfig:
    """Raise UsageError naming the setting for the first value of `c` out of range."""
    if not (c.address == "auto" or c.address.startswith("ray://") or c.address.startswith("local:")):
        raise UsageError(f"{where}: `cluster` must be local:N, auto or ray://HOST:PORT, got '{c.address}'",
                         setting="cluster")
    if c.address.startswith("local:"):
        count = c.address[len("local:"):]
        if not count.isdigit() or not 1 <= int(count) <= 256:
            raise UsageError(f"{where}: `cluster` local:N needs N, the workers, from 1 to 256, got '{c.address}'",
                             setting="cluster")
    if not 1.0 <= c.chunk_seconds <= 24 * 3600:
        raise UsageError(f"{where}: `chunk_seconds` must be 1 to 86400, got {c.chunk_seconds:g}", setting="chunk_seconds")
    if not 0.0 <= c.warmup_seconds <= 600:
        raise UsageError(f"{where}: `warmup_seconds` must be 0 to 600, got {c.warmup_seconds:g}", setting="warmup_seconds")
    if not 0.0 <= c.overlap_seconds <= c.warmup_seconds:
        raise UsageError(f"{where}: `overlap_seconds` must be 0 to `warmup_seconds` ({c.warmup_seconds:g}): the cross-fade "
                         f"is the end of the warm-up; got {c.overlap_seconds:g}", setting="overlap_seconds")
    if c.chunk_seconds <= c.warmup_seconds:
        raise UsageError(f"{where}: `chunk_seconds` ({c.chunk_seconds:g}) must be longer than "
                         f"`warmup_seconds` ({c.warmup_seconds:g}), or every chunk would spend more time warming up than it keeps; "
                         f"give a longer chunk or a shorter warm-up", setting="chunk_seconds")
    if c.worker_cpus is not None and not 1 <= c.worker_cpus <= 1024:
        raise UsageError(f"{where}: `worker_cpus` must be 1 to 1024, got {c.worker_cpus}", setting="worker_cpus")
    return c


def check_visualize(v: VisualizeConfig, where: str = "settings") -> VisualizeConfig:
    """Raise UsageError naming the setting for the first value of `v` out of range."""
    if not 1 <= v.steps <= 100_000:
        raise UsageError(f"{where}: steps must be 1 to 100000, got {v.steps}", setting="steps")
    if not 1 <= v.samples <= 64:
        raise UsageError(f"{where}: samples must be 1 to 64, got {v.samples}", setting="samples")
    if v.diversity is not None and not 0 <= v.diversity <= 1e4:
        raise UsageError(f"{where}: diversity must be 0 to 10000, got {v.diversity}", setting="diversity")
    if v.num_classes < 1:
        raise UsageError(f"{where}: num_classes must be at least 1, got {v.num_classes}", setting="num_classes")
    if v.param not in ("fourier", "pyramid", "pixel"):
        raise UsageError(f"{where}: param must be fourier, pyramid or pixel, got '{v.param}'", setting="param")
    if v.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"{where}: device must be auto, cpu or cuda, got '{v.device}'", setting="device")
    _check_seed(v.seed, where)
    return v


SECTIONS = {"dream": DreamConfig, "video": VideoConfig, "zoom": ZoomConfig, "live": LiveConfig,
            "schedule": ScheduleConfig}
# TOML spells some keys as a user would; the dataclasses cannot use Python keywords
TOML_KEYS = {"class": "class_name"}
TOML_NAMES = {v: k for k, v in TOML_KEYS.items()}


def _positive(name: str, value, where: str, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "more than 0"
        raise UsageError(f"{where}: {name} must be {bound}, got {value}", setting=name)


def _check_seed(seed: int | None, where: str) -> None:
    if seed is not None and not 0 <= seed < 2**63:
        raise UsageError(f"{where}: seed must be 0 to 2**63-1, got {seed}", setting="seed")


def check(config: Config, where: str = "settings") -> Config:
    """Raise UsageError naming `where` and the key for the first value out of range."""
    for section in SECTIONS:
        part = getattr(config, section)
        for f in fields(part):
            value = getattr(part, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise UsageError(f"{where}: {f.name} must be a finite number, got {value}", setting=f.name)
    d, v = config.dream, config.video
    if d.step > 0.5:
        raise UsageError(f"{where}: step above 0.5 changes every pixel by half its range in one step "
                         f"(got {d.step}); try 0.002 to 0.02", setting="step")
    _check_seed(d.seed, where)
    if d.octaves > 20 or d.iterations > 10_000:
        raise UsageError(f"{where}: octaves at most 20 and iterations at most 10000, got {d.octaves} and {d.iterations}", setting="octaves")
    for name in ("octaves", "iterations", "num_classes", "width"):
        _positive(name, getattr(d, name), where)
    for name in ("step", "jitter"):
        _positive(name, getattr(d, name), where, allow_zero=True)
    if d.octave_scale < 1.0:
        raise UsageError(f"{where}: octave_scale must be 1.0 or more, got {d.octave_scale}", setting="octave_scale")
    if d.octave_scale > 4.0:
        raise UsageError(f"{where}: octave_scale above 4 skips whole scales (got {d.octave_scale}); try 1.2 to 1.6", setting="octave_scale")
    if d.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"{where}: device must be auto, cpu or cuda, got '{d.device}'", setting="device")
    if d.precision not in ("auto", "fp32", "bf16"):
        raise UsageError(f"{where}: precision must be auto, fp32 or bf16, got '{d.precision}'", setting="precision")
    if d.layers is None and d.class_name is None:
        raise UsageError(f"{where}: nothing to dream: give layers, a class, or both", setting="layers")
    if d.guide and not d.layers:
        raise UsageError(f"{where}: guide needs layers: the guide is matched at those layers", setting="guide")
    if d.width is not None and not MIN_SIDE <= d.width <= 16384:
        raise UsageError(f"{where}: width must be {MIN_SIDE} to 16384 pixels, got {d.width}", setting="width")
    if v.flow_width is not None and not MIN_SIDE <= v.flow_width <= 4096:
        raise UsageError(f"{where}: flow_width must be {MIN_SIDE} to 4096 pixels, got {v.flow_width}",
                         setting="flow_width")
    if v.optical_flow not in ("dis", "raft"):
        raise UsageError(f"{where}: optical_flow must be dis or raft, got '{v.optical_flow}'", setting="optical_flow")
    for name in ("refine_iterations", "refine_octaves", "octave_steps", "max_gain"):
        _positive(name, getattr(v, name), where, allow_zero=True)
    _positive("step_regions", v.step_regions, where)
    if not 0.0 <= v.carried_step <= 1.0:
        raise UsageError(f"{where}: carried_step must be in [0, 1], got {v.carried_step}", setting="carried_step")
    if not 0.0 <= v.fresh_step <= 10.0:
        raise UsageError(f"{where}: fresh_step must be in [0, 10], got {v.fresh_step}", setting="fresh_step")
    if v.fresh_frames < 1:
        raise UsageError(f"{where}: fresh_frames must be at least 1, got {v.fresh_frames}", setting="fresh_frames")
    if v.max_gain > 1.0:
        raise UsageError(f"{where}: max_gain above 1 lets a region's dream double in a frame (got {v.max_gain}); "
                         f"try 0.05 to 0.2", setting="max_gain")
    if not 0.0 < v.scene_cut <= 1.0:
        raise UsageError(f"{where}: scene_cut must be in (0, 1], got {v.scene_cut}", setting="scene_cut")
    if not 0 <= v.crf <= 51:
        raise UsageError(f"{where}: crf must be 0 to 51, got {v.crf}", setting="crf")
    z = config.zoom
    if z.zoom <= 1.0:
        raise UsageError(f"{where}: zoom must be above 1 (1.05 enlarges 5% per keyframe), got {z.zoom}", setting="zoom")
    if z.zoom > 2.0:
        raise UsageError(f"{where}: zoom above 2 leaves the dream nothing to carry (got {z.zoom}); try 1.02 to 1.1", setting="zoom")
    if not 1 <= z.fps <= 240:
        raise UsageError(f"{where}: fps must be 1 to 240, got {z.fps}", setting="fps")
    if abs(z.rotate) > 45:
        raise UsageError(f"{where}: rotate must be within -45 to 45 degrees a keyframe, got {z.rotate}", setting="rotate")
    if z.keyframe_every < 1:
        raise UsageError(f"{where}: keyframe_every must be at least 1, got {z.keyframe_every}", setting="keyframe_every")
    live = config.live
    if not 1 <= live.fps <= 240:
        raise UsageError(f"{where}: fps must be 1 to 240, got {live.fps}", setting="fps")
    if live.dream_scale is not None and not 0.1 <= live.dream_scale <= 1.0:
        raise UsageError(f"{where}: dream_scale must be in [0.1, 1], got {live.dream_scale}", setting="dream_scale")
    if not 1.0 <= live.deepen_zoom <= 1.05:
        raise UsageError(f"{where}: deepen_zoom must be in [1, 1.05], got {live.deepen_zoom}", setting="deepen_zoom")
    for name in ("blend", "cycle", "still_seconds", "still_motion", "deepen_iterations", "fade", "refine_iterations",
                 "rebuild_every"):
        _positive(name, getattr(live, name), where, allow_zero=True)
    for name in ("stall", "frozen", "retry_max", "step_regions"):
        _positive(name, getattr(live, name), where)
    if config.schedule.bpm is not None and not 1 <= config.schedule.bpm <= 1000:
        raise UsageError(f"{where}: bpm must be 1 to 1000, got {config.schedule.bpm:g}", setting="bpm")
    for section, highest in UPPER_BOUNDS.items():
        part = getattr(config, section)
        for name, bound in highest.items():
            value = getattr(part, name)
            if value is not None and value > bound:
                raise UsageError(f"{where}: {name} must be at most {bound:g}, got {value:g}", setting=name)
    return config


# the most each number may be: beyond these a setting is a typo or an attack (a step count that
# never ends, an allocation that cannot be made), not a look
UPPER_BOUNDS = {
    "dream": {"num_classes": 100_000, "jitter": 4096},
    "video": {"refine_iterations": 100, "refine_octaves": 20, "octave_steps": 100, "step_regions": 16,
              "fresh_frames": 10_000},
    "zoom": {"keyframe_every": 1000},
    "live": {"step_regions": 16, "refine_iterations": 100, "rebuild_every": 100_000, "blend": 60, "cycle": 1e7, "still_seconds": 1e7, "still_motion": 1000, "deepen_iterations": 100,
             "stall": 3600, "frozen": 3600, "fade": 3600, "retry_max": 3600},
}


def field_types(cls) -> dict[str, type]:
    """Accepted Python types of each field of a config dataclass (int fields accept no floats)."""
    import typing

    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        t = hints[f.name]
        args = [a for a in typing.get_args(t) if a is not type(None)] or [t]
        out[f.name] = args[0]
    return out
