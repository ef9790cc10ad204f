"""Write ``data/names.csv``: real surnames of eight languages, from Faker's per-locale name lists.

Lesson 10 classifies a surname by its language from its characters, and generates new surnames
character by character. The names come from the lists that the Faker package ships for each
locale (``faker/providers/person/<locale>/__init__.py``, ``Provider.last_names``), collected by
Faker's contributors from public lists of common surnames; Faker is MIT-licensed.

Faker is needed only to regenerate the file (the course does not depend on it)::

    .venv/bin/pip install faker
    .venv/bin/python data/make_names.py        # rewrites data/names.csv, prints its sha256

Cleaning, so that each name has one answer: surrounding spaces are stripped; names with a
character other than a letter, apostrophe, hyphen or space, or longer than 20 characters, are
dropped; duplicates within a
locale are kept once; a name that appears in two or more of the chosen locales (for example
"Martin") is dropped from all of them, because its language cannot be told from its letters.
Rows are sorted by language, then name, so the file is byte-for-byte reproducible for a given
Faker version.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import re
import sys
from collections import defaultdict
from pathlib import Path

#: Faker locale -> the language the lesson calls it. Latin-script locales with at least 400
#: surnames each.
LOCALES = {
    "en_US": "English",
    "de_DE": "German",
    "fr_FR": "French",
    "it_IT": "Italian",
    "es_ES": "Spanish",
    "nl_NL": "Dutch",
    "fi_FI": "Finnish",
    "hr_HR": "Croatian",
}

ALLOWED = re.compile(r"^[^\W\d_](?:[^\W\d_]|['\- ])*$")
#: Longer entries are mostly titles of nobility ("... von und zu ..."), not surnames.
MAX_LENGTH = 20
OUT = Path(__file__).resolve().parent / "names.csv"


def collect() -> list[tuple[str, str, str]]:
    """Return sorted ``(name, language, locale)`` rows, cleaned as the module docstring says."""
    per_locale: dict[str, set[str]] = {}
    for locale in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        names = {str(n).strip() for n in provider.last_names}
        per_locale[locale] = {n for n in names if ALLOWED.match(n) and len(n) <= MAX_LENGTH}
    seen: dict[str, set[str]] = defaultdict(set)
    for locale, names in per_locale.items():
        for name in names:
            seen[name].add(locale)
    rows = [(name, LOCALES[locale], locale) for locale, names in per_locale.items()
            for name in names if len(seen[name]) == 1]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def main() -> int:
    import faker

    rows = collect()
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["name", "language", "locale"])
        writer.writerows(rows)
    counts: dict[str, int] = defaultdict(int)
    for _, language, _ in rows:
        counts[language] += 1
    print(f"Faker {faker.VERSION}: wrote {len(rows)} names to {OUT}")
    for language, n in sorted(counts.items()):
        print(f"  {language:<9} {n}")
    print("sha256", hashlib.sha256(OUT.read_bytes()).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
