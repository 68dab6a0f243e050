"""The HTTP API's endpoints (`routes.router`, under `/api/v1/`); `videolearn.server`
serves them beside the web UI."""
