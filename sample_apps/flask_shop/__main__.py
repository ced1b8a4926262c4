"""``python -m sample_apps.flask_shop [--host H] [--port P] [--data DIR] [--redis URL]``."""

from __future__ import annotations

from werkzeug.serving import run_simple

from sample_apps.common import parse_options
from sample_apps.flask_shop.app import create_app


def main() -> None:
    options = parse_options("The tokenguard sample shop (Flask).")
    print(f"flask shop on http://{options.host}:{options.port}  (demo user alice / wonderland)")
    run_simple(
        options.host,
        options.port,
        create_app(options),
        threaded=True,
        processes=1,
    )


if __name__ == "__main__":
    main()
