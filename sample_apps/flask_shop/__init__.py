"""The sample shop on Flask: ``python -m sample_apps.flask_shop``."""
