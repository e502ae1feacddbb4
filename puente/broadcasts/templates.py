"""WhatsApp templates: what may be sent to someone outside WhatsApp's 24-hour window.

WhatsApp lets a business write freely only within 24 hours of the person's last message;
outside it, only a template Meta approved may go, sent through Twilio's Content API as a
`ContentSid` (`HX` and 32 hex digits) with `ContentVariables` (`{"1": "…", "2": "…"}`).
Coordinators list their approved templates in a YAML file (`WHATSAPP_TEMPLATES_FILE`,
format below; `data/whatsapp-templates.example.yml` is a commented example):

    version: 1
    templates:
      - purpose: reminder          # broadcast | mobilization | reminder | notice
        language: es               # en es vi tl ko zh zh_Hans zh_Hant
        content_sid: HX0123456789abcdef0123456789abcdef
        variables: {"1": title, "2": when, "3": where, "4": link}

Each variable names the field Puente fills it with: `text`, `title`, `when`, `where`,
`link`, `optout` or `rsvp`. No file, or no template for a purpose and language: the
out-of-window WhatsApp send is skipped (`no_template`), never sent as free text.

The file is read again when it changes (its modification time or size), so an edited
file takes effect without a restart; a file made invalid by an edit raises
`TemplateFileError` on every use until it is fixed, rather than sending from the old one.
"""

from __future__ import annotations

import json
import re
import stat
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from puente.directory.schema import TEXT_LANGUAGES

#: The file format this module reads.
VERSION = 1
#: Template languages: the directory's text languages (`zh` serves both Chinese scripts).
LANGUAGES = TEXT_LANGUAGES
#: Chinese scripts a `zh` template serves when none is given for the script itself.
_CHINESE_SCRIPTS = frozenset({"zh_Hans", "zh_Hant"})

_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_VARIABLE = re.compile(r"[1-9][0-9]*")
_RECORD_KEYS = ("purpose", "language", "content_sid", "variables")
_TOP_KEYS = ("version", "templates")


class TemplatePurpose(StrEnum):
    """What a template is approved to say."""

    BROADCAST = "broadcast"
    MOBILIZATION = "mobilization"
    REMINDER = "reminder"
    NOTICE = "notice"


class TemplateField(StrEnum):
    """The values Puente can fill a template's variables with."""

    TEXT = "text"  # a broadcast's or notice's text in the person's language
    TITLE = "title"  # a hearing's localized title
    WHEN = "when"  # its start, in the person's locale and the place's time zone
    WHERE = "where"  # its location
    LINK = "link"  # the link that adds it to a calendar
    OPTOUT = "optout"  # how to stop ("Reply STOP to end")
    RSVP = "rsvp"  # how to answer ("Reply YES or NO")


_PURPOSES = frozenset(TemplatePurpose)
_FIELDS = frozenset(TemplateField)


class TemplateFileError(ValueError):
    """A templates file Puente cannot use; the message names the file, the record and the field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: {'; '.join(problems)}")


class MissingTemplateField(ValueError):
    """A template needs a field the sender gave no text for (a skip, not a send: see `render`)."""


@dataclass(frozen=True)
class Template:
    """One approved template: its purpose and language, its ContentSid, and what fills each variable."""

    purpose: str
    language: str
    content_sid: str
    #: Variable number ("1", "2", …) → the field that fills it.
    variables: dict[str, str] = field(hash=False)

    def render(self, fields: Mapping[str, str]) -> tuple[str, str]:
        """(ContentSid, ContentVariables as compact JSON) with each variable filled from `fields`.

        Every value is folded onto one line, with single spaces: WhatsApp refuses a variable
        holding a newline, a tab or more than four spaces in a row. A field missing from
        `fields`, or blank, raises MissingTemplateField rather than rendering "": WhatsApp
        refuses an empty variable too, so the send would fail at Twilio anyway, later and
        less clearly (and a reminder with no time in it is worse than none).
        """
        values: dict[str, str] = {}
        for number, name in sorted(self.variables.items(), key=lambda item: int(item[0])):
            value = " ".join(fields.get(name, "").split())
            if not value:
                raise MissingTemplateField(
                    f"the {self.purpose} template in {self.language} ({self.content_sid}) needs "
                    f"{name!r} for variable {number}, and it is missing or empty"
                )
            values[number] = value
        return self.content_sid, json.dumps(values, ensure_ascii=False, separators=(",", ":"))


class Templates:
    """The approved templates, by purpose and language."""

    def __init__(self, templates: list[Template] | None = None) -> None:
        self._by_key = {(t.purpose, t.language): t for t in templates or []}

    def find(self, purpose: str, language: str) -> Template | None:
        """The template for `purpose` in `language`: that language's own, then `zh` for a Chinese script.

        Never another language's, English included: a message the person cannot read, from a
        line that promised to write in their language, is worse than the skip a missing
        template gets (the skip is counted, and tells coordinators which template to add).
        """
        if purpose not in _PURPOSES:
            raise ValueError(f"{purpose!r} is not a template purpose ({', '.join(TemplatePurpose)})")
        found = self._by_key.get((purpose, language))
        if found is None and language in _CHINESE_SCRIPTS:
            found = self._by_key.get((purpose, "zh"))
        return found

    def __iter__(self) -> Iterator[Template]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)


# --- the file -----------------------------------------------------------------------------------------

_lock = threading.Lock()
#: Absolute path → ((modification time in ns, size), what it held).
_cache: dict[Path, tuple[tuple[int, int], Templates]] = {}


def load_templates(path: Path | None) -> Templates:
    """The templates in `path` (None: no templates); read again only when the file changed.

    A missing, unreadable or invalid file raises TemplateFileError naming every problem.
    """
    if path is None:
        return Templates()
    path = path.absolute()
    try:
        status = path.stat()
    except FileNotFoundError:
        raise TemplateFileError(path, ["does not exist (WHATSAPP_TEMPLATES_FILE names it)"]) from None
    except OSError as error:
        raise TemplateFileError(path, [f"cannot be read ({error.strerror})"]) from None
    if not stat.S_ISREG(status.st_mode):
        raise TemplateFileError(path, ["is not a file"])
    version = (status.st_mtime_ns, status.st_size)
    with _lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    templates = _parse(path, _read(path))
    with _lock:
        _cache[path] = (version, templates)
    return templates


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise TemplateFileError(path, [f"cannot be read ({error.strerror})"]) from None
    except UnicodeDecodeError:
        raise TemplateFileError(path, ["is not UTF-8 text"]) from None
    except yaml.MarkedYAMLError as error:
        line = f"line {error.problem_mark.line + 1}: " if error.problem_mark else ""
        raise TemplateFileError(path, [f"is not valid YAML ({line}{error.problem})"]) from None
    except yaml.YAMLError:
        raise TemplateFileError(path, ["is not valid YAML"]) from None


def _parse(path: Path, data: Any) -> Templates:
    """Check a whole file, naming every problem by record (`templates[2]`) and field."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise TemplateFileError(path, [f"is not a mapping with version: {VERSION} and templates: [...]"])
    problems += [
        f"unknown key {key!r} (the keys are {', '.join(_TOP_KEYS)})" for key in data if key not in _TOP_KEYS
    ]
    if data.get("version") != VERSION:
        given = f"version {data['version']!r}" if "version" in data else "no version"
        problems.append(f"field 'version': {given}; this Puente reads version {VERSION}")
    records = data.get("templates")
    if not isinstance(records, list):
        problems.append("field 'templates': is required, a list of templates")
        records = []
    templates: list[Template] = []
    first_at: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        where = f"templates[{index}]"
        if not isinstance(record, dict):
            problems.append(f"{where}: is not a mapping with {', '.join(_RECORD_KEYS)}")
            continue
        template, wrong = _record(record)
        problems += [f"{where}: {problem}" for problem in wrong]
        if template is None:
            continue
        key = (template.purpose, template.language)
        if key in first_at:
            problems.append(
                f"{where}: purpose {key[0]!r} in language {key[1]!r} is already templates[{first_at[key]}]"
            )
            continue
        first_at[key] = index
        templates.append(template)
    if problems:
        raise TemplateFileError(path, problems)
    return Templates(templates)


