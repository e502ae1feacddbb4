"""The action server as `make run` starts it: rasa-sdk's, on one address, in one process.

    python -m puente.action_server --host 127.0.0.1 --port 5055

rasa-sdk 3.21's own command (`python -m rasa_sdk`) has no option for the address:
it listens on every interface (0.0.0.0, or `SANIC_HOST`), so anyone on the network
could call the actions. It also runs Sanic's worker manager, whose worker
processes outlive a killed parent and keep the port. This runs the same Sanic app
(`rasa_sdk.endpoint.create_app_for_serve`) on `--host`, as a single process, so the
supervisor's process is the whole server.
"""

from __future__ import annotations

import argparse
import logging
import warnings

DEFAULT_PORT = 5055


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m puente.action_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--actions", default="actions", help="the actions package (default: actions)")
    parser.add_argument("--log-level", default="INFO", help="log level (default INFO)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve the actions on --host:--port until SIGINT or SIGTERM."""
    args = parse_args(argv)
    # rasa-sdk 3.21 warns on every call that Rasa 3.6 is not its own version; the two
    # are compatible (the action server protocol is unchanged) and the lock pins both.
    warnings.filterwarnings("ignore", message="Your versions of rasa and rasa_sdk might not be compatible")

    from rasa_sdk import utils
    from rasa_sdk.endpoint import create_app_for_serve
    from rasa_sdk.executor import ActionExecutor
    from sanic import Sanic

    utils.configure_colored_logging(args.log_level)
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions)
    # No endpoints file: it only configures tracing, which Puente does not use
    # (rasa-sdk's default, ./endpoints.yml, does not exist and it says so on start).
    app = create_app_for_serve(executor, cors_origins="", endpoints="")
    logging.getLogger("puente.action_server").info("Action server on http://%s:%d", args.host, args.port)
    app.prepare(host=args.host, port=args.port, single_process=True, motd=False)
    Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
