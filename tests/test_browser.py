"""report.html in a real browser (headless Chromium): it loads with no console message at all (a
blocked fetch, a script, a CSP violation would each print one), the summary table, the plots (inline
SVG) and the formulas as MathML are in the rendered page, the filter (CSS over radio buttons) hides what
it should, nothing runs off the side of a 390 px phone screen, the plots keep their proportions and
legible text there and no label of theirs is cut off or overlaps another, and screenshots are taken
(reports/screenshot-report.png and screenshot-report-390.png, git-ignored) in which the plots' colours
are painted.

Everything is read through a harness page around the report: the report, unchanged and still under its
no-script policy, in an iframe of the width wanted, and the harness's own script reads its DOM and layout
(a window of Chromium's headless --dump-dom is never narrower than 500 px; an iframe is); the screenshot is
the iframe's part of the window. One Chromium run per width (and one for the console check's own page):
three runs, ~1 s each here, where five were (the report itself at each width beside the harness).

Chromium is required: without it the test fails and says how to install it, it does not skip.
The page is rendered from the hand-made results in test_report_fixture.json, not a catalog run.
"""
import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image  # the screenshots (PNG) only: the report itself has no image

from backprop_audit.reports import plots
from backprop_audit.reports.render_html import render_html

# One pytest-xdist worker runs them (--dist loadgroup), so the module's Chromium runs (fixtures) happen once.
pytestmark = pytest.mark.xdist_group("browser")

FIXTURE = Path(__file__).with_name("test_report_fixture.json")
SCREENSHOT = Path(__file__).parent.parent / "reports" / "screenshot-report.png"
PHONE = 390  # px: the narrowest phone screen in common use
LEGIBLE = 9  # px: the smallest text a plot may show on a phone (its tick labels scaled with it)
SVG = "{http://www.w3.org/2000/svg}"
FLAGS = ["--headless", "--allow-file-access-from-files", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
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


def test_the_report_renders_with_no_console_message_and_shows_table_and_plots(on_desktop):
    assert on_desktop["console"] == []
    dom = on_desktop["dom"]
    summary = re.search(r'<table id="summary">.*?</table>', dom, re.S).group(0)
    assert len(re.findall(r"<tr\b", summary)) == 5 and "fx-erratum" in summary
    # The escaped title is text in the page, not an element.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "<script" not in dom
    sections = re.findall(r'<section class="formula.*?</section>', dom, re.S)
    assert len(sections) == 4 and all('<div class="math"><math display="block">' in s for s in sections)
    assert "<mfrac><mrow><mo>∂</mo><mi>C</mi></mrow>" in dom  # \frac{\partial C}{...} as MathML
    # the plots as the browser holds them: SVG elements (still well-formed XML), each named for readers
    # of the accessibility tree, the summary first and then one in each formula's section
    shown = [ET.fromstring(markup) for markup in re.findall(r"<svg\b.*?</svg>", dom, re.S)]
    assert [svg.tag for svg in shown] == [SVG + "svg"] * 5
    assert all(svg.get("role") == "img" and svg.find(SVG + "title").text == svg.get("aria-label") for svg in shown)
    assert "4 formulas" in shown[0].get("aria-label")
    assert all(len(re.findall(r"<svg\b", s)) == 1 for s in sections)
    erratum = ET.fromstring(re.search(r"<svg\b.*?</svg>", dom.split('id="fx-erratum"', 1)[1], re.S).group(0))
    assert erratum.findall(f".//{SVG}g[@class='bars']/{SVG}rect[@fill='{plots.FAILED}']")


def painted(shot: Path, colour: str) -> int:
    """How many pixels of the screenshot are exactly this colour (the bars are drawn with crisp edges)."""
    image = np.asarray(Image.open(shot).convert("RGB"))
    return int((image == [int(colour[i:i + 2], 16) for i in (1, 3, 5)]).all(axis=-1).sum())


# a legend's colour square: a screenshot with more pixels of that colour shows bars of it as well
LEGEND_SQUARE = (plots.HISTOGRAM_FONT - 2) ** 2


def test_a_screenshot_of_the_report_is_not_blank(on_desktop):
    shot = on_desktop["screenshot"]
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 4000)
    low, high = image.getextrema()
    assert high - low > 100  # text and plots, not an empty page
    # the erratum's histogram is painted: bars in both colours (passing and failing examples)
    assert painted(shot, plots.PASSED) > 2 * LEGEND_SQUARE and painted(shot, plots.FAILED) > 2 * LEGEND_SQUARE
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)


def test_a_screenshot_at_phone_width_is_not_blank(on_phone):
    shot = on_phone["screenshot"]
    assert on_phone["console"] == []
    image = Image.open(shot).convert("L")
    assert image.size == (PHONE, 6000)
    low, high = image.getextrema()
    assert high - low > 100
    # scaled to the phone's width, the histograms' bars keep their colours
    assert painted(shot, plots.PASSED) > 2 * LEGEND_SQUARE and painted(shot, plots.FAILED) > 2 * LEGEND_SQUARE
    shutil.copyfile(shot, SCREENSHOT.with_name("screenshot-report-390.png"))


