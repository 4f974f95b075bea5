# hotshare: a Buildroot external tree, and the project's own development targets.
#
#   make test       lint, unit, namespace, Buildroot-tree, QEMU labs (hwsim, vwifi, two guests), board lab
#   make demo       the board guest (ARMv7, 128 MB): its hotspot comes up at boot, a phone goes online
#   make demo-x86   the same story in the x86 QEMU lab (hotshare run from the source tree)
#   make bench      benchmarks; prints figures and writes bench/results/
#   make hotshare_defconfig && make    build the T113 SD-card image with Buildroot
#
# Every target other than the project's own goes to Buildroot (support/buildroot.mk).

HOTSHARE_OWN_TARGETS := test demo demo-x86 bench setup venv lint unit netns lab lab-vwifi lab-pair board-lab buildroot-tests help clean-venv
PY := .venv/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: $(HOTSHARE_OWN_TARGETS)

setup:
	@support/setup

venv: setup

lint: setup
	.venv/bin/ruff check python tests bench csrc
	.venv/bin/mypy
	PYTHONPATH=python .venv/bin/lint-imports .importlinter
	$(PYTEST) -q tests/unit/test_import_cycles.py

unit: setup
	$(PYTEST) -q tests/unit

netns: setup
	$(PYTEST) -q tests/netns

buildroot-tests: setup
	$(PYTEST) -q tests/buildroot

lab: setup
	tests/qemu/run-lab

# The vwifi labs need HOTSHARE_VWIFI_SRC (a vwifi source directory; .ci/run
# sets it); without it they print how to enable them and pass.
lab-vwifi: setup
	tests/qemu/run-lab --vwifi $(VWIFI_LAB_ARGS)

lab-pair: setup
	tests/qemu/run-pair

board-lab: setup
	tests/board/run-board-lab

test: setup
	$(MAKE) --no-print-directory lint
	$(PYTEST) -q tests/unit tests/netns tests/buildroot
	tests/qemu/run-lab
	tests/qemu/run-lab --vwifi $(VWIFI_LAB_ARGS)
	tests/qemu/run-pair
	tests/board/run-board-lab

demo: setup
	tests/board/demo

demo-x86: setup
	tests/qemu/demo

bench: setup
	$(PY) bench/run.py

clean-venv:
	rm -rf .venv

help:
	@sed -n '2,10p' Makefile

-include support/buildroot.mk
