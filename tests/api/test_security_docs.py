"""Issue 15, finding 12: the API viewer loads nothing from elsewhere and runs no inline
script."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def test_the_api_viewer_is_served_from_the_package_under_a_strict_csp(api: Api) -> None:
    page = api.client.get("/schema/swagger")
    assert page.status_code == 200
    html = page.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert not re.search(r"<script>(?!</script>)", html)  # no inline script
    csp = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src is not None and script_src.group(1) == "'self'"
    for src in re.findall(r"(?:src|href)='([^']+)'", html):
        asset = api.client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 0, src
    assert b"SwaggerUIBundle" in api.client.get("/schema/assets/swagger-ui-bundle.js").content
    assert api.client.get("/schema/assets/../../etc/passwd").status_code == 404
    assert api.client.get("/schema/assets/index.html").status_code == 404
    assert api.client.get("/schema/redoc").status_code == 404
    assert api.client.get("/schema/openapi.json").json()["info"]["title"] == "coop"
