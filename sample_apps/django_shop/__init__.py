"""The sample shop on Django: ``python -m sample_apps.django_shop``."""
