"""`hciplan report`: one self-contained HTML page, checked in a real browser (Debian's headless Chromium).

The browser tests load each example's page from a file and check that no
request leaves it, that it logs no console error, and that hostile names from
the file are text, not markup; they skip (saying why) only where Chromium or
the `playwright` package that drives it over the DevTools protocol is missing
(`.ci/run` installs Chromium through apt). The page itself is golden-tested,
byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hciplan.backends import report
from hciplan.cli import cli
from hciplan.compiler.compile import compile_checked
from hciplan.compiler.pipeline import check_bytes, load_source

from helpers import EXAMPLES, GOLDEN, ROOT, VALID_EXAMPLES, assert_golden

RUNS = 200  # enough for every chart to have data; a page per example stays quick
CHROMIUM = os.environ.get("HCIPLAN_CHROMIUM", "/usr/bin/chromium")
HOSTILE = {  # names the file may carry; each must show as text
    'window "sat-1"': 'window "<script>alert(1)</script>"',
    'window "sat-2"': 'window "<img src=x onerror=alert(2)>"',
    'volume "UserStorage_1"': 'volume "Vol \\"q\\" & <b>bold</b>"',
    'vm_group "sql"': "vm_group \"sql' onmouseover='alert(4)\"",
}
HOSTILE_TEXTS = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", 'Vol "q" & <b>bold</b>',
                 "sql' onmouseover='alert(4)", 'bad <night> & "worse"']


def compiled(path: Path):
    return compile_checked(load_source(str(path)), need_plan=True)


def hostile_file(tmp_path: Path) -> Path:
    text = (EXAMPLES / "four-node.hciplan").read_text(encoding="utf-8")
    for old, new in HOSTILE.items():
        assert old in text
        text = text.replace(old, new)
    text += '\nscenario "bad <night> & \\"worse\\"" {\n  fail "HCI03" { step = "reboot"  mode = hang }\n}\n'
    path = tmp_path / "hostile.hciplan"
    path.write_text(text, encoding="utf-8")
    return path


# --- the page, without a browser ------------------------------------------------------------------------


def test_the_four_node_page_is_the_reviewed_golden():
    example = EXAMPLES / "four-node.hciplan"  # named as the CLI is given it from the root, read from anywhere
    result = compile_checked(check_bytes(str(example.relative_to(ROOT)), example.read_bytes()), need_plan=True)
    assert_golden(GOLDEN / "report" / "four-node.html", report.build(result.plan, result.diagnostics, runs=RUNS,
                                                                      seed=0, jobs=1))


def test_the_same_file_runs_and_seed_give_the_same_bytes_whatever_the_workers():
    result = compiled(EXAMPLES / "two-node.hciplan")
    one = report.build(result.plan, result.diagnostics, runs=60, seed=3, jobs=1)
    two = report.build(result.plan, result.diagnostics, runs=60, seed=3, jobs=2)
    assert one == two


def test_the_page_has_every_section_and_a_strict_content_security_policy():
    result = compiled(EXAMPLES / "four-node.hciplan")
    page = report.build(result.plan, result.diagnostics, runs=50, seed=0, jobs=1)
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';" in page
    for section in ("cluster", "configurations", "diagnostics", "windows", "phases", "risks", "simulation",
                    "scenarios", "charts", "operator", "provenance"):
        assert f'<section id="{section}"' in page, section
    for figure in ("gantt", "finish", "work", "criticality"):
        assert f'<title id="{figure}-title">' in page and f'aria-labelledby="{figure}-title {figure}-desc"' in page
    assert "@media print" in page
    assert result.plan.fingerprint in page and "hciplan 0." in page
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(http" not in page
    assert not re.search(r'\s(src|href)="(?!#)', page)  # links only within the page


def test_the_supported_configurations_follow_the_file():
    aks = report.configurations(compiled(EXAMPLES / "aks.hciplan").plan)
    row = {r["configuration"]: r for r in aks}["AKS on Azure Local (AKS Arc)"]
    assert row["status"] == "handled by the plan" and "Uninstall-Moc" in row["cluster"]
    four = {r["configuration"]: r for r in report.configurations(compiled(EXAMPLES / "four-node.hciplan").plan)}
    assert four["AKS on Azure Local (AKS Arc)"]["status"] == "not used"
    assert [r["configuration"] for r in aks] == ["AKS on Azure Local (AKS Arc)", "Arc VMs", "Stretched clusters",
                                                  "SCVMM-managed clusters", "22H2 Supplemental Package"]


def test_hostile_names_are_escaped_in_the_source(tmp_path):
    result = compiled(hostile_file(tmp_path))
    assert result.ok
    page = report.build(result.plan, result.diagnostics, runs=30, seed=0, jobs=1)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "onmouseover=&#39;alert(4)" in page


def test_the_page_needs_no_plotting_library(tmp_path):
    """The report's charts are its own SVG: it renders with matplotlib unimportable."""
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from hciplan.backends import report\n"
            "from hciplan.compiler.compile import compile_checked\n"
            "from hciplan.compiler.pipeline import load_source\n"
            "r = compile_checked(load_source('examples/two-node.hciplan'), need_plan=True)\n"
            "page = report.build(r.plan, r.diagnostics, runs=20, seed=0, jobs=1)\n"
            "assert '<svg' in page\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


