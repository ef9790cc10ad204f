"""Human-rated review sentences (Hutto & Gilbert, 2014): Amazon product reviews and movie reviews.

The VADER paper (C.J. Hutto and E. Gilbert, *VADER: A Parsimonious Rule-based Model for Sentiment
Analysis of Social Media Text*, ICWSM 2014) had every sentence of two review corpora rated by at
least 20 people on a scale from -4 (extremely negative) to +4 (extremely positive); the "ground truth" is
the mean rating. The files ship, MIT-licensed, inside the source distribution of the
``vaderSentiment`` 3.3.2 package on PyPI (``additional_resources/hutto_ICWSM_2014.tar.gz``):

- ``amazonReviewSnippets_GroundTruth.txt``: 3,708 sentences from 309 Amazon customer reviews of
  5 products (the reviews of Hu & Liu, 2004);
- ``movieReviewSnippets_GroundTruth.txt``: 10,605 sentences from rottentomatoes.com movie
  reviews (derived from the 2,000 reviews of Pang & Lee, 2004).

The lesson's first call to :func:`load_reviews` fetches the sdist (2.5 MB) from PyPI, verified by
sha256, into the cache (``~/.cache/dlcourse/reviews``, or under ``$DLCOURSE_CACHE``), through the
data layer's one download path (:mod:`dlcourse.data.fetch`); ``python -m dlcourse fetch reviews``
does the same in advance. Every load checks the archive's and both files' sha256: a partial or
corrupt file raises an error that says what to do, and offline a missing one says how to get it.

>>> data = load_reviews()                      # doctest: +SKIP
>>> len(data), data.scores.shape, data.corpus[:2]  # doctest: +SKIP
(14313, (14313,), array(['amazon', 'amazon'], dtype='<U6'))
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcourse.data.fetch import (
    DataFileError,
    PackageFile,
    fetch_package_file,
    file_to_load,
    how_to_fetch,
    install_verified,
    verified_copy,
)
from dlcourse.data.paths import cache_dir

#: The source distribution on PyPI (its path below PyPI's ``/packages/`` and its published sha256).
PACKAGE = PackageFile("vaderSentiment==3.3.2", "77/8c/4a48c10a50f750ae565e341e697d74a38075a3e43ff0df"
                      "6f1ab72e186902/vaderSentiment-3.3.2.tar.gz",
                      "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")
SDIST_NAME = PACKAGE.filename
#: The data archive inside the sdist.
INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
#: Corpus name -> (file inside the data archive, sha256 of its bytes).
FILES = {
    "amazon": ("hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
               "11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2"),
    "movie": ("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
              "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"),
}


@dataclass(frozen=True)
class ReviewSentences:
    """Review sentences with their mean human sentiment rating.

    Attributes:
        texts: ``N`` sentences (str).
        scores: ``(N,)`` float64 mean ratings, from -4 (extremely negative) to +4 (extremely positive).
        corpus: ``(N,)`` str, ``"amazon"`` or ``"movie"``: where each sentence comes from.
        ids: ``N`` sentence ids as in the files (``"12_3"``: review 12, sentence 3, for Amazon).
    """

    texts: list[str]
    scores: np.ndarray
    corpus: np.ndarray
    ids: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def labels(self) -> np.ndarray:
        """Return ``(N,)`` int64 labels: 1 where the mean rating is positive, 0 where it is not."""
        return (self.scores > 0).astype(np.int64)


def reviews_path() -> Path:
    """Return where the cached sdist lives (``<cache dir>/reviews/vaderSentiment-3.3.2.tar.gz``)."""
    return cache_dir() / "reviews" / SDIST_NAME


def fetch_reviews(source: Path | str | None = None, timeout: float = 60.0) -> Path:
    """Put the verified sdist into the cache, once; return its path (``python -m dlcourse fetch reviews``).

    Args:
        source: a local copy of ``vaderSentiment-3.3.2.tar.gz`` to use instead of the network.
        timeout: seconds to wait for the server.

    Raises:
        DataNotFoundError: no local copy and no way to download it; the message says what to do.
        DataFileError: a file with the wrong sha256 (it is not kept).
    """
    if source is not None:
        return install_verified(source, reviews_path(), PACKAGE.sha256)
    return fetch_package_file(PACKAGE, reviews_path(), timeout=timeout)


def parse_ground_truth(data: bytes, name: str = "ground-truth file"
                       ) -> tuple[list[str], np.ndarray, list[str]]:
    """Parse a ``*_GroundTruth.txt`` file: one ``id<TAB>mean rating<TAB>sentence`` per line.

    Returns:
        ``(ids, scores, texts)``: ``N`` ids, ``(N,)`` float64 ratings, ``N`` sentences.

    Raises:
        DataFileError: a line without three tab-separated fields or with a rating that is not a
            number in [-4, 4].
    """
    ids, scores, texts = [], [], []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            if len(fields) != 3:
                raise ValueError(f"{len(fields)} tab-separated fields, expected 3")
            score = float(fields[1])
            if not -4.0 <= score <= 4.0:
                raise ValueError(f"rating {score} outside [-4, 4]")
        except ValueError as err:
            raise DataFileError(f"{name}, line {number}: {err}: {line[:80]!r}") from err
        ids.append(fields[0])
        scores.append(score)
        texts.append(fields[2].strip())
    return ids, np.array(scores, dtype=np.float64), texts


def load_reviews(corpora: Sequence[str] = ("amazon", "movie"),
                 path: Path | str | None = None) -> ReviewSentences:
    """Load the human-rated sentences of ``corpora`` from the verified sdist, fetched on first use.

    Args:
        corpora: any of ``"amazon"`` (3,708 sentences) and ``"movie"`` (10,605), in this order.
        path: the sdist (default: :func:`reviews_path`, where :func:`fetch_reviews` puts it; when it
            is missing there, it is fetched, unless ``$DLCOURSE_OFFLINE`` is set).

    Returns:
        :class:`ReviewSentences`, the corpora one after the other, each in file order.

    Raises:
        ValueError: an unknown corpus name.
        DataNotFoundError: the sdist is not cached and could not be fetched: the message says what to do.
        DataFileError: the sdist or a file in it is not the published one (partial or corrupt).
    """
    unknown = [c for c in corpora if c not in FILES]
    if unknown or not corpora:
        raise ValueError(f"corpora must be a non-empty selection of {sorted(FILES)}, got {list(corpora)}")
    path = file_to_load("reviews", path, reviews_path(), PACKAGE.sha256, fetch_reviews)
    try:
        with tarfile.open(path, "r:gz") as sdist:
            inner = sdist.extractfile(INNER_ARCHIVE).read()
        contents = {}
        with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as archive:
            for corpus in corpora:
                contents[corpus] = archive.extractfile(FILES[corpus][0]).read()
    except (tarfile.TarError, KeyError, AttributeError, EOFError, OSError) as err:
        raise DataFileError(f"{path} could not be read ({err}). Delete it and fetch it again. "
                            f"{how_to_fetch('reviews')}") from err
    all_ids, all_scores, all_texts, all_corpus = [], [], [], []
    for corpus in corpora:
        member, expected = FILES[corpus]
        data = contents[corpus]
        got = hashlib.sha256(data).hexdigest()
        if got != expected:
            raise DataFileError(f"{member} in {path} has sha256 {got}, expected {expected}.")
        ids, scores, texts = parse_ground_truth(data, name=member)
        all_ids += ids
        all_scores.append(scores)
        all_texts += texts
        all_corpus += [corpus] * len(ids)
    return ReviewSentences(all_texts, np.concatenate(all_scores), np.array(all_corpus), all_ids)


def available() -> str | None:
    """Return the cached sdist's path when it is there and verified, else ``None`` (for ``doctor``)."""
    return verified_copy(reviews_path(), PACKAGE.sha256)
