# The two commands of the README: `make run` and `make test`.
.PHONY: run test bench

run:
	scripts/run.sh

test:
	scripts/test.sh

bench:
	.venv/bin/python bench/understanding.py
	.venv/bin/python bench/engines.py
