"""Generator of the 2026 demo survey: a SYNTHETIC provincial survey after the 2025 reform.

The data are invented and must never pass for real microdata. They have the shape of a
provincial survey of 2026: no districts (the level was abolished on 1 July 2025); wards
(phường) and communes (xã) are the clusters, the strata are their type, and they are the
domains of the report; the questionnaire has the post-2024 SIPAS shape of the bundled
``demo2026`` spec (two components with perception, satisfaction and needs parts; structure
only, see the spec's header).

How it is made (one seed):

1. A population of service users in 12 wards and 44 communes (invented names ``Phường 01``,
   ``Xã 01``...), each user with sex, age group and the channel used (in person at the
   commune public service centre, or online), and a latent satisfaction with a commune effect.
2. A two-stage sample: 4 wards and 8 communes by simple random sampling without replacement
   within type, then 40 users per unit; non-respondents stay in the file (``response`` 2).
3. Answers from an ordinal model with component and sub-index effects; "don't know" (8) and
   "not applicable" (9: online items for people who went in person).
4. Population margins (sex, age group, type) are exact population counts.

Run ``python -m sipas.datasets.generate2026 OUTDIR`` to regenerate the files.

Examples
--------
>>> sample, margins = demo2026_tables()
>>> sample.shape, sorted(margins)
((480, 39), ['age_group', 'commune_type', 'sex'])
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from sipas.datasets.generate import write_survey_files

__all__ = ["demo2026_tables", "write_demo2026"]

SEED = 2026017
SAMPLED = {1: 4, 2: 8}  # units drawn per type (1 ward, 2 commune)
USERS_PER_UNIT = 40
UNITS = {1: 12, 2: 44}
TYPE = {1: "Phường", 2: "Xã"}
SEX = {1: "Nam", 2: "Nữ"}
AGE = {1: "18-29", 2: "30-44", 3: "45-59", 4: "60+"}
CHANNEL = {1: "Trực tiếp", 2: "Trực tuyến"}
RESPONSE = {1: "Hoàn thành", 2: "Từ chối"}
ONLINE_ITEMS = ("dv02", "dv05")
CUTS = np.array([-2.6, -1.7, -0.75, 0.9])
SAV_TIMESTAMP = (b"31 Dec 26", b"00:00:00")


def _spec() -> dict:
    path = Path(__file__).parent / "specs" / "demo2026.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def commune_names() -> dict[int, str]:
    """Code -> invented name of every ward and commune (codes 101.. wards, 201.. communes)."""
    return {t * 100 + i: f"{TYPE[t]} {i:02d}" for t, n in UNITS.items()
            for i in range(1, n + 1)}


def _population(rng: np.random.Generator) -> pd.DataFrame:
    parts = []
    for code in commune_names():
        ward = code < 200
        size = max(int(rng.lognormal(np.log(1800 if ward else 600), 0.35)),
                   3 * USERS_PER_UNIT)
        parts.append(pd.DataFrame({
            "commune": code, "commune_type": 1 if ward else 2,
            "N_communes": UNITS[1 if ward else 2], "N_users": size,
            "effect": rng.normal(0.3 if ward else 0.0, 0.35)}, index=range(size)))
    pop = pd.concat(parts, ignore_index=True)
    n = len(pop)
    ward = pop["commune_type"].to_numpy() == 1
    pop["sex"] = np.where(rng.random(n) < 0.51, 2, 1)
    pop["age_group"] = 1 + np.searchsorted(np.cumsum([0.24, 0.34, 0.27, 0.15]), rng.random(n))
    p_online = np.where(ward, 0.45, 0.2) * np.where(pop["age_group"] >= 3, 0.5, 1.0)
    pop["channel"] = np.where(rng.random(n) < p_online, 2, 1)
    pop["latent"] = pop["effect"] + 0.1 * (pop["age_group"] - 2.5) + rng.normal(0, 1, n)
    return pop


def _answers(pop: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    pop = pop.copy()
    n = len(pop)
    u = pop["latent"].to_numpy()
    in_person = pop["channel"].to_numpy() == 1
    spec = _spec()
    scale = {it["name"]: it["scale"] for it in spec["items"]}
    for k, node in enumerate(spec["nodes"]):
        node_latent = u + 0.25 * ((k * 5) % 4 - 1.5) / 1.5 + rng.normal(0, 0.5, n)
        for j, item in enumerate(node.get("items", [])):
            noise = rng.normal(0, 0.75, n)
            if scale[item] == "yes_no":  # wanting improvement: more often when less satisfied
                pop[item] = np.where(rng.random(n) < expit(-0.6 - 0.8 * node_latent), 1.0, 2.0)
                continue
            answer = 1 + np.searchsorted(CUTS, node_latent + 0.4 + 0.1 * j + noise)
            answer = answer.astype("float64")
            answer[rng.random(n) < 0.03] = 8
            if item in ONLINE_ITEMS:
                answer[in_person] = 9
            pop[item] = answer
    return pop


def demo2026_tables(seed: int = SEED) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The 2026 demo sample (one row per selected user) and the population margins."""
    rng = np.random.default_rng(seed)
    pop = _answers(_population(rng), rng)
    chosen = []
    for t, k in SAMPLED.items():
        units = np.sort(pop.loc[pop["commune_type"] == t, "commune"].unique())
        for c in np.sort(rng.choice(units, k, replace=False)):
            users = np.flatnonzero(pop["commune"].to_numpy() == c)
            chosen.append(np.sort(rng.choice(users, USERS_PER_UNIT, replace=False)))
    sample = pop.iloc[np.concatenate(chosen)].reset_index(drop=True)
    sample["w_design"] = (sample["N_communes"] / sample["commune_type"].map(SAMPLED)
                          * sample["N_users"] / USERS_PER_UNIT)
    responded = rng.random(len(sample)) < expit(1.8 + 0.3 * (sample["age_group"] - 2))
    sample["response"] = np.where(responded, 1, 2)
    items = [it["name"] for it in _spec()["items"]]
    sample.loc[~responded, items] = np.nan
    sample.insert(0, "resp_id", [f"T26{i + 1:04d}" for i in range(len(sample))])
    keep = ["resp_id", "commune", "commune_type", "N_communes", "N_users", "w_design",
            "response", "sex", "age_group", "channel", *items]
    sample = sample[keep]
    for col in keep[1:]:
        if col != "w_design":
            sample[col] = sample[col].astype("float64")
    margins = {var: pop.groupby(var).size().rename("population").reset_index()
               for var in ("sex", "age_group", "commune_type")}
    return sample, margins


