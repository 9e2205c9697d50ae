"""The web page of `privis serve` in a real browser (Debian's chromium-headless-shell through Playwright):
a photo is dropped, comes back with the face hidden, and is downloaded."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium-headless-shell") or "/usr/bin/chromium-headless-shell"
if not Path(CHROMIUM).exists():
    pytest.skip("chromium-headless-shell is not installed (make install adds it with apt)", allow_module_level=True)

from privis.server.app import create_app  # noqa: E402
from privis.server.http import running  # noqa: E402
from privis.server.tokens import TokenStore  # noqa: E402


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from privis.server.app import stop_app

    store = TokenStore(":memory:")
    token = store.create("browser")
    app = create_app(tokens=store, state=tmp_path_factory.mktemp("state"))
    try:
        with running(app) as url:
            yield url, token
    finally:
        stop_app(app)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def _signed_in(browser, url: str, token: str, **options):
    """A new page at `url` with `token` typed into its token field (and saved, as a change does)."""
    page = browser.new_page(**options)
    page.goto(url)
    page.fill("#token", token)
    page.dispatch_event("#token", "change")
    return page


def _faces(image: np.ndarray) -> int:
    from privis.detect import create_detector

    return len(create_detector("face-centerface")(image))


def test_a_dropped_photo_comes_back_with_the_face_hidden_and_downloads(service, browser, tmp_path):
    from skimage import data

    url, token = service
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=95)
    assert _faces(np.asarray(Image.open(photo))) >= 1
    page = _signed_in(browser, url + "/", token, viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page.select_option("#method", "fill")
    page.set_input_files("#files", str(photo))
    page.wait_for_selector(".result[data-state=done]", timeout=60_000)
    assert "1 region hidden" in page.inner_text(".result .status")
    page.fill(".slider", "70")  # the before/after slider moves the cut
    page.dispatch_event(".slider", "input")
    shots = Path(os.environ.get("PRIVIS_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "serve_page.png"), full_page=True)
    with page.expect_download() as download:
        page.click(".download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "anonymized-astronaut.jpg"
    out = np.asarray(Image.open(io.BytesIO(saved.read_bytes())).convert("RGB"))
    assert out.shape == (512, 512, 3) and _faces(out) == 0
    page.close()


def test_a_dropped_video_runs_as_a_job_and_downloads(service, browser, tmp_path):
    from skimage import data

    from privis.media.video import write_video

    url, token = service
    face = np.asarray(data.astronaut())[::2, ::2]
    clip = write_video(tmp_path / "walk.mp4", [np.roll(face, 3 * k, axis=1) for k in range(15)], fps=10)
    page = _signed_in(browser, url + "/", token, accept_downloads=True)
    page.select_option("#method", "fill")
    page.set_input_files("#files", str(clip))
    page.wait_for_selector(".result[data-state=done]", timeout=120_000)
    assert "deleted its copy" in page.inner_text(".result .status")
    with page.expect_download() as download:
        page.click(".download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "anonymized-walk.mp4" and saved.read_bytes()[4:8] == b"ftyp"
    import av

    with av.open(str(saved)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert _faces(face) >= 1 and _faces(first) == 0
    page.close()


def test_a_wrong_token_is_shown_on_the_page(service, browser, tmp_path):
    url, _ = service
    photo = tmp_path / "grey.png"
    Image.new("RGB", (32, 32), (90, 90, 90)).save(photo)
    page = _signed_in(browser, url + "/", "pv_wrong")
    page.set_input_files("#files", str(photo))
    page.wait_for_selector(".result[data-state=error]", timeout=30_000)
    assert page.inner_text(".result .status").startswith("401")
    page.close()


def test_the_live_counting_page_updates(browser, tmp_path):
    from privis.media.video import write_video
    from privis.server.app import stop_app
    from privis.server.streams import StreamSpec

    frames = []
    for k in range(100):  # a lit square crossing a grey wall, 10 s at 10 fps
        f = np.full((120, 160, 3), 90, np.uint8)
        f[40:80, k : k + 30] = 200
        frames.append(f)
    clip = write_video(tmp_path / "wall.mp4", frames, fps=10)
    store = TokenStore(":memory:")
    token = store.create("live")
    spec = StreamSpec("wall", str(clip), lines=("door=80,0,80,120",), bucket_seconds=1.0, epsilon_per_day=50.0,
                      epsilon_per_release=1.0, loop=True)  # fmt: skip
    app = create_app(tokens=store, state=tmp_path, streams=[spec])
    try:
        with running(app) as url:
            page = _signed_in(
                browser, url + "/ui/live.html?stream=wall", token, viewport={"width": 1100, "height": 700}
            )
            first = _wait_for_count(page, "#chart", "data-buckets", above=1)
            frames_first = int(page.get_attribute("#state", "data-frames"))
            _wait_for_count(page, "#chart", "data-buckets", above=first)  # a new bucket is drawn
            assert int(page.get_attribute("#state", "data-frames")) > frames_first  # the view moves on
            assert page.evaluate("document.querySelector('#view').naturalWidth") == 160  # the MJPEG shows
            assert "left today of 50" in page.inner_text("#budget")
            assert page.locator("#chart polyline").count() >= 1
            shots = Path(os.environ.get("PRIVIS_SCREENSHOTS", tmp_path))
            page.screenshot(path=str(shots / "serve_live_page.png"), full_page=True)
            page.close()
    finally:
        stop_app(app)


def _wait_for_count(page, selector: str, attribute: str, *, above: int, timeout: float = 60.0) -> int:
    """Poll `attribute` of `selector` until it is a number above `above` (the page's CSP forbids
    the string evaluation `wait_for_function` would use)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.get_attribute(selector, attribute)
        if value is not None and value.isdigit() and int(value) > above:
            return int(value)
        page.wait_for_timeout(200)
    raise AssertionError(f"{selector}[{attribute}] stayed at {value} for {timeout} s")
