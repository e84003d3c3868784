"""Read the warehouse from Python (notebooks, scripts): `from binance_warehouse import Warehouse`.

`Warehouse()` reads candles straight from the Parquet lake and the marts from the DuckDB file, both
read-only, and never keeps the DuckDB file open between calls, so a `dbt build` or a loader can run
next to a notebook. See docs/api.md.
"""

from binance_warehouse.files import WarehouseBusyError
from binance_warehouse.warehouse import Warehouse

__all__ = ["Warehouse", "WarehouseBusyError"]