def measure(page: Path, width: int, probes: dict[str, str], height: int) -> dict:
    """Run each of `probes` (JavaScript: a function body of `doc` and `win` returning a value), in their order,
    on the report shown in an iframe `width` x `height` px, in one Chromium run; their values by name, through
    JSON, and "console": the run's console messages, "screenshot": the iframe's pixels (a PNG, `width` x `height`:
    the harness's window is wider, its iframe at the top left)."""
    calls = ", ".join(f"{json.dumps(name)}: (function (doc, win) {{ {probe} }})(doc, win)" for name, probe in probes.items())
    harness = page.with_name(f"harness-{width}.html")
    harness.write_text(f"""<!DOCTYPE html><html><head><script>
function probe() {{
  const frame = document.getElementById("report"), doc = frame.contentDocument, win = frame.contentWindow;
  const value = {{{calls}}};
  const out = document.createElement("pre"); out.id = "probe"; out.textContent = JSON.stringify(value);
  document.body.appendChild(out);
}}
</script></head><body style="margin:0"><iframe id="report" onload="probe()" src="{page.name}"
 style="width:{width}px;height:{height}px;border:0"></iframe></body></html>""", encoding="utf-8")
    window = harness.with_suffix(".png")
    done = browse(harness, "--dump-dom", f"--screenshot={window}", f"--window-size={max(width, 1280)},{height}")
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, (console_messages(done.stderr), done.stdout[-2000:])
    values = json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    shot = page.with_name(f"screenshot-{width}.png")
    Image.open(window).crop((0, 0, width, height)).save(shot)
    return {**values, "console": console_messages(done.stderr), "screenshot": shot}


# the formula sections shown, and the filter's own count, once each radio button of a list is checked
FILTER_PROBE = """
  const shown = () => [...doc.querySelectorAll("section.formula")].filter(s => s.getClientRects().length).map(s => s.id);
  const runs = {};
  for (const ids of [["fv-all", "fd-all"], ["fv-fails", "fd-all"], ["fv-holds", "fd-1"], ["fv-differs", "fd-all"],
                     ["fv-error", "fd-0"], ["fv-all", "fd-all"]]) {
    for (const id of ids) doc.getElementById(id).checked = true;
    runs[ids.join(" ")] = {shown: shown(), count: win.getComputedStyle(doc.querySelector(".shown"), "::after").content,
                           empty: win.getComputedStyle(doc.querySelector(".none-shown")).display !== "none",
                           groups: [...doc.querySelectorAll(".group")].filter(g => g.getClientRects().length).map(g => g.id)};
  }
  return runs;
"""


def test_the_filter_shows_only_the_chosen_verdict_and_document(on_desktop):
    runs = on_desktop["filter"]
    every = ["fx-error", "fx-erratum", "fx-holds", "fx-corrected"]  # differences first, then errata, then holds
    assert runs["fv-all fd-all"] == {"shown": every, "count": '"4 of 4 formulas shown"', "empty": False,
                                     "groups": ["group-differences", "group-errata", "group-hold"]}
    assert runs["fv-fails fd-all"]["shown"] == ["fx-erratum"] and runs["fv-fails fd-all"]["groups"] == ["group-errata"]
    assert runs["fv-holds fd-1"]["shown"] == ["fx-corrected"]  # documents in name order: doc_a, doc_b, doc_c
    assert runs["fv-differs fd-all"]["shown"] == ["fx-error"]
    assert runs["fv-error fd-0"] == {"shown": [], "count": '"0 of 4 formulas shown"', "empty": True, "groups": []}
    assert runs["fv-all fd-all"]["shown"] == every  # and back


# the page's width against the frame's, and every element that runs past the right edge outside a box
# that scrolls or clips (an overflow inside such a box is the box's to scroll, not the page's)
OVERFLOW_PROBE = """
  const inScrollBox = e => { for (let p = e.parentElement; p && p !== doc.body; p = p.parentElement) {
    if (["auto", "scroll", "hidden"].includes(win.getComputedStyle(p).overflowX)) return true; } return false; };
  const past = [...doc.body.querySelectorAll("*")].filter(e => e.getBoundingClientRect().right > win.innerWidth + 0.5
                                                          && !inScrollBox(e));
  const table = doc.getElementById("summary"), box = table.parentElement;
  const cell = table.querySelector("tbody td[data-label=verdict]");
  return {width: win.innerWidth, page: doc.documentElement.scrollWidth,
          past: past.slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className),
          summary: {scrolls: box.scrollWidth > box.clientWidth, header: table.tHead.getClientRects().length > 0,
                    label: win.getComputedStyle(cell, "::before").content}};
"""


