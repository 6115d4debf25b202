"""Regenerate the README's screenshots of the 4-node report (docs/report-four-node*.png).

    PYTHONPATH=$PWD python docs/report_screenshot.py [--chromium /usr/bin/chromium]

Writes `hciplan report examples/four-node.hciplan` (the command's defaults:
1000 runs, seed 0) to a temporary folder, opens it in Debian's headless
Chromium through playwright (as tests/test_report.py does) at a fixed 1100 x 900
viewport, and saves two element screenshots: the plan by window (what runs in
which window, and how sure that is) and the charts section. Look at both before
committing them (docs/report.md). This is not a test; it needs Chromium and the
`playwright` package of the test extra.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "four-node.hciplan"
SHOTS = {"#windows": ROOT / "docs" / "report-four-node-windows.png",
         "#charts": ROOT / "docs" / "report-four-node.png"}
VIEWPORT = {"width": 1100, "height": 900}
MARGIN = 16  # px around each section
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium executable")
    args = parser.parse_args()
    if not Path(args.chromium).is_file():
        print(f"report_screenshot: no Chromium at {args.chromium}: apt-get install -y chromium", file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("report_screenshot: the playwright package is missing: pip install -e '.[test]'", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from hciplan.backends import report
    from hciplan.compiler.compile import compile_checked
    from hciplan.compiler.pipeline import check_bytes

    # named as the CLI is given it from the root, whatever the working folder
    result = compile_checked(check_bytes(str(EXAMPLE.relative_to(ROOT)), EXAMPLE.read_bytes()), need_plan=True)
    with tempfile.TemporaryDirectory() as folder:
        page_file = Path(folder) / "report.html"
        page_file.write_text(report.build(result.plan, result.diagnostics), encoding="utf-8")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=args.chromium, args=FLAGS)
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.goto(page_file.as_uri(), wait_until="load")
            for selector, target in SHOTS.items():  # the section with a margin, as it sits on the page
                box = page.locator(selector).bounding_box()
                clip = {"x": box["x"] - MARGIN, "y": box["y"] - MARGIN, "width": box["width"] + 2 * MARGIN,
                        "height": box["height"] + 2 * MARGIN}
                page.screenshot(path=str(target), clip=clip, full_page=True)
                print(f"wrote {target.relative_to(ROOT)}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
