"""The report in a real headless browser (Chromium): it renders, the claims table sits in the first screen
after the summary, no "nan" or raw method key is visible, the configuration stays collapsed, and it
prints to PDF.

Chromium comes from Debian's packages (``apt-get install -y chromium``; scripts/install.sh installs it
where it is missing). Without a browser the tests skip, except under CI: ``RLVR_CI`` or ``CI`` set, or
``browser`` (or ``all``) in ``RLVR_REQUIRE`` (.ci/run), where a missing browser is a failure.
``RLVR_SCREENSHOT_DIR`` keeps the screenshots.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from test_report import KEYS, build_report

VIEWPORT = (1280, 1200)
FIRST_SCREEN_PX = 1200  # the claims table must start within the first screen at a 1280-wide viewport
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MEASURE = """<script>
window.addEventListener('load', () => {
  const top = (s, edge) => { const e = document.querySelector(s); if (!e) return null;
    const r = e.getBoundingClientRect(); return (edge === 'bottom' ? r.bottom : r.top) + window.scrollY; };
  const shown = [...document.querySelectorAll('img')].filter(i => i.getBoundingClientRect().width > 0);
  const out = {width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
    claims_top: top('table.claims'), summary_bottom: top('table.summary', 'bottom'), toc_top: top('nav.toc'),
    images: shown.length, broken: shown.filter(i => !(i.complete && i.naturalWidth > 0)).length,
    text: document.body.innerText};
  const pre = document.createElement('pre'); pre.id = 'rlvr-measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def in_ci() -> bool:
    required = {x.strip() for x in os.environ.get("RLVR_REQUIRE", "").split(",")}
    return bool(os.environ.get("RLVR_CI") or os.environ.get("CI")) or bool({"browser", "all"} & required)


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    msg = "no Chromium on PATH (apt-get install -y chromium; scripts/install.sh does it)"
    if in_ci():
        pytest.fail(f"{msg}: required under CI")
    pytest.skip(msg)


def chromium(browser: str, *args: str, size=VIEWPORT, timeout: int = 180) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
    flags += ["--no-first-run", "--disable-extensions", f"--window-size={size[0]},{size[1]}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=timeout)


def measure(browser: str, source: str, probe: Path, size=VIEWPORT) -> dict:
    """Layout and visible text as the browser lays ``source`` out (written to ``probe`` with a script)."""
    probe.write_text(source.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = chromium(browser, "--dump-dom", probe.as_uri(), size=size).stdout
    m = re.search(r'<pre id="rlvr-measure">(.*?)</pre>', dom, re.S)
    assert m, f"the browser did not run the page: {dom[:500]}"
    return json.loads(html.unescape(m.group(1)))


@pytest.fixture(scope="module")
def browser() -> str:
    return find_browser()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    return build_report(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def measured(browser, page, tmp_path_factory) -> dict:
    """Layout and visible text as the browser lays the page out (a copy with a measuring script)."""
    return measure(
        browser, page.read_text(encoding="utf-8"), tmp_path_factory.mktemp("probe") / "report.html"
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_screenshot_renders(browser, page, tmp_path):
    out_dir = Path(os.environ.get("RLVR_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "report_first_screen.png"
    result = chromium(browser, f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    assert png_size(shot) == VIEWPORT
    from PIL import Image  # matplotlib's dependency

    with Image.open(shot) as im:
        grey = im.convert("L")
        dark = sum(grey.histogram()[:160]) / (grey.width * grey.height)
    assert dark > 0.02, f"the first screen is almost blank ({dark:.1%} dark pixels)"


def test_claims_table_in_first_screen(measured):
    assert measured["summary_bottom"] is not None and measured["claims_top"] is not None
    assert (
        measured["summary_bottom"] < measured["claims_top"] and measured["toc_top"] < measured["claims_top"]
    )
    assert measured["claims_top"] < FIRST_SCREEN_PX, measured["claims_top"]
    assert measured["width"] <= VIEWPORT[0]  # nothing wider than the viewport


def test_figures_load(measured):
    assert measured["images"] >= 10 and measured["broken"] == 0


def test_no_nan_or_method_keys_visible(measured):
    text = measured["text"]
    assert "Claims" in text and "SFT start" in text and "ADORA" in text
    assert not re.search(r"\bnan\b", text, re.I)
    for key in KEYS:
        assert not re.search(rf"(?<![\w.-]){key}(?![\w-])", text), f"raw method key {key!r} visible"


def test_configuration_collapsed(measured, page):
    assert "toy-arith" in page.read_text()  # in the page, inside the closed <details>
    assert "toy-arith" not in measured["text"] and "abc1234deadbeef" not in measured["text"]
    assert "Configuration and provenance" in measured["text"]


def test_prints_to_pdf(browser, page, tmp_path):
    pdf = tmp_path / "report.pdf"
    result = chromium(browser, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.is_file(), result.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert 5 <= pages <= 40, pages


def test_print_layout_fits_a4(browser, page, tmp_path):
    """The print rules applied on screen at A4 width (210 mm = 794 CSS px): nothing wider than the page,
    the provenance expanded, the full configuration and the per-metric tables left out."""
    source = page.read_text(encoding="utf-8").replace("@media print{", "@media all{")
    printed = measure(browser, source, tmp_path / "print.html", size=(794, 1123))
    assert printed["width"] <= 794, printed["width"]
    assert "abc1234deadbeef" in printed["text"] and "2 CPU cores" in printed["text"]
    assert "toy-arith" not in printed["text"] and "left out of print" in printed["text"]
    assert printed["broken"] == 0 and printed["images"] >= 10
