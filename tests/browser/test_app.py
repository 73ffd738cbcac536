"""The app in a real browser: stage labels, a suppressed link, the CSV download, and no request leaves the machine."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from typing import Any

from tests.browser.conftest import ARTIFACTS, NORTHGATE, ROOT, RunningApp

PERIOD, PERIOD_LABEL = "2023Q2", "2023-24 Q1"


def choose(page: Any, control: str, text: str) -> None:
    """Pick an option in a Dash dropdown: open it, search, click the option with exactly this text.

    The search box is filled, not typed at: as the list opens Dash moves focus to the chosen option a frame later,
    so keys typed straight after the click land on the button (a space closes the list) or on the option.
    """
    page.click(f"#{control}")
    page.fill(".dash-dropdown-content .dash-dropdown-search", text)
    page.locator(".dash-dropdown-option", has=page.get_by_text(text, exact=True)).first.click()
    page.keyboard.press("Escape")


def figure_title(page: Any, graph: str) -> str:
    return str(page.evaluate(f"() => (document.querySelector('#{graph} .js-plotly-plot') || {{}}).layout?.title?.text || ''"))


def wait_for_title(page: Any, graph: str, expected: str) -> None:
    page.wait_for_function(
        "([graph, text]) => { const gd = document.querySelector('#' + graph + ' .js-plotly-plot');"
        " return gd && gd.layout && gd.layout.title && gd.layout.title.text === text; }",
        arg=[graph, expected], timeout=30_000)


def open_flows(page: Any, app: RunningApp, authority: str) -> None:
    """The flows page for one authority, at the quarter it opens on, once its Sankey is drawn."""
    page.goto(app.url + "/flows")
    page.wait_for_selector("#flows-graph .sankey")
    choose(page, "filter-authority", authority)
    wait_for_title(page, "flows-graph", f"Quarterly flows, {page.inner_text('#flows-period')}: {authority}")


def cli_flows(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "journeys.cli", "flows", "--quiet", "--config",
                           str(ROOT / "pathway_configs" / "northgate.yaml"), *map(str, NORTHGATE), "--period", PERIOD],
                          check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    return done.stdout


def test_quarterly_flows_in_the_browser(two_authorities: RunningApp, page: Any, app_env: dict[str, str]) -> None:
    page, recorder = page
    page.goto(two_authorities.url + "/flows")
    page.wait_for_selector("#flows-graph .sankey")
    assert "northgate: data to 2025-03-31" in page.inner_text("header")

    choose(page, "filter-authority", "northgate")
    choose(page, "flows-period", PERIOD_LABEL)
    wait_for_title(page, "flows-graph", f"Quarterly flows, {PERIOD_LABEL}: northgate")

    labels = set(page.locator("#flows-graph .node-label").all_text_contents())
    assert {"Not known to services", "Referral", "Child in need", "Child protection plan",
            "Foster care: other carers", "No further action"} <= labels
    assert "Contact" not in labels  # northgate has no front-door extract: riverside's stages are filtered out

    expected = cli_flows(app_env)
    rows = list(csv.DictReader(io.StringIO(expected)))
    hidden = [r for r in rows if r["count"] == "c"]
    assert hidden, "the sample quarter should have at least one suppressed link"
    link_text = page.evaluate("() => document.querySelector('#flows-graph .js-plotly-plot').data[0].link.customdata")
    node_labels = page.evaluate("() => document.querySelector('#flows-graph .js-plotly-plot').data[0].node.label")
    known = hidden[0]
    label = {r: page.evaluate(f"() => document.querySelector('#flows-graph .js-plotly-plot').data[0].node.customdata"
                              f".find(d => d[0] === '{r}')") for r in (known["from_stage"], known["to_stage"])}
    assert label[known["from_stage"]] is not None and label[known["to_stage"]] is not None
    suppressed_links = [t for t in link_text if t.endswith(": c")]
    assert len(suppressed_links) == len(hidden)
    assert all(text.split(": ")[-1] == "c" or text.split(": ")[-1].replace(",", "").isdigit() for text in link_text)
    assert node_labels  # the figure is drawn from the published table only

    page.wait_for_selector(f"#flows-stages-table caption:has-text('{PERIOD_LABEL}: northgate')")
    assert "Children at start" in page.inner_text("#flows-stages-table")
    assert page.locator("#flows-yoy-table").inner_text() == ""  # not worked out until it is chosen
    page.get_by_role("radio", name="The same quarter a year before", exact=True).check()
    page.wait_for_selector(f"#flows-yoy-table caption:has-text('{PERIOD_LABEL} beside')")
    assert page.locator("#flows-panel-stages").is_hidden() and page.locator("#flows-yoy-table").is_visible()
    page.get_by_role("radio", name="Children in each stage", exact=True).check()
    page.click("text=Show the numbers as a table >> nth=0")
    table = page.inner_text("#flows-table")
    assert f"{PERIOD_LABEL}" in table and "\tc" in table

    with page.expect_download() as download_info:
        page.click("#flows-csv-button")
    download = download_info.value
    assert download.suggested_filename == f"care-journeys-flows-{PERIOD}.csv"
    assert open(download.path(), encoding="utf-8").read() == expected

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quarterly-flows.png"), full_page=True)
    with page.expect_download() as report_info:
        page.click("#flows-report-button")
    report = ARTIFACTS / "quarterly-report.html"
    report_info.value.save_as(str(report))
    assert f"Quarterly report, {PERIOD_LABEL}: northgate" in report.read_text(encoding="utf-8")
    assert recorder.hosts() == {f"127.0.0.1:{two_authorities.port}"}, recorder.hosts()
    assert not [e for e in recorder.errors if "Content Security Policy" in e], recorder.errors


def test_every_page_is_served_from_this_machine(two_authorities: RunningApp, page: Any) -> None:
    page, recorder = page
    for path, heading in (("/", "Overview"), ("/journeys", "Journeys"), ("/flows", "Quarterly flows"), ("/data", "Data")):
        page.goto(two_authorities.url + path)
        page.wait_for_selector(f"h1:has-text('{heading}')")
        page.wait_for_load_state("networkidle")
    assert recorder.hosts() == {f"127.0.0.1:{two_authorities.port}"}, recorder.hosts()
    assert not recorder.errors, recorder.errors


def test_keyboard_reaches_the_controls(two_authorities: RunningApp, page: Any) -> None:
    page, _ = page
    page.goto(two_authorities.url + "/flows")
    page.wait_for_selector("#flows-graph .sankey")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"
    focused = set()
    for _ in range(25):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("() => document.activeElement.id || document.activeElement.textContent"))
    assert {"Quarterly flows", "flows-play"} <= focused or "Play through the quarters" in focused, focused
    for control in ("filter-authority", "filter-sex", "flows-period"):
        assert page.locator(f"label[for='{control}']").count() == 1, control


def test_empty_state_says_what_to_do(empty_app: RunningApp, page: Any) -> None:
    page, recorder = page
    page.goto(empty_app.url + "/flows")
    page.wait_for_selector(".empty-state")
    assert "No data is loaded yet" in page.inner_text("main")
    assert "No data loaded" in page.inner_text("header")
    assert recorder.hosts() == {f"127.0.0.1:{empty_app.port}"}


def test_quarterly_report_opens_offline(two_authorities: RunningApp, page: Any) -> None:
    """The downloaded report draws its Sankey from file:// with every request staying on this computer."""
    page, recorder = page
    report = ARTIFACTS / "quarterly-report.html"
    if not report.is_file():  # written by the flows test; make it here when this test runs alone
        page.goto(two_authorities.url + "/flows")
        page.wait_for_selector("#flows-graph .sankey")
        with page.expect_download() as report_info:
            page.click("#flows-report-button")
        report_info.value.save_as(str(report))
        recorder.urls.clear()
    page.goto(report.as_uri())
    page.wait_for_selector(".sankey .node-label")
    assert "Not known to services" in page.locator(".node-label").all_text_contents()
    assert {u.split(":", 1)[0] for u in recorder.urls} <= {"file", "data", "blob"}, recorder.urls


