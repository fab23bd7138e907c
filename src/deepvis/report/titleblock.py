"""The title block of every write-up: author, student ID and date, shown exactly as typed.

Read from ``student.toml`` (`STUDENT_FILE`) or the variables of `STUDENT_ENV`; the settings
pre-flight checks it in a fraction of a second, without nbformat or nbconvert.
"""

from __future__ import annotations

import datetime
import html
import os
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from deepvis.config import project_root
from deepvis.errors import DeepvisError

#: The file the student edits once for the title block, and the variables that override it.
STUDENT_FILE = "student.toml"
STUDENT_ENV = {"author": "DEEPVIS_AUTHOR", "student_id": "DEEPVIS_STUDENT_ID"}


@dataclass(frozen=True)
class TitleBlock:
    """What the title block of every write-up shows; unset fields are left out."""

    author: str = ""
    student_id: str = ""
    date: str = ""

    def byline(self) -> str:
        """``"Ada Lovelace (student ID 123)"``, or whichever part is set, or ``""``."""
        sid = f"student ID {self.student_id}" if self.student_id else ""
        if self.author and sid:
            return f"{self.author} ({sid})"
        return self.author or sid


def title_block(root: Path | None = None, epoch: int | None = None) -> TitleBlock:
    """Author and student ID from `STUDENT_FILE` (env `STUDENT_ENV` wins), date from `epoch`.

    Raises `DeepvisError` for a file that is not valid TOML or holds unknown keys, and for a
    field with a line break or another control character. Any other text is shown as typed.
    """
    path = (root or project_root()) / STUDENT_FILE
    values: dict[str, str] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise DeepvisError(f"{STUDENT_FILE}: not valid TOML ({err}); fix the file") from err
        unknown = sorted(set(values) - set(STUDENT_ENV))
        if unknown:
            raise DeepvisError(
                f"{STUDENT_FILE}: unknown keys {unknown}; only {sorted(STUDENT_ENV)} are read"
            )
    fields = {
        key: os.environ.get(env) or str(values.get(key, "")).strip()
        for key, env in STUDENT_ENV.items()
    }
    for key, value in fields.items():
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise DeepvisError(
                f"the {key.replace('_', ' ')} {value!r} holds a line break or another control "
                f"character; write it on one line ({STUDENT_ENV[key]} or {STUDENT_FILE})"
            )
    return TitleBlock(**fields, date=format_date(epoch))


def as_typed_html(text: str) -> str:
    """A markdown block that shows `text` as typed: an HTML paragraph (markdown leaves its inside
    alone) with HTML's specials escaped, and ``$`` too, so that it never starts a formula."""
    return f"<p>{html.escape(text).replace('$', '&#36;')}</p>"


def format_date(epoch: int | None) -> str:
    """``"7 August 2022"`` for a Unix time (UTC); ``""`` for None."""
    if epoch is None:
        return ""
    day = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return f"{day.day} {day:%B %Y}"
