"""The sample shop on FastAPI: ``python -m sample_apps.shop``."""
