import numpy as np
import pytest
from PIL import Image

from privis.errors import MediaError, OutputExistsError
from privis.media.image import from_array, read_image, write_image


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x8825] = {1: "N", 2: (52.0, 12.0, 3.0)}  # GPSInfo IFD
    return exif


@pytest.fixture
def tagged_jpeg(tmp_path):
    from PIL import ImageCms

    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = 255  # left half white
    path = tmp_path / "tagged.jpg"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(img).save(path, exif=_exif_with_gps(), icc_profile=icc, comment=b"secret comment")
    return path


def test_exif_orientation_applied(tagged_jpeg):
    loaded = read_image(tagged_jpeg)
    assert loaded.rgb.shape == (40, 20, 3)  # rotated upright
    assert loaded.rgb[0, 10].mean() > 200 and loaded.rgb[-1, 10].mean() < 50


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tiff"])
def test_metadata_stripped_by_default(tagged_jpeg, tmp_path, suffix):
    loaded = read_image(tagged_jpeg)
    assert "exif" in loaded.metadata and "icc_profile" in loaded.metadata
    out = write_image(tmp_path / f"out{suffix}", loaded.pixels, mode=loaded.mode)
    with Image.open(out) as im:
        exif = im.getexif()
        assert 0x010F not in exif and 0x8825 not in exif and 0x0112 not in exif
        assert not im.info.get("icc_profile")
        assert not im.info.get("exif") and not im.info.get("comment") and not im.info.get("xmp")
    assert b"CameraMaker" not in out.read_bytes()


def test_metadata_kept_on_request(tagged_jpeg, tmp_path):
    loaded = read_image(tagged_jpeg)
    out = write_image(tmp_path / "out.jpg", loaded.pixels, metadata=loaded.metadata)
    with Image.open(out) as im:
        exif = im.getexif()
        assert exif[0x010F] == "CameraMaker"
        assert exif.get(0x0112, 1) == 1  # pixels are upright now
        assert im.info.get("icc_profile")


def test_never_overwrites_without_asking(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_image(path, np.zeros((4, 4, 3), np.uint8))
    assert path.read_bytes() == b"precious"
    write_image(path, np.zeros((4, 4, 3), np.uint8), overwrite=True)
    assert read_image(path).rgb.shape == (4, 4, 3)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "cannot read image"),
        (b"not an image at all", "cannot read image"),
    ],
)
def test_bad_inputs(tmp_path, content, match):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match=match):
        read_image(path)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "t.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(MediaError):
        read_image(path)


def test_zero_size_png(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path = tmp_path / "zero.png"
    path.write_bytes(png)
    with pytest.raises(MediaError):
        read_image(path)
    with pytest.raises(MediaError, match="zero size"):
        from_array(np.zeros((0, 5, 3), np.uint8))


def test_rgba_keeps_alpha(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 3] = 77
    Image.fromarray(rgba).save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert loaded.mode == "RGBA" and loaded.rgb.shape == (10, 12, 3) and loaded.pixels.shape == (10, 12, 4)
    out = write_image(tmp_path / "b.png", loaded.pixels, mode=loaded.mode)
    assert np.asarray(Image.open(out))[..., 3].max() == 77


def test_16bit_png_stays_16bit(tmp_path):
    grey = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    loaded = read_image(tmp_path / "g16.png")
    assert loaded.pixels.dtype == np.uint16 and loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (20, 30, 3)
    out = write_image(tmp_path / "o16.png", loaded.pixels, mode=loaded.mode)
    back = np.asarray(Image.open(out))
    assert back.dtype.itemsize == 2
    np.testing.assert_array_equal(back.astype(np.uint16), grey)


def test_grey_stays_grey(tmp_path):
    Image.fromarray(np.full((8, 8), 9, np.uint8)).save(tmp_path / "g.png")
    loaded = read_image(tmp_path / "g.png")
    assert loaded.mode == "L" and loaded.pixels.shape == (8, 8)


def test_huge_image_header_is_refused_before_decoding(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(png)
    with pytest.raises(MediaError, match="larger than privis accepts|more than privis accepts"):
        read_image(path)


def test_an_untouched_upright_jpeg_keeps_its_pixels_and_loses_its_metadata(tmp_path):
    """Where nothing is hidden, an upright JPEG is copied without metadata, not re-encoded."""
    from typer.testing import CliRunner

    from privis.cli import app
    from privis.media.image import strip_jpeg_metadata

    exif = _exif_with_gps()
    exif[0x0112] = 1  # stored upright
    rng = np.random.default_rng(0)
    src = tmp_path / "plain.jpg"
    Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(src, exif=exif, comment=b"secret")
    out = tmp_path / "out.jpg"
    result = CliRunner().invoke(app, ["anonymize", str(src), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(src)))
    data = out.read_bytes()
    assert b"CameraMaker" not in data and b"secret" not in data and b"Exif" not in data
    with pytest.raises(MediaError, match="not a JPEG"):
        strip_jpeg_metadata(b"\x89PNG....")
