# Two commands matter: `make serve` runs the service, `make test` runs every test.
# Each creates .venv and installs the pinned tree on a fresh machine with Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# One native thread per process: OpenMP/BLAS pools oversubscribe 2 cores (docs/operations.md, "Serving").
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
# Training's own OpenMP pool (all cores, training/model_fitting.py) sleeps rather than spins while
# it waits: a spinning pool collapses when another process holds one of the cores.
export OMP_WAIT_POLICY ?= PASSIVE
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: venv nginx wrk chromium postgresql java test serve bench fuzz notebooks notebook-html clean

venv: $(STAMP)

# nginx fronts gunicorn in `make serve` and in the tests of that shape (service/proxy.py says why):
# Debian's package, installed when missing (as root, else through sudo).
NGINX := $(shell command -v nginx || command -v /usr/sbin/nginx)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

nginx:
ifeq ($(NGINX),)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx
endif

# The page's browser tests (tests/service/browser/) drive Debian's headless Chromium through its
# ChromeDriver with Selenium: installed when missing, like nginx.
CHROMEDRIVER := $(shell command -v chromedriver || command -v /usr/bin/chromedriver)

chromium:
ifeq ($(CHROMEDRIVER),)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
endif

# The tests of the shared stores (audit and MLflow on PostgreSQL) start and stop their own server
# from Debian's server binaries (tests/postgresql_server.py): installed when missing, like nginx.
INITDB := $(wildcard /usr/lib/postgresql/*/bin/initdb)

postgresql:
ifeq ($(INITDB),)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
endif

# `predict --engine spark` runs on the JVM: Debian's Java 17, installed when missing, like nginx.
# A java that is there but too old stops here, with what to install, before any Spark test runs.
JAVA := $(shell command -v java)

java:
ifeq ($(JAVA),)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
endif
	@version=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$version" ] || [ "$$version" -lt 17 ]; then \
		echo "Spark (predict --engine spark and its tests) needs Java 17 or newer; java -version says:"; \
		java -version 2>&1 | head -1; \
		echo "install Debian's openjdk-17-jre-headless and run make test again"; exit 2; fi

# The pinned tree goes in with uv, itself pinned in requirements.lock and put in first with pip: the
# same packages as pip installs, in half pip's CPU time (docs/operations.md, "Install").
# Compiled to bytecode at install, as pip does: a process then imports without compiling, also
# where PYTHONDONTWRITEBYTECODE keeps Python from caching what it compiles. `make venv
# INSTALLER=pip` installs with pip alone, for a machine whose package index only pip is set up for.
INSTALLER ?= uv
PIP := $(BIN)/pip --quiet --disable-pip-version-check
ifeq ($(INSTALLER),pip)
INSTALL := $(PIP) install
else
INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode
endif

# The spark extra (pyproject.toml), pinned with its one dependency: for the Spark engine's tests.
SPARK_STAMP := $(VENV)/.spark-installed

# With pip rather than uv: pyspark is one source package, and pip keeps the wheel it builds
# from it (10 s again), where uv 0.13.8 built it afresh each time here (47 s).
$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(PIP) install -r requirements-spark.lock
	touch $@

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(if $(filter pip,$(INSTALLER)),,$(PIP) install $$(grep '^uv==' requirements.lock))
	$(INSTALL) -r requirements.lock
	$(INSTALL) --no-deps -e .
	touch $@

# Two pytest-xdist workers, one per core (tests/conftest.py says how the suites share them).
TEST_WORKERS ?= 2

test: $(STAMP) $(SPARK_STAMP) nginx chromium postgresql java
	$(BIN)/pytest -n $(TEST_WORKERS)

# `make serve PORT=8001` listens on 127.0.0.1:8001; `make serve BIND=0.0.0.0:8080` on any address.
serve: $(STAMP) nginx
	$(BIN)/medspa-coverage bootstrap $(if $(BIND),--bind $(BIND),$(if $(PORT),--bind 127.0.0.1:$(PORT)))

# The serve benchmarks' load generator: Debian's wrk, installed when missing, like nginx. Both servers
# share the two cores with the generator, and wrk takes a fraction of the Python client's CPU.
WRK := $(shell command -v wrk)

wrk:
ifeq ($(WRK),)
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
endif

bench: $(STAMP) nginx wrk
	$(BIN)/python -m benchmarks

# The OpenAPI fuzz of `make test` with far more generated cases (FUZZ_MAX_EXAMPLES=N to choose).
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-5000} $(BIN)/pytest -q tests/service/test_fuzz_openapi.py

notebooks: $(STAMP)
	$(BIN)/pip install --quiet "jupyterlab==4.6.6"
	$(BIN)/jupyter lab notebooks/

# A static HTML copy of an executed notebook, readable without Jupyter: make notebook-html
# NOTEBOOK=out.ipynb writes out.html beside it (nbconvert, pinned in requirements.lock).
# `medspa-coverage review` does this itself and keeps both with the review's MLflow run.
notebook-html: $(STAMP)
	@test -n "$(NOTEBOOK)" || { echo "set NOTEBOOK=path/to/an/executed.ipynb"; exit 2; }
	$(BIN)/jupyter nbconvert --to html "$(NOTEBOOK)"

clean:
	rm -rf $(VENV) var
