# Entry points; the work is done by scripts/*.sh. Extra flags: make test ARGS=--skip-e2e
.PHONY: help run test drill

help:
	@echo "make run   build (debug) and serve the app on http://127.0.0.1:3000"
	@echo "make test  fmt, clippy, Rust tests, then Playwright e2e (ARGS=--skip-e2e|--only-e2e)"
	@echo "make drill fault drill: kills and restarts under signed load (docs/operations.md; ARGS=--release|--no-build)"

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh $(ARGS)

drill:
	@bash scripts/fault-drill.sh $(ARGS)
