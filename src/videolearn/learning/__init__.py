"""Self-supervised audio-visual learning: models, the GDT objective, training, evaluation.

Sits beside `apps`: it reads clips through the ingest decode path and the store, and hands
its results to the rest of the system only as checkpoint files (the `av_embed` extractor
loads them), so nothing below it imports it.
"""
