"""``mrtoct serve`` clicked in a real headless Chromium (Selenium, Debian's chromium and chromium-driver,
which ``make test`` installs when missing): the server runs as its own process on a free local port and
is stopped by its process id; rendering is offscreen (EGL), no display is needed.

One test places the landmarks of the phantom sample by clicking in the sagittal slice view, registers
them live, drags a point (the page's registration follows), runs a one-step synthesis, saves and
downloads, and checks the files the server wrote, the zip the browser saved and a screenshot;
one sends bad uploads and checks the page's message and that the server keeps working. With
``MRTOCT_SCREENSHOTS=docs/images`` the first also writes the docs' two screenshots.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.markups_io import read_markups_json

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CLICKS = [(-70, -90), (-70, 10), (40, -90), (40, 30)]  # px from the view's centre: four corners of a quad


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, float]]:
    """``mrtoct serve`` on a free port in its own process group; killed by its id afterwards."""
    data = tmp_path / "data"
    data.mkdir()
    port = _free_port()
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "mrtoct.main", "serve", str(data), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url, started = f"http://127.0.0.1:{port}/", time.perf_counter()
    try:
        for _ in range(120):
            if proc.poll() is not None:
                pytest.fail(f"mrtoct serve exited: {(tmp_path / 'server.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mrtoct serve did not answer within 60 s")
        yield url, data, started
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    if not (CHROMIUM and DRIVER):
        pytest.fail("chromium and chromedriver are needed: `make test` installs Debian's chromium and "
                    "chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def _element(driver, element_id: str, timeout: float = 60.0):
    """The page's element of that id, once the page has built it."""
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.by import By

    for _ in range(int(timeout / 0.25)):
        try:
            return driver.find_element(By.ID, element_id)
        except NoSuchElementException:
            time.sleep(0.25)
    pytest.fail(f"the page has no element {element_id!r} after {timeout:.0f} s")


def _message(driver, contains: str, timeout: float = 60.0) -> str:
    """The page's message once it contains ``contains`` (fails with the last message after ``timeout``)."""
    text = ""
    for _ in range(int(timeout / 0.25)):
        text = _element(driver, "message").text
        if contains in text:
            return text
        time.sleep(0.25)
    pytest.fail(f"the page said {text!r}, not {contains!r}")


def _click(driver, element_id: str) -> None:
    _element(driver, element_id).click()


