# The two commands of the README: `make run` and `make test`.
# `make test PYTEST_ARGS="-k protocol"` passes arguments to pytest.
.PHONY: run test bench

run:
	scripts/run.sh

test:
	scripts/test.sh $(PYTEST_ARGS)

bench:
	.venv/bin/python bench/understanding.py
	.venv/bin/python bench/engines.py
