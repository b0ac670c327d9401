"""Label-level changes between two aligned versions: what a reader asks ("did the service grant
itself this right?"), with the clause-level evidence.

For each label:

- `granted`: no clause of the old version carried it, one of the new version does (a flip);
- `withdrawn`: the old version carried it, no clause of the new one does;
- `widened` / `narrowed`: both versions carry it, and a clause flipped and more / fewer clauses
  carry it now; or as many flagged clauses appeared as went away (a clause replaced by another
  the alignment did not pair with it) and the new ones say more / less about the label; or no
  clause flipped but flagged clauses were reworded and the inserted words say more / less
  (matches of the label's terms, `label_terms`: "algorithms" becoming "algorithms, including to
  train machine learning models");
- `reworded`: both versions carry it and flagged clauses were reworded or replaced one for one,
  saying neither more nor less (still granted);
- `unchanged`.

A reworded clause flips a label only when the new score clears the label's threshold by the
hysteresis margin (in logit units) and the old one was below it, or the reverse: a score that
wobbles across the threshold is not a change. Added and removed clauses flip every label they
carry. Headings, navigation lines and clauses in another language (the model reads English; the
guideline gives such text no label) never flip and are not counted: each side says so in its
`ignored` key.
"""

from __future__ import annotations

import difflib
import math
import re

from train.align import Alignment

LABEL_CHANGES = ("granted", "widened", "reworded", "narrowed", "withdrawn", "unchanged")
# Label-level changes that add a right (`--fail-on`, "new grant" in benchmarks) or remove one.
GAINS = ("granted", "widened")
LOSSES = ("withdrawn", "narrowed")
DEFAULT_MARGIN = 0.5  # logit units
_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*")


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def flips(a: Alignment, old: dict | None, new: dict | None, labels, thresholds, margin):
    """(labels that appeared on the new side, labels lost from the old side) for one aligned
    clause, with the hysteresis margin on reworded clauses; an ignored side (heading,
    navigation, another language) never flips."""
    if a.change in ("unchanged", "moved"):
        return [], []
    if a.change == "added":
        return ([] if new["ignored"] else [n for n in labels if n in new["labels"]]), []
    if a.change == "removed":
        return [], ([] if old["ignored"] else [n for n in labels if n in old["labels"]])
    if new["ignored"] or old["ignored"]:
        # A heading reworded into a clause (or the reverse) is an added / removed practice: no
        # margin, since the ignored side's score says nothing.
        gained = [] if new["ignored"] else [n for n in labels if n in new["labels"]]
        dropped = [] if old["ignored"] else [n for n in labels if n in old["labels"]]
        return (
            [n for n in gained if n not in old["labels"]],
            [n for n in dropped if n not in new["labels"]],
        )
    appeared, lost = [], []
    for name, t in zip(labels, thresholds, strict=True):
        lt, ln = _logit(t), _logit(new["scores"][name])
        if name in new["labels"] and name not in old["labels"] and ln >= lt + margin:
            appeared.append(name)
        if name in old["labels"] and name not in new["labels"] and ln < lt - margin:
            lost.append(name)
    return appeared, lost


def _evidence(a: Alignment, main: dict, other: dict | None, label: str, kind: str) -> dict:
    item = {
        "kind": kind,
        "change": a.change,
        "text": main["text"],
        "score": main["scores"][label],
        "start": main["start"],
        "end": main["end"],
    }
    if main.get("lead_in"):
        item["lead_in"] = main["lead_in"]
    if other is not None:
        item.update(
            {
                "other_text": other["text"],
                "other_score": other["scores"][label],
                "similarity": a.similarity,
                "cosine": a.cosine,
            }
        )
    return item


# The words that carry `ai_training`, one match each: the AI systems and their training, and a
# use of them ("improve our AI", "develop ... algorithms": the verb up to the nearest system word)
# so that "train and improve our AI models" says more than "train our AI models" while "create and
# develop new features" says nothing more. The label's phrase patterns matched a whole "develop
# and improve our personalized recommendation algorithms" as one span, so that grant replaced by
# "development and training of algorithmic and machine learning models" counted one against one.
_AI_SYSTEM = (
    r"artificial[\s-]+intelligence|machine[\s-]+learn\w*|deep[\s-]+learning|neural\w*"
    r"|language[\s-]+models?|models?|algorithm\w*|AI|LLMs?|generative"
)
AI_TERMS = re.compile(
    rf"\b(?:(?:develop|improv|enhanc|refin)\w*\b[^.;]{{0,60}}?\b(?:{_AI_SYSTEM})"
    rf"|{_AI_SYSTEM}|train(?:s|ed|ing)?|fine[\s-]?tun\w*)\b",
    re.IGNORECASE,
)