# --- the command ---------------------------------------------------------------------------------------


def test_report_writes_the_page_and_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "report.html"
    args = ["report", str(EXAMPLES / "two-node.hciplan"), "-o", str(out), "--runs", "30", "--jobs", "1"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    written = out.read_bytes()
    assert written.startswith(b"<!DOCTYPE html>")
    out.write_text("kept", encoding="utf-8")
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 2 and "already exists; pass --force" in again.output
    assert out.read_text(encoding="utf-8") == "kept"
    forced = CliRunner().invoke(cli, args + ["--force"], catch_exceptions=False)
    assert forced.exit_code == 0 and out.read_bytes() == written


def test_a_file_with_errors_gets_no_page(tmp_path):
    bad = tmp_path / "bad.hciplan"
    text = (EXAMPLES / "two-node.hciplan").read_text(encoding="utf-8")
    assert text.count('"23H2"') == 1  # the upgrade's `to`: the mutation below must not miss
    bad.write_text(text.replace('"23H2"', '"99H9"'), encoding="utf-8")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", str(bad), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 1 and "no plan: fix the errors above" in result.output
    assert not out.exists()


# --- in the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        pytest.skip(f"Chromium is not installed ({CHROMIUM}): `apt-get install -y chromium` (.ci/run does it "
                    "where apt is available)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")
    executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=executable, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def open_page(browser, path: Path, screenshot: Path):
    """Load `path`; return the page, every request it made, every console error and every dialog it opened."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests, errors, dialogs = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 10_000
    return page, requests, errors, dialogs


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_every_example_page_opens_offline_and_clean_in_chromium(browser, tmp_path, example):
    out = tmp_path / f"{example.stem}.html"
    result = CliRunner().invoke(cli, ["report", str(example), "-o", str(out), "--runs", str(RUNS), "--jobs", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page, requests, errors, dialogs = open_page(browser, out, tmp_path / f"{example.stem}.png")
    assert requests == [out.resolve().as_uri()], "the page must not fetch anything"
    assert errors == [] and dialogs == []
    assert page.locator("h1").count() == 1 and page.locator("h2").count() == 11
    completed = "No run completed" not in page.content()
    assert page.locator("svg[role=img] > title").count() >= (4 if completed else 2)  # charts with accessible names
    assert page.evaluate("document.querySelectorAll('table th').length") > 50
    assert page.evaluate("document.documentElement.scrollWidth") <= 1100, "the page fits the viewport's width"
    page.close()


def test_hostile_names_are_text_in_chromium(browser, tmp_path):
    source = hostile_file(tmp_path)
    out = tmp_path / "hostile.html"
    result = CliRunner().invoke(cli, ["report", str(source), "-o", str(out), "--runs", "60", "--jobs", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page, requests, errors, dialogs = open_page(browser, out, tmp_path / "hostile.png")
    assert requests == [out.resolve().as_uri()] and errors == [] and dialogs == []
    assert page.evaluate("document.querySelectorAll('script, img, b, iframe, object').length") == 0
    handlers = page.evaluate("[...document.querySelectorAll('*')].filter(e => [...e.attributes].some("
                             "a => a.name.startsWith('on'))).length")
    assert handlers == 0
    text = page.evaluate("document.body.innerText")
    for hostile in HOSTILE_TEXTS:
        assert hostile in text, hostile
    page.close()
