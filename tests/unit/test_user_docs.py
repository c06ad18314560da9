"""User documentation speaks to users: no issue numbers or tracker jargon in the README, docs/ (the hand-written
history included), the help page shipped in the plugin, or the help text of the QGIS algorithms."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ISSUE = re.compile(r"\bissues? ?#?\d+\b|(?<![\w&/])#\d{1,4}\b|\bits issue\b", re.I)


def user_documents() -> list[Path]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "resources" / "help" / "algorithms.html"]
    return docs + sorted((ROOT / "processing_provider").glob("*.py"))


def issue_mentions(text: str) -> list[str]:
    return [match.group(0) for match in ISSUE.finditer(text)]


@pytest.mark.parametrize("path", user_documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_issue_numbers_in_user_documentation(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":  # colours (#fff) and anchors (href="#name") are not issues
        text = re.sub(r"<style>.*?</style>|href=\"#[^\"]*\"", "", text, flags=re.S)
    assert not issue_mentions(text), f"{path.relative_to(ROOT)}: {issue_mentions(text)}"


def test_the_check_finds_issue_numbers():
    for text in ("see issue 18", "(issue #7)", "fixed in #31", "the model lands with its issue"):
        assert issue_mentions(text), text
    for text in ("B08 band", "colour #fff", "reissue", "step 4 of 7", "a tissue 12"):
        assert not issue_mentions(text), text
