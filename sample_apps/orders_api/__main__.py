"""``python -m sample_apps.orders_api [--shop URL] [--host H] [--port P]``."""

from __future__ import annotations

import argparse

import uvicorn

from sample_apps.orders_api.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Orders API trusting the shop's tokens.")
    parser.add_argument("--shop", default="http://127.0.0.1:8000", help="the shop's base URL")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on")
    args = parser.parse_args()
    print(f"orders API on http://{args.host}:{args.port}, trusting {args.shop}")
    uvicorn.run(create_app(args.shop), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
