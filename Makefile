# The two commands of the README: `make run` and `make test`.
# `make test PYTEST_ARGS="-k protocol"` passes arguments to pytest.
# `make image` builds the container image (podman); `make image-smoke` exercises it.
.PHONY: run serve restart test bench image image-smoke

run:
	scripts/run.sh

# Production: WORKERS daphne processes behind haproxy (needs DATABASE_URL and REDIS_URL).
serve:
	scripts/serve.sh

# Rolling restart of a running `make serve` (several workers): one worker at a time, no call dropped.
restart:
	scripts/restart.sh

test:
	scripts/test.sh $(PYTEST_ARGS)

bench:
	.venv/bin/python bench/understanding.py
	.venv/bin/python bench/engines.py

image:
	scripts/image.sh

image-smoke:
	scripts/image-smoke.sh
