"""`streamdream image` end to end with the real Lite0 weights, on small pictures."""

import cv2
import numpy as np
import pytest

from streamdream.cli import main

FAST = ["--octaves", "2", "--iterations", "2", "--seed", "1"]


@pytest.fixture
def photo(tmp_path, picture):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), picture[:, :, ::-1])
    return path


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_image_end_to_end(photo, tmp_path, suffix, capsys):
    out = tmp_path / f"dream{suffix}"
    before = photo.read_bytes()
    assert main(["image", str(photo), "-o", str(out), *FAST]) == 0
    dreamt = cv2.imread(str(out))
    assert dreamt.shape == (72, 96, 3)
    original = cv2.imread(str(photo))
    assert np.abs(dreamt.astype(int) - original.astype(int)).mean() > 2  # it really dreamt
    assert photo.read_bytes() == before  # the input is never written
    assert "wrote" in capsys.readouterr().out
    assert not [n for n in _files(tmp_path) if ".part" in n]


def test_width_rescales_keeping_aspect(photo, tmp_path):
    out = tmp_path / "wide.png"
    assert main(["image", str(photo), "-o", str(out), "--width", "48", *FAST]) == 0
    assert cv2.imread(str(out)).shape == (36, 48, 3)


def test_same_seed_same_file(photo, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["image", str(photo), "-o", str(a), *FAST]) == 0
    assert main(["image", str(photo), "-o", str(b), *FAST]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_existing_output_is_kept_without_overwrite(photo, tmp_path, capsys):
    out = tmp_path / "dream.png"
    out.write_bytes(b"precious")
    assert main(["image", str(photo), "-o", str(out), *FAST]) == 2
    assert out.read_bytes() == b"precious"
    assert "--overwrite" in capsys.readouterr().out
    assert main(["image", str(photo), "-o", str(out), "--overwrite", *FAST]) == 0
    assert cv2.imread(str(out)) is not None


@pytest.mark.parametrize("args,message", [
    (["{missing}", "-o", "{out}"], "does not exist"),
    (["{text}", "-o", "{out}"], "not an image"),
    (["{photo}", "-o", "{photo}", "--overwrite"], "is also an input"),
    (["{photo}", "-o", "{tmp}/dream.gif"], "must end in one of"),
    (["{photo}", "-o", "{tmp}/no/such/dream.png"], "folder"),
    (["{photo}", "-o", "{out}", "--layers", "blok9"], "did you mean block9"),
    (["{photo}", "-o", "{out}", "--class", "bananna"], "did you mean banana"),
    (["{photo}", "-o", "{out}", "--preset", "{tmp}/bad.toml"], "unknown key 'octave'"),
    (["{photo}", "-o", "{out}", "--iterations", "0"], "iterations must be more than 0"),
    (["{photo}", "-o", "{out}", "--weights", "{text}"], "not a PyTorch state dict"),
])
def test_bad_input_one_line_exit_2_nothing_written(photo, tmp_path, capsys, args, message):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "bad.toml").write_text("[dream]\noctave = 3\n")
    names = {"missing": tmp_path / "nope.png", "text": tmp_path / "notes.txt", "photo": photo,
             "out": tmp_path / "dream.png", "tmp": tmp_path}
    before = _files(tmp_path)
    code = main(["image", *FAST, *[a.format(**names) for a in args]])
    out = capsys.readouterr().out
    assert code == 2
    assert message in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 1
    assert _files(tmp_path) == before


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_picture_cut_off_before_its_end_says_so(photo, tmp_path, capsys, suffix):
    # a download or a copy that stopped: its header reads, its pixels run out
    whole = tmp_path / f"whole{suffix}"
    cv2.imwrite(str(whole), cv2.resize(cv2.imread(str(photo)), (480, 360)))
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 6 // 10])
    before = _files(tmp_path)
    assert main(["image", *FAST, str(cut), "-o", str(tmp_path / "dream.png")]) == 2
    out = capsys.readouterr().out
    assert "cannot be decoded to its end" in out and "download it again" in out
    assert len(out.strip().splitlines()) == 1 and _files(tmp_path) == before


def test_offline_model_exits_2_naming_the_fix(photo, tmp_path, capsys, monkeypatch):
    import socket

    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert main(["image", str(photo), "-o", str(tmp_path / "d.png"), "--preset", "classic"]) == 2
    out = capsys.readouterr().out
    assert "--weights" in out and "--model lite0" in out


