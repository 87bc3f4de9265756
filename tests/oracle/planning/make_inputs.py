"""Write the input data sets of the planning oracle (run once; R then reads them).

fh_sim: 40 simulated areas, two covariates, A = 0.5; fh_demo: the demo survey's direct
shares of p01 == 1 by district with the urban share as covariate; fh_zero: areas whose
direct estimates sit on the regression line, so the random-effect variance is estimated at 0.
"""

from pathlib import Path

import numpy as np
import pandas as pd

import sipas

HERE = Path(__file__).parent


def main() -> None:
    """Write the three files (pytest imports this module for its doctests: nothing runs then)."""
    rng = np.random.default_rng(20261205)
    m = 40
    x1, x2 = rng.normal(size=m), rng.uniform(0, 2, size=m)
    d = rng.uniform(0.2, 1.5, size=m)
    y = (1 + 0.8 * x1 - 0.5 * x2 + rng.normal(scale=np.sqrt(0.5), size=m)
         + rng.normal(scale=np.sqrt(d)))
    pd.DataFrame({"area": range(1, m + 1), "estimate": y, "se": np.sqrt(d), "x1": x1,
                  "x2": x2}).to_csv(HERE / "fh_sim.csv", index=False)

    sd = sipas.datasets.load_demo()
    r = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    est = sipas.proportion(r, "p01", value=1, by="district").to_frame()
    urban = sd.frame.groupby("district")["urban"].apply(lambda s: float((s == 1).mean()))
    demo = est[["district", "estimate", "se", "n"]].rename(columns={"district": "area"})
    demo["urban"] = demo["area"].map(urban).to_numpy()
    demo.to_csv(HERE / "fh_demo.csv", index=False)

    z = np.linspace(0, 1, 15)
    d0 = np.full(15, 0.04)
    y0 = 2 + z + rng.normal(scale=0.02, size=15)
    pd.DataFrame({"area": range(1, 16), "estimate": y0, "se": np.sqrt(d0), "x1": z}).to_csv(
        HERE / "fh_zero.csv", index=False)


if __name__ == "__main__":
    main()
