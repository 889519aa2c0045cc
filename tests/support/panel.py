"""The staff panel: the test users' password, signing in through the login form, the CSRF field."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

PASSWORD = "una-clave-larga-123"


def engine(app: Flask) -> Any:
    return app.extensions["m360.sessions"].kw["bind"]


def csrf(page: bytes) -> str:
    found = re.search(rb'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1).decode()


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/panel/login")
    response = client.post("/panel/login", data={"username": username, "password": PASSWORD, "csrf": csrf(page.data)})
    assert response.status_code == 302, response.data
    return client
