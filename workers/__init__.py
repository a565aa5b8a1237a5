"""Celery app and engines. Engines (generation, critics, metrics) are plain Python
with no Django import; only celery_app.py knows about Django."""
