"""The Argilla bridge (issue 10): `client.py` is the one module that talks to the Argilla 2.8
SDK, with plain Python values in and out. This package imports nothing, so importing it works
without the `argilla` extra; `client.py` raises `ArgillaError` when the extra is missing."""
