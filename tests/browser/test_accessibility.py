"""WCAG 2.2 AA in a real browser: axe-core checks every page once its charts and tables are drawn.

axe-core (bundled by axe-playwright-python, nothing fetched) is the automated checker GOV.UK uses;
it finds what a machine can: names, labels, contrast, ARIA, structure. The few things it is told
to skip are Dash's own markup; the tests at the end check by hand what those skips would hide.
Keyboard order is in test_app.py, the colour-blind-safe palette in tests/test_palette.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import RunningApp

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

#: Dash-generated markup that we cannot change through Dash's props; each is checked by hand below.
DASH_MARKUP = [
    # Dash 4's dropdown puts an aria-hidden, focusable <input> before its button so that Safari can Tab to it;
    # on focus it hands focus straight to the button, which is what a user meets (aria-hidden-focus).
    ".dash-dropdown-focus-target",
    # Dash 4's RadioItems and Checklist draw a role=listbox with no name holding <label role=option> around native
    # radios and checkboxes (aria-input-field-name, nested-interactive); the native inputs inside are named by
    # their labels and sit in a named group.
    ".dash-options-list",
]

#: What each page must have drawn before it is checked (its charts, and its tables once the callbacks answer).
READY = {
    "/": ["#overview-table table"],
    "/journeys": ["#journeys-graph .sankey", "#journeys-table table"],
    "/flows": ["#flows-graph .sankey", "#flows-table table", "#flows-stages-table table"],
    "/data": ["#data-summary table"],
}


def axe_report(page: Any) -> str:
    """axe's readable report (rule, target, message) of the WCAG 2.2 AA violations on the page now; '' if none."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context={"exclude": DASH_MARKUP},
                        options={"runOnly": {"type": "tag", "values": WCAG_AA}, "resultTypes": ["violations"]})
    return results.generate_report() if results.violations_count else ""


def assert_wcag_aa(page: Any, where: str) -> None:
    """No WCAG 2.2 AA violation on the page now; the failure names where and lists axe's report."""
    report = axe_report(page)
    assert report == "", f"{where}:\n{report}"


def open_every_table_view(page: Any) -> int:
    """Open every closed <details> (each chart's table view, the data page's per-file counts); how many it opened."""
    return int(page.evaluate("() => { const closed = [...document.querySelectorAll('details:not([open])')];"
                             " closed.forEach(d => { d.open = true; }); return closed.length; }"))


def open_page(page: Any, app: RunningApp, path: str) -> None:
    page.goto(app.url + path)
    for selector in READY[path]:
        page.wait_for_selector(selector, state="attached", timeout=60_000)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(("path", "table_views"), [("/", 0), ("/journeys", 1), ("/flows", 2), ("/data", 3)])
def test_page_meets_wcag_aa(two_authorities: RunningApp, page: Any, path: str, table_views: int) -> None:
    """Each page as it opens, then with every table view open (they start closed, so axe would skip them)."""
    page, _ = page
    open_page(page, two_authorities, path)
    assert_wcag_aa(page, f"{path} as it opens")
    assert open_every_table_view(page) == table_views
    assert_wcag_aa(page, f"{path} with its table views open")


def test_flows_panels_meet_wcag_aa(two_authorities: RunningApp, page: Any) -> None:
    """The year-before table and the trends, each as it is chosen below the flows."""
    page, _ = page
    open_page(page, two_authorities, "/flows")
    for name, ready in (("The same quarter a year before", ["#flows-yoy-table table"]),
                        ("Trends over every quarter", ["#flows-trends-graph .scatterlayer",
                                                       "#flows-trends-table table"])):
        page.get_by_role("radio", name=name, exact=True).check()
        for selector in ready:
            page.wait_for_selector(selector, state="attached", timeout=60_000)
        page.wait_for_load_state("networkidle")
        assert page.locator("#flows-panel-stages").is_hidden()
        open_every_table_view(page)
        assert_wcag_aa(page, f"/flows showing {name}")


@pytest.mark.parametrize("path", list(READY))
def test_empty_page_meets_wcag_aa(empty_app: RunningApp, page: Any, path: str) -> None:
    page, _ = page
    page.goto(empty_app.url + path)
    page.wait_for_selector("h1:has-text('Data')" if path == "/data" else ".empty-state")
    page.wait_for_load_state("networkidle")
    assert_wcag_aa(page, f"{path} with no data loaded")


def test_dropdowns_are_named_by_their_labels_take_focus_and_open_cleanly(two_authorities: RunningApp, page: Any) -> None:
    """What the skipped focus target would hide: Tab lands on the dropdown's button, in a group named by its label."""
    page, _ = page
    page.goto(two_authorities.url + "/flows")
    page.wait_for_selector("#flows-graph .sankey")
    page.get_by_role("radio", name="Trends over every quarter", exact=True).check()  # shows 'Trend of'
    page.wait_for_load_state("networkidle")
    for control, label in (("filter-authority", "Authority"), ("filter-sex", "Sex"), ("flows-period", "Quarter"),
                           ("flows-trend-measure", "Trend of")):
        group = page.get_by_role("group", name=label, exact=True)
        assert group.count() == 1 and group.locator(f"button#{control}").count() == 1, control
    page.focus("#flows-play")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.id") == "flows-period"
    page.click("#filter-authority")
    page.wait_for_selector(".dash-dropdown-content .dash-dropdown-option")
    assert_wcag_aa(page, "/flows with the authority list open")


def test_radios_and_checkboxes_are_named(two_authorities: RunningApp, page: Any) -> None:
    """What the skipped option lists would hide: each native input has a name, and the picture choice a legend."""
    page, _ = page
    page.goto(two_authorities.url + "/journeys")
    page.wait_for_selector("#journeys-truncated input", state="attached")
    formats = page.get_by_role("group", name="Picture format", exact=True)
    assert formats.count() == 1
    assert [formats.get_by_role("radio", name=n, exact=True).count() for n in ("PNG", "SVG")] == [1, 1]
    truncated = page.get_by_role("checkbox", name="Include journeys already under way when the data begins", exact=True)
    assert truncated.count() == 1 and not truncated.is_checked()


def test_the_file_input_is_labelled_focusable_and_opens_one_chooser(empty_app: RunningApp, page: Any) -> None:
    page, _ = page
    page.goto(empty_app.url + "/data")
    page.wait_for_selector("#data-upload input[type=file]", state="attached")
    files = page.get_by_label("Extract files (.csv, .xlsx, .xml, .parquet; up to 200 MB each)")
    assert files.count() == 1 and files.get_attribute("type") == "file"
    page.focus("details > summary")
    page.keyboard.press("Tab")  # the closed details hides its inputs: the next stop is the file input
    assert page.evaluate("() => document.activeElement.type") == "file"
    assert page.eval_on_selector(".upload", "e => getComputedStyle(e).outlineStyle") == "solid"  # focus is shown
    choosers: list[object] = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.click(".upload")
    page.wait_for_timeout(500)
    assert len(choosers) == 1
