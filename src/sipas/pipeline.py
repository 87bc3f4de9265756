"""The yearly job: read, weight, estimate, report, from one configuration.

``run_demo`` runs it on the bundled SYNTHETIC demo survey. Outputs go to a fresh temporary
folder that replaces the target folder only when everything is written, so an interrupted
run leaves nothing half-written, and an existing non-empty folder is never replaced unless
``overwrite=True``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas.errors import SpecError

__all__ = ["output_folder", "run_demo"]


@contextmanager
def output_folder(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out`` (atomically replaced)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise SpecError(f"Output folder {str(out)!r} exists and is not empty. Choose another "
                        "--out folder or pass --overwrite to replace it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _provenance(data: Any, options: dict[str, Any], timings: dict[str, float]) -> dict:
    from sipas import __version__

    spec = data.spec
    return {
        "sipas_version": __version__,
        "input": {"path": data.meta.source, "sha256": data.meta.sha256,
                  "rows": data.meta.n_rows, "format": data.meta.format},
        "spec": {"name": spec.name, "path": spec.source, "sha256": spec.sha256,
                 "synthetic": spec.synthetic} if spec else None,
        "options": options,
        "timings_seconds": {k: round(v, 4) for k, v in timings.items()},
    }


def run_demo(out: str | Path = "sipas-demo-output", *, overwrite: bool = False,
             lang: str = "vi", quiet: bool = False) -> Path:
    """Run the job on the demo survey and write its outputs to ``out``.

    Returns the output folder.
    """
    import sipas
    from sipas.datasets import SYNTHETIC_NOTICE
    from sipas.describe import codebook
    from sipas.report.files import write_csv, write_text

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = sipas.datasets.load_demo()
    timings["read"] = time.perf_counter() - t0
    spec = data.spec
    t0 = time.perf_counter()
    respondents = data.frame["response"].to_numpy() == 1
    design = sipas.Design.from_spec(data).subset(respondents)
    rows = []
    for item in spec.items:
        scale = spec.scales[item.scale]
        est = sipas.proportion(design, item.name, value=list(scale.satisfied), by=None)
        frame = est.to_frame()
        frame.insert(0, "item", item.name)
        frame.insert(1, "label", item.label.get(lang, item.name))
        rows.append(frame)
    shares = pd.concat(rows, ignore_index=True)
    timings["estimate"] = time.perf_counter() - t0
    with output_folder(out, overwrite) as folder:
        write_csv(codebook(data, lang=lang), folder / "codebook.csv")
        write_csv(shares, folder / "item_shares.csv")
        prov = _provenance(data, {"job": "demo", "lang": lang,
                                  "weights": "design weights of respondents"}, timings)
        prov["notice"] = SYNTHETIC_NOTICE
        write_text(json.dumps(prov, ensure_ascii=False, indent=2, default=_json), folder /
                   "provenance.json")
    if not quiet:
        show = shares[["item", "estimate", "ci_low", "ci_high", "n"]].copy()
        for c in ("estimate", "ci_low", "ci_high"):
            show[c] = (100 * show[c]).round(1)
        print(SYNTHETIC_NOTICE)
        print(f"Share satisfied / agreeing per item (%), design-weighted, 95% CI:\n"
              f"{show.to_string(index=False)}\nOutputs written to {Path(out).resolve()}")
    return Path(out)


def _json(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)
