"""WhatsApp templates: the file, its checks, the lookup by purpose and language, rendering."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from puente.broadcasts.templates import (
    MissingTemplateField,
    Template,
    TemplateFileError,
    TemplatePurpose,
    Templates,
    load_templates,
)
from puente.config import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "data" / "whatsapp-templates.example.yml"
SID_ES = "HX0123456789abcdef0123456789abcdef"
SID_ZH = "HXfedcba9876543210fedcba9876543210"


def record(purpose: str = "reminder", language: str = "es", content_sid: str = SID_ES,
           variables: Any = None) -> dict[str, Any]:
    return {"purpose": purpose, "language": language, "content_sid": content_sid,
            "variables": {"1": "title", "2": "when"} if variables is None else variables}


def write(path: Path, *records: dict[str, Any], version: Any = 1) -> Path:
    path.write_text(yaml.safe_dump({"version": version, "templates": list(records)}, allow_unicode=True))
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(TemplateFileError) as raised:
        load_templates(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


# --- the file -----------------------------------------------------------------------------------------


def test_no_file_means_no_templates() -> None:
    templates = load_templates(None)
    assert len(templates) == 0
    assert templates.find("reminder", "es") is None


def test_the_example_file_loads_with_every_purpose_in_english_and_spanish() -> None:
    templates = load_templates(EXAMPLE)
    assert len(templates) == 8
    for purpose in TemplatePurpose:
        for language in ("en", "es"):
            found = templates.find(purpose, language)
            assert found is not None and found.content_sid.startswith("HX000")


def test_a_file_loads_with_numbers_or_strings_as_variable_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text(
        "version: 1\ntemplates:\n"
        f"  - {{purpose: reminder, language: es, content_sid: {SID_ES},\n"
        "      variables: {1: title, '2': when}}\n"
        f"  - {{purpose: notice, language: zh, content_sid: {SID_ZH}}}\n"
    )
    templates = load_templates(path)
    reminder = templates.find("reminder", "es")
    assert reminder == Template("reminder", "es", SID_ES, {"1": "title", "2": "when"})
    notice = templates.find("notice", "zh")
    assert notice is not None and notice.variables == {}


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    message = problems_of(tmp_path / "nowhere.yml")
    assert "does not exist" in message and "WHATSAPP_TEMPLATES_FILE" in message
    assert "is not a file" in problems_of(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\ntemplates: [\n", "is not valid YAML (line 3"),
        ("- 1\n- 2\n", "is not a mapping with version: 1 and templates"),
        ("", "is not a mapping"),
        ("version: 2\ntemplates: []\n", "field 'version': version 2; this Puente reads version 1"),
        ("templates: []\n", "field 'version': no version"),
        ("version: 1\n", "field 'templates': is required, a list of templates"),
        ("version: 1\ntemplates: []\ntemplate: []\n", "unknown key 'template'"),
        ("version: 1\ntemplates:\n  - just text\n", "templates[0]: is not a mapping"),
    ],
)
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.yml"
    path.write_text(text)
    assert expected in problems_of(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_bytes("version: 1\ntemplates: []\n# Recordatorio en español\n".encode("latin-1"))
    assert "is not UTF-8 text" in problems_of(path)


def test_an_empty_list_is_a_valid_file_with_no_templates(tmp_path: Path) -> None:
    assert len(load_templates(write(tmp_path / "t.yml"))) == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"purpose": "party"}, "templates[0]: field 'purpose': 'party' is not one of broadcast, mobiliz"),
        ({"purpose": None}, "templates[0]: field 'purpose': is required, one of broadcast"),
        ({"language": "fr"}, "templates[0]: field 'language': 'fr' is not one of en, es, vi, tl, ko, zh,"),
        ({"language": "zh-Hant"}, "field 'language': 'zh-Hant' is not one of"),
        ({"language": ["es"]}, "field 'language': ['es'] is not one of"),
        ({"content_sid": "HX123"}, "templates[0]: field 'content_sid': 'HX123' is not a ContentSid"),
        ({"content_sid": "MG0123456789abcdef0123456789abcdef"}, "field 'content_sid': 'MG0123"),
        ({"content_sid": SID_ES + "0"}, "is not a ContentSid"),
        ({"content_sid": "HX0123456789abcdef0123456789abcdeg"}, "is not a ContentSid"),
        ({"content_sid": None}, "field 'content_sid': is required, a ContentSid: HX and 32 hex digits"),
        ({"variables": {"1": "texto"}}, "field 'variables': variable 1 is 'texto', not one of text, title"),
        ({"variables": {"0": "text"}}, "field 'variables': '0' is not a variable number"),
        ({"variables": {"01": "text"}}, "'01' is not a variable number"),
        ({"variables": {"a": "text"}}, "'a' is not a variable number"),
        ({"variables": {True: "text"}}, "True is not a variable number"),
        ({"variables": {"1": "text", 1: "link"}}, "field 'variables': variable 1 is given twice"),
        ({"variables": {"1": "text", "3": "link"}}, "field 'variables': numbers 1, 3 skip one"),
        ({"variables": ["text"]}, "field 'variables': is not a mapping"),
        ({"sid": SID_ES}, "templates[0]: unknown field 'sid'"),
    ],
)
def test_every_record_field_is_checked_and_named(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    bad = record() | changes
    assert expected in problems_of(write(tmp_path / "t.yml", bad))


def test_every_problem_is_named_at_once_with_its_record_index(tmp_path: Path) -> None:
    bad_language, bad_sid = record(language="xx"), record(purpose="notice", content_sid="x")
    path = write(tmp_path / "t.yml", record(), bad_language, bad_sid)
    message = problems_of(path)
    assert "templates[1]: field 'language'" in message and "templates[2]: field 'content_sid'" in message
    assert "templates[0]" not in message


def test_a_purpose_and_language_given_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yml", record(), record(purpose="notice"), record(content_sid=SID_ZH))
    message = problems_of(path)
    assert "templates[2]: purpose 'reminder' in language 'es' is already templates[0]" in message


# --- reading again when the file changes --------------------------------------------------------------


def test_an_edited_file_is_read_again_and_an_unchanged_one_is_not(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yml", record())
    first = load_templates(path)
    assert load_templates(path) is first
    write(path, record(), record(language="en", content_sid=SID_ZH))
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    second = load_templates(path)
    assert second is not first and len(second) == 2
    assert load_templates(path) is second


def test_an_edit_that_breaks_the_file_is_an_error_until_it_is_fixed(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yml", record())
    load_templates(path)
    path.write_text("version: 1\ntemplates: [{purpose: reminder}]\n")
    with pytest.raises(TemplateFileError):
        load_templates(path)
    with pytest.raises(TemplateFileError):
        load_templates(path)
    write(path, record(language="ko"))
    fixed = load_templates(path)
    assert fixed.find("reminder", "ko") is not None and fixed.find("reminder", "es") is None


# --- finding one --------------------------------------------------------------------------------------


def test_find_takes_the_language_then_zh_for_a_chinese_script_and_never_english() -> None:
    en = Template("broadcast", "en", SID_ES, {"1": "text"})
    zh = Template("broadcast", "zh", SID_ZH, {"1": "text"})
    hant = Template("broadcast", "zh_Hant", "HX" + "a" * 32, {"1": "text"})
    templates = Templates([en, zh, hant])
    assert templates.find("broadcast", "en") is en
    assert templates.find("broadcast", "zh_Hans") is zh
    assert templates.find("broadcast", "zh_Hant") is hant
    assert templates.find("broadcast", "zh") is zh
    # A Spanish or Korean reader gets no English template: the send is skipped instead.
    assert templates.find("broadcast", "es") is None
    assert templates.find("broadcast", "ko") is None
    assert templates.find("reminder", "en") is None
    assert Templates([en]).find("broadcast", "zh_Hant") is None


def test_find_refuses_a_purpose_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="'reminders' is not a template purpose"):
        Templates().find("reminders", "es")


# --- rendering ----------------------------------------------------------------------------------------


def test_render_gives_the_content_sid_and_compact_json_in_variable_order() -> None:
    template = Template("reminder", "es", SID_ES,
                        {"2": "when", "1": "title", "10": "link", "3": "where", "4": "optout", "5": "rsvp",
                         "6": "text", "7": "title", "8": "when", "9": "where"})
    fields = {"title": "Audiencia pública", "when": "martes, 11 de marzo, 18:00", "where": "Sala 1",
              "link": "https://puente.example.org/hearings/h-1.ics?lang=es", "optout": "Responda PARAR",
              "rsvp": "Responda SÍ o NO", "text": "Ven"}
    sid, variables = template.render(fields)
    assert sid == SID_ES
    # Compact: no space after a separator, and the text as written (not \u escapes).
    assert variables.startswith('{"1":"Audiencia pública","2":"martes, 11 de marzo, 18:00","3":"Sala 1",')
    assert json.loads(variables) == {"1": fields["title"], "2": fields["when"], "3": "Sala 1",
                                     "4": "Responda PARAR", "5": "Responda SÍ o NO", "6": "Ven",
                                     "7": fields["title"], "8": fields["when"], "9": "Sala 1",
                                     "10": fields["link"]}
    assert list(json.loads(variables)) == [str(n) for n in range(1, 11)]


def test_render_keeps_unicode_and_folds_each_value_onto_one_line() -> None:
    template = Template("broadcast", "zh_Hant", SID_ZH, {"1": "text"})
    _sid, variables = template.render({"text": "明天\n下午六點\t在市政廳     集合 "})
    assert variables == '{"1":"明天 下午六點 在市政廳 集合"}'


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({}, "'title' for variable 1"),
        ({"title": "Audiencia"}, "'when' for variable 2"),
        ({"title": "Audiencia", "when": "  \n"}, "'when' for variable 2"),
        ({"title": "", "when": "hoy"}, "'title'"),
    ],
)
def test_render_refuses_a_missing_or_empty_field_naming_it(fields: dict[str, str], missing: str) -> None:
    """WhatsApp refuses an empty variable: better a skip naming the field than a failed send."""
    template = Template("reminder", "es", SID_ES, {"1": "title", "2": "when"})
    with pytest.raises(MissingTemplateField, match=f"reminder template in es \\({SID_ES}\\) needs {missing}"):
        template.render(fields)


def test_a_template_without_variables_renders_an_empty_object() -> None:
    assert Template("notice", "en", SID_ES, {}).render({}) == (SID_ES, "{}")
