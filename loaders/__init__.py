"""Loaders for Binance Warehouse: Binance archives into the Parquet lake, the lake into R2."""
