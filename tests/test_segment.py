"""Segmentation into clauses with offsets that round-trip to the prepared text."""

from __future__ import annotations

import pytest

from train.segment import Clause, prepare_text, segment_document, segment_text


def _check_offsets(text: str, clauses: list[Clause]) -> None:
    assert clauses, "expected at least one clause"
    previous_end = 0
    for clause in clauses:
        assert text[clause.start : clause.end] == clause.text
        assert clause.start >= previous_end  # in order, not overlapping
        assert clause.text == clause.text.strip()
        previous_end = clause.end


def test_plain_text_sentences_and_offsets():
    raw = (
        "We collect your name. We also collect the e-mail address you give us.\n"
        "Mr. Smith at Acme Corp. answers requests within 30 days, e.g. by post.\n"
        "This sentence is wrapped\n"
        "across two lines by a hard break.\n"
        "\n"
        "Short one.\n"
    )
    text, clauses = segment_document(raw, "txt")
    assert text == raw
    _check_offsets(text, clauses)
    assert [c.text for c in clauses] == [
        "We collect your name.",
        "We also collect the e-mail address you give us.",
        "Mr. Smith at Acme Corp. answers requests within 30 days, e.g. by post.",
        "This sentence is wrapped\nacross two lines by a hard break.",
    ]
    assert (clauses[0].start, clauses[0].end) == (0, 21)


def test_markdown_headings_dropped_and_markers_stripped():
    raw = (
        "# Privacy Notice\n"
        "\n"
        "## 1. What we collect\n"
        "\n"
        "- We may share your data with our partners for advertising purposes.\n"
        "* You can delete your account at any time from the settings page.\n"
        "1. We keep server logs for thirty days after you close your account.\n"
        "2.3 Our partners may receive device identifiers from us.\n"
        "(a) You may ask for a copy of your data.\n"
        "**Section 4. We will tell you about important changes by e-mail.**\n"
    )
    text, clauses = segment_document(raw, "md")
    _check_offsets(text, clauses)
    assert [c.text for c in clauses] == [
        "We may share your data with our partners for advertising purposes.",
        "You can delete your account at any time from the settings page.",
        "We keep server logs for thirty days after you close your account.",
        "Our partners may receive device identifiers from us.",
        "You may ask for a copy of your data.",
        "We will tell you about important changes by e-mail.",
    ]
    assert not any("Privacy Notice" in c.text or "What we collect" in c.text for c in clauses)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "**2.** You must be sixteen or older to use the service.\n",
            "You must be sixteen or older to use the service.",
        ),
        (
            "**Section 4.** We will tell you about changes by e-mail.\n",
            "We will tell you about changes by e-mail.",
        ),
    ],
)
def test_markdown_emphasised_numbering_is_stripped(raw, expected):
    text, clauses = segment_document(raw, "md")
    assert [c.text for c in clauses] == [expected]


def test_html_inline_tags_join_and_blocks_split():
    raw = (
        "<html><head><title>Policy</title><style>p {color: red}</style></head><body>"
        "<h1>Our policy</h1>"
        "<p>We <b>collect</b> your <a href='#loc'>location data</a> for ads.</p>"
        "<p>We keep&nbsp;it for one year after you close your account.<br>"
        "You may opt out at any time in the settings.</p>"
        "<ul><li>We share contact details with couriers.</li></ul>"
        "<script>var tracking = 'We sell everything about you.';</script>"
        "</body></html>"
    )
    text, clauses = segment_document(raw, "html")
    assert text == prepare_text(raw, "html")
    assert "<" not in text and "color: red" not in text and "tracking" not in text
    _check_offsets(text, clauses)
    assert [c.text for c in clauses] == [
        "We collect your location data for ads.",
        "We keep\xa0it for one year after you close your account.",
        "You may opt out at any time in the settings.",
        "We share contact details with couriers.",
    ]


@pytest.mark.parametrize("max_chars", [80, 200])
def test_long_sentences_are_cut_below_max_chars(max_chars):
    parts = ", ".join(f"category number {i} of the information you give us" for i in range(40))
    raw = f"We may collect {parts} when you use the service."
    assert len(raw) > 5 * max_chars
    clauses = segment_text(raw, max_chars=max_chars)
    _check_offsets(raw, clauses)
    assert len(clauses) > 5
    assert all(len(c.text) <= max_chars for c in clauses)
    # Nothing is lost: the pieces hold every word of the sentence, in order.
    assert " ".join(c.text for c in clauses).split() == raw.split()
    # Cuts prefer clause boundaries: pieces end at a comma (or the sentence's end).
    assert all(c.text.endswith((",", ".")) for c in clauses)


