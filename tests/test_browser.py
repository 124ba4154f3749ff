"""report.html in a real browser (headless Chromium): it loads with no console message at all (a
blocked fetch, a script, a CSP violation would each print one), the summary table and the plots are in
the rendered page, and a screenshot is taken (reports/screenshot-report.png, git-ignored).

Chromium is required: without it the test fails and says how to install it, it does not skip.
The page is rendered from the hand-made results in test_report_fixture.json, not a catalog run.
"""
import base64
import io
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from backprop_audit.reports.render_html import render_html

FIXTURE = Path(__file__).with_name("test_report_fixture.json")
SCREENSHOT = Path(__file__).parent.parent / "reports" / "screenshot-report.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed to check report.html in a browser and was not found; "
                    "install it with: apt-get update && apt-get install -y chromium")
    return found


def browse(page: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "report.html"
    path.write_text(render_html(json.loads(FIXTURE.read_text())), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shown(page) -> tuple[subprocess.CompletedProcess, Path]:
    """One Chromium run over the report: its rendered DOM (stdout), its console (stderr) and a screenshot."""
    shot = page.with_name("screenshot.png")
    return browse(page, "--dump-dom", f"--screenshot={shot}", "--window-size=1280,2000"), shot


def test_the_report_renders_with_no_console_message_and_shows_table_and_plots(shown):
    done, _ = shown
    assert console_messages(done.stderr) == []
    dom = done.stdout
    summary = re.search(r'<table id="summary">.*?</table>', dom, re.S).group(0)
    assert len(re.findall(r"<tr>", summary)) == 5 and "fx-erratum" in summary
    # The escaped title is text in the page, not an element.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script" not in dom
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', dom)
    assert len(images) == 5
    for data in images:
        width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
        assert width > 300 and height > 100


def test_a_screenshot_of_the_report_is_not_blank(shown):
    done, shot = shown
    assert console_messages(done.stderr) == []
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2000)
    low, high = image.getextrema()
    assert high - low > 100  # text and plots, not an empty page
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)


def test_the_console_check_sees_a_blocked_fetch(page, tmp_path):
    """The harness would notice: the same page with one image from the network is refused by the
    report's Content-Security-Policy, and Chromium says so on the console."""
    html = page.read_text().replace("<h1>", '<img src="http://127.0.0.1:9/x.png"><h1>', 1)
    fetching = tmp_path / "fetching.html"
    fetching.write_text(html, encoding="utf-8")
    messages = console_messages(browse(fetching, "--dump-dom").stderr)
    assert any("Content Security Policy" in m for m in messages), messages