def _record(record: dict[Any, Any]) -> tuple[Template | None, list[str]]:
    """One record as a Template, or None with the problems found in it."""
    problems = [
        f"unknown field {key!r} (the fields are {', '.join(_RECORD_KEYS)})"
        for key in record
        if key not in _RECORD_KEYS
    ]
    purpose = record.get("purpose")
    if not isinstance(purpose, str) or purpose not in _PURPOSES:
        problems.append(_wrong(record, "purpose", f"one of {', '.join(TemplatePurpose)}"))
    language = record.get("language")
    if not isinstance(language, str) or language not in LANGUAGES:
        problems.append(_wrong(record, "language", f"one of {', '.join(LANGUAGES)}"))
    content_sid = record.get("content_sid")
    if not isinstance(content_sid, str) or not _CONTENT_SID.fullmatch(content_sid):
        problems.append(
            _wrong(
                record,
                "content_sid",
                "a ContentSid: HX and 32 hex digits, from Twilio's Content Template Builder",
            )
        )
    variables = _variables(record.get("variables", {}), problems)
    if problems:
        return None, problems
    assert isinstance(purpose, str) and isinstance(language, str) and isinstance(content_sid, str)
    return Template(purpose, language, content_sid, variables), problems


def _wrong(record: dict[Any, Any], name: str, expected: str) -> str:
    """The problem with a record's field: missing, or not what it should be."""
    if record.get(name) is None:
        return f"field {name!r}: is required, {expected}"
    return f"field {name!r}: {record[name]!r} is not {expected}"


def _variables(raw: Any, problems: list[str]) -> dict[str, str]:
    """`{"1": text, 2: title}` as {"1": "text", "2": "title"}: numbered from 1 without a gap."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append('field \'variables\': is not a mapping such as {"1": text, "2": link}')
        return {}
    variables: dict[str, str] = {}
    for number, name in raw.items():
        # YAML reads {1: text} with a number for a key: the same variable as {"1": text}.
        key = str(number) if isinstance(number, int) and not isinstance(number, bool) else number
        if not isinstance(key, str) or not _VARIABLE.fullmatch(key):
            problems.append(f"field 'variables': {number!r} is not a variable number (1, 2, …)")
            continue
        if key in variables:
            problems.append(f"field 'variables': variable {key} is given twice")
            continue
        if not isinstance(name, str) or name not in _FIELDS:
            problems.append(
                f"field 'variables': variable {key} is {name!r}, not one of {', '.join(TemplateField)}"
            )
            continue
        variables[key] = str(name)
    expected = [str(n) for n in range(1, len(variables) + 1)]
    if sorted(variables, key=int) != expected and len(variables) == len(raw):
        problems.append(
            f"field 'variables': numbers {', '.join(sorted(variables, key=int))} skip one "
            "(WhatsApp numbers a template's variables 1, 2, 3…)"
        )
    return variables
