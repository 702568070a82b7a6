# The two commands of README.md. Everything they need is set up by scripts/setup.sh.
.PHONY: run test bench

run:
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh
