"""The Dash app without a browser: security headers, local assets only, pages registered, callbacks thin."""

from __future__ import annotations

import re

import pytest

from journeys.selection import Selection
from journeys.ui import AppState, create_app
from journeys.ui.components import stage_from_click, table_view
from journeys.ui.shell import selection_from


@pytest.fixture(scope="module")
def client():
    app = create_app(AppState([]))
    return app.server.test_client()


def test_content_security_policy_names_no_other_host(client) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    sources = " ".join(policy.split(";"))
    assert not re.search(r"https?:|//|\*", sources), policy  # only 'self', hashes, data:/blob: for pictures
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_script_and_style_is_served_by_the_app(client) -> None:
    page = client.get("/flows").get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(ref.startswith("/") and not ref.startswith("//") for ref in references), references
    for ref in references:
        assert client.get(ref).status_code == 200, ref
    assert "fonts.googleapis" not in page and "cdn" not in page.lower()


def test_pages_are_registered(client) -> None:
    import dash
    paths = {page["path"] for page in dash.page_registry.values()}
    assert {"/", "/journeys", "/flows", "/data"} <= paths


def test_shell_values_become_a_selection() -> None:
    chosen = selection_from(["northgate"], ["Under 1"], [], None, [], ["N1 Abuse or neglect"], "foster_other")
    assert chosen == Selection(("northgate",), {"age_band": ("Under 1",), "need_code": ("N1 Abuse or neglect",)},
                               "foster_other")


def test_clicking_a_stage_narrows_but_a_link_or_outcome_does_not() -> None:
    from dash import no_update
    stages = ["referral", "foster_other"]
    assert stage_from_click({"points": [{"customdata": ["foster_other", "12"]}]}, stages) == "foster_other"
    assert stage_from_click({"points": [{"customdata": ["adopted", "c"]}]}, stages) is no_update
    assert stage_from_click(None, stages) is no_update


def test_table_view_has_headers_for_screen_readers() -> None:
    import pandas as pd
    table = table_view(pd.DataFrame({"Children": ["12", "c"]}, index=["Referral", "Assessment"]), "Caption",
                       index_header="Stage")
    head, body = table.children[1], table.children[2]
    assert table.children[0].children == "Caption"
    assert [th.scope for th in head.children.children] == ["col", "col"]
    assert body.children[1].children[0].scope == "row" and body.children[1].children[1].children == "c"
