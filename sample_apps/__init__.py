"""Runnable sample apps: ``python -m sample_apps.shop`` and friends."""
