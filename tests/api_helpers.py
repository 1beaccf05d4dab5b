"""Helpers shared by the API tests."""
from __future__ import annotations


def get(client, url, status=200):
    """GET ``url`` and return the JSON body, asserting the status (the body is shown when it differs)."""
    response = client.get(url)
    assert response.status_code == status, response.get_json()
    return response.get_json()
