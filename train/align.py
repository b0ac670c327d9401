"""Align the clauses of two versions of a document, at a cost that grows near-linearly with size.

1. **unchanged**: clauses equal after normalisation (`train.textnorm.normalize_text`: case,
   whitespace and punctuation do not count) inside the matching blocks that
   `difflib.SequenceMatcher` finds over the two sequences of normalised clauses (hashed, so this
   is a linear-time pass for documents that share little or much);
2. **moved**: equal after normalisation but outside those blocks (the order changed);
3. **modified**: the remaining clauses paired one-to-one, most similar first. Pairs are only
   *proposed* by two cheap candidate generators, and only proposed pairs are compared exactly:
   - *lexical*: MinHash LSH over word bigrams (datasketch) finds clauses sharing wording
     anywhere in the document (at most `max_lsh_candidates` per clause);
   - *positional*: the `window` remaining old clauses nearest the place where the new clause
     sits (estimated from the unchanged clauses around it), which is where a rewritten clause
     usually stays even when few words survive;
   - *by meaning*, when sentence embeddings are given: the `max_meaning_candidates` old clauses
     whose cosine similarity to the new clause is highest and at least `min_cosine`, wherever
     they sit (a reworded clause that also moved, in a restructured document, shares too few
     word pairs for the LSH and is outside the window).
   A proposed pair is a rewording when its word-level similarity (`SequenceMatcher.ratio` over
   words) reaches `min_similarity`, or, when sentence embeddings are given (`embed`), when
   their cosine similarity reaches `min_cosine` and the word similarity reaches
   `min_similarity_with_meaning` (a floor that keeps two unrelated sentences of the same topic
   apart; a pair proposed by meaning alone needs `min_similarity_far`). Pairs are taken best
   first (higher of the two similarities);
4. **added** / **removed**: what is left in the new / old version.

The number of exact comparisons is at most
`n_new * (window + max_lsh_candidates + max_meaning_candidates)`, so two unrelated 2 MB versions
cost seconds, not hours (`AlignmentStats.pairs_compared` says how many).
"""

from __future__ import annotations

import bisect
import difflib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash, MinHashLSH

from train.textnorm import normalize_text

DEFAULT_MIN_SIMILARITY = 0.6
DEFAULT_MIN_COSINE = 0.9
DEFAULT_MIN_SIMILARITY_WITH_MEANING = 0.3
DEFAULT_WINDOW = 8
DEFAULT_MAX_LSH_CANDIDATES = 16
DEFAULT_MAX_MEANING_CANDIDATES = 4
# Fine-tuned classifier embeddings put clauses of one topic close together (unrelated liability
# sentences reach cosine 0.97), so a pair proposed by meaning alone, far from where the clause
# was and sharing few word pairs, also needs this much word similarity.
DEFAULT_MIN_SIMILARITY_FAR = 0.4
MEANING_BLOCK = 256  # new clauses per block of the cosine matrix (256 x n_old floats at a time)
LSH_THRESHOLD = 0.3
NUM_PERM = 64
SEED = 1

