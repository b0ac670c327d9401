"""Candidate patterns, committed once and used by both the miner and the tests.

`AI_PATTERN` defines what "mentions AI or machine learning" means for exhaustive hand labelling:
every sentence of a mined source that matches it has a hand label in `data/mined_labels.jsonl`.
"""

from __future__ import annotations

import re

# Case-insensitive phrases, plus the acronyms, which must match case-sensitively ("ai" is a word in
# other languages and "Ai" appears in names).
AI_PATTERN = re.compile(
    r"(?i:artificial[\s-]+intelligence"
    r"|machine[\s-]+learn(?:ing|ed)"
    r"|deep[\s-]+learning"
    r"|language[\s-]+models?"
    r"|neural[\s-]+net(?:work)?s?"
    r"|\btrain(?:s|ed|ing)?\b[^.;]{0,60}\b(?:models?|algorithms?)\b"
    r"|\b(?:models?|algorithms?)\b[^.;]{0,40}\btrain(?:s|ed|ing)?\b"
    # Wider net (so that no grant phrased without the words above is a silent negative): speech,
    # voice and face recognition; developing or improving models, algorithms or technology;
    # systems that learn from data; automated systems; generative AI, chatbots.
    r"|\b(?:speech|voice|face|facial|image|handwriting|object)[\s-]+recognition"
    r"|\b(?:develop|improv|enhanc|refin|build|creat|optimi[sz])\w*\b[^.;]{0,60}\b(?:models?|algorithms?)\b"
    r"|\b(?:develop|improv|enhanc|refin)\w*\b[^.;]{0,60}\btechnolog(?:y|ies)\b"
    r"|\blearns?\s+from\b|\bautomated\s+(?:systems?|processes|tools|technolog\w+)\b"
    r"|\bgenerative\b|\blarge\s+language\b|\bchat\s?bots?\b)"
    r"|\b(?:AI|LLMs?|GenAI)\b|\bA\.I\.(?!\w)"
)

# Licence grants to user content: the candidate pattern for `content_license` mining.
LICENSE_PATTERN = re.compile(
    r"\blicen[cs]e\b.{0,120}\b(?:content|posts?|photos?|materials?|submissions?|uploads?|"
    r"user[- ]generated|intellectual property)\b"
    r"|\b(?:content|posts?|photos?|materials?|submissions?|uploads?)\b.{0,120}\blicen[cs]e\b",
    re.IGNORECASE,
)


# Wider net for "might grant rights over user content": sentences that match it but carry no hand
# label keep `content_license` masked instead of becoming known negatives.
RIGHTS_HINT_PATTERN = re.compile(
    r"\b(?:licen[cs]\w*|sublicens\w*|royalt\w*|irrevocabl\w*|perpetual\w*|worldwide"
    r"|reproduc\w*|derivative\s+works?|publicly\s+(?:display|perform)\w*"
    r"|grants?\b[^.;]{0,80}\brights?"
    r"|(?:your|user)\s+(?:content|posts?|photos?|videos?|materials?|submissions?|uploads?))\b",
    re.IGNORECASE,
)


# Sentences that may say this document changes or how a change takes effect: the candidate pattern
# for `terms_change` in CLAUDETTE, whose tags mark only the change clauses its annotators judged
# unfair. On the exhaustively labelled real documents it matches 763 of the 770 `terms_change`
# positives; the seven it misses lean on the sentence before ("If we do, ...").
TERMS_CHANGE_PATTERN = re.compile(
    r"\b(?:chang\w*|modif\w*|amend\w*|updat\w*|revis\w*|alter\w*|variations?|vary|varied"
    r"|versions?|supersed\w*|replac\w*|continu\w*\s+(?:to\s+)?(?:use|usage|access)\w*|effective"
    r"|current|most\s+recent|in\s+force|new\s+(?:terms|version|policy|privacy|agreement|conditions)"
    r"|notif\w*|notices?|review\w*\s+(?:periodically|regularly))\b",
    re.IGNORECASE,
)


