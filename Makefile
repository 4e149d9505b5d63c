# The two commands of the README. Each creates .venv (once) and installs requirements.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test clean-book install

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

## make book: set up, build the whole book (every cell executed, warnings are errors)
book: $(STAMP)
	$(BIN)/jupyter-book build --warningiserror --nitpick --keep-going .
	@echo ""
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

## make test: set up, run the whole test suite (the book build included)
test: $(STAMP)
	$(BIN)/python -m pytest

clean-book:
	rm -rf _build