# `embed(old_indices, new_indices)` -> (old vectors, new vectors), L2-normalised rows.
Embedder = Callable[[list[int], list[int]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Alignment:
    """One aligned clause: indices into the old and new clause lists (None on the missing side).
    `similarity` is the word-level similarity, `cosine` the embedding similarity when known."""

    change: str
    old: int | None
    new: int | None
    similarity: float = 1.0
    cosine: float | None = None


@dataclass
class AlignmentStats:
    """What the alignment cost: proposed pairs and exact comparisons."""

    old_clauses: int = 0
    new_clauses: int = 0
    left_old: int = 0
    left_new: int = 0
    lsh_candidates: int = 0
    window_candidates: int = 0
    meaning_candidates: int = 0
    pairs_compared: int = 0
    extra: dict = field(default_factory=dict)


def _word_ratio(matcher: difflib.SequenceMatcher, threshold: float) -> float:
    # The cheap upper bounds reject most pairs before the quadratic `ratio`.
    if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
        return 0.0
    return matcher.ratio()


def _bigrams(norm: str) -> set[bytes]:
    words = norm.split()
    if len(words) < 2:
        return {w.encode("utf-8") for w in words}
    return {f"{a} {b}".encode() for a, b in zip(words, words[1:], strict=False)}


def exact_matches(
    norm_old: Sequence[str], norm_new: Sequence[str]
) -> tuple[list[Alignment], set[int], set[int]]:
    """Unchanged and moved clauses; returns (pairs, old indices used, new indices used)."""
    ids: dict[str, int] = {}
    seq_old = [ids.setdefault(n, len(ids)) for n in norm_old]
    seq_new = [ids.setdefault(n, len(ids)) for n in norm_new]
    pairs: list[Alignment] = []
    old_used: set[int] = set()
    new_used: set[int] = set()
    matcher = difflib.SequenceMatcher(None, seq_old, seq_new, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs.append(Alignment("unchanged", block.a + k, block.b + k))
            old_used.add(block.a + k)
            new_used.add(block.b + k)
    waiting: dict[int, deque[int]] = {}
    for i, key in enumerate(seq_old):
        if i not in old_used:
            waiting.setdefault(key, deque()).append(i)
    for j, key in enumerate(seq_new):
        if j not in new_used and waiting.get(key):
            i = waiting[key].popleft()
            pairs.append(Alignment("moved", i, j))
            old_used.add(i)
            new_used.add(j)
    return pairs, old_used, new_used


def _positions_in_new(anchors: list[tuple[int, int]], left_old: list[int]) -> list[float]:
    """Where each remaining old clause would sit in the new version: just after the new position
    of the nearest anchored old clause before it (anchors sorted by old index)."""
    old_keys = [a for a, _ in anchors]
    out = []
    for i in left_old:
        k = bisect.bisect_left(old_keys, i) - 1
        out.append(-0.5 if k < 0 else anchors[k][1] + 0.5)
    return out


def propose_pairs(
    norm_old: Sequence[str],
    norm_new: Sequence[str],
    left_old: list[int],
    left_new: list[int],
    anchors: list[tuple[int, int]],
    window: int = DEFAULT_WINDOW,
    max_lsh_candidates: int = DEFAULT_MAX_LSH_CANDIDATES,
    stats: AlignmentStats | None = None,
) -> dict[int, set[int]]:
    """Candidate old clauses for each remaining new clause (lexical LSH + positional window)."""
    candidates: dict[int, set[int]] = {j: set() for j in left_new}
    if not left_old or not left_new:
        return candidates
    # positional window
    est = _positions_in_new(sorted(anchors), left_old)
    order = sorted(range(len(left_old)), key=lambda k: (est[k], left_old[k]))
    est_sorted = [est[k] for k in order]
    half = max(1, window // 2)
    n_window = 0
    for j in left_new:
        at = bisect.bisect_left(est_sorted, j)
        for k in order[max(0, at - half) : at + half]:
            candidates[j].add(left_old[k])
            n_window += 1
    # lexical LSH
    old_sets = [_bigrams(norm_old[i]) for i in left_old]
    new_sets = [_bigrams(norm_new[j]) for j in left_new]
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    old_hashes = MinHash.bulk(old_sets, num_perm=NUM_PERM, seed=SEED)
    for i, s, mh in zip(left_old, old_sets, old_hashes, strict=True):
        if s:
            lsh.insert(i, mh, check_duplication=False)
    hash_of = dict(zip(left_old, old_hashes, strict=True))
    n_lsh = 0
    new_hashes = MinHash.bulk(new_sets, num_perm=NUM_PERM, seed=SEED)
    for j, s, mh in zip(left_new, new_sets, new_hashes, strict=True):
        if not s:
            continue
        found = lsh.query(mh)
        if len(found) > max_lsh_candidates:
            # the closest estimated Jaccard first, then the nearest position
            found = sorted(found, key=lambda i: (-mh.jaccard(hash_of[i]), i))
            found = found[:max_lsh_candidates]
        candidates[j].update(found)
        n_lsh += len(found)
    if stats is not None:
        stats.window_candidates += n_window
        stats.lsh_candidates += n_lsh
    return candidates


def meaning_candidates(
    vec_old: np.ndarray,
    vec_new: np.ndarray,
    min_cosine: float,
    k: int = DEFAULT_MAX_MEANING_CANDIDATES,
) -> list[list[int]]:
    """For each row of `vec_new`, the rows of `vec_old` (at most `k`, highest cosine first) whose
    cosine similarity reaches `min_cosine`; rows are L2-normalised. The cosine matrix is computed
    a block of new rows at a time, so memory stays bounded for long documents."""
    out: list[list[int]] = []
    n_old = len(vec_old)
    if not n_old or k < 1:
        return [[] for _ in range(len(vec_new))]
    k = min(k, n_old)
    for start in range(0, len(vec_new), MEANING_BLOCK):
        sims = vec_new[start : start + MEANING_BLOCK] @ vec_old.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row, cols in zip(sims, top, strict=True):
            best = sorted((int(c) for c in cols if row[c] >= min_cosine), key=lambda c: -row[c])
            out.append(best)
    return out


def align_clauses(
    old: Sequence[str],
    new: Sequence[str],
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    *,
    embed: Embedder | None = None,
    min_cosine: float = DEFAULT_MIN_COSINE,
    min_similarity_with_meaning: float = DEFAULT_MIN_SIMILARITY_WITH_MEANING,
    window: int = DEFAULT_WINDOW,
    max_lsh_candidates: int = DEFAULT_MAX_LSH_CANDIDATES,
    max_meaning_candidates: int = DEFAULT_MAX_MEANING_CANDIDATES,
    min_similarity_far: float = DEFAULT_MIN_SIMILARITY_FAR,
    stats: AlignmentStats | None = None,
) -> list[Alignment]:
    """Align two versions' clause texts; returns every clause of both, in reading order (new
    version order, removed clauses after their preceding old neighbour). `embed`, when given, is
    called once with the indices of the clauses left after exact matching."""
    stats = stats if stats is not None else AlignmentStats()
    stats.old_clauses, stats.new_clauses = len(old), len(new)
    norm_old = [normalize_text(t) for t in old]
    norm_new = [normalize_text(t) for t in new]
    pairs, old_used, new_used = exact_matches(norm_old, norm_new)
    left_old = [i for i in range(len(old)) if i not in old_used]
    left_new = [j for j in range(len(new)) if j not in new_used]
    stats.left_old, stats.left_new = len(left_old), len(left_new)
    anchors = [(p.old, p.new) for p in pairs]
    candidates = propose_pairs(
        norm_old, norm_new, left_old, left_new, anchors, window, max_lsh_candidates, stats
    )
    vec_old = vec_new = None
    far_only: dict[int, set[int]] = {}  # proposed by meaning alone
    if embed is not None and left_old and left_new:
        vec_old, vec_new = embed(left_old, left_new)
        near = meaning_candidates(vec_old, vec_new, min_cosine, max_meaning_candidates)
        for j, rows in zip(left_new, near, strict=True):
            far = {left_old[r] for r in rows} - candidates[j]
            candidates[j] |= far
            far_only[j] = far
            stats.meaning_candidates += len(rows)
    row_old = {i: k for k, i in enumerate(left_old)}
    row_new = {j: k for k, j in enumerate(left_new)}

    floor = min(min_similarity, min_similarity_with_meaning) if embed else min_similarity
    scored = []
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    words_old = {i: norm_old[i].split() for i in left_old}
    for j in left_new:
        if not candidates[j]:
            continue
        matcher.set_seq2(norm_new[j].split())
        for i in sorted(candidates[j]):
            stats.pairs_compared += 1
            matcher.set_seq1(words_old[i])
            ratio = _word_ratio(matcher, floor)
            cosine = None
            if vec_old is not None:
                cosine = float(vec_old[row_old[i]] @ vec_new[row_new[j]])
            meaning = cosine is not None and cosine >= min_cosine
            floor_here = (
                min_similarity_far if i in far_only.get(j, ()) else min_similarity_with_meaning
            )
            if ratio >= min_similarity or (meaning and ratio >= floor_here):
                best = max(ratio, cosine if meaning else 0.0)
                distance = abs(i / max(1, len(old)) - j / max(1, len(new)))
                scored.append((-best, distance, i, j, ratio, cosine))
    for _, _, i, j, ratio, cosine in sorted(scored, key=lambda s: s[:4]):
        if i not in old_used and j not in new_used:
            pairs.append(
                Alignment(
                    "modified", i, j, round(ratio, 4), None if cosine is None else round(cosine, 4)
                )
            )
            old_used.add(i)
            new_used.add(j)
    pairs += [Alignment("added", None, j, 0.0) for j in range(len(new)) if j not in new_used]
    pairs += [Alignment("removed", i, None, 0.0) for i in range(len(old)) if i not in old_used]
    return reading_order(pairs)


def reading_order(pairs: list[Alignment]) -> list[Alignment]:
    """Sort by position in the new version; a removed clause goes right after the new position
    of the old clause before it."""
    paired = sorted((p.old, p.new) for p in pairs if p.old is not None and p.new is not None)
    old_keys = [a for a, _ in paired]

    def key(p: Alignment) -> tuple:
        if p.new is not None:
            return (p.new, 0, 0)
        k = bisect.bisect_left(old_keys, p.old) - 1
        return (-1 if k < 0 else paired[k][1], 1, p.old)

    return sorted(pairs, key=key)
