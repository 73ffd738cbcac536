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
    stages = AppState([]).stage_labels()
    assert stage_from_click({"points": [{"label": "Foster care: other carers", "pointNumber": 3}]}, stages) == "foster_other"
    assert stage_from_click({"points": [{"label": "Adopted"}]}, stages) is no_update  # an outcome, not a stage
    assert stage_from_click({"points": [{"label": None, "value": 12}]}, stages) is no_update  # a link
    assert stage_from_click(None, stages) is no_update


def test_table_view_has_headers_for_screen_readers() -> None:
    """The table is sent as Dash's wire format directly (quicker), the same JSON html.Table would give."""
    import json

    import pandas as pd
    from dash import html
    from plotly.utils import PlotlyJSONEncoder

    table = table_view(pd.DataFrame({"Children": ["12", "c"], "Stage name": ["x", "y"]}, index=["Referral", "Assessment"]),
                       "Caption", index_header="Stage")
    same = html.Table([html.Caption("Caption"),
                       html.Thead(html.Tr([html.Th("Stage", scope="col"), html.Th("Children", scope="col"),
                                           html.Th("Stage name", scope="col")])),
                       html.Tbody([html.Tr([html.Th("Referral", scope="row"), html.Td("12", className="num"),
                                            html.Td("x")]),
                                   html.Tr([html.Th("Assessment", scope="row"), html.Td("c", className="num"),
                                            html.Td("y")])])], className="data-table")
    assert json.loads(json.dumps(table, cls=PlotlyJSONEncoder)) == json.loads(json.dumps(same, cls=PlotlyJSONEncoder))


def test_requests_for_another_host_name_are_refused(client) -> None:
    """A page elsewhere cannot reach the app through DNS rebinding: the Host must be this computer."""
    assert client.get("/", headers={"Host": "attacker.example:8050"}).status_code == 403
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert client.get("/_dash-layout", headers={"Host": "localhost:8050"}).headers["Cache-Control"] == "no-store"


def test_build_refuses_a_config_or_files_the_server_did_not_offer(tmp_path) -> None:
    """Dash does not check a dropdown's value against its options: the server does."""
    state = AppState([])
    app = create_app(state)
    client = app.server.test_client()
    client.get("/")
    output = next(k for k in app.callback_map if k.startswith("..data-poll.disabled...data-progress.children"))
    body = {"output": output,
            "outputs": [{"id": "data-poll", "property": "disabled"},
                        {"id": "data-progress", "property": "children@" + output.split("@")[1].rstrip(".")}],
            "inputs": [{"id": "data-build", "property": "n_clicks", "value": 1}],
            "state": [{"id": "data-config", "property": "value", "value": "/etc/passwd"},
                      {"id": "data-inputs", "property": "data", "value": "made-up-token"}],
            "changedPropIds": ["data-build.n_clicks"]}
    answer = client.post("/_dash-update-component", json=body).get_json()
    assert "Choose a config from the list" in str(answer)
    assert not state.jobs
    token = state.hold_inputs([tmp_path / "x.csv"], tmp_path)
    assert state.held_inputs(token) == [tmp_path / "x.csv"]
    state.release_inputs(token)
    assert not tmp_path.exists() and state.held_inputs(token) == []
