"""The Celery app; without REDIS_URL, settings make tasks run in-process."""

from celery import Celery

# No default settings module here: crm/__init__.py imports this file, so a default would win over
# the one wsgi.py (production) or manage.py (local) sets. Workers set DJANGO_SETTINGS_MODULE.
app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
