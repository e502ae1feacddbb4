"""A coordinator's day in Chromium: log in, import a directory (and see a bad one refused), schedule a
hearing, compose a bilingual broadcast, check its phones and estimate, send it against the fake
Twilio and watch it reach done; a viewer who cannot send or edit; a POST without a CSRF token."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Stack
from tests.dashboard import ALL_NUMBERS, COORDINATOR, PEOPLE, VIEWER, number_forms

EN_TEXT = "City Council hearing on the welcoming resolution, Tuesday 6 pm: come and speak"
ES_TEXT = "Audiencia del Concejo sobre la resolución de bienvenida, el martes a las 6 pm: ven a hablar"


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _no_full_numbers(page: Page) -> None:
    html = page.content()
    for number in ALL_NUMBERS:
        for form in number_forms(number):
            assert form not in html, (page.url, form)


def test_a_coordinator_imports_schedules_composes_sends_and_watches_it_go_out(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    page = stack.page(browser)
    stack.login(page, COORDINATOR)
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#card-subscribers .big")).to_have_text(str(len(PEOPLE)))
    stack.shot(page, "overview")

    # A directory file: imported, with what it changed.
    good = _write(
        tmp_path,
        "good.yaml",
        {
            "version": 1,
            "jurisdictions": [
                {
                    "id": "ca-browser-town",
                    "name": "Browser Town",
                    "kind": "city",
                    "within": "ca-santa-clara-county",
                }
            ],
        },
    )
    page.get_by_role("link", name="Directory").click()
    page.get_by_role("link", name="Import a file").click()
    page.get_by_label("Directory file (YAML or JSON, version 1)").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-report")).to_contain_text("good.yaml was imported")
    stack.shot(page, "import-ok")
    # A bad one: refused, each problem by record and field, nothing changed.
    bad = _write(
        tmp_path,
        "bad.yaml",
        {
            "version": 1,
            "policies": [
                {
                    "id": "p-bad",
                    "jurisdiction": "ca-nowhere",
                    "kind": "sanctuary",
                    "status": "adopted",
                    "title": "x",
                    "summary": {"en": "x"},
                    "source_url": "not a url",
                    "verified_on": "2026-02-30",
                }
            ],
        },
    )
    page.get_by_label("Directory file (YAML or JSON, version 1)").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    problems = page.locator("#import-problems")
    expect(problems).to_contain_text("bad.yaml was refused: nothing was changed")
    rows = problems.locator("tbody tr")
    expect(rows).to_have_count(4)
    fields = sorted(rows.nth(i).locator("td").nth(1).inner_text() for i in range(4))
    assert fields == ["jurisdiction", "kind", "source_url", "verified_on"]
    expect(rows.first.locator("td").first).to_have_text("policies[0] (id 'p-bad')")
    stack.shot(page, "import-refused")

    # A hearing, its reminders shown in its own time zone.
    starts = (datetime.now() + timedelta(days=10)).replace(hour=18, minute=0, second=0, microsecond=0)
    page.get_by_role("link", name="Hearings").click()
    page.get_by_role("link", name="Schedule a hearing").click()
    page.get_by_label("Id", exact=True).fill("ca-san-jose-council-browser")
    page.get_by_label("Place (jurisdiction id)").fill("ca-san-jose")
    page.get_by_label("Body (who meets)").fill("San José City Council")
    page.locator("#f-title-en").fill("Welcoming resolution, second reading")
    page.locator("#f-title-es").fill("Resolución de bienvenida, segunda lectura")
    page.get_by_label("Starts (local time of the place)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Location", exact=True).fill("200 E Santa Clara St")
    page.get_by_role("button", name="Save the hearing").click()
    expect(page.locator("h1")).to_have_text("Welcoming resolution, second reading")
    expect(page.locator("#schedule-h")).to_have_text("Reminder schedule (America/Los_Angeles)")
    expect(page.locator("#schedule tbody tr")).to_have_count(3)
    expect(page.locator("#schedule tbody tr").first).to_contain_text("P7D")
    expect(page.locator("#schedule tbody tr").last).to_contain_text("4:00")  # PT2H before 6 pm: 4 pm local
    stack.shot(page, "hearing")

    # A bilingual broadcast: live counts, the phones, the estimate.
    page.get_by_role("link", name="Broadcasts").click()
    page.get_by_role("link", name="Compose a broadcast").first.click()
    page.get_by_label("Topic: who receives it").select_option("hearings")
    page.get_by_label("Place", exact=True).select_option("ca-san-jose")
    page.locator("#text-en").fill(EN_TEXT)
    page.locator("#text-es").fill(ES_TEXT)
    # "ó" is not in GSM-7: the Spanish text goes as UCS-2, 67 characters a segment.
    expect(page.locator("#count-es")).to_have_text("118 characters, 2 SMS segments (UCS-2)")
    expect(page.locator("#live-estimate")).to_contain_text(f"{len(PEOPLE)} recipients")
    page.get_by_role("button", name="Preview and estimate").click()
    expect(page.locator("#estimate-summary")).to_contain_text(f"{len(PEOPLE)} recipients")
    spanish_sms = page.locator("section.phone[data-language='es'][data-channel='sms'] .bubble")
    expect(spanish_sms).to_have_text(f"{ES_TEXT}\nResponde PARAR para salir.")
    expect(
        page.locator("section.phone[data-language='es'][data-channel='whatsapp'] .bubble")
    ).to_contain_text(ES_TEXT)
    english = page.locator("section.phone[data-language='en'][data-channel='sms'] .bubble")
    expect(english).to_contain_text(EN_TEXT)
    chinese = page.locator("section.phone[data-language='zh_Hans'][data-channel='sms']")
    expect(chinese).to_contain_text("no text in this language: the English one goes")
    stack.shot(page, "preview")
    # The same at a phone's width: nothing runs off the side.
    phone_page = stack.page(browser, width=375)
    stack.login(phone_page, COORDINATOR)
    phone_page.goto(f"{stack.url}/dashboard/broadcasts/new")
    phone_page.locator("#text-en").fill(EN_TEXT)
    phone_page.locator("#text-es").fill(ES_TEXT)
    phone_page.get_by_role("button", name="Preview and estimate").click()
    expect(phone_page.locator("section.phone[data-language='es'][data-channel='sms']")).to_be_visible()
    stack.shot(phone_page, "preview-phone-width")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    phone_page.goto(f"{stack.url}/dashboard/")
    stack.shot(phone_page, "overview-phone-width")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    phone_page.context.close()

    # Send, after a confirmation, and watch it go.
    page.get_by_role("button", name="Send…").click()
    expect(page.locator("h1")).to_have_text("Send this broadcast?")
    stack.shot(page, "confirm")
    page.locator("#confirm-button").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"Broadcast \d+"))
    expect(page.locator("#no-worker")).to_have_count(0)  # the worker is running
    expect(page.locator("#status")).to_have_text("done", timeout=60_000)
    expect(page.locator("#delivery-chart rect[data-key='skipped']")).to_have_attribute("data-value", "0")
    chart = page.locator("#delivery-chart")
    sent = int(chart.locator("rect[data-key='sent']").get_attribute("data-value") or 0)
    delivered = int(chart.locator("rect[data-key='delivered']").get_attribute("data-value") or 0)
    assert sent + delivered == len(PEOPLE)
    expect(page.locator("#settled")).to_contain_text(f"{len(PEOPLE)} of {len(PEOPLE)}")
    stack.shot(page, "sent")
    bodies = [m.body for m in stack.twilio.messages]
    assert sum(ES_TEXT in (b or "") for b in bodies) == 3 and sum(EN_TEXT in (b or "") for b in bodies) == 3
    _no_full_numbers(page)
    page.context.close()


def test_a_viewer_reads_but_cannot_send_or_edit(stack: Stack, browser: Browser) -> None:
    page = stack.page(browser)
    stack.login(page, VIEWER)
    expect(page.locator("h1")).to_have_text("Overview")
    page.get_by_role("link", name="Broadcasts").click()
    expect(page.get_by_role("link", name="Compose a broadcast")).to_have_count(0)
    response = page.goto(f"{stack.url}/dashboard/broadcasts/new")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("Your role does not allow this")
    stack.shot(page, "viewer-refused")
    page.goto(f"{stack.url}/dashboard/directory/jurisdictions/ca-san-jose")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_label("name *")).to_have_attribute("readonly", "")
    # Even a hand-made POST with the viewer's own valid token is refused.
    status = page.evaluate("""async () => {
        const token = document.querySelector("input[name=csrf_token]").value;
        const body = new URLSearchParams(
            {csrf_token: token, topic: "hearings", "text.en": "x", confirm: "yes"});
        return (await fetch("/dashboard/broadcasts", {method: "POST", body})).status;
    }""")
    assert status == 403
    edit = page.evaluate("""async () => {
        const token = document.querySelector("input[name=csrf_token]").value;
        const body = new URLSearchParams({csrf_token: token, name: "Renamed", kind: "city"});
        return (await fetch("/dashboard/directory/jurisdictions/ca-san-jose", {method: "POST", body})).status;
    }""")
    assert edit == 403
    for path in ("/dashboard/", "/dashboard/rsvps", "/dashboard/broadcasts", "/dashboard/hearings"):
        page.goto(stack.url + path)
        _no_full_numbers(page)
    page.context.close()


def test_a_post_without_a_csrf_token_is_refused(stack: Stack, browser: Browser) -> None:
    page = stack.page(browser)
    stack.login(page, COORDINATOR)
    page.goto(f"{stack.url}/dashboard/broadcasts/new")
    page.locator("#text-en").fill("This must never be sent")
    page.evaluate("document.querySelector('#compose input[name=csrf_token]').remove()")
    with page.expect_navigation():
        page.locator("#compose").evaluate(
            "form => { form.querySelector('[name=\"text.en\"]').form; "
            "const i = document.createElement('input'); i.type = 'hidden'; "
            "i.name = 'confirm'; i.value = 'yes'; form.appendChild(i); form.submit(); }"
        )
    expect(page.locator("h1")).to_have_text("400")
    stack.shot(page, "csrf-refused")
    assert not any("This must never be sent" in (m.body or "") for m in stack.twilio.messages)
    page.context.close()


def test_a_wrong_password_is_refused_in_the_browser(stack: Stack, browser: Browser) -> None:
    page = stack.page(browser)
    stack.login(page, COORDINATOR, "a wrong password entirely")
    expect(page.locator("#login-error")).to_have_text("That e-mail and password do not match an account.")
    stack.shot(page, "wrong-password")
    page.context.close()


def test_pages_work_without_javascript_and_every_field_has_a_label(stack: Stack, browser: Browser) -> None:
    page = stack.page(browser, javascript=False)
    stack.login(page, COORDINATOR)
    expect(page.locator("h1")).to_have_text("Overview")
    for path in (
        "/dashboard/",
        "/dashboard/directory",
        "/dashboard/directory/jurisdictions/ca-san-jose",
        "/dashboard/hearings/new",
        "/dashboard/broadcasts/new",
        "/dashboard/directory/import",
    ):
        page.goto(stack.url + path)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map(e => e.name || e.id)""")
        assert unlabelled == [], (path, unlabelled)
    page.goto(f"{stack.url}/dashboard/broadcasts/new")
    page.locator("#text-en").fill("Without scripts the preview still works")
    page.get_by_role("button", name="Preview and estimate").click()
    expect(page.locator("section.phone[data-language='en'][data-channel='sms'] .bubble")).to_contain_text(
        "Without scripts the preview still works"
    )
    expect(page.locator("#estimate-summary")).to_contain_text(f"{len(PEOPLE)} recipients")
    stack.shot(page, "no-javascript-preview")
    # The language switch works without scripts too, and is remembered.
    page.get_by_label("Language", exact=True).select_option("es")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("h1")).to_have_text("Redactar una difusión")
    # Remembered in the profile: another browser, signed in as the same user, reads Spanish.
    other = stack.page(browser)
    stack.login(other, COORDINATOR)
    expect(other.locator("h1")).to_have_text("Resumen")
    other.get_by_label("Idioma", exact=True).select_option("en")
    other.get_by_role("button", name="Cambiar idioma").click()
    expect(other.locator("h1")).to_have_text("Overview")
    other.context.close()
    page.context.close()


def test_the_phone_simulator_texts_puente_through_the_real_inbound_route(
    stack: Stack, browser: Browser
) -> None:
    page = stack.page(browser)
    stack.login(page, COORDINATOR)
    page.get_by_role("link", name="Phone simulator").click()
    page.get_by_label("Message", exact=True).fill("HELP")
    page.get_by_role("button", name="Send", exact=True).click()
    bubbles = page.locator("#conversation .bubble")
    expect(bubbles.first).to_have_text("HELP")
    expect(bubbles.nth(1)).to_contain_text("STOP")
    stack.shot(page, "simulator")
    page.context.close()