def _type(driver, element_id: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = _element(driver, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def _keep_screenshot(driver, name: str) -> None:
    """With ``MRTOCT_SCREENSHOTS=<folder>``, the page as it is now into that folder (the docs' pictures)."""
    folder = os.environ.get("MRTOCT_SCREENSHOTS")
    if folder:
        driver.save_screenshot(str(Path(folder) / name))


def _slice_view(driver):
    """The largest rendered view image on the page: the sagittal slice view of the spine layout."""
    from selenium.webdriver.common.by import By

    images = [e for e in driver.find_elements(By.TAG_NAME, "img") if e.size["width"] > 100]
    return max(images, key=lambda e: e.size["width"] * e.size["height"])


def _click_points(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    view = _slice_view(driver)
    for dx, dy in CLICKS:
        ActionChains(driver).move_to_element_with_offset(view, dx, dy).click().perform()
        time.sleep(0.7)


def _drag(driver, start: tuple[int, int], by: tuple[int, int]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    view = _slice_view(driver)
    chain = ActionChains(driver).move_to_element_with_offset(view, *start).click_and_hold()
    for _ in range(4):
        chain = chain.move_by_offset(by[0] // 4, by[1] // 4).pause(0.1)
    chain.release().perform()
    time.sleep(1.0)


def test_landmarks_by_clicking_registration_synthesis_and_saving(server, browser, tmp_path):
    url, data, started = server
    t0 = time.perf_counter()
    browser.get(url)
    assert "SYNTHETIC PHANTOM ONLY" in _element(browser, "model-about").text  # the card, before any choice
    _click(browser, "load-sample")
    _message(browser, "loaded phantom", timeout=90)
    time.sleep(2)
    _type(browser, "levels", "L3-L4")
    for role in ("mr", "ct"):
        _click(browser, f"create-{role}")
        _message(browser, f"{role.upper()}-landmarks: 4 points to place")
        _click(browser, f"place-{role}")
        _message(browser, "click to place L3-body")
        _click_points(browser)
    _click(browser, "register")
    registration = _message(browser, "RMS")
    assert registration.startswith("RMS 0.00 mm over 4 pairs"), registration  # the same clicks on both lists
    _drag(browser, CLICKS[0], (0, 40))  # correct the last-placed list's first point: the page follows live
    moved = ""
    for _ in range(40):
        moved = _element(browser, "registration").text
        if not moved.startswith("RMS 0.00"):
            break
        time.sleep(0.25)
    assert moved.startswith("RMS ") and not moved.startswith("RMS 0.00") and "over 4 pairs" in moved, moved
    _keep_screenshot(browser, "web_landmarks.png")
    _type(browser, "steps", "1")
    _click(browser, "apply")
    _message(browser, "synthetic CT ready", timeout=240)
    first_sct, from_serve = time.perf_counter() - t0, time.perf_counter() - started
    time.sleep(2)
    assert "mae" in _element(browser, "metrics").text.lower()  # against the sample's CT in the MR's world
    shot = tmp_path / "workflows.png"
    browser.save_screenshot(str(shot))
    _keep_screenshot(browser, "web_synthesis.png")
    _click(browser, "save")
    saved = _message(browser, "saved")
    out = data / "results"
    assert saved == f"saved 5 files to {out}", saved
    mr_points = read_markups_json(out / "mr_landmarks.mrk.json").defined()
    ct_points = read_markups_json(out / "ct_landmarks.mrk.json").defined()
    assert sorted(mr_points) == ["L3-body", "L3-spinous", "L4-body", "L4-spinous"] == sorted(ct_points)
    pts = np.array([mr_points[k] for k in sorted(mr_points)])
    assert np.linalg.matrix_rank(pts[1:] - pts[0], tol=1.0) == 2  # four distinct clicks in one slice plane
    ct = np.array([ct_points[k] for k in sorted(mr_points)])
    np.testing.assert_allclose(pts[1:], ct[1:], atol=1e-3)  # the same clicks on both lists...
    shift = ct[0] - pts[0]  # ...but L3-body of the CT list, dragged 40 px down the sagittal view
    assert np.linalg.norm(shift) > 5.0 and np.count_nonzero(np.abs(shift) > 1e-3) == 1, shift
    _click(browser, "download")
    _message(browser, "download of")
    archive = browser.downloads / "spine_results.zip"
    for _ in range(80):
        if archive.is_file() and zipfile.is_zipfile(archive):
            break
        time.sleep(0.25)
    assert sorted(zipfile.ZipFile(archive).namelist()) == sorted(p.name for p in out.iterdir())
    sct = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "synthetic_ct.nii.gz")))
    assert sct.min() < -500 and sct.max() > 300  # air and bone
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "synthetic_ct_vertebrae.nii.gz")))
    assert len(np.unique(labels)) >= 3
    pixels = np.asarray(sitk.GetArrayFromImage(sitk.ReadImage(str(shot))))
    assert pixels.std() > 20  # rendered views, not a blank page
    print(f"from `mrtoct serve` to a first synthetic CT: {from_serve:.1f} s ({first_sct:.1f} s from the page's "
          "first load, clicks included)")


def test_a_bad_upload_is_a_message_and_the_server_keeps_working(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url = server[0]
    browser.get(url)
    _message(browser, "Load the phantom sample")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    labels = tmp_path / "labels.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.tile(np.arange(4, dtype=np.uint8), (8, 8, 2))), str(labels))
    for path, needle in ((text, "not an image file"), (labels, "label map")):
        browser.find_element(By.CSS_SELECTOR, "#upload input[type=file], input[type=file]").send_keys(str(path))
        _message(browser, needle)
    _click(browser, "load-sample")
    _message(browser, "loaded phantom", timeout=90)