def test_layers_and_presets_commands(capsys):
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert "block10" in out and "112x14x14" in out and "animal faces" in out
    assert main(["layers", "--model", "googlenet"]) == 0
    assert "inception4c" in capsys.readouterr().out
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("clouds", "deep", "strokes", "classic"))


def test_unexpected_failure_is_one_line_exit_1(photo, tmp_path, capsys, monkeypatch):
    from streamdream.engine import dreamer

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\nmore detail")

    monkeypatch.setattr(dreamer, "dream", broken)
    assert main(["image", str(photo), "-o", str(tmp_path / "d.png"), *FAST]) == 1
    out = capsys.readouterr().out
    assert "out of memory" in out and "--width" in out and "Traceback" not in out
    assert not (tmp_path / "d.png").exists()


def test_dream_from_noise_needs_no_input_file(tmp_path):
    out = tmp_path / "noise.png"
    assert main(["image", "noise:64x48", "-o", str(out), *FAST]) == 0
    assert cv2.imread(str(out)).shape == (48, 64, 3)


@pytest.mark.parametrize("spec", ["noise:64", "noise:8x8", "noise:axb"])
def test_bad_noise_size(tmp_path, spec, capsys):
    assert main(["image", spec, "-o", str(tmp_path / "n.png"), *FAST]) == 2
    assert "noise:" in capsys.readouterr().out


def test_output_gets_ordinary_file_permissions(photo, tmp_path):
    import os
    import stat

    out = tmp_path / "dream.png"
    assert main(["image", str(photo), "-o", str(out), *FAST]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


# --- colour profiles ---------------------------------------------------------------------------------

def _tagged(path, profile, colour=(200, 100, 50), **save):
    from PIL import Image

    Image.fromarray(np.full((32, 48, 3), colour, np.uint8)).save(path, icc_profile=profile, **save)
    return path


@pytest.mark.parametrize("name", ["p3.png", "p3.jpg"])
def test_a_display_p3_picture_is_read_in_srgb(tmp_path, name):
    from streamdream.media.images import read_image

    from .icc_profiles import DISPLAY_P3

    r, g, b = read_image(_tagged(tmp_path / name, DISPLAY_P3, quality=95))[16, 24].astype(int)
    # a wider gamut's colour is a more saturated one in sRGB's numbers: read as they are, it is duller
    assert r > 200 + 10 and b < 50 - 15 and abs(g - 100) < 15


def test_an_srgb_picture_and_one_with_a_profile_of_another_kind_are_read_as_they_are(tmp_path):
    from PIL import ImageCms

    from streamdream.media.images import read_image
    from streamdream.media.profiles import to_srgb

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert tuple(read_image(_tagged(tmp_path / "s.png", srgb))[16, 24]) == (200, 100, 50)
    picture = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert to_srgb(picture, lab) is picture and to_srgb(picture, b"not a profile") is picture
    assert to_srgb(picture, None) is picture


# --- HEIF (a phone's .heic) ---------------------------------------------------------------------------

def test_a_heic_photo_is_read_upright_as_its_jpeg_twin_is(tmp_path):
    pytest.importorskip("pillow_heif", reason="the [heif] extra is not installed")
    import pillow_heif
    from PIL import Image

    from streamdream.media.images import read_image

    pillow_heif.register_heif_opener()
    picture = np.full((64, 96, 3), 40, np.uint8)
    picture[:20, :30] = (250, 30, 30)
    orientation = Image.Exif()
    orientation[0x0112] = 6  # a phone held upright: the stored picture is turned a quarter
    for suffix in (".heic", ".jpg"):
        Image.fromarray(picture).save(tmp_path / f"photo{suffix}", exif=orientation.tobytes(), quality=95)
    heic, jpeg = read_image(tmp_path / "photo.heic"), read_image(tmp_path / "photo.jpg")
    assert heic.shape == jpeg.shape == (96, 64, 3)
    assert np.abs(heic.astype(int) - jpeg.astype(int)).mean() < 6  # two lossy codings of one picture
    assert heic[:20, -30:, 0].mean() > 150  # the red corner where the JPEG path puts it


def test_a_heic_photo_without_the_extra_names_it(tmp_path, monkeypatch, capsys):
    import sys

    from streamdream.cli import main

    photo = tmp_path / "IMG_0001.HEIC"
    photo.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64))
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    assert main(["image", str(photo), "-o", str(tmp_path / "out.png")]) == 2
    out = capsys.readouterr().out
    assert "pillow-heif" in out and "streamdream[heif]" in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def _cut_out(path, rotated=False):
    """A cut-out written with Pillow: a textured disc on a transparent ground, soft at its edge;
    with `rotated`, stored on its side with an EXIF orientation that turns it upright. Returns the
    upright alpha."""
    from PIL import Image

    y, x = np.mgrid[0:80, 0:120]
    alpha = np.clip((28 - np.hypot(x - 66, y - 38)) * 60, 0, 255).astype(np.uint8)
    rgba = np.dstack([(x * 2).astype(np.uint8), (y * 3).astype(np.uint8), np.full_like(alpha, 90), alpha])
    stored = np.ascontiguousarray(np.rot90(rgba, 1)) if rotated else rgba  # turned a quarter left
    picture = Image.fromarray(stored, "RGBA")
    exif = Image.Exif()
    if rotated:
        exif[0x0112] = 6  # shown turned a quarter right: upright again
    picture.save(path, exif=exif)
    return alpha


