"""A second service trusting the shop's tokens: ``python -m sample_apps.orders_api``."""
