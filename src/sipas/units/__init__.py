"""Vietnam's administrative units before and after the reform of 1 July 2025, as data.

The registry (:mod:`sipas.units.registry`) lists the provinces and communes of each era with
their GSO codes; the crosswalk (:mod:`sipas.units.crosswalk`) takes old units to new ones and
says which old communes were split instead of guessing. The data come from the
``vietnamadminunits`` package (``pip install 'sipas[units]'``); nothing is fetched at run time.
This package knows no statistics: re-expressing estimates on the new units is
:mod:`sipas.reform`.

Examples
--------
>>> import sipas
>>> sipas.units.to_new(["Bắc Kạn"], level="province")[["new", "status"]].iloc[0].tolist()
['Thái Nguyên', 'merged']
"""

from __future__ import annotations

from sipas.units.crosswalk import crosswalk, recode, to_new
from sipas.units.registry import communes, data_version, locate, provinces, unit_key

__all__ = ["communes", "crosswalk", "data_version", "locate", "provinces", "recode", "to_new",
           "unit_key"]