@pytest.mark.parametrize("name,suffix,rotated", [("sticker.png", ".png", False), ("sticker.webp", ".webp", True)])
def test_a_transparent_picture_keeps_its_transparency(tmp_path, capsys, name, suffix, rotated):
    from PIL import Image

    alpha = _cut_out(tmp_path / name, rotated)
    out = tmp_path / f"dream{suffix}"
    assert main(["image", str(tmp_path / name), "-o", str(out), *FAST]) == 0
    assert "keeps its transparency" in capsys.readouterr().out
    with Image.open(out) as written:
        assert written.mode == "RGBA"
        kept = np.asarray(written)[:, :, 3]
    if suffix == ".png":
        assert np.array_equal(kept, alpha)
    else:  # (lossy WebP codes its alpha losslessly, its colours not)
        assert np.abs(kept.astype(int) - alpha).max() <= 2
    half = tmp_path / "half.png"
    assert main(["image", str(tmp_path / name), "-o", str(half), "--width", "60", *FAST]) == 0
    with Image.open(half) as written:
        small = np.asarray(written)[:, :, 3]
    assert small.shape == (40, 60) and small[19, 33] == 255 and small[2, 2] == 0  # the disc, at half the size


def test_a_transparent_picture_written_as_jpeg_says_what_it_lost(tmp_path, capsys):
    _cut_out(tmp_path / "sticker.png")
    assert main(["image", str(tmp_path / "sticker.png"), "-o", str(tmp_path / "dream.jpg"), *FAST]) == 0
    assert "write a .png or .webp to keep it" in capsys.readouterr().out
    assert cv2.imread(str(tmp_path / "dream.jpg")).shape == (80, 120, 3)


def test_an_opaque_picture_with_an_alpha_channel_is_written_opaque(tmp_path, capsys):
    from PIL import Image

    rgba = np.full((48, 64, 4), 200, np.uint8)
    rgba[:, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    assert main(["image", str(tmp_path / "opaque.png"), "-o", str(tmp_path / "dream.png"), *FAST]) == 0
    assert "transparen" not in capsys.readouterr().out
    assert cv2.imread(str(tmp_path / "dream.png"), cv2.IMREAD_UNCHANGED).shape == (48, 64, 3)


def _psd(path, rgba):
    """A Photoshop file holding only its flattened picture (uncompressed), as Pillow reads one;
    Pillow writes none."""
    import struct

    h, w = rgba.shape[:2]
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 4, h, w, 8, 3) + struct.pack(">I", 0) * 3 + struct.pack(">H", 0)
    path.write_bytes(header + b"".join(np.ascontiguousarray(rgba[:, :, c]).tobytes() for c in range(4)))


@pytest.mark.parametrize("suffix", [".tga", ".qoi", ".sgi", ".psd"])
def test_pictures_opencv_does_not_decode_are_read_as_their_png_twin(tmp_path, capsys, suffix):
    from PIL import Image

    from streamdream.media.images import read_alpha, read_image

    alpha = _cut_out(tmp_path / "render.png")  # a render with an alpha channel, as a 3D package writes one
    with Image.open(tmp_path / "render.png") as png:
        if suffix == ".psd":
            _psd(tmp_path / "render.psd", np.asarray(png))
        else:
            png.save(tmp_path / f"render{suffix}")
    assert cv2.imread(str(tmp_path / f"render{suffix}")) is None  # (what made it a case)
    assert np.array_equal(read_image(tmp_path / f"render{suffix}"), read_image(tmp_path / "render.png"))
    assert np.array_equal(read_alpha(tmp_path / f"render{suffix}", None), alpha)
    out = tmp_path / "dream.png"
    assert main(["image", str(tmp_path / f"render{suffix}"), "-o", str(out), *FAST]) == 0
    assert "keeps its transparency" in capsys.readouterr().out
