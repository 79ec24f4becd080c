"""The offline local stack behind `make run`: embedded AWS (moto), a local HTTP API, event sources
and the provider sandbox, all built from template.yaml and served on 127.0.0.1.

Start it with `python -m offline` (see `python -m offline --help`); docs/local-stack.md explains
what runs where and how it differs from AWS.
"""
