"""Watch (`train.watch`, `scripts/watch.py`): histories in the Open Terms Archive layout and flat
folders, snapshot pairs, label-level changes in the timeline, resume, exit codes, and the HTML page
rendered in headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from fakes import FakePredictor
from test_diff import CHANGE, COLLECT, LICENCE, NO_TRAIN, OPT_OUT, TRAIN, doc

from train.watch import find_histories, main, pair_snapshots

TRAIN_WIDER = "We may use your content and service generated data to train and improve our AI models and products."
SCRIPT = '<script>alert("x")</script> We may use your uploads to train our AI models.'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def archive(tmp_path) -> Path:
    """Open Terms Archive layout: <Service>/<Document>/<date>_<id>.md."""
    root = tmp_path / "versions"
    terms = root / "Zoom" / "Terms of Service"
    write(terms / "2023-02-01_aa11.md", doc(LICENCE, COLLECT, CHANGE))
    write(terms / "2023-04-01_bb22.md", doc(LICENCE, COLLECT, SCRIPT, CHANGE))
    write(terms / "2023-08-11_cc33.md", doc(LICENCE, COLLECT, NO_TRAIN, CHANGE))
    privacy = root / "Zoom" / "Privacy Policy"
    write(privacy / "2023-01-01_dd44.md", doc(COLLECT, OPT_OUT))
    write(privacy / "2023-06-30_ee55.md", doc(COLLECT, OPT_OUT, "Contact us at privacy@zoom.us."))
    write(root / "Zoom" / "notes.md", "no date in this name")
    return root


def read_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]


def test_histories_in_the_archive_layout_and_a_flat_folder(archive, tmp_path):
    series = find_histories(archive)
    assert [(s.service, s.document, len(s.versions)) for s in series] == [
        ("Zoom", "Privacy Policy", 2),
        ("Zoom", "Terms of Service", 3),
    ]
    flat = tmp_path / "acme-terms"
    write(flat / "2024-01-01-terms.md", doc(LICENCE))
    write(flat / "terms_20240301.md", doc(LICENCE, TRAIN))
    [one] = find_histories(flat)
    assert (one.service, one.document) == ("acme-terms", "acme-terms")
    assert [v.label for v in one.versions] == ["2024-01-01", "2024-03-01"]


def test_timeline_rows_newest_first_with_evidence(archive, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["--model", "m", "--output", str(out), "--no-progress", str(archive)], FakePredictor()
    )
    assert code == 0
    rows = read_rows(out)
    assert [(r["date"], r["document"], r["label"], r["change"]) for r in rows] == [
        ("2023-08-11", "Terms of Service", "ai_training", "withdrawn"),
        ("2023-04-01", "Terms of Service", "ai_training", "granted"),
    ]
    granted = rows[1]
    assert granted["from_date"] == "2023-02-01"
    assert (granted["old_flagged"], granted["new_flagged"]) == (0, 1)
    assert granted["evidence"][0]["text"] == SCRIPT and granted["evidence"][0]["score"] == 0.9
    with (out / "timeline.csv").open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["date"], r["change"], r["top_evidence"]) for r in table] == [
        ("2023-08-11", "withdrawn", SCRIPT),
        ("2023-04-01", "granted", SCRIPT),
    ]
    assert "ai_training granted" in capsys.readouterr().out


def test_fail_on_since_and_labels(archive, tmp_path):
    run = ["--model", "m", "--no-progress"]
    assert (
        main(
            [*run, "--output", str(tmp_path / "a"), "--fail-on", "ai_training", str(archive)],
            FakePredictor(),
        )
        == 1
    )
    # the grant is older than --since: only the withdrawal is left, which is no failure
    argv = [
        *run,
        "--output",
        str(tmp_path / "b"),
        "--fail-on",
        "ai_training",
        "--since",
        "2023-05-01",
    ]
    assert main([*argv, str(archive)], FakePredictor()) == 0
    assert [r["change"] for r in read_rows(tmp_path / "b")] == ["withdrawn"]
    argv = [*run, "--output", str(tmp_path / "c"), "--labels", "content_license"]
    assert main([*argv, str(archive)], FakePredictor()) == 0
    assert read_rows(tmp_path / "c") == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--since", "last week"], "--since"),
        (["--fail-on", "ai-training"], "unknown label(s) ai-training"),
        (["--margin", "-1"], "--margin"),
    ],
)
def test_usage_errors_exit_2(archive, tmp_path, capsys, argv, message):
    code = main(
        ["--model", "m", "--output", str(tmp_path / "o"), *argv, str(archive)], FakePredictor()
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_refuses_a_folder_it_did_not_create_and_missing_input(archive, tmp_path, capsys):
    mine = write(tmp_path / "mine" / "notes.txt", "keep me").parent
    assert main(["--model", "m", "--output", str(mine), str(archive)], FakePredictor()) == 2
    assert (mine / "notes.txt").read_text() == "keep me"
    assert (
        main(
            ["--model", "m", "--output", str(tmp_path / "o"), str(tmp_path / "nope")],
            FakePredictor(),
        )
        == 2
    )
    assert "not a folder" in capsys.readouterr().err


def test_rerun_resumes_finished_steps(archive, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--model", "m", "--output", str(out), "--no-progress", str(archive)]
    assert main(argv, FakePredictor()) == 0
    first = (out / "timeline.jsonl").read_text()
    assert len(list((out / "parts").glob("*.json"))) == 3
    predictor = FakePredictor()
    assert main(argv, predictor) == 0
    assert predictor.scored == []  # every step came from parts/
    assert "(3 resumed)" in capsys.readouterr().out
    assert (out / "timeline.jsonl").read_text() == first


def test_snapshots_date_changes_between_them_and_new_documents_are_not_grants(tmp_path):
    old, new = tmp_path / "2023-01-01", tmp_path / "current"
    write(old / "Acme" / "Terms of Service.md", doc(LICENCE, CHANGE))
    write(new / "Acme" / "Terms of Service.md", doc(LICENCE, CHANGE, TRAIN))
    write(old / "Acme" / "Privacy Policy.md", doc(COLLECT, TRAIN))
    write(new / "Acme" / "Privacy Policy.md", doc(COLLECT, TRAIN_WIDER))
    write(new / "Beta" / "Terms of Service.md", doc(TRAIN))
    both, new_only = pair_snapshots(old, new)
    assert [s.key for s in both] == ["Acme/Privacy Policy", "Acme/Terms of Service"]
    assert [s.key for s in new_only] == ["Beta/Terms of Service"]
    out = tmp_path / "out"
    argv = [
        "--model",
        "m",
        "--output",
        str(out),
        "--no-progress",
        "--dates",
        "2023-01-01",
        "2026-08-22",
    ]
    scored = [*argv, "--score-new-documents", "--fail-on", "ai_training"]
    assert main([*scored, str(old), str(new)], FakePredictor()) == 1
    rows = {(r["service"], r["document"], r["change"]): r for r in read_rows(out)}
    granted = rows[("Acme", "Terms of Service", "granted")]
    assert (granted["from_date"], granted["date"]) == ("2023-01-01", "2026-08-22")
    reworded = rows[
        ("Acme", "Privacy Policy", "widened")
    ]  # "and improve ... and products" is wider
    assert reworded["evidence"][0]["kind"] == "reworded"
    fresh = rows[("Beta", "Terms of Service", "new_document")]
    assert (fresh["label"], fresh["labels_flagged"]) == ("", ["ai_training"])
    only = ["--documents", "Privacy Policy"]
    assert main([*argv, *only, str(old), str(new)], FakePredictor()) == 0


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.skipif(
    _chromium() is None and not os.environ.get("CLAUSEWATCH_REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_report_renders_in_headless_chromium(archive, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    out = tmp_path / "out"
    assert (
        main(["--model", "m", "--output", str(out), "--no-progress", str(archive)], FakePredictor())
        == 0
    )
    browser, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,700",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get((out / "report.html").resolve().as_uri())
        assert driver.title == "ClauseWatch timeline"
        headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#grid th")]
        assert headers[:2] == ["service / document", "ai_training"]
        # the clause's <script> is text on the page, never an element that ran
        assert driver.find_elements(By.TAG_NAME, "script") == []
        assert '<script>alert("x")</script>' in driver.find_element(By.TAG_NAME, "body").text
        link = driver.find_element(By.CSS_SELECTOR, "a.ch.granted")
        # The change happened between two versions: both dates, not just the later one.
        assert link.text == "2023-02-01 \u2192 2023-04-01 granted"
        target = link.get_attribute("href").split("#", 1)[1]
        link.click()
        assert driver.execute_script("return location.hash") == f"#{target}"
        section = driver.find_element(By.ID, target)
        assert "ai_training granted" in section.text and "train our AI models" in section.text
        top = driver.execute_script("return arguments[0].getBoundingClientRect().top", section)
        assert 0 <= top < driver.execute_script("return innerHeight")  # the evidence is in view
        driver.save_screenshot(
            str(os.environ.get("CLAUSEWATCH_SCREENSHOT", tmp_path / "report.png"))
        )
    finally:
        driver.quit()


def test_a_second_run_into_a_locked_folder_exits_2(archive, tmp_path, capsys):
    """Two watch runs into one output folder: the second stops at the lock and changes nothing."""
    from filelock import FileLock

    from train.outputs import LOCK_FILE

    out = tmp_path / "out"
    argv = ["--model", "m", "--output", str(out), "--no-progress", str(archive)]
    assert main(argv, FakePredictor()) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    with FileLock(out / LOCK_FILE, blocking=False):
        assert main(argv, FakePredictor()) == 2
    assert "another watch run is writing into" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK_FILE}
    assert after == before