def write_demo2026(outdir: str | Path, seed: int = SEED) -> list[Path]:
    """Write ``demo2026.sav`` and its margin CSVs into ``outdir``; return their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sample, margins = demo2026_tables(seed)
    spec = _spec()
    answer = {1: "Rất không hài lòng", 2: "Không hài lòng", 3: "Bình thường", 4: "Hài lòng",
              5: "Rất hài lòng", 8: "Không biết", 9: "Không áp dụng"}
    agree = {**answer, 1: "Rất không đồng ý", 2: "Không đồng ý", 4: "Đồng ý", 5: "Rất đồng ý"}
    yes_no = {1: "Có", 2: "Không", 8: "Không biết", 9: "Không áp dụng"}
    by_scale = {"satisfaction": answer, "agreement": agree, "yes_no": yes_no}
    value_labels = {"commune": commune_names(), "commune_type": TYPE, "sex": SEX,
                    "age_group": AGE, "channel": CHANNEL, "response": RESPONSE,
                    **{it["name"]: by_scale[it["scale"]] for it in spec["items"]}}
    column_labels = {
        "resp_id": "Mã người trả lời (DỮ LIỆU GIẢ LẬP)", "commune": "Xã/phường",
        "commune_type": "Loại đơn vị (phường/xã)", "N_communes": "Số xã/phường cùng loại",
        "N_users": "Số người sử dụng dịch vụ của xã/phường", "w_design": "Trọng số thiết kế",
        "response": "Tình trạng phỏng vấn", "sex": "Giới tính", "age_group": "Nhóm tuổi",
        "channel": "Hình thức giao dịch",
        **{it["name"]: it["label"]["vi"] for it in spec["items"]}}
    return write_survey_files(
        outdir, "demo2026", sample, margins, SAV_TIMESTAMP,
        file_label="SIPAS 2026 demo - SYNTHETIC data, not real microdata",
        column_labels=[column_labels[c] for c in sample.columns],
        variable_value_labels=value_labels, note=f"SYNTHETIC demo data, sipas seed {seed}")


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for p in write_demo2026(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data"):
        print(p)
