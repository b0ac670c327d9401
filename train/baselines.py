"""Baselines the fine-tuned model must beat, trained and scored on the same split in the same run.

Both expose `fit(train_rows, validation_rows)`, `predict_proba(texts) -> (n, n_labels)` and
`thresholds`, so evaluation scores them with exactly the code that scores the model. Rows are
dataset rows: `text`, `labels` and `label_mask` as 0/1 lists in taxonomy order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from train.metrics import DEFAULT_THRESHOLD, real_mask, tune_thresholds_by_origin


def rows_to_arrays(rows: Sequence[dict]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, (n, n_labels) labels and (n, n_labels) mask of dataset rows."""
    texts = [str(r["text"]) for r in rows]
    width = len(rows[0]["labels"]) if rows else 0
    labels = np.asarray([r["labels"] for r in rows], dtype=np.int64).reshape(len(rows), width)
    mask = np.asarray([r["label_mask"] for r in rows], dtype=np.int64).reshape(len(rows), width)
    return texts, labels, mask


# ----------------------------------------------------------------------------- TF-IDF + LR


class TfidfLogRegBaseline:
    """TF-IDF over word 1-2 grams and one class-balanced logistic regression per label.

    Each label's classifier sees only the training rows where that label is annotated (a masked
    entry is not a negative). A label with a single class among its annotated rows (or none)
    predicts that class as a constant. Thresholds are tuned on validation like the model's.
    """

    name = "tfidf_logreg"

    def __init__(
        self,
        label_names: Sequence[str],
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        max_features: int | None = 200_000,
        C: float = 4.0,
        max_iter: int = 2000,
        seed: int = 0,
    ) -> None:
        self.label_names = list(label_names)
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.C = C
        self.max_iter = max_iter
        self.seed = seed
        self.vectorizer = None
        self.models: list = []
        self.thresholds = np.full(len(self.label_names), DEFAULT_THRESHOLD)
        self.thresholds_tuned = False

    def fit(self, train_rows: Sequence[dict], validation_rows: Sequence[dict] | None = None):
        """Fit on `train_rows`; tune thresholds on `validation_rows` (0.5 when there are none)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts, labels, mask = rows_to_arrays(train_rows)
        if not texts:
            raise ValueError("the TF-IDF baseline needs training clauses")
        # min_df=2 would leave a tiny training set with no vocabulary; fall back to 1 there.
        min_df = self.min_df if len(texts) >= 20 * self.min_df else 1
        self.vectorizer = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=min_df,
            max_features=self.max_features,
            sublinear_tf=True,
            strip_accents="unicode",
        )
        features = self.vectorizer.fit_transform(texts)
        self.models = []
        for j in range(len(self.label_names)):
            rows = np.flatnonzero(mask[:, j])
            y = labels[rows, j]
            if len(rows) == 0 or len(np.unique(y)) < 2:
                self.models.append(float(y[0]) if len(rows) else 0.0)
                continue
            clf = LogisticRegression(
                C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=self.seed
            )
            self.models.append(clf.fit(features[rows], y))
        self.thresholds = np.full(len(self.label_names), DEFAULT_THRESHOLD)
        self.thresholds_tuned = False
        if validation_rows:
            val_texts, val_labels, val_mask = rows_to_arrays(validation_rows)
            probs = self.predict_proba(val_texts)
            real = real_mask(r.get("origin") for r in validation_rows)
            thresholds, _ = tune_thresholds_by_origin(probs, val_labels, val_mask, real)
            self.thresholds = np.asarray(thresholds, dtype=float)
            self.thresholds_tuned = True
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of each label, (n, n_labels)."""
        if self.vectorizer is None:
            raise RuntimeError("call fit() before predict_proba()")
        out = np.zeros((len(texts), len(self.label_names)), dtype=np.float64)
        if len(texts) == 0:
            return out
        features = self.vectorizer.transform(list(texts))
        for j, model in enumerate(self.models):
            out[:, j] = model if isinstance(model, float) else model.predict_proba(features)[:, 1]
        return out


# ----------------------------------------------------------------------------- keywords

# What "your data" looks like in a clause: the user's data, content, inputs or prompts.
_YOUR_DATA = r"(?:\byour\b|\busers?'?|\bcustomers?'?|\bpersonal\b|\bdata\b|\bcontent\b|\binputs?\b|\bprompts?\b|\bconversations?\b)"
_AI = r"(?:\bAI\b|\bA\.I\.|artificial[\s-]+intelligence|machine[\s-]+learning|\bLLMs?\b|\b(?:language\s+)?models?\b|\balgorithms?\b)"
_TRAIN = r"(?:\btrain(?:s|ed|ing)?\b|\bfine[\s-]?tun\w*|\bimprov\w*|\bdevelop\w*)"
_USER_CONTENT = (
    r"(?:content|posts?|photos?|videos?|materials?|submissions?|uploads?|works?|user[\s-]generated)"
)

