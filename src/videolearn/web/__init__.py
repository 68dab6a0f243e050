"""The web UI (`pages.router`, at `/`); `videolearn.server` serves it beside the API."""
