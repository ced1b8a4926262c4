"""``python -m sample_apps.django_shop [--host H] [--port P] [--data DIR] [--redis URL]``."""

from __future__ import annotations

import uvicorn

from sample_apps.common import parse_options
from sample_apps.django_shop.app import create_app


def main() -> None:
    options = parse_options("The tokenguard sample shop (Django, served over ASGI).")
    print(f"django shop on http://{options.host}:{options.port}  (demo user alice / wonderland)")
    uvicorn.run(create_app(options), host=options.host, port=options.port, lifespan="off")


if __name__ == "__main__":
    main()
