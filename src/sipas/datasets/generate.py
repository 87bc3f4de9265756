"""Generator of the bundled demo survey: a SYNTHETIC one-province SIPAS-style survey.

The data are invented. They follow the SIPAS 2017-2020 structure (5 factors, 22 satisfaction
items) and a two-stage design typical of provincial surveys, and are tuned so that, weighted,
they reproduce two figures published for Cao Bằng 2020 (70% found the forms and the ways
dossiers are received appropriate; 74.5% of commune dossiers handled well) and the 3.74/5
mean of the reform-impact question. They must never pass for real microdata.

How the population and sample are made (all from one seed):

1. A population of service users: 10 districts (strata) with the 2020 number of communes of
   Cao Bằng; each commune has M users (log-normal; wards and district towns are larger and
   urban). Each user has sex, age group, ethnicity, the service field and the level (commune
   or district) at which the dossier was handled, and a latent satisfaction that depends on
   urban/rural, district, commune (random effect) and age.
2. A two-stage sample: 4 communes per district by simple random sampling without
   replacement, then 20 users per selected commune, also without replacement. The design
   weight is ``(N_communes / 4) * (M / 20)``; both population sizes are stored for the fpc.
3. Non-response (lower in urban areas and among the young): non-respondents stay in the
   file with ``response`` = 2 (refused) or 3 (not contacted) and empty answers.
4. Answers on the 1-5 scale from an ordinal model with factor and item effects; "don't
   know" (8), "not applicable" (9, e.g. feedback items for people who never gave feedback)
   and "not asked" (99, the commune-dossier question for district-level dossiers).
5. Population margins (sex, age group, ethnicity, district) are the population counts, so
   raking targets are exact.

Run ``python -m sipas.datasets.generate OUTDIR`` to regenerate the files byte for byte. The
bundled ``demo.sav`` was written with pyreadstat :data:`PYREADSTAT_VERSION`; another version
may lay the file out differently (same data and labels, other bytes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

SEED = 2020029
COMMUNES_PER_DISTRICT = 4
USERS_PER_COMMUNE = 20
SAV_TIMESTAMP = (b"31 Dec 20", b"00:00:00")  # fixed header date: byte-identical files
#: the pyreadstat version that wrote the bundled demo.sav (tests compare bytes only with it)
PYREADSTAT_VERSION = "1.3.7"

#: code, Vietnamese name, communes in 2020, latent district effect
DISTRICTS = [
    (1, "Thành phố Cao Bằng", 11, 0.35),
    (2, "Bảo Lạc", 17, -0.25),
    (3, "Bảo Lâm", 14, -0.30),
    (4, "Hạ Lang", 14, -0.10),
    (5, "Hà Quảng", 21, -0.05),
    (6, "Hòa An", 15, 0.10),
    (7, "Nguyên Bình", 17, -0.20),
    (8, "Quảng Hòa", 19, 0.05),
    (9, "Thạch An", 14, -0.15),
    (10, "Trùng Khánh", 19, 0.00),
]
SEX = {1: "Nam", 2: "Nữ"}
AGE = {1: "18-29", 2: "30-44", 3: "45-59", 4: "60+"}
ETHNICITY = {1: "Tày", 2: "Nùng", 3: "H'Mông", 4: "Dao", 5: "Kinh và dân tộc khác"}
SERVICE = {1: "Đất đai", 2: "Xây dựng", 3: "Tư pháp - Hộ tịch", 4: "Lao động - Xã hội",
           5: "Lĩnh vực khác"}
LEVEL = {1: "Cấp xã", 2: "Cấp huyện"}
URBAN = {1: "Thành thị", 2: "Nông thôn"}
RESPONSE = {1: "Hoàn thành", 2: "Từ chối", 3: "Không liên lạc được"}
ANSWER_LABELS = {1: "Rất không hài lòng", 2: "Không hài lòng", 3: "Bình thường",
                 4: "Hài lòng", 5: "Rất hài lòng", 7: "Từ chối trả lời", 8: "Không biết",
                 9: "Không áp dụng", 99: "Không được hỏi"}
YESNO = {1: "Có / Phù hợp", 2: "Không", 7: "Từ chối trả lời", 8: "Không biết",
         9: "Không áp dụng", 99: "Không được hỏi"}
AGREE = {1: "Rất không đồng ý", 2: "Không đồng ý", 3: "Bình thường", 4: "Đồng ý",
         5: "Rất đồng ý", 8: "Không biết", 9: "Không áp dụng"}

#: factor, items, mean effect (top-box shares between about 75% and 90%)
FACTORS = [
    ("access", ["q01", "q02", "q03", "q04"], 0.35),
    ("procedures", ["q05", "q06", "q07", "q08", "q09"], 0.25),
    ("officials", ["q10", "q11", "q12", "q13", "q14"], 0.30),
    ("results", ["q15", "q16", "q17", "q18"], 0.40),
    ("feedback", ["q19", "q20", "q21", "q22"], -0.05),
]
ITEM_LABELS = {
    "q01": "Nơi ngồi chờ tại Bộ phận Một cửa có đủ chỗ ngồi",
    "q02": "Trang thiết bị phục vụ người dân, tổ chức đầy đủ",
    "q03": "Trang thiết bị phục vụ hiện đại, dễ sử dụng",
    "q04": "Trụ sở Bộ phận Một cửa dễ tìm, thuận tiện",
    "q05": "Thủ tục hành chính được niêm yết công khai đầy đủ",
    "q06": "Thủ tục hành chính được niêm yết công khai chính xác",
    "q07": "Thành phần hồ sơ phải nộp đúng quy định",
    "q08": "Phí, lệ phí phải nộp đúng quy định",
    "q09": "Thời hạn giải quyết đúng quy định",
    "q10": "Công chức có thái độ giao tiếp lịch sự",
    "q11": "Công chức chú ý lắng nghe ý kiến",
    "q12": "Công chức trả lời, giải thích đầy đủ",
    "q13": "Công chức hướng dẫn kê khai hồ sơ dễ hiểu",
    "q14": "Công chức tuân thủ đúng quy định",
    "q15": "Kết quả giải quyết đúng quy định",
    "q16": "Kết quả có thông tin đầy đủ",
    "q17": "Kết quả có thông tin chính xác",
    "q18": "Nhận kết quả đúng hẹn",
    "q19": "Có bố trí hình thức tiếp nhận góp ý, phản ánh, kiến nghị",
    "q20": "Dễ dàng thực hiện góp ý, phản ánh, kiến nghị",
    "q21": "Góp ý, phản ánh được tiếp nhận, xử lý tích cực",
    "q22": "Được thông báo kết quả xử lý kịp thời",
    "q23": "Mức độ hài lòng chung đối với dịch vụ hành chính công",
    "p01": "Hình thức niêm yết, hướng dẫn TTHC và tiếp nhận hồ sơ, trả kết quả là phù hợp",
    "p02": "Hồ sơ tại cấp xã được giải quyết tốt (đúng hạn, đúng quy định)",
    "p03": "Tác động của cải cách hành chính đến chất lượng văn bản QPPL của tỉnh (1-5)",
    "e1": "Mong muốn cải thiện: tiếp cận dịch vụ",
    "e2": "Mong muốn cải thiện: thủ tục hành chính",
    "e3": "Mong muốn cải thiện: công chức giải quyết công việc",
    "e4": "Mong muốn cải thiện: kết quả dịch vụ",
    "e5": "Mong muốn cải thiện: tiếp nhận, giải quyết góp ý, phản ánh",
}
TARGET_P01 = 0.70
TARGET_P02 = 0.745
TARGET_P03_MEAN = 3.74
CUTS = np.array([-2.6, -1.7, -0.75, 0.9])  # ordinal thresholds of the 1-5 answers


def build_population(rng: np.random.Generator) -> pd.DataFrame:
    """The synthetic population of service users, one row per user."""
    parts = []
    commune_code = 0
    for d, _name, n_communes, d_eff in DISTRICTS:
        for c in range(n_communes):
            commune_code += 1
            urban = d == 1 or c == 0  # every ward of the city, and each district town
            size = int(rng.lognormal(np.log(1400 if urban else 330), 0.30 if urban else 0.40))
            size = max(size, 3 * USERS_PER_COMMUNE)
            parts.append(pd.DataFrame({
                "district": d, "commune": d * 100 + c + 1, "urban": 1 if urban else 2,
                "commune_effect": rng.normal(0, 0.30), "district_effect": d_eff,
                "N_communes": n_communes, "N_users": size,
            }, index=range(size)))
    pop = pd.concat(parts, ignore_index=True)
    n = len(pop)
    urban = pop["urban"].to_numpy() == 1
    pop["sex"] = np.where(rng.random(n) < 0.52, 2, 1)
    pop["age_group"] = 1 + np.searchsorted(np.cumsum([0.22, 0.33, 0.28, 0.17]), rng.random(n))
    eth_rural = np.cumsum([0.43, 0.32, 0.11, 0.10, 0.04])
    eth_urban = np.cumsum([0.45, 0.25, 0.02, 0.03, 0.25])
    draw = rng.random(n)
    pop["ethnicity"] = 1 + np.where(urban, np.searchsorted(eth_urban, draw),
                                    np.searchsorted(eth_rural, draw))
    pop["service"] = 1 + np.searchsorted(np.cumsum([0.30, 0.15, 0.30, 0.15, 0.10]), rng.random(n))
    pop["level"] = np.where(rng.random(n) < np.where(urban, 0.45, 0.70), 1, 2)
    pop["latent"] = (0.45 * urban + pop["district_effect"] + pop["commune_effect"]
                     + 0.12 * (pop["age_group"] - 2.5) - 0.15 * (pop["ethnicity"] == 3)
                     + rng.normal(0, 1, n))
    return pop


def _shift_for_share(score: np.ndarray, target: float) -> float:
    """Intercept a such that mean(expit(a + score)) = target in the population."""
    return brentq(lambda a: expit(a + score).mean() - target, -20, 20)


def _ordinal(latent: np.ndarray) -> np.ndarray:
    return 1 + np.searchsorted(CUTS, latent).astype(float)


def add_answers(pop: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Answers of every user (the sample keeps those of its respondents)."""
    pop = pop.copy()
    n = len(pop)
    u = pop["latent"].to_numpy()
    urban = pop["urban"].to_numpy() == 1
    gave_feedback = rng.random(n) < 0.38
    for k, (_f, items, f_eff) in enumerate(FACTORS):
        factor_latent = u + f_eff + rng.normal(0, 0.55, n)
        for j, item in enumerate(items):
            item_eff = 0.15 * ((j * 7 + k * 3) % 5 - 2)
            answer = _ordinal(factor_latent + item_eff + rng.normal(0, 0.75, n))
            if item in ("q05", "q06", "q07", "q09", "q14"):
                answer[rng.random(n) < 0.03] = 8
            if item == "q08":
                answer[rng.random(n) < 0.15] = 9
            if item in ("q19", "q20", "q21", "q22"):
                answer[~gave_feedback] = 9
                answer[gave_feedback & (rng.random(n) < 0.04)] = 8
            pop[item] = answer
        pop[f"e{k + 1}"] = np.where(rng.random(n) < expit(-0.9 - 0.8 * (factor_latent - 0.3)),
                                    1.0, 2.0)
    pop["q23"] = _ordinal(u + 0.30 + rng.normal(0, 0.6, n))
    pop.loc[rng.random(n) < 0.004, "q23"] = 7
    score1 = 1.0 * u + 1.1 * urban
    a1 = _shift_for_share(score1, TARGET_P01)
    pop["p01"] = np.where(rng.random(n) < expit(a1 + score1), 1.0, 2.0)
    commune_level = pop["level"].to_numpy() == 1
    score2 = 0.9 * u + 0.6 * urban
    a2 = _shift_for_share(score2[commune_level], TARGET_P02)
    pop["p02"] = np.where(commune_level,
                          np.where(rng.random(n) < expit(a2 + score2), 1.0, 2.0), 99.0)
    noise3 = rng.normal(0, 0.9, n)
    cuts3 = np.array([-2.2, -1.0, 0.2, 1.6])
    b3 = brentq(lambda b: (1 + np.searchsorted(cuts3, 0.5 * u + b + noise3)).mean()
                - TARGET_P03_MEAN, -10, 10)
    pop["p03"] = (1 + np.searchsorted(cuts3, 0.5 * u + b3 + noise3)).astype(float)
    pop.loc[rng.random(n) < 0.06, "p03"] = 8
    return pop


