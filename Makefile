# Entry points; the work is done by scripts/*.sh. Extra flags: make test ARGS=--skip-e2e
.PHONY: help run test release watch coverage parity drill cluster

help:
	@echo "make run       build (debug) and serve the app on http://127.0.0.1:3000"
	@echo "make test      fmt, clippy, Rust tests, Playwright e2e, the cluster suite, then the release package and its smoke"
	@echo "               (ARGS=--skip-e2e|--only-e2e|--only-release)"
	@echo "make release   optimized build, packed as dist/agent-webhooks-<version>-<arch>-linux.tar.gz"
	@echo "make watch     rebuild and restart on every change (cargo-leptos)"
	@echo "make coverage  line coverage of the server code from the Rust tests (cargo-llvm-cov)"
	@echo "make parity    check that scripts/build.sh and cargo-leptos build the same site"
	@echo "make drill     fault drill: kills and restarts under signed load (docs/operations.md; ARGS=--release|--no-build)"
	@echo "make cluster   two web processes and a worker behind HAProxy, on one database, until Ctrl-C"
	@echo "               (docs/operations.md; ARGS=--detach|--stop|--test|--worker-processes N|--no-build|--release)"

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh $(ARGS)

release:
	@bash scripts/release.sh

watch:
	@bash scripts/watch.sh

coverage:
	@bash scripts/coverage.sh $(ARGS)

parity:
	@bash scripts/check-build-parity.sh

drill:
	@bash scripts/fault-drill.sh $(ARGS)

cluster:
	@bash scripts/cluster.sh $(ARGS)