def test_fragments_under_min_words_are_dropped():
    raw = "Yes. We collect your name and address. Thanks! 12 34 56 78. Contact us."
    texts = [c.text for c in segment_text(raw)]
    assert texts == ["We collect your name and address."]
    assert [c.text for c in segment_text(raw, min_words=2)] == [
        "We collect your name and address.",
        "Contact us.",
    ]


def test_empty_and_blank_documents():
    assert segment_text("") == []
    assert segment_document("\n\n   \n", "md") == ("\n\n   \n", [])
    assert segment_document("<p>  </p>", "html")[1] == []


@pytest.mark.parametrize(
    "text",
    [
        "We collect your name and email address when you sign up for an account",
        "This processing is (i) necessary for our contract, (ii) based on consent and (iii) lawful",
        "Data we keep:\n- your name\n- your e-mail address\n\nWe keep it for 2 years.",
        "You grant us a licence (see section 4) to host your content; we may sublicense it",
        "Cookies • analytics • advertising partners may read them",
        "We may share data with partners, e.g. advertisers, and with our affiliates",
        # The splitter ends a sentence after a closing quote followed by a capital letter.
        '"contributions" Content you add or changes you make to any of our Sites.',
        "\u201cpersonal data\u201d Information you provide to us when you register for an account.",
    ],
)
def test_single_sentence_shortcut_changes_no_clause(text, monkeypatch):
    """Blocks with nowhere for a sentence to end skip the sentence splitter; the clauses are the
    same as the splitter's."""
    import train.segment as segment

    fast = segment.segment_text(text)
    monkeypatch.setattr(segment, "_one_sentence", lambda block: False)
    assert segment.segment_text(text) == fast


def _double_spaced(lines: list[str]) -> str:
    """Text as a PDF converter writes it: a blank line after every wrapped line."""
    return "\n\n".join(lines) + "\n"


def test_double_spaced_document_keeps_wrapped_sentences_whole():
    wrapped = [
        "We may also use your information to improve the service, such as debugging to repair",
        "errors that impair existing functionality, and analysing information to maintain",
        "or enhance the quality or safety of our Services. We will not use your Input from an AI",
        "Feature (as defined in the Supplemental Terms) to train our artificial intelligence models",
        "unless you direct us to do so.",
        "",
        "How We Share Information",
        "",
        "- We share your contact details with the payment provider that processes your order",
        "and with the courier that delivers it to you, and with nobody else for that purpose.",
        "Your request is answered within thirty days of the day we receive it by post or e-mail",
        "at the address given below.",
        "",
        "Contact",
    ]
    text, clauses = segment_document(_double_spaced(wrapped), "txt")
    _check_offsets(text, clauses)
    flat = [" ".join(c.text.split()) for c in clauses]
    assert flat == [
        "We may also use your information to improve the service, such as debugging to repair "
        "errors that impair existing functionality, and analysing information to maintain or "
        "enhance the quality or safety of our Services.",
        "We will not use your Input from an AI Feature (as defined in the Supplemental Terms) to "
        "train our artificial intelligence models unless you direct us to do so.",
        "We share your contact details with the payment provider that processes your order and "
        "with the courier that delivers it to you, and with nobody else for that purpose.",
        "Your request is answered within thirty days of the day we receive it by post or e-mail "
        "at the address given below.",
    ]


def test_blank_lines_still_end_paragraphs_in_an_ordinary_document():
    # One paragraph that breaks off without a sentence end is not enough to make a document
    # double-spaced: the blank line after it still ends it.
    raw = (
        "We collect the name and e-mail address you give us when you register an account\n"
        "\n"
        "Feature requests are answered by our support team within a week of receiving them.\n"
        "\n"
        "We keep server logs for thirty days.\n"
    )
    texts = [c.text for c in segment_text(raw)]
    assert texts == [
        "We collect the name and e-mail address you give us when you register an account",
        "Feature requests are answered by our support team within a week of receiving them.",
        "We keep server logs for thirty days.",
    ]
