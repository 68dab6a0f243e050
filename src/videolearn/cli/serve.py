"""`serve` (the HTTP API) and `token create|list|revoke` (who may use it)."""

from __future__ import annotations

from typing import Annotated

import typer

from videolearn.cli.common import (
    DEFAULT_LIBRARY_PATH,
    EXIT_USAGE,
    JsonOption,
    LibraryOption,
    emit,
    fail,
    open_cli_library,
)

app = typer.Typer()
token_app = typer.Typer(help="API tokens: who may use the HTTP API.", no_args_is_help=True)

TokenName = Annotated[str, typer.Argument(help="The token's name.", metavar="NAME")]


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (serve.host, 127.0.0.1). Beyond loopback every "
            "request needs a token.",
            metavar="HOST",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port (serve.port, 8765).", metavar="PORT"),
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Serve the web UI (/) and the HTTP API (/api/v1/, docs at /docs) until interrupted."""
    import os

    import uvicorn

    with open_cli_library(library) as lib:
        serve_settings = lib.settings.serve
    host = host or serve_settings.host
    port = serve_settings.port if port is None else port
    # The app is built in uvicorn from the environment: the CLI does not import the server.
    os.environ["VIDEOLEARN_LIBRARY"] = str(library)
    os.environ["VIDEOLEARN_SERVE__HOST"] = host
    os.environ["VIDEOLEARN_SERVE__PORT"] = str(port)
    where = f"http://{host}:{port}"
    if as_json:
        emit({"library": str(library), "ui": f"{where}/", "api": f"{where}/api/v1/"})
    else:
        typer.echo(
            f"serving {library} at {where}/ (API at {where}/api/v1/, docs at /docs)", err=True
        )
    from videolearn.serving import http_protocol

    uvicorn.run(
        "videolearn.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        http=http_protocol(serve_settings.max_head_bytes),
    )


@token_app.command("create")
def token_create(
    name: TokenName, library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False
) -> None:
    """Make a token; it is shown this once (the library keeps only its hash)."""
    from videolearn.apps import tokens
    from videolearn.errors import OptionError

    with open_cli_library(library) as lib:
        try:
            made = tokens.create_token(lib, name)
        except OptionError as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(made.to_json())
        return
    typer.echo(made.token)
    typer.echo(f"token {name!r} made; it is not shown again", err=True)


@token_app.command("list")
def token_list(library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False) -> None:
    """The tokens, active and revoked (never the tokens themselves)."""
    from datetime import datetime

    from videolearn.apps import tokens

    with open_cli_library(library) as lib:
        found = tokens.list_tokens(lib)
    for t in found:
        if as_json:
            emit(tokens.token_json(t))
            continue
        made = datetime.fromtimestamp(t.created_at).strftime("%Y-%m-%d %H:%M")
        used = (
            datetime.fromtimestamp(t.last_used_at).strftime("%Y-%m-%d %H:%M")
            if t.last_used_at
            else "never"
        )
        typer.echo(f"{t.name}  made {made}  used {used}  {'active' if t.active else 'revoked'}")


@token_app.command("revoke")
def token_revoke(
    name: TokenName, library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False
) -> None:
    """Revoke a token: requests bearing it are refused from now on."""
    from videolearn.apps import tokens
    from videolearn.errors import OptionError

    with open_cli_library(library) as lib:
        try:
            revoked = tokens.revoke_token(lib, name)
        except OptionError as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(tokens.token_json(revoked))
        return
    typer.echo(f"token {name!r} revoked")