# Sentences that may state a data practice or a user's choice over their data: the candidate pattern
# for `data_collection`, `data_sharing`, `data_retention` and `user_control` in CLAUDETTE, whose
# Terms of Service carry no annotation of these labels. A sentence it does not match is a known
# negative for all four. On the exhaustively labelled real documents it matches 4,080 of their
# 4,254 `data_collection` positives, 3,106 of 3,192 `data_sharing`, 1,142 of 1,149
# `data_retention` and 4,069 of 4,183 `user_control` (71% of their clauses); what it misses
# names a practice without a data word ("we will check the discount you have told us").
DATA_PRACTICE_PATTERN = re.compile(
    r"\b(?:"
    # collection
    r"collect\w*|gather\w*|obtain\w*|receiv\w*|record\w*|logs?|logg\w*|track\w*|cookies?"
    r"|pixels?|beacons?|tags?|SDKs?|monitor\w*|ask\s+(?:you\s+)?for|card|billing"
    r"|payment\s+(?:details|information|data|method)"
    # what is collected
    r"|personal|data|information|info|details|identif\w*|IP\s+address\w*|location|device\w*"
    r"|biometric\w*|analytic\w*|usage|profil\w*|email|phone|contacts?"
    # sharing
    r"|shar\w*|disclos\w*|sell\w*|sold|transfer\w*|third[\s-]+part\w*|partners?|advertis\w*"
    r"|provid\w*\s+(?:it|them|this)\s+to|law\s+enforcement|authorit\w*|report\w*|subpoena\w*"
    r"|merger|acqui\w*|processors?"
    # retention
    r"|retain\w*|retention|keep\w*|kept|stor\w*|delet\w*|remov\w*|eras\w*|destroy\w*|discard\w*"
    r"|backups?|archiv\w*|as\s+long\s+as|remain\w*|inactiv\w*|period|days?|weeks?|months?|years?"
    # choices and rights
    r"|opt\w*|consent\w*|choose|choices?|settings?|preferences?|prefer|permission\w*"
    r"|let\s+us\s+know|withdraw\w*|object\w*|request\w*|access\w*|correct\w*|rectif\w*"
    r"|export\w*|download\w*|portab\w*|unsubscrib\w*|disabl\w*|control\w*|complain\w*"
    r"|your\s+rights?|rights?\s+(?:to|of)\s+(?:access|correct|delet|eras|object|restrict|port"
    r"|rectif|withdraw|opt|know|request|be\s+forgotten)"
    r"|right\s+to\s+(?:ask|request|access|obtain|know|delete|opt)"
    r"|(?:delet|clos|remov|deactivat|eras|cancel|terminat)\w*\s+(?:\w+\s+){0,3}accounts?"
    r"|accounts?\s+(?:settings?|information|data|details|deletion|page|preferences)"
    r"|privacy|GDPR|CCPA"
    r")\b",
    re.IGNORECASE,
)


def mentions_data_practice(text: str) -> bool:
    """True when `text` may state a data practice or a choice over data (the candidate pattern for
    the four data labels); a CLAUDETTE sentence for which it is False is a known negative for
    `data_collection`, `data_sharing`, `data_retention` and `user_control`."""
    return DATA_PRACTICE_PATTERN.search(text) is not None


def mentions_terms_change(text: str) -> bool:
    """True when `text` may state that this document changes (the `terms_change` candidate
    pattern); a CLAUDETTE sentence for which it is False is a known `terms_change` negative."""
    return TERMS_CHANGE_PATTERN.search(text) is not None


def mentions_ai(text: str) -> bool:
    """True when `text` mentions AI or machine learning (the committed candidate pattern)."""
    return AI_PATTERN.search(text) is not None


def mentions_content_license(text: str) -> bool:
    """True when `text` looks like it grants or discusses a licence to user content."""
    return LICENSE_PATTERN.search(text) is not None


def may_grant_content_rights(text: str) -> bool:
    """True when `text` could be a grant of rights over user content (the licence pattern or the
    wider rights hint). Sentences for which this is False are safe `content_license` negatives."""
    return mentions_content_license(text) or RIGHTS_HINT_PATTERN.search(text) is not None


# ToS;DR case scopes (`scope` column of `data/tosdr_case_map.csv`). A quote of an off-topic case
# (liability, arbitration, refunds...) is a negative for the data labels only when it names no
# data at all; a quote of a denial case ("we do not sell your data") only when it states no
# exception ("... except to our service providers" states the practice).
DATA_WORDS_PATTERN = re.compile(
    r"personal|data|information|cookie|collect|shar|disclos|sell|sold|retain|retention|delet"
    r"|privacy|opt[\s-]?out|consent|track|log|record|stor|content|beacon|pixel|analytic",
    re.IGNORECASE,
)
EXCEPTION_PATTERN = re.compile(
    r"\b(?:except|unless|other\s+than|but|however|only|apart\s+from|aside\s+from|save\s+for"
    r"|without\s+your\s+(?:prior\s+|express\s+)?(?:consent|permission)|as\s+described)\b",
    re.IGNORECASE,
)