def draw_sample(pop: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Two-stage sample: communes by SRSWOR within district, then users by SRSWOR."""
    chosen = []
    for d, _name, _n, _eff in DISTRICTS:
        communes = np.sort(pop.loc[pop["district"] == d, "commune"].unique())
        for c in np.sort(rng.choice(communes, COMMUNES_PER_DISTRICT, replace=False)):
            users = np.flatnonzero(pop["commune"].to_numpy() == c)
            chosen.append(np.sort(rng.choice(users, USERS_PER_COMMUNE, replace=False)))
    sample = pop.iloc[np.concatenate(chosen)].reset_index(drop=True)
    sample["w_design"] = (sample["N_communes"] / COMMUNES_PER_DISTRICT
                          * sample["N_users"] / USERS_PER_COMMUNE)
    n = len(sample)
    p_respond = expit(2.1 + 0.35 * (sample["age_group"] - 2) - 0.9 * (sample["urban"] == 1)
                      + 0.25 * (sample["sex"] == 2))
    responded = rng.random(n) < p_respond
    sample["response"] = np.where(responded, 1, np.where(rng.random(n) < 0.5, 2, 3))
    answers = [c for c in sample.columns if c[0] in "qpe" and c[1:].isdigit()]
    sample.loc[~responded, answers] = np.nan
    sample.insert(0, "resp_id", [f"CB{i + 1:04d}" for i in range(n)])
    return sample


def margins(pop: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Population counts of service users by sex, age group, ethnicity and district."""
    out = {}
    for var in ("sex", "age_group", "ethnicity", "district"):
        counts = pop.groupby(var).size().rename("population").reset_index()
        out[var] = counts
    return out


def demo_tables(seed: int = SEED) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The demo sample (one row per selected user) and the population margins."""
    rng = np.random.default_rng(seed)
    pop = add_answers(build_population(rng), rng)
    sample = draw_sample(pop, rng)
    keep = ["resp_id", "district", "commune", "urban", "N_communes", "N_users", "w_design",
            "response", "sex", "age_group", "ethnicity", "service", "level",
            *[i for _f, items, _e in FACTORS for i in items], "q23", "p01", "p02", "p03",
            "e1", "e2", "e3", "e4", "e5"]
    sample = sample[keep]
    for col in keep[1:]:
        if col != "w_design":
            sample[col] = sample[col].astype("float64")
    return sample, margins(pop)


def write_demo(outdir: str | Path, seed: int = SEED) -> list[Path]:
    """Write ``demo.sav`` and the margin CSVs into ``outdir``; return their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sample, pop_margins = demo_tables(seed)
    value_labels = {"district": {d: name for d, name, _n, _e in DISTRICTS}, "sex": SEX,
                    "age_group": AGE, "ethnicity": ETHNICITY, "service": SERVICE,
                    "level": LEVEL, "urban": URBAN, "response": RESPONSE}
    column_labels = {
        "resp_id": "Mã người trả lời (DỮ LIỆU GIẢ LẬP)", "district": "Huyện/thành phố",
        "commune": "Xã/phường/thị trấn (mã)", "urban": "Khu vực",
        "N_communes": "Số xã của huyện (tổng thể)", "N_users": "Số người sử dụng dịch vụ của xã",
        "w_design": "Trọng số thiết kế", "response": "Tình trạng phỏng vấn", "sex": "Giới tính",
        "age_group": "Nhóm tuổi", "ethnicity": "Dân tộc", "service": "Lĩnh vực dịch vụ",
        "level": "Cấp giải quyết hồ sơ", **ITEM_LABELS,
    }
    for item in ITEM_LABELS:
        if item.startswith("q"):
            value_labels[item] = ANSWER_LABELS
        elif item == "p03":
            value_labels[item] = AGREE
        else:
            value_labels[item] = YESNO
    # 8 is declared user-missing in the file; 9, 7 and 99 are carried only as value labels,
    # as in many real exports: the spec says what they mean.
    missing = {item: [8] for item in ITEM_LABELS}
    return write_survey_files(
        outdir, "demo", sample, pop_margins, SAV_TIMESTAMP,
        file_label="SIPAS demo - SYNTHETIC data, not real microdata",
        column_labels=[column_labels.get(c, c) for c in sample.columns],
        # pyreadstat annotates invariant dicts of int | float keys; int keys are what it reads
        variable_value_labels=value_labels, missing_ranges=missing,
        note=f"SYNTHETIC demo data, sipas seed {seed}")


def write_survey_files(outdir: Path, stem: str, sample: pd.DataFrame,
                       margins: dict[str, pd.DataFrame], timestamp: tuple[bytes, bytes],
                       **sav: object) -> list[Path]:
    """Write ``<stem>.sav`` (fixed header date: byte-identical files) and
    ``<stem>_margins_<var>.csv``; ``sav`` are the arguments of ``pyreadstat.write_sav``."""
    import pyreadstat

    path, tmp = outdir / f"{stem}.sav", outdir / f".{stem}.sav.tmp"
    pyreadstat.write_sav(sample, str(tmp), **sav)  # type: ignore[arg-type]
    raw = bytearray(tmp.read_bytes())
    raw[92:101], raw[101:109] = timestamp
    tmp.write_bytes(bytes(raw))
    tmp.replace(path)
    written = [path]
    for var, table in margins.items():
        out = outdir / f"{stem}_margins_{var}.csv"
        table.to_csv(out, index=False, lineterminator="\n")
        written.append(out)
    return written


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for p in write_demo(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data"):
        print(p)
