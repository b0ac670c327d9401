"""The committed candidate patterns: what "mentions AI" means for exhaustive hand labelling."""

from __future__ import annotations

import pytest

from train.patterns import mentions_ai, mentions_content_license, mentions_data_practice


@pytest.mark.parametrize(
    "text",
    [
        "We use AI to sort your inbox.",
        "Our AI-powered assistant drafts replies.",
        "Features built with GenAI may be offered.",
        "Prompts are reviewed to improve our LLM.",
        "Several LLMs process your requests.",
        "We apply machine learning to detect fraud.",
        "Machine-learned ranking orders your feed.",
        "Artificial Intelligence helps us moderate posts.",
        "artificial-intelligence tools summarise calls.",
        "Deep learning systems recognise faces in photos.",
        "Large language models answer support questions.",
        "A neural network scores each transaction.",
        "We may use your recordings to train our models.",
        "Your posts may be used for training algorithms that rank content.",
        "The models we offer are trained on public and licensed data.",
        # The wider net: grants worded without "AI" or "machine learning".
        "We review voice snippets to improve our speech recognition.",
        "Photos help us improve face recognition for everyone.",
        "Your interactions help us develop and improve our ranking algorithms.",
        "We use this data to improve our technologies and services.",
        "Our systems learn from how you use the app.",
        "Automated systems review and improve with every message.",
        "Generative features may be offered in some regions.",
        "Our chatbot answers questions about your order.",
    ],
)
def test_mentions_ai_true(text):
    assert mentions_ai(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "Book an airline ticket through our partners.",
        "An exhibition of works by Ai Weiwei opens in May.",
        "Try our brain training games for free.",
        "We train our staff to handle your data with care.",
        "Improve our products and services.",
        "Recognition of foreign judgments is governed by the law of Ireland.",
        "Staff training courses are held every year.",
        "Send us an email and we will reply.",
        "Ele disse ai que viria amanha.",  # lower-case "ai" is a word in other languages
        "We maintain fashion models' portfolios. Training dates are on the website.",
        "These terms are governed by Dutch law.",
        "",
    ],
)
def test_mentions_ai_false(text):
    assert mentions_ai(text) is False


@pytest.mark.parametrize("text", ["Our A.I. reads every message you send.", "We rely on A.I."])
def test_mentions_ai_dotted_acronym(text):
    assert mentions_ai(text) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You grant us a worldwide licence to the content you post.", True),
        ("By uploading photos you give Acme a license to use them.", True),
        ("Your submissions are covered by a perpetual license.", True),
        ("We grant you a licence to use the app on your phone.", False),
        ("You own the content you post.", False),
    ],
)
def test_mentions_content_license(text, expected):
    assert mentions_content_license(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We collect your IP address when you visit.", True),
        ("Your posts may remain after you cancel.", True),
        ("You may opt out at any time.", True),
        ("We may pass your details to our partners.", True),
        ("We may delete your account if you have not logged in for two years.", True),
        ("These terms are governed by the law of California.", False),
        ("We are not liable for lost playlists or any indirect damage.", False),
        ("If any provision is found invalid, the rest stays in full force.", False),
    ],
)
def test_data_practice_pattern(text, expected):
    assert mentions_data_practice(text) is expected