def test_data_page_uploads_builds_and_loads(fresh_app: RunningApp, page: Any) -> None:
    """An analyst uploads riverside's extracts, chooses its config and builds; the authority then appears."""
    from tests.browser.conftest import RIVERSIDE

    page, recorder = page
    page.goto(fresh_app.url + "/data")
    page.wait_for_selector("h1:has-text('Data')")
    assert "No authority is loaded yet" in page.inner_text("#data-summary")
    choose(page, "data-config", "riverside")
    page.set_input_files("#data-upload input[type=file]", [str(p) for p in RIVERSIDE])
    page.wait_for_selector("#data-files:has-text('Ready to build')")
    assert sorted(page.inner_text("#data-files").splitlines()[1:]) == sorted(p.name for p in RIVERSIDE)
    page.click("#data-build")
    page.wait_for_selector("#data-progress:has-text('Built and loaded.')", timeout=180_000)
    summary = page.inner_text("#data-summary")
    assert "riverside: data to 2025-03-31" in summary and "Superseded by a later return" in summary
    assert "riverside: data to 2025-03-31" in page.inner_text("header")
    page.goto(fresh_app.url + "/flows")
    page.wait_for_selector("#flows-graph .sankey")
    assert "Contact" in page.locator("#flows-graph .node-label").all_text_contents()
    assert recorder.hosts() == {f"127.0.0.1:{fresh_app.port}"}