def test_nothing_runs_off_the_side_of_a_phone_screen(on_phone):
    """Nor is the summary table a box to scroll sideways: on a phone each row is a card of labelled cells."""
    seen = on_phone["overflow"]
    assert seen["width"] == PHONE
    assert seen["past"] == [] and seen["page"] <= PHONE, seen
    assert seen["summary"] == {"scrolls": False, "header": False, "label": '"verdict: "'}, seen


def test_the_summary_is_a_table_on_a_desktop_screen(on_desktop):
    seen = on_desktop["overflow"]
    assert seen["summary"] == {"scrolls": False, "header": True, "label": "none"}, seen


# every plot as laid out: its box, its viewBox, the box of the element it scrolls in, its text's size on
# the screen, and which of its text elements reach outside the plot or overlap another
PLOT_PROBE = """
  const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  return [...doc.querySelectorAll("svg.plot")].map(svg => {
    const box = svg.getBoundingClientRect(), view = svg.viewBox.baseVal, scroller = svg.closest(".scroll");
    const scale = view.width / box.width;  // the text's boxes as the screen shows them (rotated too), in SVG units
    const texts = [...svg.querySelectorAll("text")].map(t => { const r = t.getBoundingClientRect();
      return {text: t.textContent, size: parseFloat(win.getComputedStyle(t).fontSize),
              box: {x: (r.x - box.x) * scale, y: (r.y - box.y) * scale, width: r.width * scale, height: r.height * scale}}; });
    const inside = b => b.x >= 0 && b.y >= 0 && b.x + b.width <= view.width && b.y + b.height <= view.height;
    const overlapping = [];
    texts.forEach((a, i) => texts.slice(i + 1).forEach(b => { if (overlap(a.box, b.box)) overlapping.push([a.text, b.text]); }));
    return {summary: svg.classList.contains("summary"), width: box.width, height: box.height, right: box.right,
            view: [view.width, view.height], smallest: Math.min(...texts.map(t => t.size)) * box.width / view.width,
            outside: texts.filter(t => !inside(t.box)).map(t => t.text), overlapping,
            scrolls: scroller ? scroller.scrollWidth > scroller.clientWidth : null};
  });
"""


# One Chromium run per width measures everything its tests read, and takes its screenshot (~1 s of CPU a run
# here). The report's DOM is read first, as it loads; the filter probe checks radio buttons, so it runs last,
# after the layout probes have read the page as it loads (it ends where it began: every formula shown).
@pytest.fixture(scope="module")
def on_desktop(page) -> dict:
    seen = measure(page, 1280, {"dom": "return doc.documentElement.outerHTML;", "plots": PLOT_PROBE,
                                "overflow": OVERFLOW_PROBE, "filter": FILTER_PROBE}, height=4000)
    assert seen["console"] == [], seen["console"]
    return seen


@pytest.fixture(scope="module")
def on_phone(page) -> dict:
    seen = measure(page, PHONE, {"plots": PLOT_PROBE, "overflow": OVERFLOW_PROBE}, height=6000)
    assert seen["console"] == [], seen["console"]
    return seen


def test_the_plots_are_drawn_at_their_size_on_a_desktop_screen(on_desktop):
    seen = on_desktop["plots"]
    assert [p["summary"] for p in seen] == [True, False, False, False, False]
    for plot in seen:
        assert [round(plot["width"], 1), round(plot["height"], 1)] == plot["view"], plot
        assert plot["outside"] == [] and plot["overlapping"] == [], plot
    assert seen[0]["scrolls"] is False


def test_the_plots_fit_a_phone_screen_keeping_their_proportions_and_legible_text(on_phone):
    """A histogram shrinks to the phone's width, keeps its proportions, and its smallest text stays at
    least LEGIBLE px; the summary keeps its size and scrolls inside its own box."""
    seen = on_phone["plots"]
    summary, histograms = seen[0], seen[1:]
    assert summary["summary"] and [round(summary["width"], 1), round(summary["height"], 1)] == summary["view"]
    assert summary["scrolls"] is True
    for plot in histograms:
        assert plot["width"] < plot["view"][0] and plot["right"] <= PHONE, plot
        assert abs(plot["height"] / plot["width"] - plot["view"][1] / plot["view"][0]) < 0.01, plot
        assert plot["smallest"] >= LEGIBLE, plot


def test_the_console_check_sees_a_blocked_fetch(page, tmp_path):
    """The harness would notice: the same page with one image from the network is refused by the
    report's Content-Security-Policy, and Chromium says so on the console."""
    html = page.read_text().replace("<h1>", '<img src="http://127.0.0.1:9/x.png"><h1>', 1)
    fetching = tmp_path / "fetching.html"
    fetching.write_text(html, encoding="utf-8")
    messages = console_messages(browse(fetching, "--dump-dom").stderr)
    assert any("Content Security Policy" in m for m in messages), messages