# One committed pattern per label (case-insensitive). A match counts only when no negation sits in
# the match or before it in the same sentence: "we do not use your content to train AI" is a denial, not a grant.
KEYWORD_PATTERNS: dict[str, str] = {
    "ai_training": (
        rf"{_YOUR_DATA}[^.;]{{0,80}}{_TRAIN}[^.;]{{0,60}}{_AI}"
        rf"|{_YOUR_DATA}[^.;]{{0,60}}\b(?:for|in|by)\b[^.;]{{0,30}}(?:machine[\s-]+learning|artificial[\s-]+intelligence|\bAI\b)"
        rf"|{_AI}[^.;]{{0,40}}\btrain(?:s|ed|ing)?\b[^.;]{{0,40}}\b(?:on|using|with)\b[^.;]{{0,40}}{_YOUR_DATA}"
        # "... may be used to train/refine the models": the data is the sentence's subject.
        r"|\b(?:re)?train(?:s|ed|ing)?\b[^.;]{0,50}\b(?:models?|algorithms?|AI)\b"
        r"|\b(?:refine|fine[\s-]?tune)\w*\b[^.;]{0,30}\bmodels?\b"
        r"|\b(?:develop|improv|build)\w*\b[^.;]{0,40}(?:machine[\s-]+learning|artificial[\s-]+intelligence|\bAI\b)"
    ),
    "content_license": (
        rf"\blicen[cs]e\b[^.]{{0,150}}\b(?:your|user|customer)s?\b[^.]{{0,40}}\b{_USER_CONTENT}\b"
        rf"|\b(?:your|user|customer)s?\b[^.]{{0,40}}\b{_USER_CONTENT}\b[^.]{{0,150}}\blicen[cs]e\b"
        r"|\byou\s+(?:hereby\s+)?grants?\b[^.]{0,80}\b(?:licen[cs]e|rights?)\b"
    ),
    "data_collection": (
        r"\b(?:collect|gather|obtain|record|track|log)(?:s|ed|ing)?\b[^.;]{0,80}"
        r"\b(?:data|information|location|device|usage|cookies?|biometric\w*|address(?:es)?|contacts?|content)\b"
        r"|\b(?:data|information)\b[^.;]{0,40}\b(?:we|they)\s+(?:may\s+)?(?:collect|gather|obtain|receive)\w*"
    ),
    "data_sharing": (
        r"\b(?:share|sell|disclose|transfer|provide|rent|trade)(?:s|d|ed|ing)?\b[^.;]{0,100}"
        r"\b(?:third[\s-]+part(?:y|ies)|affiliates?|advertisers?|partners?|vendors?|service\s+providers?"
        r"|data\s+brokers?|acquirers?|buyers?|law\s+enforcement|authorities|government)\b"
    ),
    "data_retention": (
        r"\b(?:retain|retention|keep|kept|store|stored|preserve|hold)\w*\b[^.;]{0,100}"
        r"\b(?:days?|months?|years?|period|as\s+long\s+as|indefinitely|until|after\s+(?:you|your|the|account)"
        r"|necessary|deletion|terminat\w+|closure)\b"
    ),
    "terms_change": (
        r"\b(?:change|modify|amend|update|revise|alter)(?:s|d|ed|ing)?\b[^.;]{0,60}"
        r"\b(?:terms|policy|agreement|conditions)\b"
        r"|\b(?:terms|policy|agreement)\b[^.;]{0,60}\b(?:changed|modified|amended|updated|revised)\b"
        r"|\bcontinued\s+use\b"
    ),
    "user_control": (
        r"\bopt[\s-]?(?:out|in)\b|\bunsubscribe\b|\bwithdraw\b[^.;]{0,30}\bconsent\b"
        r"|\b(?:you|users?)\b[^.;]{0,40}\b(?:can|may|have\s+the\s+right|right\s+to|are\s+able)\b[^.;]{0,60}"
        r"\b(?:access|delete|deletion|correct|export|rectif\w*|object|request|disable|choose|manage|download)\b"
    ),
}

# Negations that turn a grant into a denial ("no" alone is left out: "no later than", "no longer").
NEGATION = re.compile(
    r"\b(?:not|never|neither|nor|cannot)\b|n't\b|\bno\s+(?:one|third|data|AI)\b", re.IGNORECASE
)
# A negation counts from the start of the match's sentence (at most this many characters back):
# denials put it before the verb, often far from the words that match ("does not use any of your
# audio, video, chat ... to train").
NEGATION_WINDOW = 120
_SENTENCE_END = re.compile(r"[.;!?]")


class KeywordBaseline:
    """One committed regex per label (`KEYWORD_PATTERNS`); probability 1.0 on a non-negated match,
    else 0.0. Labels without a pattern always score 0. `fit` learns nothing (the rules are fixed)."""

    name = "keyword"

    def __init__(self, label_names: Sequence[str], patterns: dict[str, str] | None = None) -> None:
        self.label_names = list(label_names)
        source = KEYWORD_PATTERNS if patterns is None else patterns
        self.patterns = {
            name: re.compile(source[name], re.IGNORECASE)
            for name in self.label_names
            if name in source
        }
        self.thresholds = np.full(len(self.label_names), DEFAULT_THRESHOLD)
        self.thresholds_tuned = False

    def fit(
        self,
        train_rows: Sequence[dict] | None = None,
        validation_rows: Sequence[dict] | None = None,
    ):
        """Nothing to learn; present so every baseline runs through the same calls."""
        return self

    def matches(self, text: str, label: str) -> bool:
        """True when `label`'s pattern matches `text` with no negation in the match or before it
        in its sentence."""
        pattern = self.patterns.get(label)
        if pattern is None:
            return False
        for match in pattern.finditer(text):
            start = max(0, match.start() - NEGATION_WINDOW)
            ends = [m.end() for m in _SENTENCE_END.finditer(text, start, match.start())]
            window = text[ends[-1] if ends else start : match.end()]
            if not NEGATION.search(window):
                return True
        return False

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """1.0 where a label's rule fires, else 0.0; (n, n_labels)."""
        out = np.zeros((len(texts), len(self.label_names)), dtype=np.float64)
        for i, text in enumerate(texts):
            for j, label in enumerate(self.label_names):
                out[i, j] = float(self.matches(text, label))
        return out