def label_terms(label: str) -> re.Pattern | None:
    """What a label is about, in words: for `ai_training` its terms (`AI_TERMS`), for the others
    the keyword baseline's pattern for the label."""
    from train.baselines import KEYWORD_PATTERNS

    if label == "ai_training":
        return AI_TERMS
    return re.compile(KEYWORD_PATTERNS[label], re.IGNORECASE) if label in KEYWORD_PATTERNS else None


def _new_terms(text: str, other: str, pattern: re.Pattern) -> int:
    """How many matches of `pattern` in `text` touch words that `other` does not have at that
    place (the words a rewording inserted; case and punctuation do not count)."""
    tokens = list(_TOKEN.finditer(text))
    a = [m.group().lower() for m in _TOKEN.finditer(other)]
    b = [m.group().lower() for m in tokens]
    inserted: set[int] = set()
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("insert", "replace"):
            inserted.update(range(j1, j2))
    count = 0
    for m in pattern.finditer(text):
        touched = (k for k, t in enumerate(tokens) if t.start() < m.end() and t.end() > m.start())
        count += any(k in inserted for k in touched)
    return count


def _rewording_direction(reworded: list[dict], pattern: re.Pattern | None) -> str:
    """`widened` when reworded flagged clauses gained wording about the label (more matches of
    its term pattern among the inserted words than among the deleted ones), `narrowed` for the
    reverse, else `reworded`."""
    if pattern is None:
        return "reworded"
    gained = sum(_new_terms(e["text"], e["other_text"], pattern) for e in reworded)
    lost = sum(_new_terms(e["other_text"], e["text"], pattern) for e in reworded)
    return "widened" if gained > lost else "narrowed" if lost > gained else "reworded"


def _replacement_direction(gained: list[dict], lost: list[dict], pattern: re.Pattern | None) -> str:
    """As many flagged clauses appeared as went away: judged as one rewording of the gone clauses
    into the appeared ones ("recommendation algorithms" replaced by "training of machine learning
    models" is `widened`)."""
    joined = {
        "text": " ".join(e["text"] for e in gained),
        "other_text": " ".join(e["text"] for e in lost),
    }
    return _rewording_direction([joined], pattern)


def label_changes(
    pairs: list[tuple[Alignment, dict | None, dict | None]],
    labels,
    thresholds,
    margin,
    report_thresholds=None,
) -> list[dict]:
    """One entry per label: the document-level change and its clause-level evidence.

    `report_thresholds` (per label, at least the flag thresholds): a clause that appeared or went
    away decides a change (granted, withdrawn, widened, narrowed) only when its score reaches the
    label's report threshold; whether a version carries the label at all is still judged at the
    flag threshold. So a grant is reported only on a clause the model is sure of, and never when
    the old version had a clause that plausibly carried the label already."""
    out = []
    report_thresholds = thresholds if report_thresholds is None else report_thresholds
    for name, t, sure in zip(labels, thresholds, report_thresholds, strict=True):
        old_n = sum(1 for _, o, _ in pairs if o and not o["ignored"] and name in o["labels"])
        new_n = sum(1 for _, _, n in pairs if n and not n["ignored"] and name in n["labels"])
        gained, lost, reworded = [], [], []
        for a, o, n in pairs:
            appeared, gone = flips(a, o, n, [name], [t], margin)
            if appeared:
                gained.append(_evidence(a, n, o, name, "gained"))
            if gone:
                lost.append(_evidence(a, o, n, name, "lost"))
            if (
                a.change == "modified"
                and not (o["ignored"] or n["ignored"])
                and name in o["labels"]
                and name in n["labels"]
            ):
                reworded.append(_evidence(a, n, o, name, "reworded"))
        gained_sure = [e for e in gained if e["score"] >= sure]
        lost_sure = [e for e in lost if e["score"] >= sure]
        if gained_sure and not old_n:
            change = "granted"
        elif lost_sure and not new_n:
            change = "withdrawn"
        elif new_n > old_n and gained_sure:
            change = "widened"
        elif new_n < old_n and lost_sure:
            change = "narrowed"
        elif gained_sure or lost_sure:
            change = _replacement_direction(gained, lost, label_terms(name))
        elif reworded:
            change = _rewording_direction(reworded, label_terms(name))
        else:
            change = "unchanged"
        evidence = sorted(gained, key=lambda e: -e["score"]) + sorted(
            lost, key=lambda e: -e["score"]
        )
        if not evidence:
            evidence += sorted(reworded, key=lambda e: -e["score"])
        out.append(
            {
                "label": name,
                "change": change,
                "old_flagged": old_n,
                "new_flagged": new_n,
                "evidence": evidence if change != "unchanged" else [],
            }
        )
    return out
