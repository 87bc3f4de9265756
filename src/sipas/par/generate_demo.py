"""Generator of the SYNTHETIC PAR demo tables (63 provinces): appraisal points for the
example scheme and citizen-survey indices with SEs for the provinces other than the demo
survey's. Invented numbers, for the demo and the notebooks only.

Run ``python -m sipas.par.generate_demo OUTDIR`` to regenerate them byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2021
PROVINCES = [
    "An Giang", "Bà Rịa - Vũng Tàu", "Bạc Liêu", "Bắc Giang", "Bắc Kạn", "Bắc Ninh", "Bến Tre",
    "Bình Dương", "Bình Định", "Bình Phước", "Bình Thuận", "Cà Mau", "Cao Bằng", "Cần Thơ",
    "Đà Nẵng", "Đắk Lắk", "Đắk Nông", "Điện Biên", "Đồng Nai", "Đồng Tháp", "Gia Lai",
    "Hà Giang", "Hà Nam", "Hà Nội", "Hà Tĩnh", "Hải Dương", "Hải Phòng", "Hậu Giang",
    "Hòa Bình", "Hưng Yên", "Khánh Hòa", "Kiên Giang", "Kon Tum", "Lai Châu", "Lạng Sơn",
    "Lào Cai", "Lâm Đồng", "Long An", "Nam Định", "Nghệ An", "Ninh Bình", "Ninh Thuận",
    "Phú Thọ", "Phú Yên", "Quảng Bình", "Quảng Nam", "Quảng Ngãi", "Quảng Ninh", "Quảng Trị",
    "Sóc Trăng", "Sơn La", "Tây Ninh", "Thái Bình", "Thái Nguyên", "Thanh Hóa",
    "Thừa Thiên Huế", "Tiền Giang", "TP Hồ Chí Minh", "Trà Vinh", "Tuyên Quang", "Vĩnh Long",
    "Vĩnh Phúc", "Yên Bái",
]
FACTORS = ["access", "procedures", "officials", "results", "feedback"]
APPRAISAL = {"A1.1.1": 25.0, "A2.1.1": 20.0, "A3.1.1": 10.0}


def tables(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The SYNTHETIC appraisal and citizen-survey tables of the 63 provinces.

    Parameters
    ----------
    seed : int
        Seed of the generator (the bundled tables use :data:`SEED`).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Appraisal points (``province, code, points``) for the example scheme's appraisal
        sub-criteria, and survey indices (``province, index, estimate, se``) for the five
        factors and ``overall``, with ``se = sqrt(p (1 - p) / 550 * 1.6)``.

    Examples
    --------
    >>> appraisal, survey = tables()
    >>> appraisal.shape, survey.shape
    ((189, 3), (378, 4))
    """
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, len(PROVINCES))
    rows = []
    for prov, q in zip(PROVINCES, quality):
        for code, top in APPRAISAL.items():
            share = np.clip(0.78 + 0.07 * q + rng.normal(0, 0.05), 0.4, 1.0)
            rows.append({"province": prov, "code": code, "points": round(top * share, 2)})
    appraisal = pd.DataFrame(rows)
    rows = []
    for prov, q in zip(PROVINCES, quality):
        level = np.clip(0.80 + 0.05 * q + rng.normal(0, 0.02), 0.5, 0.98)
        values = {f: np.clip(level + rng.normal(0, 0.025), 0.4, 0.99) for f in FACTORS}
        values["overall"] = float(np.mean(list(values.values())))
        for name, v in values.items():
            index = "overall" if name == "overall" else f"factor:{name}"
            se = np.sqrt(v * (1 - v) / 550 * 1.6)
            rows.append({"province": prov, "index": index, "estimate": round(float(v), 4),
                         "se": round(float(se), 4)})
    return appraisal, pd.DataFrame(rows)


def write(outdir: str | Path, seed: int = SEED) -> list[Path]:
    """Write ``demo_par_appraisal.csv`` and ``demo_par_survey.csv`` into ``outdir``.

    Parameters
    ----------
    outdir : str or Path
        An existing folder; files of the same names are replaced.
    seed : int
        Seed of the generator; with :data:`SEED` the files equal the bundled ones byte for
        byte.

    Returns
    -------
    list of Path
        The two files written.

    Examples
    --------
    >>> import filecmp, tempfile
    >>> from importlib import resources
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     bundled = resources.files("sipas.datasets") / "data"
    ...     [filecmp.cmp(p, str(bundled / p.name), shallow=False) for p in write(tmp)]
    [True, True]
    """
    outdir = Path(outdir)
    appraisal, survey = tables(seed)
    paths = [outdir / "demo_par_appraisal.csv", outdir / "demo_par_survey.csv"]
    appraisal.to_csv(paths[0], index=False, lineterminator="\n")
    survey.to_csv(paths[1], index=False, lineterminator="\n")
    return paths


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    default = Path(__file__).resolve().parents[1] / "datasets" / "data"
    for p in write(sys.argv[1] if len(sys.argv) > 1 else default):
        print(p)
