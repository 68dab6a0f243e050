"""The HTTP API: `create_app(settings)` makes the FastAPI app; `videolearn serve` runs
`app_from_env` in uvicorn."""

from videolearn.api.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
