"""``python -m sample_apps.shop [--host H] [--port P] [--data DIR] [--redis URL] [--workers N]``."""

from __future__ import annotations

import os

import uvicorn

from sample_apps.common import parse_options
from sample_apps.shop.app import create_app


def main() -> None:
    options = parse_options("The tokenguard sample shop (FastAPI).")
    print(f"shop on http://{options.host}:{options.port}  (demo user alice / wonderland)")
    if options.workers > 1:
        # Several processes behind one address share tokens and revocations through the
        # store: the SQLite file on one machine, Redis across machines.
        os.environ["TOKENGUARD_SHOP_DATA"] = str(options.data)
        os.environ["TOKENGUARD_SHOP_REDIS"] = options.redis or ""
        uvicorn.run(
            "sample_apps.shop.app:app_from_env",
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
        )
    else:
        uvicorn.run(create_app(options), host=options.host, port=options.port)


if __name__ == "__main__":
    main()
