"""The results page (docs/results.md): the holdout first, then development origins, horizons,
calibration, what the served model beats, missing values, labels, data timing, coverage and drivers.

Two halves. `gather` (gather.py) runs (or finds up to date) every training the page reports: the
product model (current and previous placement beside the proxy signals), the proxy-only and
independent-sources variants, each horizon side by side, and the single-vintage ablation; it
scores the served model and evaluates every forecast in one table, so all models are judged
under the same block-bootstrap draws and paired on identical rows. `render` (render.py) is a pure
function of what `gather` returns. The page depends only on its inputs' content, never on dates,
registry version numbers or absolute paths, so unchanged inputs give the same bytes.

Every sentence that states a direction is generated from a paired difference by `direction`
(sentences.py) and returned with its numbers (`Page.sentences`), as is every goal's verdict
(`Page.goals`), so a test can hold each one to the table it came from.

Modules, lowest first (each imports only those above it): models (what the page reports and how
it names them), inputs (what gather returns), markdown (number and table formatting), view
(lookups into the evaluation tables), sentences (directions and goals), tables (numbers → tables),
gather, the four *_sections modules (the page's sections), render; this file holds the entry
point `nexus results` calls (write_results) and re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from experiments.results.gather import combined_predictions, gather, variant_params
from experiments.results.inputs import ResultsInputs, Training
from experiments.results.models import (
    BASELINE_ORDER,
    ERA,
    GOAL_MISSING_SHAP,
    GOAL_TOP_K_SHARE,
    HORIZONS,
    INDEPENDENT,
    MODEL_LABEL,
    MODEL_ORDER,
    NO_SINGLE_VINTAGE,
    PAIRED,
    PERSISTENCE,
    PRODUCT,
    PROXY_ONLY,
    SHORT,
    SHOWN,
    SINGLE_VINTAGE,
    SUBSET_METRIC,
    VARIANTS,
    Variant,
)
from experiments.results.render import Page, render, write_page
from experiments.results.sentences import Goal, Sentence, direction, sentence
from experiments.results.tables import MissingShap, coverage_table, inferred_usage, label_table, missing_shap

__all__ = [
    "BASELINE_ORDER", "ERA", "GOAL_MISSING_SHAP", "GOAL_TOP_K_SHARE", "HORIZONS", "INDEPENDENT",
    "MODEL_LABEL", "MODEL_ORDER", "NO_SINGLE_VINTAGE", "PAIRED", "PERSISTENCE", "PRODUCT", "PROXY_ONLY",
    "SHORT", "SHOWN", "SINGLE_VINTAGE", "SUBSET_METRIC", "VARIANTS", "Goal", "MissingShap", "Page",
    "ResultsInputs", "Sentence", "Training", "Variant", "combined_predictions",
    "coverage_table", "direction", "gather", "inferred_usage", "label_table", "missing_shap", "render",
    "sentence", "variant_params", "write_page", "write_results",
]


def write_results(
    params,
    paths,
    out: Path,
    *,
    command: str,
    horizons: Sequence[int] = HORIZONS,
    variants: Sequence[str] | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Gather, render and write the page and `results_coverage.csv` beside it."""
    inputs = gather(
        params, paths, command=command, horizons=horizons, variants=variants, force=force, progress=progress
    )
    return write_page(render(inputs), inputs, out)