def test_data_page_refuses_a_file_that_is_not_an_extract(fresh_app: RunningApp, page: Any, tmp_path: Any) -> None:
    page, _ = page
    bad = tmp_path / "returns.xlsx"
    bad.write_text("this is not a spreadsheet")
    page.goto(fresh_app.url + "/data")
    page.wait_for_selector("h1:has-text('Data')")
    page.set_input_files("#data-upload input[type=file]", [str(bad)])
    page.wait_for_selector("#data-files:has-text('its contents are not a .xlsx file')")
    assert "Traceback" not in page.inner_text("body")


def test_picture_export_png_and_svg(two_authorities: RunningApp, page: Any) -> None:
    """The camera button saves PNG or SVG drawn in the browser: the click sends no request anywhere."""
    page, recorder = page
    open_flows(page, two_authorities, "northgate")
    for fmt in ("png", "svg"):
        page.check(f"#flows-picture-format input[value='{fmt}']")
        page.wait_for_function("fmt => document.querySelector('#flows-graph .js-plotly-plot')._context"
                               ".toImageButtonOptions.format === fmt", arg=fmt, timeout=10_000)
        page.hover("#flows-graph")
        asked = len(recorder.urls)
        with page.expect_download() as picture:
            page.click("#flows-graph .modebar-btn[data-title^='Download plot']")
        assert [u for u in recorder.urls[asked:] if not u.startswith(("data:", "blob:"))] == []  # drawn in the browser
        assert picture.value.suggested_filename == f"care-journeys-quarterly-flows.{fmt}"
        saved = ARTIFACTS / f"quarterly-flows.{fmt}"
        picture.value.save_as(str(saved))
        head = saved.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in head
    assert recorder.hosts() == {f"127.0.0.1:{two_authorities.port}"}


def test_clicking_a_stage_narrows_to_children_who_passed_through_it(two_authorities: RunningApp, page: Any) -> None:
    page, _ = page
    open_flows(page, two_authorities, "northgate")
    total = "() => document.querySelector('#flows-graph .js-plotly-plot').data[0].node.customdata.length"
    before = page.evaluate(total)
    node = page.locator("#flows-graph .sankey-node", has=page.locator(".node-label", has_text="Residential care")).first
    node.locator(".node-rect").dispatch_event("click")  # what a mouse click on the node sends
    page.wait_for_selector("#shell-narrow-text:has-text('passed through: Residential care')")
    page.wait_for_function(f"before => ({total})() < before", arg=before)  # fewer stages once narrowed
    page.click("#shell-narrow-clear")
    page.wait_for_selector("#shell-narrow-clear", state="hidden")
    page.wait_for_function(f"before => ({total})() === before", arg=before)
