"""Same-text detection across splits: exact after normalisation, or near-duplicate.

"Same": equal after normalising case, whitespace and punctuation; or, for clauses of 8 words or
more, near-duplicate. MinHash LSH over word shingles proposes candidate pairs; a pair is a
near-duplicate when its shingle Jaccard is >= 0.8 or its word sequences are >= 0.9 alike
(difflib ratio). The second test exists because one word changed in the middle of a 20-word
clause breaks a third of its 5-gram shingles (Jaccard ~0.5) while the clause is plainly the same:
boilerplate shared by sister services (Facebook / Instagram) differs in exactly that way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from train.textnorm import normalize_text

NEAR_DUP_THRESHOLD = 0.8
WORD_RATIO_THRESHOLD = 0.9
CANDIDATE_THRESHOLD = 0.4
SHINGLE_WORDS = 3
MIN_WORDS_FOR_NEAR_DUP = 8
NUM_PERM = 128
SEED = 1


def shingles(norm: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Word n-gram shingles of normalised text."""
    words = norm.split()
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def _minhashes(norms: Sequence[str]) -> list[MinHash]:
    return MinHash.bulk([shingles(n) for n in norms], num_perm=NUM_PERM, seed=SEED)


def is_near_duplicate(a: str, b: str, threshold: float = NEAR_DUP_THRESHOLD) -> bool:
    """Exact decision for two normalised texts (LSH only proposes the pairs)."""
    sa, sb = shingles(a), shingles(b)
    if sa and sb and len(sa & sb) / len(sa | sb) >= threshold:
        return True
    wa, wb = a.split(), b.split()
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= WORD_RATIO_THRESHOLD


def _lsh() -> MinHashLSH:
    return MinHashLSH(threshold=CANDIDATE_THRESHOLD, num_perm=NUM_PERM)


class NearDuplicateIndex:
    """An index of reference texts that answers "is this text the same as one of them?"."""

    def __init__(self, texts: Iterable[str], threshold: float = NEAR_DUP_THRESHOLD) -> None:
        self.threshold = threshold
        self.exact: set[str] = set()
        eligible: list[str] = []
        for text in texts:
            norm = normalize_text(text)
            if norm:
                self.exact.add(norm)
                if len(norm.split()) >= MIN_WORDS_FOR_NEAR_DUP:
                    eligible.append(norm)
        eligible = sorted(set(eligible))
        self._lsh = _lsh()
        for norm, mh in zip(eligible, _minhashes(eligible), strict=True):
            self._lsh.insert(norm, mh)

    def matches(self, texts: Sequence[str]) -> list[bool]:
        """For each text: is it an exact or near duplicate of an indexed text?"""
        norms = [normalize_text(t) for t in texts]
        result = [n in self.exact for n in norms]
        todo = [
            i
            for i, n in enumerate(norms)
            if not result[i] and len(n.split()) >= MIN_WORDS_FOR_NEAR_DUP
        ]
        for i, mh in zip(todo, _minhashes([norms[i] for i in todo]), strict=True):
            result[i] = any(
                is_near_duplicate(norms[i], c, self.threshold) for c in self._lsh.query(mh)
            )
        return result


@dataclass(frozen=True)
class Collision:
    """Two clauses in different splits that count as the same text."""

    split_a: str
    id_a: str
    split_b: str
    id_b: str
    kind: str  # "exact" or "near"


def find_cross_split_collisions(
    splits: dict[str, Sequence[tuple[str, str]]], threshold: float = NEAR_DUP_THRESHOLD
) -> list[Collision]:
    """All pairs (id, text) that sit in two different splits as the same text."""
    owner: dict[str, tuple[str, str]] = {}
    collisions: list[Collision] = []
    for split, items in splits.items():
        for rid, text in items:
            norm = normalize_text(text)
            prev = owner.get(norm)
            if prev is not None and prev[0] != split:
                collisions.append(Collision(prev[0], prev[1], split, rid, "exact"))
            owner.setdefault(norm, (split, rid))
    lsh = _lsh()
    entries = []
    for split, items in splits.items():
        for rid, text in items:
            norm = normalize_text(text)
            if len(norm.split()) >= MIN_WORDS_FOR_NEAR_DUP:
                entries.append((split, rid, norm))
    hashes = _minhashes([e[2] for e in entries])
    for idx, ((split, rid, _), mh) in enumerate(zip(entries, hashes, strict=True)):
        for other in lsh.query(mh):
            o_split, o_rid, o_norm = entries[other]
            if o_split != split and is_near_duplicate(entries[idx][2], o_norm, threshold):
                collisions.append(Collision(o_split, o_rid, split, rid, "near"))
        lsh.insert(idx, mh)
    return collisions


class LeakageError(RuntimeError):
    """The built splits still share text: the build must not be used."""


def check_no_leakage(splits: dict[str, Sequence[tuple[str, str]]]) -> None:
    """Final gate of the build: raise `LeakageError` naming the first collisions, if any."""
    collisions = find_cross_split_collisions(splits)
    if collisions:
        shown = "; ".join(
            f"{c.kind}: {c.split_a}/{c.id_a} ~ {c.split_b}/{c.id_b}" for c in collisions[:10]
        )
        raise LeakageError(f"{len(collisions)} clause(s) appear in more than one split: {shown}")
