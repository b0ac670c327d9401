"""Dataset card rendering with `huggingface_hub.DatasetCard` from the committed template."""

from __future__ import annotations

from huggingface_hub import DatasetCard, DatasetCardData

from train.paths import REPO_ROOT
from train.sources import LICENSES as SOURCE_LICENSES
from train.splits import SPLITS
from train.taxonomy import Taxonomy

DATASET_CARD_TEMPLATE = REPO_ROOT / "data" / "dataset_card_template.md"


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M"


def render_dataset_card(stats: dict, taxonomy: Taxonomy) -> str:
    """Render the dataset card (YAML metadata + Markdown) from build statistics; works offline."""
    total = sum(stats["splits"][s]["clauses"] for s in SPLITS)
    card_data = DatasetCardData(
        language="en",
        license="other",
        license_name="mixed-see-card",
        annotations_creators=["expert-generated", "crowdsourced"],
        language_creators=["found", "expert-generated"],
        multilinguality="monolingual",
        size_categories=_size_category(total),
        task_categories=["text-classification"],
        task_ids=["multi-label-classification"],
        pretty_name="ClauseWatch clauses",
        tags=["terms-of-service", "privacy-policy", "legal", "ai-training"],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"jsonl/{s}.jsonl"} for s in SPLITS],
            }
        ],
    )
    team = stats["source_stats"].get("team", {})
    documents = stats.get("labelled_documents", {})
    card = DatasetCard.from_template(
        card_data,
        template_path=str(DATASET_CARD_TEMPLATE),
        labels=list(zip(taxonomy.names, taxonomy.definitions, strict=True)),
        splits=SPLITS,
        stats=stats,
        sources=sorted(SOURCE_LICENSES.items()),
        taxonomy_version=taxonomy.version,
        content_hash=stats["content_hash"],
        exclude_licenses=", ".join(stats.get("exclude_licenses", [])),
        mined=stats["source_stats"].get("mined", {}),
        sampled=stats["source_stats"].get("sampled", {}),
        team_total=team.get("total", 0),
        team_ai=team.get("ai_training", 0),
        team_license=team.get("content_license", 0),
        team_hard=team.get("hard_negative", 0),
        documents=documents,
        agreement=stats.get("agreement", {}),
        candidate_agreement=stats.get("candidate_agreement", {}),
    )
    return str(card)
