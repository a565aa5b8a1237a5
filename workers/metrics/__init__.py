"""Diversity metrics: plain Python over texts, no Django."""
