"""The dashboard through Flask's test client, on real databases: access, CSRF, login throttling,
masked numbers, the language choice, directory import. The browser tests (tests/browser/) drive
the same app in Chromium."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from dashboard.security import is_public, required_role
from puente.accounts.models import AuditEntry, User
from puente.accounts.roles import Role
from puente.accounts.service import LIMIT
from puente.broadcasts.models import Broadcast
from puente.directory.store import import_directory, stored_records
from puente.migrate import upgrade
from puente.services import Services
from tests.conftest import make_settings
from tests.dashboard import (
    ADMIN,
    ALL_NUMBERS,
    COORDINATOR,
    PASSWORD,
    PEOPLE,
    VIEWER,
    add_people,
    add_rsvp_alert,
    add_users,
    csrf_from,
    number_forms,
)
from webhooks import create_app

ROLE_USERS = {Role.VIEWER: VIEWER, Role.COORDINATOR: COORDINATOR, Role.ADMIN: ADMIN}
PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.language", "dashboard.static"}


@dataclass
class Dash:
    app: Flask
    services: Services

    def client(self, address: str = "192.0.2.10") -> FlaskClient:
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    def attempt(
        self, email: str, password: str, address: str = "192.0.2.10", client: FlaskClient | None = None
    ) -> Any:
        client = client or self.client(address)
        token = csrf_from(client.get("/dashboard/login").get_data(as_text=True))
        return client.post(
            "/dashboard/login",
            data={"email": email, "password": password, "csrf_token": token},
            environ_base={"REMOTE_ADDR": address},
        )

    def login(self, email: str, address: str = "192.0.2.10") -> FlaskClient:
        client = self.client(address)
        response = self.attempt(email, PASSWORD, address, client)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client


def token(client: FlaskClient) -> str:
    return csrf_from(client.get("/dashboard/").get_data(as_text=True))


def build(database_url: str, tmp_path: Path, **overrides: Any) -> Dash:
    upgrade(database_url)
    values: dict[str, Any] = {"state_dir": str(tmp_path / "var"), "env": "development", "quiet_hours": "off"}
    settings = make_settings(database_url, **{**values, **overrides})
    app = create_app(settings)
    services: Services = app.extensions["puente"]
    with services.database.session() as session:
        import_directory(session, yaml.safe_load(settings.sample_directory.read_text()))
    add_users(services)
    return Dash(app, services)


@pytest.fixture
def dash(sqlite_url: str, tmp_path: Path) -> Iterator[Dash]:
    made = build(sqlite_url, tmp_path)
    yield made
    made.services.close()


@pytest.fixture
def dash_both(database_url: str, tmp_path: Path) -> Iterator[Dash]:
    made = build(database_url, tmp_path)
    yield made
    made.services.close()


# --- the contract -----------------------------------------------------------------------------------


def test_without_a_session_the_dashboard_redirects_to_a_login_form_with_email_password_and_csrf(
    dash: Dash,
) -> None:
    client = dash.client()
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'<input[^>]*type="email"[^>]*name="email"', page)
    assert re.search(r'<input[^>]*type="password"[^>]*name="password"', page)
    assert csrf_from(page)


def test_after_login_the_overview_shows_subscribers_opt_outs_and_messages(dash_both: Dash) -> None:
    add_people(dash_both.services)
    page = dash_both.login(VIEWER).get("/dashboard/").get_data(as_text=True)
    assert re.search(r'id="card-subscribers"><span class="big">6</span>', page)
    assert 'id="card-optouts"' in page and 'id="card-inbound"' in page and 'id="card-outbound"' in page
    assert '<svg class="chart" id="by-language"' in page and "Español: 3" in page


def compose_form(csrf: str, **extra: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "topic": "hearings",
        "jurisdiction": "ca-san-jose",
        "text.en": "Council hearing Tuesday 6 pm",
        "text.es": "Audiencia del concejo el martes a las 6 pm",
        **extra,
    }
    if form.get("confirm") == "yes":  # what the confirmation page carries: one per confirmation
        form.setdefault("submission", secrets.token_hex(16))
    return form


def test_post_broadcasts_creates_only_with_a_valid_csrf_token_and_the_coordinator_role(
    dash_both: Dash,
) -> None:
    add_people(dash_both.services)
    coordinator = dash_both.login(COORDINATOR)
    csrf = token(coordinator)
    assert coordinator.post("/dashboard/broadcasts", data=compose_form("", confirm="yes")).status_code == 400
    assert (
        coordinator.post("/dashboard/broadcasts", data=compose_form("0" * 64, confirm="yes")).status_code
        == 400
    )
    no_token = compose_form(csrf, confirm="yes")
    del no_token["csrf_token"]
    assert coordinator.post("/dashboard/broadcasts", data=no_token).status_code == 400
    viewer = dash_both.login(VIEWER)
    assert (
        viewer.post("/dashboard/broadcasts", data=compose_form(token(viewer), confirm="yes")).status_code
        == 403
    )
    # Another session's token is no token for this one.
    assert viewer.post("/dashboard/broadcasts", data=compose_form(csrf, confirm="yes")).status_code == 400
    with dash_both.services.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0

    confirm_page = coordinator.post("/dashboard/broadcasts", data=compose_form(csrf))
    assert confirm_page.status_code == 200 and 'name="confirm" value="yes"' in confirm_page.get_data(
        as_text=True
    )
    created = coordinator.post("/dashboard/broadcasts", data=compose_form(csrf, confirm="yes"))
    assert created.status_code == 303
    with dash_both.services.database.session() as session:
        [broadcast] = session.scalars(select(Broadcast))
        assert broadcast.texts == {
            "en": "Council hearing Tuesday 6 pm",
            "es": "Audiencia del concejo el martes a las 6 pm",
        }
        assert broadcast.recipients == len(PEOPLE)
        assert created.headers["Location"].endswith(f"/dashboard/broadcasts/{broadcast.id}")
        audited = session.scalar(select(AuditEntry).where(AuditEntry.action == "broadcast_created"))
        assert audited is not None and audited.actor == COORDINATOR


# --- every route checks its role -----------------------------------------------------------------------


def _url(rule: Any, values: dict[str, Any]) -> str:
    path = str(rule.rule)
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values[name]), path)
    return path


def test_every_dashboard_route_refuses_anonymous_users_and_checks_its_role(dash: Dash) -> None:
    ids = add_people(dash.services)
    alert = add_rsvp_alert(dash.services, ids)
    with dash.services.database.session() as session:
        hearing = next(iter(stored_records(session)["hearings"]))
    values = {
        "section": "jurisdictions",
        "record_id": "ca-san-jose",
        "hearing_id": hearing,
        "broadcast_id": alert,
        "contact_id": ids[0],
        "user_id": 9999,
        "filename": "dashboard.css",
    }
    clients = {role: dash.login(email) for role, email in ROLE_USERS.items()}
    tokens = {role: token(client) for role, client in clients.items()}
    rules = [r for r in dash.app.url_map.iter_rules() if str(r.rule).startswith("/dashboard")]
    assert len(rules) >= 30
    public = {r.endpoint for r in rules if is_public(dash.app.view_functions[r.endpoint])}
    assert public | {"dashboard.static"} == PUBLIC_ENDPOINTS
    checked = 0
    for rule in rules:
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        role = required_role(dash.app.view_functions[rule.endpoint])
        assert role is not None, f"{rule.endpoint} declares no role"
        url = _url(rule, values)
        for method in sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"}):
            anonymous = dash.client().open(url, method=method, data={})
            assert anonymous.status_code == 302, (rule.endpoint, method, anonymous.status_code)
            assert anonymous.headers["Location"].startswith("/dashboard/login"), rule.endpoint
            for other, client in clients.items():
                if rule.endpoint == "dashboard.logout":
                    continue  # below, with a session of its own
                data = {"csrf_token": tokens[other]} if method == "POST" else None
                answer = client.open(url, method=method, data=data)
                if other.allows(role):
                    assert answer.status_code not in (302, 400, 403, 500) or (
                        answer.status_code == 302 and "/login" not in answer.headers["Location"]
                    ), (rule.endpoint, method, other, answer.status_code)
                else:
                    assert answer.status_code == 403, (rule.endpoint, method, other, answer.status_code)
                checked += 1
    assert checked >= 90
    viewer = dash.login(VIEWER)
    assert viewer.post("/dashboard/logout", data={"csrf_token": token(viewer)}).status_code == 302
    assert viewer.get("/dashboard/").headers["Location"].startswith("/dashboard/login")


def test_a_route_without_a_declared_role_is_refused_to_everyone(sqlite_url: str, tmp_path: Path) -> None:
    made = build(sqlite_url, tmp_path)

    def undeclared() -> str:
        return "open"

    # Named under the blueprint, so the blueprint's guard runs for it, as for a route added to it.
    made.app.add_url_rule("/dashboard/undeclared", "dashboard.undeclared", undeclared)
    assert made.client().get("/dashboard/undeclared").status_code == 302
    for email in (VIEWER, ADMIN):
        assert made.login(email).get("/dashboard/undeclared").status_code == 403
    made.services.close()


# --- logins ---------------------------------------------------------------------------------------------


def test_a_wrong_password_is_refused_and_audited_without_the_typed_email(dash: Dash) -> None:
    wrong = dash.attempt(COORDINATOR, "not the password at all")
    assert wrong.status_code == 401
    assert "do not match an account" in wrong.get_data(as_text=True)
    assert dash.client().get("/dashboard/").status_code == 302
    unknown = dash.attempt("my-password-typed-as-email@example.org", PASSWORD)
    assert unknown.status_code == 401
    with dash.services.database.session() as session:
        actors = [
            e.actor for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed"))
        ]
    assert actors == [COORDINATOR, "unknown account"]


def test_the_eleventh_rapid_attempt_on_an_account_is_throttled_even_with_the_right_password(
    dash: Dash,
) -> None:
    for attempt in range(LIMIT):
        # From ten addresses: the account's own count is what stops the eleventh.
        assert (
            dash.attempt(COORDINATOR, f"wrong {attempt}", address=f"198.51.100.{attempt}").status_code == 401
        )
    throttled = dash.attempt(COORDINATOR, PASSWORD, address="198.51.100.99")
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.get_data(as_text=True)
    # Another account from the same addresses is not affected.
    assert dash.attempt(VIEWER, PASSWORD, address="198.51.100.1").status_code == 302


def test_the_eleventh_rapid_attempt_from_an_address_is_throttled_whatever_the_account(dash: Dash) -> None:
    for attempt in range(LIMIT):
        assert dash.attempt(f"guess{attempt}@example.org", "guess", address="203.0.113.7").status_code == 401
    assert dash.attempt(ADMIN, PASSWORD, address="203.0.113.7").status_code == 429
    assert dash.attempt(ADMIN, PASSWORD, address="203.0.113.8").status_code == 302


def test_throttling_holds_across_app_processes_sharing_the_database(dash: Dash, tmp_path: Path) -> None:
    """Two gunicorn workers are two apps on one database: the count is the database's."""
    other = Dash(create_app(dash.services.settings), dash.services)
    for attempt in range(LIMIT // 2):
        assert dash.attempt(COORDINATOR, f"wrong {attempt}").status_code == 401
        assert other.attempt(COORDINATOR, f"wrong again {attempt}").status_code == 401
    assert other.attempt(COORDINATOR, PASSWORD).status_code == 429


def test_session_cookies_are_httponly_lax_and_secure_behind_https(
    dash: Dash, sqlite_url: str, tmp_path: Path
) -> None:
    response = dash.attempt(VIEWER, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = Dash(
        create_app(dash.services.settings.with_overrides(public_base_url="https://puente.example.org")),
        dash.services,
    )
    cookie = secure.attempt(VIEWER, PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


# --- numbers ------------------------------------------------------------------------------------------------


def _pages(dash: Dash, alert: int, hearing: str) -> list[str]:
    return [
        "/dashboard/",
        "/dashboard/directory",
        "/dashboard/hearings",
        f"/dashboard/hearings/{hearing}",
        "/dashboard/broadcasts",
        "/dashboard/broadcasts/new",
        f"/dashboard/broadcasts/{alert}",
        f"/dashboard/broadcasts/{alert}/progress.json",
        "/dashboard/rsvps",
        f"/dashboard/rsvps/{alert}",
        "/dashboard/simulator",
        "/dashboard/users",
        "/dashboard/audit",
    ]


def test_no_page_shows_a_non_admin_a_full_number_and_an_admins_reveal_is_audited(dash_both: Dash) -> None:
    ids = add_people(dash_both.services)
    alert = add_rsvp_alert(dash_both.services, ids)
    with dash_both.services.database.session() as session:
        hearing = next(iter(stored_records(session)["hearings"]))
    coordinator = dash_both.login(COORDINATOR)
    # A test send, so that the number typed appears in what the pages could show.
    test = coordinator.post(
        "/dashboard/broadcasts/test",
        data=compose_form(token(coordinator), test_to=ALL_NUMBERS[-1], test_language="es"),
    )
    assert test.status_code == 200 and "+1 ••• ••• 0170" in test.get_data(as_text=True)
    for email in (VIEWER, COORDINATOR):
        client = dash_both.login(email)
        seen = 0
        for path in _pages(dash_both, alert, hearing):
            response = client.get(path)
            if response.status_code == 403:
                continue
            assert response.status_code == 200, (path, response.status_code)
            html = response.get_data(as_text=True)
            for number in ALL_NUMBERS:
                for form in number_forms(number):
                    assert form not in html, (email, path, form)
            seen += 1
        assert seen >= 9
        answers = client.get(f"/dashboard/rsvps/{alert}").get_data(as_text=True)
        assert answers.count("+1 ••• ••• 01") == 3 and "+1 ••• ••• 0157" in answers
        assert "Reveal" not in answers
        assert (
            client.post(f"/dashboard/reveal/{ids[0]}", data={"csrf_token": token(client)}).status_code == 403
        )
    admin = dash_both.login(ADMIN)
    revealed = admin.post(f"/dashboard/reveal/{ids[0]}", data={"csrf_token": token(admin)})
    assert revealed.status_code == 200 and PEOPLE[0][0] in revealed.get_data(as_text=True)
    with dash_both.services.database.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "number_revealed"))
        assert entry is not None and entry.actor == ADMIN and entry.target == f"contact {ids[0]}"
        for stored in session.scalars(select(AuditEntry)):
            assert not any(n[2:] in f"{stored.target} {stored.detail}" for n in ALL_NUMBERS)


# --- language -----------------------------------------------------------------------------------------------


def test_the_interface_language_is_remembered_in_a_cookie_then_in_the_profile(dash: Dash) -> None:
    client = dash.client()
    login = client.get("/dashboard/login").get_data(as_text=True)
    assert "Sign in to the Puente dashboard" in login
    client.post(
        "/dashboard/language", data={"lang": "es", "csrf_token": csrf_from(login), "next": "/dashboard/login"}
    )
    page = client.get("/dashboard/login").get_data(as_text=True)
    assert "Inicie sesión en el panel de Puente" in page and '<html lang="es">' in page
    token_es = csrf_from(page)
    client.post("/dashboard/login", data={"email": VIEWER, "password": PASSWORD, "csrf_token": token_es})
    client.post(
        "/dashboard/language", data={"lang": "es", "csrf_token": token(client), "next": "/dashboard/"}
    )
    with dash.services.database.session() as session:
        assert session.scalar(select(User.language).where(User.email == VIEWER)) == "es"
    fresh = dash.login(VIEWER)  # another browser, no cookie: the profile says Spanish
    assert "Resumen" in fresh.get("/dashboard/").get_data(as_text=True)
    browser_es = dash.client()
    page = browser_es.get("/dashboard/login", headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(
        as_text=True
    )
    assert "Inicie sesión" in page


# --- the directory ------------------------------------------------------------------------------------------


def test_a_directory_import_reports_changes_and_a_bad_file_is_refused_by_record_and_field(
    dash: Dash, tmp_path: Path
) -> None:
    client = dash.login(COORDINATOR)
    good = {
        "version": 1,
        "jurisdictions": [
            {"id": "ca-test-town", "name": "Test Town", "kind": "city", "within": "ca-santa-clara-county"}
        ],
    }
    answer = client.post(
        "/dashboard/directory/import",
        content_type="multipart/form-data",
        data={"csrf_token": token(client), "file": (_file(tmp_path, "good.yaml", good), "good.yaml")},
    )
    assert answer.status_code == 200 and 'id="import-report"' in answer.get_data(as_text=True)
    bad = {
        "version": 1,
        "policies": [
            {
                "id": "bad-policy",
                "jurisdiction": "nowhere",
                "kind": "sanctuary",
                "status": "adopted",
                "title": "x",
                "summary": {"en": "x"},
                "source_url": "https://example.org",
                "verified_on": "2026-01-01",
            }
        ],
    }
    refused = client.post(
        "/dashboard/directory/import",
        content_type="multipart/form-data",
        data={"csrf_token": token(client), "file": (_file(tmp_path, "bad.yaml", bad), "bad.yaml")},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "policies[0] (id &#39;bad-policy&#39;)" in html
    assert "<code>jurisdiction</code>" in html and "<code>kind</code>" in html
    with dash.services.database.session() as session:
        records = stored_records(session)
        assert "ca-test-town" in records["jurisdictions"] and "bad-policy" not in records["policies"]
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["directory_imported", "directory_import_refused"]


def test_an_edit_goes_through_the_directorys_validation(dash: Dash) -> None:
    client = dash.login(COORDINATOR)
    form = client.get("/dashboard/directory/jurisdictions/ca-san-jose").get_data(as_text=True)
    assert "survives a later import of the same file only where the file leaves that field unchanged" in form
    refused = client.post(
        "/dashboard/directory/jurisdictions/ca-san-jose",
        data={
            "csrf_token": token(client),
            "name": "San José",
            "kind": "city",
            "within": "ca-santa-clara-county",
            "zip_codes": "9511",
        },
    )
    assert refused.status_code == 422 and "is not a 5-digit ZIP code" in refused.get_data(as_text=True)
    saved = client.post(
        "/dashboard/directory/jurisdictions/ca-san-jose",
        data={
            "csrf_token": token(client),
            "name": "San José",
            "kind": "city",
            "within": "ca-santa-clara-county",
            "aliases": "SJ, San Jose",
            "timezone": "America/Los_Angeles",
        },
    )
    assert saved.status_code == 302
    with dash.services.database.session() as session:
        assert stored_records(session)["jurisdictions"]["ca-san-jose"]["aliases"] == ["SJ", "San Jose"]


def _file(tmp_path: Path, name: str, data: dict[str, Any]) -> Any:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path.open("rb")


def test_a_coordinator_cancels_a_broadcast_before_it_has_gone(dash: Dash) -> None:
    add_people(dash.services)
    client = dash.login(COORDINATOR)
    csrf = token(client)
    created = client.post(
        "/dashboard/broadcasts", data=compose_form(csrf, confirm="yes", at="2099-01-05T10:00")
    )
    assert created.status_code == 303
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'id="cancel-button"' in page and 'id="refresh"' in page  # the no-JS refresh link
    assert 'id="no-worker"' in page  # no worker runs here: the page says nothing will go out
    broadcast_id = int(created.headers["Location"].rsplit("/", 1)[1])
    progress = client.get(f"/dashboard/broadcasts/{broadcast_id}/progress.json").get_json()
    assert progress["status"] == "scheduled" and progress["finished"] is False and "<svg" in progress["chart"]
    assert (
        client.post(f"/dashboard/broadcasts/{broadcast_id}/cancel", data={"csrf_token": csrf}).status_code
        == 303
    )
    progress = client.get(f"/dashboard/broadcasts/{broadcast_id}/progress.json").get_json()
    assert progress["status"] == "cancelled" and progress["finished"] is True
    with dash.services.database.session() as session:
        assert session.scalar(
            select(AuditEntry.target).where(AuditEntry.action == "broadcast_cancelled")
        ) == (f"broadcast {broadcast_id}")


def test_the_phone_simulator_exists_only_in_development(sqlite_url: str, tmp_path: Path) -> None:
    production = build(sqlite_url, tmp_path, env="production")
    client = production.login(COORDINATOR)
    assert client.get("/dashboard/simulator").status_code == 404
    assert "Phone simulator" not in client.get("/dashboard/").get_data(as_text=True)
    production.services.close()


def test_a_confirmation_sent_twice_makes_one_broadcast(dash_both: Dash) -> None:
    """A double click, or the browser resubmitting the page: one broadcast, and the second
    answer says so and leads to it."""
    add_people(dash_both.services)
    coordinator = dash_both.login(COORDINATOR)
    form = compose_form(token(coordinator), confirm="yes")
    first = coordinator.post("/dashboard/broadcasts", data=form)
    second = coordinator.post("/dashboard/broadcasts", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with dash_both.services.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 1
    page = coordinator.get(second.headers["Location"]).get_data(as_text=True)
    assert "was already queued: it was not sent twice" in page
    # A confirmation without its one-time token is refused, never sent.
    del form["submission"]
    assert coordinator.post("/dashboard/broadcasts", data=form).status_code == 400
