# The two commands of the README. Each creates .venv (Python 3.11) from requirements.lock if missing.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test lock clean

$(VENV)/.installed: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

run: $(VENV)/.installed  ## install, then run the whole chain on the embedded synthetic world
	MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true $(BIN)/nexus run

test: $(VENV)/.installed  ## install, then run every test (slow and browser tests included)
	bash .ci/install-chromium
	bash .ci/install-postgresql
	MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true $(BIN)/python -m pytest -m "slow or not slow" -q

lock:  ## re-resolve requirements.lock from pyproject.toml in a throwaway venv
	rm -rf /tmp/nexus-lock && $(PYTHON) -m venv /tmp/nexus-lock
	/tmp/nexus-lock/bin/python -m pip install --quiet --upgrade pip
	/tmp/nexus-lock/bin/python -m pip install --quiet -e ".[test]"
	(echo "# Exact versions nexus is tested with (pip freeze of a fresh install on Python 3.11)."; \
	 echo "# Regenerate: make lock"; \
	 /tmp/nexus-lock/bin/python -m pip freeze --exclude-editable | grep -v '^nexus-risk' | sort -f) > requirements.lock

clean:
	rm -rf $(VENV) artifacts mlflow.db optuna.db reviews.db data
