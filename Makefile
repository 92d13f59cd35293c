# The two commands: `make serve` (set up, then run the server) and `make test` (set up, then run the tests).
ARGS ?=

.PHONY: setup serve test lint bench

setup:
	@bash scripts/setup.sh

serve: setup
	.venv/bin/codeloop serve $(ARGS)

test:
	@bash scripts/setup.sh --test
	bash scripts/test.sh $(ARGS)

lint: setup
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
	.venv/bin/mypy
